package console

import (
	"html/template"
	"net/url"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/nzilacode/narcidicontrole/licensing"
	"github.com/nzilacode/narcidicontrole/licensing/i18n"
	"github.com/nzilacode/narcidicontrole/licensing/insights"
	"github.com/nzilacode/narcidicontrole/licensing/subscription"
)

// The customers' pages: list and search, detail (profile, contacts, its
// licenses, portal permissions), create and edit through
// licensing.Customers.

var customerRoutes = []Route{
	{"customers", "GET", "/customers", licensing.ReadCustomers, (*Console).customers},
	{"customerNew", "GET", "/customers/new", licensing.WriteCustomers, (*Console).customerNew},
	{"customerCreate", "POST", "/customers", licensing.WriteCustomers, (*Console).customerCreate},
	{"customer", "GET", "/customers/:id", licensing.ReadCustomers, (*Console).customer},
	{"customerUpdate", "POST", "/customers/:id", licensing.WriteCustomers, (*Console).customerUpdate},
}

type customersData struct {
	Customers []licensing.Customer
	Query     string
	Next      template.URL
	CanWrite  bool
}

// customers lists customers by id, or those a search finds: one bounded
// query in the store (SearchCustomers), a page at a time.
func (cn *Console) customers(c *fiber.Ctx) error {
	ctx := c.UserContext()
	d := customersData{Query: strings.TrimSpace(c.Query("q")), CanWrite: current(c).Actor.Allows(licensing.WriteCustomers)}
	page := licensing.Page{After: c.Query("after"), Limit: PageSize}
	var err error
	if d.Query == "" {
		d.Customers, err = cn.cfg.Services.Customers.Customers(ctx, page)
	} else {
		d.Customers, err = cn.cfg.Services.Customers.SearchCustomers(ctx, d.Query, page)
	}
	if err != nil {
		return cn.fail(c, err)
	}
	d.Next = nextPage(d.Customers, func(c *licensing.Customer) string { return c.ID }, url.Values{"q": {d.Query}})
	return cn.render(c, fiber.StatusOK, "customers", "console.page.customers", d)
}

type customerData struct {
	form
	Customer      *licensing.Customer // nil for a new one
	Contacts      []licensing.Contact // the rows of the form, blank ones included
	Permissions   []licensing.Permission
	Licenses      []licensing.License
	More          bool // the customer has more licenses than shown
	CanWrite      bool
	CanLicense    bool
	Saved         bool
	Languages     []i18n.Language             // the language choices of the form
	Insights      []insightRow                // insights.go: nil when the user may not read them
	Subscriptions []subscription.Subscription // subscriptions.go
}

// customerErrorFields maps the API's fields (licensing.Error.Field) to the
// customer form's: a contact's ("contacts.1.email") marks the contacts.
var customerErrorFields = map[string]string{"name": "name", "email": "email", "status": "status",
	"contacts": "contacts", "permissions": "permissions", "metadata": "name", "language": "language", "time_zone": "time_zone"}

// blankContacts is how many empty contact rows the form offers.
const blankContacts = 2

// customerForm is the form of an existing customer.
func customerForm(cu *licensing.Customer) (form, []licensing.Contact) {
	perms := make([]string, len(cu.Permissions))
	for i, p := range cu.Permissions {
		perms[i] = string(p)
	}
	return form{Values: map[string]string{"name": cu.Name, "email": cu.Email, "status": string(cu.Status), "language": cu.Language, "time_zone": cu.TimeZone},
		Multi: map[string][]string{"permissions": perms}}, cu.Contacts
}

// readCustomer reads the posted form: its contacts are the rows with any
// field filled in.
func readCustomer(c *fiber.Ctx) (form, []licensing.Contact, []licensing.Permission) {
	f := readForm(c, []string{"name", "email", "status", "language", "time_zone"}, []string{"permissions", "contact_name", "contact_email", "contact_role"})
	names, emails, roles := f.Multi["contact_name"], f.Multi["contact_email"], f.Multi["contact_role"]
	contacts := []licensing.Contact{}
	for i := range max(len(names), len(emails), len(roles)) {
		ct := licensing.Contact{Name: strings.TrimSpace(at(names, i)), Email: strings.TrimSpace(at(emails, i)), Role: strings.TrimSpace(at(roles, i))}
		if ct != (licensing.Contact{}) {
			contacts = append(contacts, ct)
		}
	}
	perms := []licensing.Permission{}
	for _, p := range f.Multi["permissions"] {
		perms = append(perms, licensing.Permission(p))
	}
	return f, contacts, perms
}

