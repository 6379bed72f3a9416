package console

import (
	"html/template"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/nzilacode/narcidicontrole/licensing"
	"github.com/nzilacode/narcidicontrole/licensing/insights"
	"github.com/nzilacode/narcidicontrole/licensing/subscription"
)

// The pages call the same services as the JSON routes, with the same
// actor in the context: no rule is written twice.

var licenseRoutes = []Route{
	{"licenses", "GET", "/licenses", licensing.ReadLicenses, (*Console).licenses},
	{"license", "GET", "/licenses/:id", licensing.ReadLicenses, (*Console).license},
	{"licenseAction", "POST", "/licenses/:id/:action", licensing.WriteLicenses, (*Console).licenseAction},
}

// PageSize is how many licenses a list page shows.
const PageSize = 50

type licensesData struct {
	Licenses []licensing.License
	Products []licensing.Product
	Status   string
	Key      string // as typed: a whole key or its last 4 characters
	Customer string
	Product  string
	Expiring string       // "7" or "30": active licenses expiring within as many days (the overview's links)
	Next     template.URL // the query of the next page (encoded), "" on the last
	Names    *labels
	Pick     picker       // the customer filter, by name
	CanWrite bool         // shows "New license"
	Notice   string       // the customer search found several: choose one
	Query    template.URL // the filters in force, for the CSV export
}

// filterOf is the licenses' filter of the list page's fields: expiring
// ("7", "30") is the overview's active licenses expiring within as many
// days.
func (cn *Console) filterOf(status, customer, product, expiring, key string) licensing.LicenseFilter {
	f := licensing.LicenseFilter{Status: licensing.LicenseStatus(status), CustomerID: customer, ProductID: product, KeyHint: keyHint(key)}
	if days, err := strconv.Atoi(expiring); err == nil && days >= 1 && days <= 366 {
		f = cn.cfg.Services.Automation.ExpiringFilter(days)
		f.CustomerID, f.ProductID, f.KeyHint = customer, product, keyHint(key)
	}
	return f
}

// licenseFilter is the filter of the export's query (the list page's,
// the customer by id).
func (cn *Console) licenseFilter(c *fiber.Ctx) (licensing.LicenseFilter, error) {
	return cn.filterOf(c.Query("status"), strings.TrimSpace(c.Query("customer")), c.Query("product"), c.Query("expiring"), strings.TrimSpace(c.Query("key"))), nil
}

func (cn *Console) licenses(c *fiber.Ctx) error {
	d := licensesData{Status: c.Query("status"), Customer: strings.TrimSpace(c.Query("customer")), Product: c.Query("product"), Expiring: c.Query("expiring"),
		Names: cn.labels(c), CanWrite: current(c).Actor.Allows(licensing.WriteLicenses)}
	d.Key = strings.TrimSpace(c.Query("key"))
	if current(c).Actor.Allows(licensing.ReadCustomers) {
		var err error
		if d.Pick, err = cn.customerPicker(c.UserContext(), "customer", "Customer", c.Query("customer_q"), d.Customer); err != nil {
			return cn.fail(c, err)
		}
		d.Pick.Optional = true
		switch {
		case d.Pick.Query != "" && len(d.Pick.Matches) == 0:
			d.Notice = printer(c).T("console.picker.none_for", "query", d.Pick.Query)
			d.Licenses = []licensing.License{}
			return cn.licensesPage(c, d)
		case d.Pick.Query != "" && len(d.Pick.Matches) > 1 && !d.Pick.Fits:
			d.Notice = printer(c).N("console.licenses.several", len(d.Pick.Matches), "query", d.Pick.Query)
			d.Pick.Chosen = ""
		}
		d.Customer = d.Pick.Chosen
	}
	f := cn.filterOf(d.Status, d.Customer, d.Product, d.Expiring, d.Key)
	if f.ExpiresBefore == nil {
		d.Expiring = ""
	} else {
		d.Status = string(f.Status)
	}
	d.Query = template.URL(nonEmpty(url.Values{"status": {d.Status}, "customer": {d.Customer}, "product": {d.Product}, "expiring": {d.Expiring}, "key": {d.Key}}).Encode())
	ls, err := cn.cfg.Services.Licenses.Licenses(c.UserContext(), f, licensing.Page{After: c.Query("after"), Limit: PageSize})
	if err != nil {
		return cn.fail(c, err)
	}
	d.Licenses = ls
	if len(ls) == PageSize {
		d.Next = template.URL(url.Values{"status": {d.Status}, "customer": {d.Customer}, "product": {d.Product}, "expiring": {d.Expiring}, "key": {d.Key}, "after": {ls[len(ls)-1].ID}}.Encode())
	}
	return cn.licensesPage(c, d)
}

