package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/nzilacode/narcidicontrole/cli"
	"github.com/nzilacode/narcidicontrole/licensing"
	"github.com/nzilacode/narcidicontrole/licensing/i18n"
	"github.com/nzilacode/narcidicontrole/wiring"
)

// usersCommand runs `narcidi users create -email X -role R` (add a console
// user and print its one-time set-password link) and `narcidi users link
// -email X` (print a new set-password link for an existing user: a
// forgotten password without SMTP, or a link that expired).
func usersCommand(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	// Said in the reader's language (cli.Reader); the link itself is for
	// the browser.
	pr := cli.Reader(getenv)
	if len(args) > 0 && (args[0] == "-h" || args[0] == "-help" || args[0] == "--help" || args[0] == "help") {
		fmt.Fprint(stdout, pr.T("cli.help.users"))
		return nil
	}
	if len(args) == 0 || (args[0] != "create" && args[0] != "link") {
		return i18n.Say("cli.users.want_subcommand")
	}
	verb := args[0]
	fs := flag.NewFlagSet("narcidi users "+verb, flag.ContinueOnError)
	fs.SetOutput(stderr)
	email := fs.String("email", "", "the user's email (required)")
	role := "read-only"
	if verb == "create" {
		fs.StringVar(&role, "role", "read-only", "admin, support or read-only")
	}
	base := fs.String("base-url", "", "the console's public base URL for the link (default: NARCIDI_PUBLIC_URL, else http://<NARCIDI_ADDR>)")
	head := "narcidi users link -email EMAIL [-base-url URL]"
	if verb == "create" {
		head = "narcidi users create -email EMAIL -role admin|support|read-only [-base-url URL]"
	}
	cli.Localize(pr, fs, head, "users", verb)
	if err := fs.Parse(args[1:]); err != nil {
		return usageError{Err: err}
	}
	cfg, log, st, err := openCommandStore(ctx, "users "+verb, fs.Args(), getenv, stderr)
	if err != nil {
		return err
	}
	defer st.Close()
	master, err := wiring.LoadMaster(ctx, cfg, st, log)
	if err != nil {
		return err
	}
	us, err := wiring.OpenUsers(st, master, time.Now, nil)
	if err != nil {
		return err
	}
	if *base == "" {
		*base = cfg.PublicURL
	}
	if *base == "" {
		*base = "http://" + cfg.Addr
	}
	ctx = licensing.WithActor(ctx, &licensing.Actor{Name: "narcidi users " + verb})
	valid := pr.Duration(us.LinkTTL())
	if verb == "link" {
		u, err := us.UserByEmail(ctx, *email)
		if licensing.ErrorCode(err) == licensing.ENotFound {
			return errors.New(pr.T("cli.users.unknown", "email", *email))
		} else if err != nil {
			return fmt.Errorf("%s", licensing.ErrorMessage(err))
		}
		secret, err := us.PasswordLink(ctx, u.ID, "printed by narcidi users link")
		if err != nil {
			return err
		}
		fmt.Fprintln(stdout, pr.T("cli.users.link", "email", u.Email, "role", u.Role, "ttl", valid, "link", wiring.PasswordLink(*base, secret)))
		return nil
	}
	u, secret, err := us.CreateUser(ctx, *email, licensing.Role(role))
	switch licensing.ErrorCode(err) {
	case "":
	case licensing.EConflict:
		return errors.New(pr.T("cli.users.exists", "email", *email))
	case licensing.EInvalid:
		return fmt.Errorf("%s", licensing.ErrorMessage(err))
	default:
		return err
	}
	fmt.Fprintln(stdout, pr.T("cli.users.created", "email", u.Email, "role", u.Role, "ttl", valid, "link", wiring.PasswordLink(*base, secret)))
	return nil
}
