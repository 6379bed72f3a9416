package console

import (
	"context"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/nzilacode/narcidicontrole/licensing"
	"github.com/nzilacode/narcidicontrole/licensing/i18n"
	"github.com/nzilacode/narcidicontrole/licensing/users"
)

func (cn *Console) signInPage(c *fiber.Ctx) error {
	if cur := current(c); cur != nil && cur.Session.Stage == users.StageFull {
		return cn.redirect(c, Prefix+"/")
	}
	return cn.render(c, fiber.StatusOK, "sign-in", "console.page.sign_in", signInData{PasswordSet: c.Query("password") == "set"})
}

type signInData struct {
	formError
	PasswordSet bool
}

// signIn checks the password (attempts limited per IP and email, failures
// audited by the users service) and opens a session.
func (cn *Console) signIn(c *fiber.Ctx) error {
	email, password := c.FormValue("email"), c.FormValue("password")
	if err := cn.allow(c, email); err != nil {
		return cn.fail(c, err)
	}
	in, err := cn.cfg.Users.SignIn(c.UserContext(), email, password, c.IP(), c.Get(fiber.HeaderUserAgent))
	if licensing.ErrorCode(err) == licensing.EUnauthorized {
		return cn.render(c, fiber.StatusUnauthorized, "sign-in", "console.page.sign_in", signInData{formError: said(c, "console.signin.wrong")})
	} else if err != nil {
		return cn.fail(c, err)
	}
	cn.setCookie(c, CookieName, in.Secret, in.Session.ExpiresAt)
	cn.clearCookie(c, preCookieName)
	if in.Session.Stage == users.StageFull {
		return cn.redirect(c, Prefix+"/")
	}
	return cn.redirect(c, cn.secondStep(&users.Current{Session: in.Session, User: in.User}))
}

type setPasswordData struct {
	formError
	Token string
}

// setPasswordPage shows the form only for a link that still works: a used,
// expired or unknown one gets a page that says so and how to get another.
func (cn *Console) setPasswordPage(c *fiber.Ctx) error {
	token := c.Query("token")
	state, err := cn.cfg.Users.PasswordLinkState(c.UserContext(), token)
	if err != nil {
		return cn.fail(c, err)
	}
	if state != licensing.LinkUsable {
		return cn.linkSpent(c, state)
	}
	return cn.render(c, fiber.StatusOK, "set-password", "console.page.set_password", setPasswordData{Token: token})
}

type linkSpentData struct {
	State   licensing.LinkState
	CanMail bool
}

func (cn *Console) linkSpent(c *fiber.Ctx, state licensing.LinkState) error {
	status := fiber.StatusGone
	if state == licensing.LinkUnknown {
		status = fiber.StatusNotFound
	}
	return cn.render(c, status, "link-spent", "console.page.link_spent", linkSpentData{State: state, CanMail: cn.cfg.Users.CanMail()})
}

type forgotData struct {
	CanMail, Sent bool
	Email         string
	Valid         time.Duration // how long the link works
}

func (cn *Console) forgotPage(c *fiber.Ctx) error {
	return cn.render(c, fiber.StatusOK, "forgot-password", "console.page.forgot",
		forgotData{CanMail: cn.cfg.Users.CanMail(), Valid: cn.cfg.Users.LinkTTL()})
}

// forgot answers at once and the same way for every address: the link is
// made and mailed in the background, so neither the words nor the time of
// the answer say whether the email is a console user's. Attempts are
// limited per IP and email (the sign-in limits); the users service audits
// each request.
func (cn *Console) forgot(c *fiber.Ctx) error {
	d := forgotData{CanMail: cn.cfg.Users.CanMail(), Valid: cn.cfg.Users.LinkTTL()}
	if !d.CanMail {
		return cn.render(c, fiber.StatusServiceUnavailable, "forgot-password", "console.page.forgot", d)
	}
	// Copies: fiber reuses the request's memory once the handler returns.
	email, ip := strings.Clone(strings.TrimSpace(c.FormValue("email"))), strings.Clone(c.IP())
	if err := cn.allow(c, "forgot:"+strings.ToLower(email)); err != nil {
		return cn.fail(c, err)
	}
	base := cn.baseURL()
	// The mail is in the user's language, else in this page's (the
	// switch's, the browser's or the default).
	lang := printer(c).Lang()
	go func() {
		ctx, cancel := context.WithTimeout(i18n.WithLanguage(context.Background(), lang), time.Minute)
		defer cancel()
		link := func(secret string) string { return SetPasswordLink(base, secret) }
		if err := cn.cfg.Users.RequestPasswordReset(ctx, email, link, ip); err != nil {
			cn.cfg.Logger.Warn("console: password link not sent", "err", err)
		}
	}()
	d.Sent, d.Email = true, email
	return cn.render(c, fiber.StatusOK, "forgot-password", "console.page.check_mail", d)
}

