package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/nzilacode/narcidicontrole/licensing"
	"github.com/nzilacode/narcidicontrole/wiring"
)

// usersCommand runs `narcidi users create -email X -role R` (add a console
// user and print its one-time set-password link) and `narcidi users link
// -email X` (print a new set-password link for an existing user: a
// forgotten password without SMTP, or a link that expired).
func usersCommand(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) > 0 && (args[0] == "-h" || args[0] == "-help" || args[0] == "--help" || args[0] == "help") {
		fmt.Fprint(stdout, "Usage: narcidi users create -email EMAIL -role admin|support|read-only\n"+
			"       narcidi users link -email EMAIL\n\n"+
			"  create   add a console user and print its one-time set-password link\n"+
			"  link     print a new one-time set-password link for an existing console user\n\n"+
			"\"narcidi users create -h\" lists its flags.\n")
		return nil
	}
	if len(args) == 0 || (args[0] != "create" && args[0] != "link") {
		return fmt.Errorf("want a subcommand: create or link")
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
	valid := licensing.DurationWords(us.LinkTTL())
	if verb == "link" {
		u, err := us.UserByEmail(ctx, *email)
		if licensing.ErrorCode(err) == licensing.ENotFound {
			return fmt.Errorf("there is no console user %s: \"narcidi users create -email %s\" adds one", *email, *email)
		} else if err != nil {
			return fmt.Errorf("%s", licensing.ErrorMessage(err))
		}
		secret, err := us.PasswordLink(ctx, u.ID, "printed by narcidi users link")
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "new set-password link for %s (%s): it works once, within %s: %s\n", u.Email, u.Role, valid, wiring.PasswordLink(*base, secret))
		return nil
	}
	u, secret, err := us.CreateUser(ctx, *email, licensing.Role(role))
	switch licensing.ErrorCode(err) {
	case "":
	case licensing.EConflict:
		return fmt.Errorf("a console user %s exists already: \"narcidi users link -email %s\" prints a new set-password link for them", *email, *email)
	case licensing.EInvalid:
		return fmt.Errorf("%s", licensing.ErrorMessage(err))
	default:
		return err
	}
	fmt.Fprintf(stdout, "console user %s (%s) created: set a password within %s at %s\n", u.Email, u.Role, valid, wiring.PasswordLink(*base, secret))
	return nil
}
