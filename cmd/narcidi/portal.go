package main

import (
	"context"
	"flag"
	"fmt"
	"io"

	"github.com/nzilacode/narcidicontrole/cli"
	"github.com/nzilacode/narcidicontrole/licensing"
	"github.com/nzilacode/narcidicontrole/licensing/i18n"
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
	pr := cli.Reader(getenv)
	fs := flag.NewFlagSet("narcidi portal-link", flag.ContinueOnError)
	fs.SetOutput(stderr)
	customer := fs.String("customer", "", "the customer's id (required)")
	email := fs.String("email", "", "the customer's email or a contact's (default: the customer's)")
	send := fs.Bool("send", false, "mail the link (needs NARCIDI_SMTP_URL) instead of printing it")
	base := fs.String("base-url", "", "the portal's public base URL for the link (default: NARCIDI_PUBLIC_URL, else http://<NARCIDI_ADDR>)")
	cli.Localize(pr, fs, "narcidi portal-link -customer ID [-email E] [-send] [-base-url URL]", "portal-link")
	if err := fs.Parse(args); err != nil {
		return usageError{Err: err}
	}
	if *customer == "" {
		err := i18n.Say("cli.flag_required", "flag", "customer")
		fmt.Fprintln(stderr, cli.Words(pr, err))
		fs.Usage()
		return usageError{Err: err}
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
			return i18n.Say("cli.portal_link.no_smtp", "error", licensing.ErrorMessage(err))
		}
		if code := licensing.ErrorCode(err); code == licensing.ENotFound || code == licensing.EInvalid || code == licensing.EConflict {
			return fmt.Errorf("%s", licensing.ErrorMessage(err))
		}
		return err
	}
	valid := pr.Duration(signIn.LinkTTL())
	if *send {
		fmt.Fprintln(stdout, pr.T("cli.portal_link.mailed", "ttl", valid))
		return nil
	}
	fmt.Fprintln(stdout, pr.T("cli.portal_link.link", "ttl", valid, "link", link))
	return nil
}
