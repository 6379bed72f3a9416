package console

import (
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/nzilacode/narcidicontrole/api"
	"github.com/nzilacode/narcidicontrole/licensing"
	"github.com/nzilacode/narcidicontrole/licensing/portal"
)

// A customer without SMTP cannot ask the portal for a link: staff who may
// edit the customer send one (mailed) or copy one (shown once) from here.
// Either is no more than they can do already by changing the customer's
// email and asking for a link; both are audited as portal.link_sent.
var portalLinkRoutes = []Route{
	{"customerPortalLinkPage", "GET", "/customers/:id/portal-link", licensing.WriteCustomers, (*Console).portalLinkPage},
	{"customerPortalLink", "POST", "/customers/:id/portal-link", licensing.WriteCustomers, (*Console).portalLink},
}

// WithPortalLinks gives the console the portal's sign-in service (nil:
// the portal-link page says the portal is not served).
func (cn *Console) WithPortalLinks(s *portal.Service) *Console {
	cn.cfg.PortalLinks = s
	return cn
}

type portalLinkData struct {
	formError
	Customer *licensing.Customer
	Emails   []string
	Email    string
	CanMail  bool
	Valid    time.Duration // how long a link works
	// Link is the link made by "copy", shown once; Sent names the address
	// a mailed one went to.
	Link, Sent string
}

func (cn *Console) portalLinkData(c *fiber.Ctx) (*portalLinkData, error) {
	if cn.cfg.PortalLinks == nil {
		return nil, licensing.Errorf(licensing.EUnavailable, "the customer portal is not served by this console")
	}
	cust, err := cn.cfg.Services.Customers.Customer(c.UserContext(), c.Params("id"))
	if err != nil {
		return nil, err
	}
	d := &portalLinkData{Customer: cust, CanMail: cn.cfg.PortalLinks.CanMail(), Valid: cn.cfg.PortalLinks.LinkTTL()}
	if cust.Email != "" {
		d.Emails = append(d.Emails, cust.Email)
	}
	for _, ct := range cust.Contacts {
		if ct.Email != "" {
			d.Emails = append(d.Emails, ct.Email)
		}
	}
	return d, nil
}

func (cn *Console) portalLinkPage(c *fiber.Ctx) error {
	d, err := cn.portalLinkData(c)
	if err != nil {
		return cn.fail(c, err)
	}
	return cn.render(c, fiber.StatusOK, "portal-link", "console.page.portal_link", d, "name", d.Customer.Name)
}

// portalLink mails a sign-in link (action=send) or shows one once
// (action=copy): the link is in the answer to the POST only.
func (cn *Console) portalLink(c *fiber.Ctx) error {
	d, err := cn.portalLinkData(c)
	if err != nil {
		return cn.fail(c, err)
	}
	d.Email = c.FormValue("email")
	send := c.FormValue("action") == "send"
	link, err := cn.cfg.PortalLinks.IssueLink(c.UserContext(), d.Customer.ID, d.Email, cn.portalBase(), send)
	switch code := licensing.ErrorCode(err); {
	case code == "":
	case code == licensing.EInvalid || code == licensing.EConflict || code == licensing.EUnavailable:
		d.formError = refusal(err)
		return cn.render(c, api.Status(err), "portal-link", "console.page.portal_link", d, "name", d.Customer.Name)
	default:
		return cn.fail(c, err)
	}
	if send {
		d.Sent = d.Email
		if d.Sent == "" {
			d.Sent = d.Customer.Email
		}
		return cn.render(c, fiber.StatusOK, "portal-link", "console.page.portal_link", d, "name", d.Customer.Name)
	}
	d.Link = link
	return cn.render(c, fiber.StatusCreated, "portal-link", "console.page.portal_link", d, "name", d.Customer.Name)
}

// portalBase is the public URL the portal's links start with (paths
// without one).
func (cn *Console) portalBase() string { return cn.baseURL() }
