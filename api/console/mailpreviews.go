package console

import (
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/nzilacode/narcidicontrole/licensing"
	"github.com/nzilacode/narcidicontrole/licensing/custmail"
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

func (cn *Console) mailPreviews(c *fiber.Ctx) error {
	d := custmail.Sample(time.Now())
	var out []mailPreview
	for _, k := range custmail.Kinds {
		m, err := custmail.Render(k, d)
		if err != nil {
			return cn.fail(c, licensing.Wrap(licensing.EInternal, err, "render the "+k+" mail"))
		}
		out = append(out, mailPreview{Kind: k, Mail: m})
	}
	return cn.render(c, fiber.StatusOK, "mail-previews", "Customer mails", out)
}

// mailPreview answers one mail's HTML part as the page itself, as a mail
// client shows it.
func (cn *Console) mailPreview(c *fiber.Ctx) error {
	kind := c.Params("kind")
	if !custmail.Has(kind) {
		return cn.fail(c, licensing.Errorf(licensing.ENotFound, "no customer mail %q", kind))
	}
	m, err := custmail.Render(kind, custmail.Sample(time.Now()))
	if err != nil {
		return cn.fail(c, licensing.Wrap(licensing.EInternal, err, "render the "+kind+" mail"))
	}
	c.Set(fiber.HeaderContentType, fiber.MIMETextHTMLCharsetUTF8)
	return c.SendString(m.HTML)
}
