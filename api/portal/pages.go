package portal

import (
	"io"
	"net/url"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/nzilacode/narcidicontrole/api"
	"github.com/nzilacode/narcidicontrole/licensing"
	"github.com/nzilacode/narcidicontrole/licensing/release"
	verifier "github.com/nzilacode/narcidicontrole/verifier-sdk"
)

// Every page calls the domain services with the session's customer actor
// in the context: they scope lists to the customer and answer ENotFound
// for anything of another customer.

// PageSize is how many licenses or machines a list page shows.
const PageSize = 50

func itoa(n int) string { return strconv.Itoa(n) }

// licenseRow is a license with what the customer wants to know about it.
type licenseRow struct {
	licensing.License
	Product   string
	Plan      string
	SeatsUsed int
	SeatsMax  int
	// SeatCap is SeatsMax plus the overage the license's policy allows
	// (SeatsMax when it allows none).
	SeatCap int
}

type licensesData struct {
	Licenses []licenseRow
	Next     string
}

// describe adds the product, the plan and the seats to licenses (policies
// and products are looked up once each).
func (p *Portal) describe(c *fiber.Ctx, ls []licensing.License) ([]licenseRow, error) {
	ctx := c.UserContext()
	policies, products := map[string]*licensing.Policy{}, map[string]string{}
	out := make([]licenseRow, 0, len(ls))
	for _, l := range ls {
		pol, ok := policies[l.PolicyID]
		if !ok {
			var err error
			if pol, err = p.cfg.Services.Catalog.Policy(ctx, l.PolicyID); err != nil {
				return nil, err
			}
			policies[l.PolicyID] = pol
		}
		name, ok := products[l.ProductID]
		if !ok {
			prod, err := p.cfg.Services.Catalog.Product(ctx, l.ProductID)
			if err != nil {
				return nil, err
			}
			name, products[l.ProductID] = prod.Name, prod.Name
		}
		ms, err := p.cfg.Services.Licenses.Machines(ctx, licensing.MachineFilter{LicenseID: l.ID}, licensing.Page{Limit: licensing.MaxPageLimit})
		if err != nil {
			return nil, err
		}
		used := 0
		for _, m := range ms {
			if m.Status != licensing.MachineBlocked {
				used++
			}
		}
		eff, _ := l.WithOverrides(pol)
		out = append(out, licenseRow{License: l, Product: name, Plan: pol.Name, SeatsUsed: used, SeatsMax: eff.MaxMachines,
			SeatCap: eff.Rules.SeatCap(eff.MaxMachines)})
	}
	return out, nil
}

func (p *Portal) licenses(c *fiber.Ctx) error {
	ls, err := p.cfg.Services.Licenses.Licenses(c.UserContext(), licensing.LicenseFilter{}, licensing.Page{After: c.Query("after"), Limit: PageSize})
	if err != nil {
		return p.fail(c, err)
	}
	rows, err := p.describe(c, ls)
	if err != nil {
		return p.fail(c, err)
	}
	d := licensesData{Licenses: rows}
	if len(ls) == PageSize {
		d.Next = url.Values{"after": {ls[len(ls)-1].ID}}.Encode()
	}
	return p.render(c, fiber.StatusOK, "licenses", "portal.page.licenses", d)
}

type licenseData struct {
	License      licenseRow
	Message      string // to the customer, given when the license was suspended
	Entitlements []string
	Machines     []licensing.Machine
	Meters       []licensing.Meter // uses counted this period, by feature
}

func (p *Portal) license(c *fiber.Ctx) error {
	ctx := c.UserContext()
	l, err := p.cfg.Services.Licenses.License(ctx, c.Params("id"))
	if err != nil {
		return p.fail(c, err) // another customer's: ENotFound, 404
	}
	rows, err := p.describe(c, []licensing.License{*l})
	if err != nil {
		return p.fail(c, err)
	}
	d := licenseData{License: rows[0]}
	if d.Message, err = p.cfg.Services.Licenses.CustomerMessage(ctx, l); err != nil {
		return p.fail(c, err)
	}
	if pol, err := p.cfg.Services.Catalog.Policy(ctx, l.PolicyID); err == nil {
		d.Entitlements = licensing.EffectiveEntitlements(pol, l)
	}
	if d.Meters, err = p.cfg.Services.Metering.Meters(ctx, l.ID); err != nil {
		return p.fail(c, err)
	}
	if current(c).Actor.Allows(licensing.ReadMachines) {
		if d.Machines, err = p.cfg.Services.Licenses.Machines(ctx, licensing.MachineFilter{LicenseID: l.ID}, licensing.Page{Limit: licensing.MaxPageLimit}); err != nil {
			return p.fail(c, err)
		}
	}
	return p.render(c, fiber.StatusOK, "license", "portal.page.license", d, "hint", l.KeyHint)
}