func at(s []string, i int) string {
	if i < len(s) {
		return s[i]
	}
	return ""
}

func (cn *Console) customerPage(c *fiber.Ctx, status int, d customerData) error {
	for range blankContacts {
		if len(d.Contacts) < 20 {
			d.Contacts = append(d.Contacts, licensing.Contact{})
		}
	}
	d.Permissions = licensing.CustomerPermissions
	d.Languages = i18n.Languages()
	a := current(c).Actor
	d.CanWrite, d.CanLicense = a.Allows(licensing.WriteCustomers), a.Allows(licensing.WriteLicenses)
	if d.Customer == nil {
		return cn.render(c, status, "customer", "console.page.customer_new", d)
	}
	if a.Allows(licensing.ReadLicenses) {
		ls, err := cn.cfg.Services.Licenses.Licenses(c.UserContext(), licensing.LicenseFilter{CustomerID: d.Customer.ID}, licensing.Page{Limit: PageSize})
		if err != nil {
			return cn.fail(c, err)
		}
		d.Licenses, d.More = ls, len(ls) == PageSize
	}
	var err error
	if d.Subscriptions, err = cn.subscriptionsOf(c, d.Customer.ID, ""); err != nil {
		return cn.fail(c, err)
	}
	if d.Insights, err = cn.scoresOf(c, insights.ScoreFilter{CustomerID: d.Customer.ID}); err != nil {
		return cn.fail(c, err)
	}
	return cn.render(c, status, "customer", "console.page.customer", d, "name", d.Customer.Name)
}

func (cn *Console) customerNew(c *fiber.Ctx) error {
	perms := make([]string, len(licensing.DefaultCustomerPermissions))
	for i, p := range licensing.DefaultCustomerPermissions {
		perms[i] = string(p)
	}
	f := form{Values: map[string]string{"status": string(licensing.CustomerActive)}, Multi: map[string][]string{"permissions": perms}}
	return cn.customerPage(c, fiber.StatusOK, customerData{form: f})
}

func (cn *Console) customerCreate(c *fiber.Ctx) error {
	f, contacts, perms := readCustomer(c)
	cu, err := cn.cfg.Services.Customers.CreateCustomer(c.UserContext(),
		licensing.CustomerInput{Name: f.V("name"), Email: f.V("email"), Contacts: contacts, Permissions: perms})
	if refused(err) {
		f.withError(err, customerErrorFields)
		return cn.customerPage(c, formStatus(err), customerData{form: f, Contacts: contacts})
	} else if err != nil {
		return cn.fail(c, err)
	}
	return cn.redirect(c, Prefix+"/customers/"+cu.ID+"?saved=1")
}

func (cn *Console) customer(c *fiber.Ctx) error {
	cu, err := cn.cfg.Services.Customers.Customer(c.UserContext(), c.Params("id"))
	if err != nil {
		return cn.fail(c, err)
	}
	f, contacts := customerForm(cu)
	return cn.customerPage(c, fiber.StatusOK, customerData{form: f, Customer: cu, Contacts: contacts, Saved: c.Query("saved") != ""})
}

// customerUpdate saves the whole form: profile, contacts, permissions and
// status (a disabled customer's licenses get no lease and its tokens stop
// working).
func (cn *Console) customerUpdate(c *fiber.Ctx) error {
	ctx, id := c.UserContext(), c.Params("id")
	cu, err := cn.cfg.Services.Customers.Customer(ctx, id)
	if err != nil {
		return cn.fail(c, err)
	}
	f, contacts, perms := readCustomer(c)
	name, email, status := f.V("name"), f.V("email"), licensing.CustomerStatus(f.V("status"))
	lang, zone := f.V("language"), f.V("time_zone")
	// The same call as the API's PATCH /v1/customers/:id: language and
	// time zone are checked by the service.
	_, err = cn.cfg.Services.Customers.UpdateCustomer(ctx, id,
		licensing.CustomerPatch{Name: &name, Email: &email, Status: &status, Contacts: &contacts, Permissions: &perms, Language: &lang, TimeZone: &zone})
	if refused(err) && licensing.ErrorCode(err) != licensing.ENotFound {
		f.withError(err, customerErrorFields)
		return cn.customerPage(c, formStatus(err), customerData{form: f, Customer: cu, Contacts: contacts})
	} else if err != nil {
		return cn.fail(c, err)
	}
	return cn.redirect(c, Prefix+"/customers/"+id+"?saved=1")
}