func (cn *Console) setPassword(c *fiber.Ctx) error {
	token, pw := c.FormValue("token"), c.FormValue("password")
	if pw != c.FormValue("confirm") {
		return cn.render(c, fiber.StatusUnprocessableEntity, "set-password", "console.page.set_password",
			setPasswordData{said(c, "console.password.differ"), token})
	}
	try, err := cn.try(c, "set-password", token)
	if err != nil {
		return cn.fail(c, err)
	}
	_, err = cn.cfg.Users.SetPassword(c.UserContext(), token, pw)
	switch licensing.ErrorCode(err) {
	case "":
		try.Succeeded()
		return cn.redirect(c, Prefix+"/sign-in?password=set")
	case licensing.EUnauthorized:
		state, serr := cn.cfg.Users.PasswordLinkState(c.UserContext(), token)
		if serr != nil {
			return cn.fail(c, serr)
		}
		return cn.linkSpent(c, state)
	case licensing.EInvalid:
		return cn.render(c, api422(err), "set-password", "console.page.set_password", setPasswordData{refusal(err), token})
	}
	return cn.fail(c, err)
}

func api422(err error) int {
	if licensing.ErrorCode(err) == licensing.EUnauthorized {
		return fiber.StatusUnauthorized
	}
	return fiber.StatusUnprocessableEntity
}

func (cn *Console) twoFactorPage(c *fiber.Ctx) error {
	return cn.render(c, fiber.StatusOK, "two-factor", "console.page.two_factor", nil)
}

func (cn *Console) twoFactor(c *fiber.Ctx) error {
	cur := current(c)
	if err := cn.allow(c, "2fa:"+cur.User.ID); err != nil {
		return cn.fail(c, err)
	}
	err := cn.cfg.Users.VerifySecondFactor(c.UserContext(), cur, c.FormValue("code"))
	if licensing.ErrorCode(err) == licensing.EInvalid {
		return cn.render(c, fiber.StatusUnprocessableEntity, "two-factor", "console.page.two_factor", said(c, "console.two_factor.wrong"))
	} else if err != nil {
		return cn.fail(c, err)
	}
	cn.renewCookie(c, cur)
	return cn.redirect(c, Prefix+"/")
}

type enrolData struct {
	formError
	Enrolment *users.Enrolment
	Recovery  []string
	Enabled   bool
}

func (cn *Console) enrolPage(c *fiber.Ctx) error {
	cur := current(c)
	if cur.User.TOTPEnabled {
		return cn.render(c, fiber.StatusOK, "enrol", "console.page.two_factor", enrolData{Enabled: true})
	}
	e, err := cn.cfg.Users.BeginTOTP(c.UserContext(), cur.User.ID)
	if err != nil {
		return cn.fail(c, err)
	}
	return cn.render(c, fiber.StatusOK, "enrol", "console.page.enrol", enrolData{Enrolment: e})
}

// enrol confirms the pending secret with a code; the recovery codes are
// shown once.
func (cn *Console) enrol(c *fiber.Ctx) error {
	cur := current(c)
	if err := cn.allow(c, "2fa:"+cur.User.ID); err != nil {
		return cn.fail(c, err)
	}
	codes, err := cn.cfg.Users.ConfirmTOTP(c.UserContext(), cur, c.FormValue("password"), c.FormValue("code"))
	if code := licensing.ErrorCode(err); code == licensing.EInvalid || code == licensing.EUnauthorized {
		// The same secret and QR code: the app may have scanned it already.
		e, berr := cn.cfg.Users.BeginTOTP(c.UserContext(), cur.User.ID)
		if berr != nil {
			return cn.fail(c, berr)
		}
		msg, status := "console.enrol.wrong_code", fiber.StatusUnprocessableEntity
		if code == licensing.EUnauthorized {
			msg, status = "console.enrol.wrong_password", fiber.StatusUnauthorized
		}
		return cn.render(c, status, "enrol", "console.page.enrol", enrolData{formError: said(c, msg), Enrolment: e})
	} else if err != nil {
		return cn.fail(c, err)
	}
	cn.renewCookie(c, cur)
	return cn.render(c, fiber.StatusOK, "enrol", "console.page.enrolled", enrolData{Recovery: codes, Enabled: true})
}

// renewCookie sends the session's new secret once the second factor made
// it full: the cookie sent before the second factor opens nothing.
func (cn *Console) renewCookie(c *fiber.Ctx, cur *users.Current) {
	if cur.Renewed != "" {
		cn.setCookie(c, CookieName, cur.Renewed, cur.Session.ExpiresAt)
	}
}

func (cn *Console) signOut(c *fiber.Ctx) error {
	if err := cn.cfg.Users.SignOut(c.UserContext(), current(c)); err != nil {
		return cn.fail(c, err)
	}
	cn.clearCookie(c, CookieName)
	return cn.redirect(c, Prefix+"/sign-in")
}

func (cn *Console) signOutEverywhere(c *fiber.Ctx) error {
	if err := cn.cfg.Users.SignOutEverywhere(c.UserContext(), current(c).User.ID); err != nil {
		return cn.fail(c, err)
	}
	cn.clearCookie(c, CookieName)
	return cn.redirect(c, Prefix+"/sign-in")
}
