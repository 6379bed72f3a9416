package console

import (
	"net/url"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/nzilacode/narcidicontrole/licensing"
)

// The license forms: a new license (its key shown once), and the two
// actions that take a choice besides a reason — change plan (policy) and
// transfer (to another customer) — confirmed on the same page as suspend
// and extend (confirm.html) before licensing.Licenses does them.

// licenseFormRoutes come before licenseRoutes in routeGroups: fiber takes
// the first route that matches, and /licenses/new and
// /licenses/:id/change-plan would otherwise be read as a license id and a
// license action.
var licenseFormRoutes = []Route{
	{"licenseNew", "GET", "/licenses/new", licensing.WriteLicenses, (*Console).licenseNew},
	{"licenseCreate", "POST", "/licenses", licensing.WriteLicenses, (*Console).licenseCreate},
	{"licensePlan", "GET", "/licenses/:id/change-plan", licensing.WriteLicenses, (*Console).licensePlan},
	{"licensePlanChange", "POST", "/licenses/:id/change-plan", licensing.WriteLicenses, (*Console).licensePlanChange},
	{"licenseTransfer", "GET", "/licenses/:id/transfer", licensing.WriteLicenses, (*Console).licenseTransfer},
	{"licenseTransferDo", "POST", "/licenses/:id/transfer", licensing.WriteLicenses, (*Console).licenseTransferDo},
}

type licenseNewData struct {
	form
	Products     []licensing.Product
	Product      *licensing.Product
	Policies     []licensing.Policy
	Pick         picker // the customer, picked by name
	Entitlements []licensing.Entitlement
	Created      *licensing.CreatedLicense
}

// licenseErrorFields maps the API's fields (licensing.Error.Field) to the
// new-license form's.
var licenseErrorFields = map[string]string{"policy_id": "policy_id", "customer_id": "customer_id", "key": "key",
	"expires_at": "expires", "entitlements": "entitlements", "name": "name"}

// licenseNewPage draws the form: first the product, then the rest with
// the product's policies.
func (cn *Console) licenseNewPage(c *fiber.Ctx, status int, d licenseNewData) error {
	ctx := c.UserContext()
	var err error
	if id := d.V("product_id"); id != "" {
		if d.Product, err = cn.cfg.Services.Catalog.Product(ctx, id); err != nil && licensing.ErrorCode(err) != licensing.ENotFound {
			return cn.fail(c, err)
		}
	}
	if d.Product == nil {
		if d.Products, err = cn.cfg.Services.Catalog.Products(ctx, licensing.Page{Limit: licensing.MaxPageLimit}); err != nil {
			return cn.fail(c, err)
		}
		return cn.render(c, status, "license-new", "console.page.license_new", d)
	}
	if d.Policies, err = cn.cfg.Services.Catalog.Policies(ctx, licensing.PolicyFilter{ProductID: d.Product.ID}, licensing.Page{Limit: licensing.MaxPageLimit}); err != nil {
		return cn.fail(c, err)
	}
	if current(c).Actor.Allows(licensing.ReadCustomers) {
		if d.Pick, err = cn.customerPicker(ctx, "customer_id", "Customer", d.V("customer_id_q"), d.V("customer_id")); err != nil {
			return cn.fail(c, err)
		}
		d.Pick.Bad = d.Bad("customer_id")
	}
	ents, err := cn.cfg.Services.Catalog.Entitlements(ctx, licensing.Page{Limit: licensing.MaxPageLimit})
	if err != nil {
		return cn.fail(c, err)
	}
	d.Entitlements = withChosen(ents, d.Multi["entitlements"])
	return cn.render(c, status, "license-new", "console.page.license_new", d)
}

func (cn *Console) licenseNew(c *fiber.Ctx) error {
	f := form{Values: map[string]string{"product_id": c.Query("product"), "customer_id": c.Query("customer")}}
	return cn.licenseNewPage(c, fiber.StatusOK, licenseNewData{form: f})
}