func (cn *Console) licensesPage(c *fiber.Ctx, d licensesData) error {
	var err error
	if d.Products, err = cn.cfg.Services.Catalog.Products(c.UserContext(), licensing.Page{Limit: licensing.MaxPageLimit}); err != nil {
		return cn.fail(c, err)
	}
	return cn.render(c, fiber.StatusOK, "licenses", "console.page.licenses", d)
}

// keyHint is the hint of a typed key or hint: the last 4 characters of
// its normalized form ("" for nothing typed). Keys are stored hashed; the
// hint is what a person can search by.
func keyHint(typed string) string {
	k := licensing.NormalizeKey(typed)
	if len(k) <= 4 {
		return strings.ToUpper(strings.TrimSpace(typed))
	}
	return licensing.KeyHint(k)
}

type licenseData struct {
	formError     // an action refused: the page again, with why
	License       *licensing.License
	Policy        *licensing.Policy
	Machines      []licensing.Machine
	Events        []licensing.Event
	Entitlements  []string
	Done          string
	Actions       []string
	Insights      []insightRow                // insights.go: nil when the user may not read them
	Subscriptions []subscription.Subscription // those billing it (subscriptions.go)
	Meters        []licensing.Meter
}

func (cn *Console) license(c *fiber.Ctx) error {
	return cn.licensePage(c, fiber.StatusOK, formError{})
}

// licensePage draws the license page; why is an action's refusal.
func (cn *Console) licensePage(c *fiber.Ctx, status int, why formError) error {
	ctx, id := c.UserContext(), c.Params("id")
	l, err := cn.cfg.Services.Licenses.License(ctx, id)
	if err != nil {
		return cn.fail(c, err)
	}
	d := licenseData{formError: why, License: l, Done: c.Query("done"), Entitlements: l.Entitlements}
	if d.Subscriptions, err = cn.subscriptionsOf(c, l.CustomerID, l.ID); err != nil {
		return cn.fail(c, err)
	}
	if p, err := cn.cfg.Services.Catalog.Policy(ctx, l.PolicyID); err == nil {
		d.Policy = p
		d.Entitlements = append(append([]string{}, p.Entitlements...), l.Entitlements...)
	}
	a := current(c).Actor
	if a.Allows(licensing.ReadMachines) {
		if d.Machines, err = cn.cfg.Services.Licenses.Machines(ctx, licensing.MachineFilter{LicenseID: id}, licensing.Page{Limit: licensing.MaxPageLimit}); err != nil {
			return cn.fail(c, err)
		}
	}
	if a.Allows(licensing.ReadEvents) {
		if d.Events, err = cn.cfg.Services.Notifications.Events(ctx, licensing.EventFilter{TargetType: "license", TargetID: id}, licensing.Page{Limit: licensing.MaxPageLimit}); err != nil {
			return cn.fail(c, err)
		}
	}
	if d.Meters, err = cn.cfg.Services.Metering.Meters(ctx, id); err != nil {
		return cn.fail(c, err)
	}
	if a.Allows(licensing.WriteLicenses) {
		d.Actions = availableActions(l)
	}
	if d.Insights, err = cn.scoresOf(c, insights.ScoreFilter{LicenseID: id}); err != nil {
		return cn.fail(c, err)
	}
	return cn.render(c, status, "license", "console.page.license", d, "key", l.KeyHint)
}

