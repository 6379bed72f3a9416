package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/nzilacode/narcidicontrole/licensing"
	"github.com/nzilacode/narcidicontrole/wiring"
	"github.com/nzilacode/narcidicontrole/workers"
)

// portalLinkCommand runs `narcidi portal-link -customer ID [-email E]
// [-send]`: a one-time portal sign-in link for a customer, printed (to
// pass on: the portal cannot mail without SMTP) or mailed with -send.
// Audited as portal.link_sent, as the console's "send / copy sign-in link".
//
// Its flag set opens alike the other commands' (cli/insights.go): by shape
// only, each command declares its own flags.
func portalLinkCommand(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("narcidi portal-link", flag.ContinueOnError)
	fs.SetOutput(stderr)
	customer := fs.String("customer", "", "the customer's id (required)")
	email := fs.String("email", "", "the customer's email or a contact's (default: the customer's)")
	send := fs.Bool("send", false, "mail the link (needs NARCIDI_SMTP_URL) instead of printing it")
	base := fs.String("base-url", "", "the portal's public base URL for the link (default: NARCIDI_PUBLIC_URL, else http://<NARCIDI_ADDR>)")
	if err := fs.Parse(args); err != nil {
		return usageError{Err: err}
	}
	if *customer == "" {
		fmt.Fprintln(stderr, "-customer is required")
		fs.Usage()
		return usageError{Err: errors.New("-customer is required")}
	}
	cfg, _, st, err := openCommandStore(ctx, "portal-link", fs.Args(), getenv, stderr)
	if err != nil {
		return err
	}
	defer st.Close()
	var mailer *workers.Mailer
	if cfg.SMTPURL != "" {
		if mailer, err = workers.NewMailer(cfg.SMTPURL, cfg.SMTPFrom); err != nil {
			return err
		}
	}
	if *base == "" {
		*base = cfg.PublicURL
	}
	if *base == "" {
		*base = "http://" + cfg.Addr
	}
	signIn := wiring.OpenPortalSignIn(st, mailer)
	ctx = licensing.WithActor(ctx, &licensing.Actor{Name: "narcidi portal-link"})
	link, err := signIn.IssueLink(ctx, *customer, *email, *base, *send)
	if err != nil {
		if licensing.ErrorCode(err) == licensing.EUnavailable && *send {
			return fmt.Errorf("%s: leave out -send to print a link to pass on", licensing.ErrorMessage(err))
		}
		if code := licensing.ErrorCode(err); code == licensing.ENotFound || code == licensing.EInvalid || code == licensing.EConflict {
			return fmt.Errorf("%s", licensing.ErrorMessage(err))
		}
		return err
	}
	valid := licensing.DurationWords(signIn.LinkTTL())
	if *send {
		fmt.Fprintf(stdout, "portal sign-in link mailed; it works once, within %s\n", valid)
		return nil
	}
	fmt.Fprintf(stdout, "portal sign-in link (works once, within %s): %s\n", valid, link)
	return nil
}
