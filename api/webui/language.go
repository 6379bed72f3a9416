package webui

import (
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/nzilacode/narcidicontrole/licensing/i18n"
)

// LangCookie keeps the language chosen on a signed-out page's switch.
const LangCookie = "narcidi_lang"

type printerKey struct{}

// UseLanguage notes the reader's printer for the request's pages and puts
// the reader's language in its context (for the mails it sends): pref and
// zone are the signed-in reader's own ("" for none), then the switch's
// choice (a ?lang= on a GET when canSwitch, kept in a cookie for a year),
// then Accept-Language, then the server default. The console and the
// portal differ only in whose preference it is and when a page may switch.
func UseLanguage(c *fiber.Ctx, cookies Cookies, canSwitch bool, pref, zone string) {
	chosen := c.Cookies(LangCookie)
	if q := c.Query("lang"); q != "" && canSwitch && c.Method() == fiber.MethodGet {
		if code, err := i18n.Normalize(q); err == nil && code != "" {
			chosen = code
			cookies.Set(c, LangCookie, code, time.Now().AddDate(1, 0, 0))
		}
	}
	lang := i18n.Choose(pref, chosen, c.Get(fiber.HeaderAcceptLanguage))
	c.Locals(printerKey{}, i18n.For(lang, zone))
	c.SetUserContext(i18n.WithLanguage(c.UserContext(), lang))
}

// Printer is the request's reader's printer (the server default's before
// UseLanguage ran: a 404 of the static files).
func Printer(c *fiber.Ctx) *i18n.Printer {
	if pr, ok := c.Locals(printerKey{}).(*i18n.Printer); ok {
		return pr
	}
	return i18n.For("", "")
}
