package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/nzilacode/narcidicontrole/api"
	"github.com/nzilacode/narcidicontrole/api/console"
	"github.com/nzilacode/narcidicontrole/keys"
	"github.com/nzilacode/narcidicontrole/licensing"
	"github.com/nzilacode/narcidicontrole/licensing/insights"
	"github.com/nzilacode/narcidicontrole/licensing/release"
	"github.com/nzilacode/narcidicontrole/licensing/users"
	"github.com/nzilacode/narcidicontrole/storage"
	"github.com/nzilacode/narcidicontrole/workers"
)

// FirstAdminEmail is the console's first admin, made on first start when
// there is no console user (its set-password link is printed).
const FirstAdminEmail = "admin@localhost"

// openUsers builds the console users service; TOTP secrets are sealed with
// a key derived from the master key.
// Its "forgot password" links go out through the alerts' SMTP mailer
// (nil: the console says they cannot be mailed).
func openUsers(st *storage.Store, master []byte, clock licensing.Clock, mailer *workers.Mailer) (*users.Service, error) {
	box, err := keys.NewSecretBox(master, keys.BoxConsoleTOTP)
	if err != nil {
		return nil, err
	}
	cfg := users.Config{Store: st.Users(), Box: box, Clock: clock}
	if mailer != nil { // a nil *Mailer in the interface would look configured
		cfg.Mailer = mailer
	}
	return users.NewService(cfg)
}

// openConsole builds the web console over the same services and limiter
// as the API.
func openConsole(us *users.Service, svc *licensing.Services, releases *release.Service, scores *insights.Scores, limiter api.RateLimiter, a *App) *console.Console {
	// Behind a TLS-terminating proxy the requests arrive as plain HTTP:
	// the public URL says the browser uses https.
	secure := strings.HasPrefix(a.Config.PublicURL, "https://")
	return console.New(console.Config{Users: us, Services: svc, Releases: releases, Limiter: limiter, Logger: a.Log, SecureCookies: secure, Queues: a.queueReporter(), BaseURL: a.publicURL,
		Insights: scores, Thresholds: a.Config.Insights.thresholds()})
}

// passwordLink is the console URL that redeems a set-password secret.
func passwordLink(base, secret string) string { return console.SetPasswordLink(base, secret) }

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
		return usageError{err}
	}
	cfg, log, st, err := openCommandStore(ctx, "users "+verb, fs.Args(), getenv, stderr)
	if err != nil {
		return err
	}
	defer st.Close()
	master, err := loadMaster(ctx, cfg, st, log)
	if err != nil {
		return err
	}
	us, err := openUsers(st, master, time.Now, nil)
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
		fmt.Fprintf(stdout, "new set-password link for %s (%s): it works once, within %s: %s\n", u.Email, u.Role, valid, passwordLink(*base, secret))
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
	fmt.Fprintf(stdout, "console user %s (%s) created: set a password within %s at %s\n", u.Email, u.Role, valid, passwordLink(*base, secret))
	return nil
}