type machinesData struct {
	Machines []licensing.Machine
	Hints    map[string]string // license id → key hint
	Next     string
}

func (p *Portal) machines(c *fiber.Ctx) error {
	ctx := c.UserContext()
	ms, err := p.cfg.Services.Licenses.Machines(ctx, licensing.MachineFilter{}, licensing.Page{After: c.Query("after"), Limit: PageSize})
	if err != nil {
		return p.fail(c, err)
	}
	d := machinesData{Machines: ms, Hints: map[string]string{}}
	for _, m := range ms {
		if _, ok := d.Hints[m.LicenseID]; ok {
			continue
		}
		if l, err := p.cfg.Services.Licenses.License(ctx, m.LicenseID); err == nil {
			d.Hints[m.LicenseID] = l.KeyHint
		}
	}
	if len(ms) == PageSize {
		d.Next = url.Values{"after": {ms[len(ms)-1].ID}}.Encode()
	}
	return p.render(c, fiber.StatusOK, "machines", "portal.page.machines", d)
}

// freeSeat deactivates one of the customer's machines; the service
// answers ENotFound for another customer's.
func (p *Portal) freeSeat(c *fiber.Ctx) error {
	id := c.Params("id")
	if err := p.cfg.Services.Licenses.DeactivateMachine(c.UserContext(), id, "seat freed by the customer in the portal"); err != nil {
		return p.fail(c, err)
	}
	back := c.FormValue("back")
	if !p.targets.Allowed(back) || strings.Contains(back, "?") {
		back = Prefix + "/machines"
	}
	return p.redirect(c, back+"?done=seat-freed")
}

// downloadGroup is a license with the releases it may download, or why it
// may not.
type downloadGroup struct {
	License  licensing.License
	Releases []release.Release
	Problem  string
}

func (p *Portal) downloads(c *fiber.Ctx) error {
	ctx := c.UserContext()
	ls, err := p.cfg.Services.Licenses.Licenses(ctx, licensing.LicenseFilter{}, licensing.Page{After: c.Query("after"), Limit: PageSize})
	if err != nil {
		return p.fail(c, err)
	}
	var groups []downloadGroup
	for _, l := range ls {
		g := downloadGroup{License: l}
		if p.cfg.Releases == nil {
			g.Problem = "downloads are not offered by this server"
		} else if g.Releases, err = p.cfg.Releases.Entitled(ctx, release.Credential{LicenseID: l.ID}); err != nil {
			if api5xx(err) {
				return p.fail(c, err)
			}
			g.Problem = licensing.ErrorMessage(err)
		}
		groups = append(groups, g)
	}
	next := ""
	if len(ls) == PageSize {
		next = url.Values{"after": {ls[len(ls)-1].ID}}.Encode()
	}
	return p.render(c, fiber.StatusOK, "downloads", "portal.page.downloads", struct {
		Groups []downloadGroup
		Next   string
	}{groups, next})
}

func api5xx(err error) bool {
	switch licensing.ErrorCode(err) {
	case licensing.EUnavailable, licensing.EInternal, "":
		return true
	}
	return false
}

// download is a link, not a form: it changes nothing, and a redirect
// after a form post to the download host would be cut by the CSP's
// form-action. It goes through the license-gated download (the license is
// checked now) and answers 303 to the short-lived URL.
func (p *Portal) download(c *fiber.Ctx) error {
	if p.cfg.Releases == nil {
		return p.fail(c, licensing.Errorf(licensing.ENotFound, "downloads are not offered by this server"))
	}
	u, err := p.cfg.Releases.Download(c.UserContext(), release.DownloadRequest{
		Credential: release.Credential{LicenseID: c.Params("license")},
		Channel:    verifier.ReleaseChannels[len(verifier.ReleaseChannels)-1], // the version names the release
		Version:    c.Params("version"), Platform: c.Params("platform"), Arch: c.Params("arch"),
	})
	if err != nil {
		return p.fail(c, err)
	}
	c.Set(fiber.HeaderLocation, u)
	return c.SendStatus(fiber.StatusSeeOther)
}