// licenseCreate creates the license and shows its key on the answer to
// the POST, once: it is in no URL and stored nowhere in clear.
func (cn *Console) licenseCreate(c *fiber.Ctx) error {
	f := readForm(c, []string{"product_id", "policy_id", "customer_id", "customer_id_q", "name", "key", "expires"}, []string{"entitlements"})
	if searching(c) {
		return cn.licenseNewPage(c, fiber.StatusOK, licenseNewData{form: f})
	}
	if err := cn.pickedFits(c, f.V("customer_id_q"), f.V("customer_id")); err != nil {
		f.withError(err, licenseErrorFields)
		return cn.licenseNewPage(c, formStatus(err), licenseNewData{form: f})
	}
	in := licensing.LicenseInput{PolicyID: f.V("policy_id"), CustomerID: f.V("customer_id"), Name: f.V("name"), Key: f.V("key"),
		Entitlements: f.Multi["entitlements"]}
	var err error
	if s := f.V("expires"); s != "" {
		// The license lasts through the day chosen (UTC).
		t, perr := time.Parse(time.DateOnly, s)
		if perr != nil {
			err = f.invalid("expires", "Expires on must be a date (YYYY-MM-DD)")
		}
		t = t.Add(24*time.Hour - time.Second)
		in.ExpiresAt = &t
	}
	if err == nil {
		var l *licensing.CreatedLicense
		if l, err = cn.cfg.Services.Licenses.CreateLicense(c.UserContext(), in); err == nil {
			return cn.render(c, fiber.StatusCreated, "license-new", "console.page.license_created", licenseNewData{Created: l})
		}
		f.withError(err, licenseErrorFields)
	}
	if !refused(err) {
		return cn.fail(c, err)
	}
	return cn.licenseNewPage(c, formStatus(err), licenseNewData{form: f})
}

// ---- change plan and transfer

type licenseChoiceData struct {
	form
	License  *licensing.License
	Policy   *licensing.Policy   // the current one
	Policies []licensing.Policy  // the product's, for change plan
	Customer *licensing.Customer // the current one, for transfer
	Pick     picker              // the customer it goes to, for transfer
}

func (cn *Console) licenseChoicePage(c *fiber.Ctx, status int, name, title string, f form) error {
	ctx := c.UserContext()
	l, err := cn.cfg.Services.Licenses.License(ctx, c.Params("id"))
	if err != nil {
		return cn.fail(c, err)
	}
	d := licenseChoiceData{form: f, License: l}
	if p, err := cn.cfg.Services.Catalog.Policy(ctx, l.PolicyID); err == nil {
		d.Policy = p
	}
	if cu, err := cn.cfg.Services.Customers.Customer(ctx, l.CustomerID); err == nil {
		d.Customer = cu
	}
	if name == "license-transfer" && current(c).Actor.Allows(licensing.ReadCustomers) {
		if d.Pick, err = cn.customerPicker(ctx, "customer_id", "Customer it goes to", f.V("customer_id_q"), f.V("customer_id")); err != nil {
			return cn.fail(c, err)
		}
		d.Pick.Bad = f.Bad("customer_id")
	}
	if name == "license-plan" {
		if d.Policies, err = cn.cfg.Services.Catalog.Policies(ctx, licensing.PolicyFilter{ProductID: l.ProductID}, licensing.Page{Limit: licensing.MaxPageLimit}); err != nil {
			return cn.fail(c, err)
		}
	}
	return cn.render(c, status, name, title, d, "key", l.KeyHint)
}

func (cn *Console) licensePlan(c *fiber.Ctx) error {
	return cn.licenseChoicePage(c, fiber.StatusOK, "license-plan", "console.page.license_plan", form{Values: map[string]string{}})
}

func (cn *Console) licenseTransfer(c *fiber.Ctx) error {
	return cn.licenseChoicePage(c, fiber.StatusOK, "license-transfer", "console.page.license_transfer", form{Values: map[string]string{}})
}

// choiceAction is change plan or transfer: the form's choice (field) and
// reason, confirmed as suspend and extend are, then done by do.
type choiceAction struct {
	action, field, page, title string
	describe                   func(c *fiber.Ctx, l *licensing.License, choice string) (string, error)
	do                         func(c *fiber.Ctx, id, choice, reason string) error
}

