package console

import (
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/nzilacode/narcidicontrole/licensing"
	"github.com/nzilacode/narcidicontrole/licensing/custmail"
	"github.com/nzilacode/narcidicontrole/licensing/i18n"
)

// The mails customers get, rendered with sample data (custmail.Sample)
// through the same templates the workers send: what a customer will read.
var mailPreviewRoutes = []Route{
	{"mailPreviews", "GET", "/mail-previews", licensing.ReadDashboard, (*Console).mailPreviews},
	{"mailPreview", "GET", "/mail-previews/:kind", licensing.ReadDashboard, (*Console).mailPreview},
}

type mailPreview struct {
	Kind string
	Mail *custmail.Mail
}

// mailPreviewData is the previews in one language (?lang=, English by
// default) and the languages to switch to.
type mailPreviewData struct {
	Lang      string
	Languages []i18n.Language
	Mails     []mailPreview
}

// previewSample is the sample data in the language of ?lang=.
func previewSample(c *fiber.Ctx) (custmail.Data, error) {
	d := custmail.Sample(time.Now())
	lang, err := i18n.Normalize(c.Query("lang"))
	if err != nil {
		return d, licensing.FieldErrorf("lang", "%v", err)
	}
	if lang == "" {
		lang = i18n.English
	}
	d.Language = lang
	return d, nil
}

func (cn *Console) mailPreviews(c *fiber.Ctx) error {
	d, err := previewSample(c)
	if err != nil {
		return cn.fail(c, err)
	}
	var out []mailPreview
	for _, k := range custmail.Kinds {
		m, err := custmail.Render(k, d)
		if err != nil {
			return cn.fail(c, licensing.Wrap(licensing.EInternal, err, "render the "+k+" mail"))
		}
		out = append(out, mailPreview{Kind: k, Mail: m})
	}
	return cn.render(c, fiber.StatusOK, "mail-previews", "console.page.mail_previews", mailPreviewData{Lang: d.Language, Languages: i18n.Languages(), Mails: out})
}

// mailPreview answers one mail's HTML part as the page itself, as a mail
// client shows it.
func (cn *Console) mailPreview(c *fiber.Ctx) error {
	kind := c.Params("kind")
	if !custmail.Has(kind) {
		return cn.fail(c, licensing.Errorf(licensing.ENotFound, "no customer mail %q", kind))
	}
	d, err := previewSample(c)
	if err != nil {
		return cn.fail(c, err)
	}
	m, err := custmail.Render(kind, d)
	if err != nil {
		return cn.fail(c, licensing.Wrap(licensing.EInternal, err, "render the "+kind+" mail"))
	}
	c.Set(fiber.HeaderContentType, fiber.MIMETextHTMLCharsetUTF8)
	return c.SendString(m.HTML)
}