func (p *Portal) offlinePage(c *fiber.Ctx) error {
	return p.render(c, fiber.StatusOK, "offline", "portal.page.offline", nil)
}

// maxRequestFile bounds an uploaded activation request (a few hundred
// bytes in practice).
const maxRequestFile = 16 << 10

// offlineExchange turns the request file of an air-gapped machine into
// its lease file, as the admin's `narcidi activate-offline` does; the
// service refuses another customer's license as not found.
func (p *Portal) offlineExchange(c *fiber.Ctx) error {
	fh, err := c.FormFile("request")
	if err != nil {
		return p.render(c, fiber.StatusUnprocessableEntity, "offline", "portal.page.offline", formError{msg: p.printer(c).T("portal.offline.choose_file")})
	}
	if fh.Size > maxRequestFile {
		return p.render(c, fiber.StatusUnprocessableEntity, "offline", "portal.page.offline", formError{msg: p.printer(c).T("portal.offline.too_large")})
	}
	f, err := fh.Open()
	if err != nil {
		return p.fail(c, licensing.Wrap(licensing.EInternal, err, "open the upload"))
	}
	defer f.Close()
	raw, err := io.ReadAll(io.LimitReader(f, maxRequestFile))
	if err != nil {
		return p.fail(c, licensing.Wrap(licensing.EInternal, err, "read the upload"))
	}
	req, err := verifier.ParseActivationRequest(raw)
	if err != nil {
		return p.render(c, fiber.StatusUnprocessableEntity, "offline", "portal.page.offline", formError{msg: p.printer(c).T("portal.offline.not_request")})
	}
	g, err := p.cfg.Services.Leasing.ActivateOffline(c.UserContext(), licensing.OfflineActivation{
		Request: licensing.MachineRequest{Key: req.LicenseKey, Fingerprint: req.Fingerprint, Name: req.Hostname, Hostname: req.Hostname, Platform: req.Platform},
		Product: req.Product,
	})
	switch licensing.ErrorCode(err) {
	case "":
	case licensing.ENotFound, licensing.EForbidden, licensing.EUnauthorized, licensing.EUnavailable, licensing.EInternal:
		return p.fail(c, err)
	default: // the license's state, a full seat count, a blocked machine
		return p.render(c, api.Status(err), "offline", "portal.page.offline", p.refusal(c, err))
	}
	c.Set(fiber.HeaderContentType, "application/json")
	c.Set(fiber.HeaderContentDisposition, `attachment; filename="narcidi-lease.json"`)
	return c.Send(verifier.MarshalLeaseFile(g.Lease))
}

type contactsData struct {
	formError
	Contacts []licensing.Contact
}

func (p *Portal) contacts(c *fiber.Ctx) error {
	return p.render(c, fiber.StatusOK, "contacts", "portal.page.contacts", contactsData{Contacts: withBlanks(current(c).Customer.Contacts)})
}

// withBlanks adds empty rows to the form so contacts can be added without
// a script.
func withBlanks(cs []licensing.Contact) []licensing.Contact {
	return append(append([]licensing.Contact{}, cs...), licensing.Contact{}, licensing.Contact{})
}

// saveContacts replaces the contacts with the form's rows (a row without
// an email is dropped).
func (p *Portal) saveContacts(c *fiber.Ctx) error {
	var cs []licensing.Contact
	for i := 0; i < 22; i++ {
		n := itoa(i)
		email := strings.TrimSpace(c.FormValue("email-" + n))
		if email == "" {
			continue
		}
		cs = append(cs, licensing.Contact{Name: strings.TrimSpace(c.FormValue("name-" + n)), Email: email, Role: strings.TrimSpace(c.FormValue("role-" + n))})
	}
	_, err := p.cfg.Services.Customers.UpdateContacts(c.UserContext(), current(c).Customer.ID, cs)
	if licensing.ErrorCode(err) == licensing.EInvalid {
		return p.render(c, fiber.StatusUnprocessableEntity, "contacts", "portal.page.contacts", contactsData{p.refusal(c, err), withBlanks(cs)})
	} else if err != nil {
		return p.fail(c, err)
	}
	return p.redirect(c, Prefix+"/contacts?done=contacts-saved")
}
