package portal

import (
	"context"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/nzilacode/narcidicontrole/licensing"
	"github.com/nzilacode/narcidicontrole/licensing/i18n"
)

func (p *Portal) signInPage(c *fiber.Ctx) error {
	if current(c) != nil {
		return p.redirect(c, Prefix+"/")
	}
	return p.render(c, fiber.StatusOK, "sign-in", "signin.page.sign_in", signInData{CanMail: p.cfg.SignIn.CanMail()})
}

type signInData struct {
	formError
	CanMail bool
	Email   string
	// NotSent: a link was asked for, and this server cannot mail it.
	NotSent bool
}

// requestLink answers at once and the same way for every address: the
// link is made and mailed in the background, so neither the words nor the
// time of the answer say whether the email is a customer's. Attempts are
// limited per IP and email; the service audits them.
func (p *Portal) requestLink(c *fiber.Ctx) error {
	// Copies: fiber reuses the request's memory once the handler returns.
	email, ip := strings.Clone(strings.TrimSpace(c.FormValue("email"))), strings.Clone(c.IP())
	if err := p.allow(c, email); err != nil {
		return p.fail(c, err)
	}
	if !p.cfg.SignIn.CanMail() {
		// Nothing can be sent: say so (never "a link is on its way"); the
		// service audits the request so staff see who could not get in.
		if err := p.cfg.SignIn.RequestLink(c.UserContext(), email, p.cfg.BaseURL(), ip); licensing.ErrorCode(err) == licensing.EInvalid {
			return p.render(c, fiber.StatusUnprocessableEntity, "sign-in", "signin.page.sign_in", signInData{formError: p.refusal(c, err), Email: email})
		}
		return p.render(c, fiber.StatusServiceUnavailable, "sign-in", "signin.page.sign_in", signInData{Email: email, NotSent: true})
	}
	base, lang := p.cfg.BaseURL(), p.printer(c).Lang()
	go func() {
		// The reader's language goes with it: the mail is in it unless the
		// customer chose one.
		ctx, cancel := context.WithTimeout(i18n.WithLanguage(context.Background(), lang), time.Minute)
		defer cancel()
		if err := p.cfg.SignIn.RequestLink(ctx, email, base, ip); err != nil {
			p.cfg.Logger.Warn("portal: sign-in link not sent", "err", err)
		}
	}()
	return p.render(c, fiber.StatusOK, "link-sent", "signin.page.check_email", signInData{Email: email})
}

// linkPage shows a button that spends the link: a GET does not, so a mail
// scanner that opens links does not use them up.
func (p *Portal) linkPage(c *fiber.Ctx) error {
	return p.render(c, fiber.StatusOK, "link", "signin.page.sign_in", linkData{Token: c.Query("token")})
}

type linkData struct {
	formError
	Token string
}

func (p *Portal) redeem(c *fiber.Ctx) error {
	token := c.FormValue("token")
	try, err := p.try(c, "link", token)
	if err != nil {
		return p.fail(c, err)
	}
	in, err := p.cfg.SignIn.Redeem(c.UserContext(), token, c.IP(), c.Get(fiber.HeaderUserAgent))
	if err == nil {
		try.Succeeded()
	}
	if licensing.ErrorCode(err) == licensing.EUnauthorized {
		return p.render(c, fiber.StatusUnauthorized, "link", "signin.page.sign_in", linkData{formError: p.refusal(c, err)})
	} else if err != nil {
		return p.fail(c, err)
	}
	p.cookies.Set(c, CookieName, in.Secret, in.Session.ExpiresAt)
	p.cookies.Clear(c, preCookieName)
	return p.redirect(c, Prefix+"/")
}

func (p *Portal) signOut(c *fiber.Ctx) error {
	if err := p.cfg.SignIn.SignOut(c.UserContext(), current(c)); err != nil {
		return p.fail(c, err)
	}
	p.cookies.Clear(c, CookieName)
	return p.redirect(c, Prefix+"/sign-in")
}