func (cn *Console) choose(c *fiber.Ctx, a choiceAction) error {
	ctx, id := c.UserContext(), c.Params("id")
	f := readForm(c, []string{a.field, a.field + "_q", "reason"}, nil)
	again := func(err error) error {
		if !refused(err) {
			return cn.fail(c, err)
		}
		f.withError(err, map[string]string{"reason": "reason", a.field: a.field})
		return cn.licenseChoicePage(c, formStatus(err), a.page, a.title, f)
	}
	l, err := cn.cfg.Services.Licenses.License(ctx, id)
	if err != nil {
		return cn.fail(c, err)
	}
	if searching(c) {
		return cn.licenseChoicePage(c, fiber.StatusOK, a.page, a.title, f)
	}
	if a.field == "customer_id" {
		if err := cn.pickedFits(c, f.V("customer_id_q"), f.V("customer_id")); err != nil {
			return again(err)
		}
	}
	if f.V("reason") == "" {
		return again(errNoReason)
	}
	if c.FormValue("confirm") != "yes" {
		detail, err := a.describe(c, l, f.V(a.field))
		if err != nil {
			return again(err)
		}
		return cn.render(c, fiber.StatusOK, "confirm", "console.page.confirm", confirmation{Action: a.action, Target: printer(c).T("console.target.license", "key", l.KeyHint),
			Detail: detail, Path: c.Path(), Cancel: Prefix + "/licenses/" + id, Reason: f.V("reason"), Fields: []field{{a.field, f.V(a.field)}}}, "action", word(printer(c), "console.verb.", a.action))
	}
	if err := a.do(c, id, f.V(a.field), f.V("reason")); err != nil {
		return again(err)
	}
	return cn.redirect(c, Prefix+"/licenses/"+id+"?done="+url.QueryEscape(a.action))
}

func (cn *Console) licensePlanChange(c *fiber.Ctx) error {
	return cn.choose(c, choiceAction{action: "change-plan", field: "policy_id", page: "license-plan", title: "console.page.license_plan",
		describe: func(c *fiber.Ctx, l *licensing.License, policyID string) (string, error) {
			if policyID == "" {
				return "", licensing.FieldErrorf("policy_id", "choose the new plan")
			}
			p, err := cn.cfg.Services.Catalog.Policy(c.UserContext(), policyID)
			if err != nil {
				return "", notThere(err, "policy_id", "policy", policyID)
			}
			return printer(c).T("console.detail.change_plan", "plan", p.Name, "seats", printer(c).N("console.seats", p.MaxMachines)), nil
		},
		do: func(c *fiber.Ctx, id, policyID, reason string) error {
			_, err := cn.cfg.Services.Licenses.ChangePolicy(c.UserContext(), id, policyID, reason)
			return err
		}})
}

func (cn *Console) licenseTransferDo(c *fiber.Ctx) error {
	return cn.choose(c, choiceAction{action: "transfer", field: "customer_id", page: "license-transfer", title: "console.page.license_transfer",
		describe: func(c *fiber.Ctx, l *licensing.License, customerID string) (string, error) {
			if customerID == "" {
				return "", licensing.FieldErrorf("customer_id", "give the customer to transfer to")
			}
			cu, err := cn.cfg.Services.Customers.Customer(c.UserContext(), customerID)
			if err != nil {
				return "", notThere(err, "customer_id", "customer", customerID)
			}
			return printer(c).T("console.detail.transfer", "customer", cu.Name+customerEmail(cu)), nil
		},
		do: func(c *fiber.Ctx, id, customerID, reason string) error {
			_, err := cn.cfg.Services.Licenses.TransferLicense(c.UserContext(), id, customerID, reason)
			return err
		}})
}

// notThere makes a missing policy or customer the form's mistake.
func notThere(err error, field, what, id string) error {
	if licensing.ErrorCode(err) == licensing.ENotFound {
		return licensing.FieldErrorf(field, "%s: %s %s does not exist", field, what, id)
	}
	return err
}

// customerEmail is " (email)", or "" for a customer without one.
func customerEmail(cu *licensing.Customer) string {
	if cu.Email == "" {
		return ""
	}
	return " (" + cu.Email + ")"
}
