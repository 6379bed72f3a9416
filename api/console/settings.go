package console

import (
	"github.com/gofiber/fiber/v2"

	"github.com/nzilacode/narcidicontrole/api"
	"github.com/nzilacode/narcidicontrole/licensing/i18n"
)

// settingsData is the signed-in user's reading preferences: the form's
// values (kept when refused) and the languages to choose from.
type settingsData struct {
	formError
	Language, TimeZone string
	Languages          []i18n.Language
	Saved              bool
}

// settingsPage shows the signed-in user's language and time zone, which
// every console page they read follows.
func (cn *Console) settingsPage(c *fiber.Ctx) error {
	u := current(c).User
	return cn.render(c, fiber.StatusOK, "settings", "console.page.settings",
		settingsData{Language: u.Language, TimeZone: u.TimeZone, Languages: i18n.Languages(), Saved: c.Query("saved") != ""})
}

// saveSettings sets them (users.Service.SetLocale, audited as
// user.updated); a refused value shows the form again, translated.
func (cn *Console) saveSettings(c *fiber.Ctx) error {
	lang, zone := c.FormValue("language"), c.FormValue("time_zone")
	if _, err := cn.cfg.Users.SetLocale(c.UserContext(), current(c).User.ID, lang, zone); err != nil {
		status := api.Status(err)
		if status >= 500 {
			return cn.fail(c, err)
		}
		return cn.render(c, status, "settings", "console.page.settings",
			settingsData{formError: refusal(err), Language: lang, TimeZone: zone, Languages: i18n.Languages()})
	}
	return cn.redirect(c, Prefix+"/settings?saved=1")
}