// availableActions are the actions that make sense in the license's state
// (the service still decides).
func availableActions(l *licensing.License) []string {
	switch l.Status {
	case licensing.LicenseActive:
		return []string{"suspend", "extend", "revoke"}
	case licensing.LicenseSuspended:
		return []string{"reinstate", "extend", "revoke"}
	case licensing.LicenseExpired:
		return []string{"suspend", "extend", "revoke"}
	}
	return nil
}

// licenseAction runs suspend / reinstate / revoke / extend, each with a
// reason and confirmed on a second page (confirm).
func (cn *Console) licenseAction(c *fiber.Ctx) error {
	ctx, id, action := c.UserContext(), c.Params("id"), c.Params("action")
	days := strings.TrimSpace(c.FormValue("days"))
	switch action {
	case "suspend", "reinstate", "revoke", "extend", "entitlements":
	default:
		return cn.fail(c, licensing.Errorf(licensing.ENotFound, "no such action"))
	}
	l, err := cn.cfg.Services.Licenses.License(ctx, id)
	if err != nil {
		return cn.fail(c, err)
	}
	cf := confirmation{Action: action, Target: printer(c).T("console.target.license", "key", l.KeyHint), Path: c.Path(), Cancel: Prefix + "/licenses/" + id,
		NeedReason: true, Reason: reason(c)}
	if l.Name != "" {
		cf.Target += " (" + l.Name + ")"
	}
	var n int
	// A refused action shows the license page again with why, rather
	// than an error page that loses it.
	again := func(err error) error {
		if refused(err) {
			return cn.licensePage(c, formStatus(err), refusal(err))
		}
		return cn.fail(c, err)
	}
	if cf.Reason == "" {
		return again(errNoReason)
	}
	if action == "extend" {
		if n, err = strconv.Atoi(days); err != nil || n < 1 || n > 3650 {
			return again(licensing.FieldErrorf("days", "Days must be a whole number from 1 to 3650"))
		}
		cf.Detail, cf.Fields = printer(c).N("console.detail.extend", n), []field{{"days", days}}
	}
	// Entitlements after issue: codes to attach and detach, comma-separated.
	var change licensing.EntitlementChange
	if action == "entitlements" {
		attach, detach := strings.TrimSpace(c.FormValue("attach")), strings.TrimSpace(c.FormValue("detach"))
		change = licensing.EntitlementChange{Attach: codeList(attach), Detach: codeList(detach)}
		cf.Detail, cf.Fields = printer(c).T("console.detail.entitlements", "attach", attach, "detach", detach), []field{{"attach", attach}, {"detach", detach}}
	}
	message := strings.TrimSpace(c.FormValue("message"))
	if action == "suspend" && message != "" {
		cf.Detail, cf.Fields = printer(c).T("console.detail.suspend_message", "message", message), []field{{"message", message}}
	}
	if done, err := cn.confirm(c, cf); done {
		return err
	}
	switch action {
	case "suspend":
		_, err = cn.cfg.Services.Licenses.Suspend(ctx, id, licensing.SuspendInput{Reason: cf.Reason, Message: message})
	case "reinstate":
		_, err = cn.cfg.Services.Licenses.ReinstateLicense(ctx, id, cf.Reason)
	case "revoke":
		_, err = cn.cfg.Services.Licenses.RevokeLicense(ctx, id, cf.Reason)
	case "extend":
		_, err = cn.cfg.Services.Licenses.ExtendLicense(ctx, id, licensing.ExtendInput{DurationSeconds: int64(n) * int64(24*time.Hour/time.Second), Reason: cf.Reason})
	case "entitlements":
		change.Reason = cf.Reason
		_, err = cn.cfg.Services.Licenses.ChangeEntitlements(ctx, id, change)
	}
	if err != nil {
		return again(err)
	}
	return cn.redirect(c, Prefix+"/licenses/"+id+"?done="+action)
}

// codeList splits a comma-separated list of codes.
func codeList(s string) []string {
	var out []string
	for _, v := range strings.Split(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}
