package portal

import (
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/nzilacode/narcidicontrole/api"
	"github.com/nzilacode/narcidicontrole/licensing"
	"github.com/nzilacode/narcidicontrole/licensing/portal"
)

// signInWithPassword is the sign-in page's second form. A wrong password
// and an unknown email get the same page and status; attempts spend the
// same per IP and email allowance as link requests, so the two ways in
// together cannot be used to guess faster.
func (p *Portal) signInWithPassword(c *fiber.Ctx) error {
	email := strings.TrimSpace(c.FormValue("email"))
	if err := p.allow(c, email); err != nil {
		return p.fail(c, err)
	}
	out, err := p.cfg.SignIn.SignInWithPassword(c.UserContext(), email, c.FormValue("password"), c.IP(), c.Get(fiber.HeaderUserAgent))
	if licensing.ErrorCode(err) == licensing.EUnauthorized {
		return p.render(c, fiber.StatusUnauthorized, "sign-in", "signin.page.sign_in",
			signInData{formError: p.refusal(c, err), CanMail: p.cfg.SignIn.CanMail(), Email: email})
	} else if err != nil {
		return p.fail(c, err)
	}
	if out.SignedIn == nil {
		// The email opens several customers: each choice is a one-time
		// link, spent through the link's own form.
		return p.render(c, fiber.StatusOK, "choose", "signin.page.choose", chooseData{Choices: out.Choices})
	}
	p.cookies.Set(c, CookieName, out.SignedIn.Secret, out.SignedIn.Session.ExpiresAt)
	p.cookies.Clear(c, preCookieName)
	return p.redirect(c, Prefix+"/")
}

type chooseData struct {
	Choices []portal.Choice
}

type passwordData struct {
	formError
}

// passwordPage sets or changes the password of the session's email; any
// signed-in customer may, whatever the customer record permits, as the
// password only opens what a link to that email opens.
func (p *Portal) passwordPage(c *fiber.Ctx) error {
	return p.render(c, fiber.StatusOK, "password", "portal.page.password", passwordData{})
}

func (p *Portal) setPassword(c *fiber.Ctx) error {
	cur := current(c)
	// Guessing the current password is limited per email beside per IP;
	// a password set does not count.
	try, err := p.try(c, "password", cur.Session.Email)
	if err != nil {
		return p.fail(c, err)
	}
	err = p.cfg.SignIn.SetPassword(c.UserContext(), cur, c.FormValue("current"), c.FormValue("password"), c.FormValue("again"))
	if err == nil {
		try.Succeeded()
	}
	if code := licensing.ErrorCode(err); code == licensing.EInvalid || code == licensing.EUnauthorized {
		status := fiber.StatusUnprocessableEntity
		if code == licensing.EUnauthorized {
			status = fiber.StatusUnauthorized
		}
		return p.render(c, status, "password", "portal.page.password", passwordData{formError: p.refusal(c, err)})
	} else if err != nil {
		return p.fail(c, err)
	}
	return p.redirect(c, Prefix+"/password?done=password-set")
}

// settingsPage shows the customer's language and time zone (their
// portal's and their mails').
func (p *Portal) settingsPage(c *fiber.Ctx) error {
	return p.render(c, fiber.StatusOK, "settings", "portal.page.settings", nil)
}

// saveSettings sets the customer's language and time zone
// (Customers.SetLocale, audited as customer.updated).
func (p *Portal) saveSettings(c *fiber.Ctx) error {
	cur := current(c)
	if _, err := p.cfg.Services.Customers.SetLocale(c.UserContext(), cur.Customer.ID, c.FormValue("language"), c.FormValue("time_zone")); err != nil {
		status := api.Status(err)
		if status >= 500 {
			return p.fail(c, err)
		}
		return p.render(c, status, "settings", "portal.page.settings", p.refusal(c, err))
	}
	return p.redirect(c, Prefix+"/settings?done=settings-saved")
}
