package console_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/nzilacode/narcidicontrole/api/console"
	"github.com/nzilacode/narcidicontrole/licensing"
	"github.com/nzilacode/narcidicontrole/storage"
	"github.com/nzilacode/narcidicontrole/storage/storagetest"
)

// postWant sends a form with the session's CSRF token and wants status.
func (b *browser) postWant(path string, form url.Values, want int) string {
	b.e.t.Helper()
	resp, body := b.post(path, form)
	if resp.StatusCode != want {
		b.e.t.Fatalf("POST %s: %d, want %d\n%s", path, resp.StatusCode, want, body)
	}
	return body
}

// created posts a create form and returns the id it redirects to.
func (b *browser) created(path string, form url.Values) string {
	b.e.t.Helper()
	form.Set("csrf", b.csrf("/console/"))
	resp, body := b.do("POST", "/console"+path, form)
	loc := resp.Header.Get("Location")
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(loc, "/console"+path+"/") {
		b.e.t.Fatalf("POST %s: %d to %q, want a redirect to the new one\n%s", path, resp.StatusCode, loc, body)
	}
	id, _, _ := strings.Cut(strings.TrimPrefix(loc, "/console"+path+"/"), "?")
	return id
}

// byUser checks that target has exactly one event of action, by the
// console user email, and returns it.
func (e *env) byUser(action, target, email string) licensing.Event {
	e.t.Helper()
	evs, err := e.svc.Notifications.Events(context.Background(), licensing.EventFilter{TargetID: target, Action: action}, licensing.Page{})
	must(e.t, err)
	if len(evs) != 1 || !strings.HasPrefix(evs[0].Actor, "user:") || evs[0].ActorName != email {
		e.t.Fatalf("%s events of %s = %+v, want one by %s", action, target, evs, email)
	}
	return evs[0]
}

var keyField = regexp.MustCompile(`id="license-key" class="key" value="([^"]+)"`)

func TestCatalogCustomerAndLicenseForms(t *testing.T) {
	t.Parallel()
	storagetest.ForEach(t, func(t *testing.T, st *storage.Store) {
		e := newEnv(t, st)
		ctx := context.Background()
		b := e.signedIn(licensing.RoleAdmin)

		prodID := b.created("/products", url.Values{"code": {"desk"}, "name": {"Desk"}})
		b.postWant("/console/products/"+prodID, url.Values{"name": {"Desk Pro"}}, http.StatusSeeOther)
		prod, err := e.svc.Catalog.Product(ctx, prodID)
		must(t, err)
		if prod.Code != "desk" || prod.Name != "Desk Pro" {
			t.Fatalf("product = %+v", prod)
		}
		e.byUser(licensing.ActionProductUpdated, prodID, "admin@example.com")

		b.postWant("/console/entitlements", url.Values{"code": {"export"}, "name": {"Export"}, "description": {"PDF export"}}, http.StatusSeeOther)
		if _, body := b.do("GET", "/console/entitlements", nil); !strings.Contains(body, "PDF export") {
			t.Fatal("the new entitlement is not listed")
		}
		ents, err := e.svc.Catalog.Entitlements(ctx, licensing.Page{})
		must(t, err)
		entID := ents[0].ID
		b.postWant("/console/entitlements/"+entID, url.Values{"name": {"Export to PDF"}, "description": {"PDF and PNG export"}}, http.StatusSeeOther)
		ent, err := e.svc.Catalog.Entitlement(ctx, entID)
		must(t, err)
		if ent.Code != "export" || ent.Name != "Export to PDF" || ent.Description != "PDF and PNG export" {
			t.Fatalf("entitlement after the edit = %+v", ent)
		}
		e.byUser(licensing.ActionEntitlementUpdated, entID, "admin@example.com")
		if body := b.postWant("/console/entitlements/"+entID, url.Values{"name": {" "}, "description": {"kept"}}, http.StatusUnprocessableEntity); !strings.Contains(body, ">kept</textarea>") {
			t.Fatal("a refused edit does not keep the description typed")
		}

		polID := b.created("/policies", url.Values{"product_id": {prodID}, "name": {"Team"}, "duration_days": {"30"}, "max_machines": {"5"},
			"floating": {"on"}, "lease_ttl_minutes": {"60"}, "heartbeat_minutes": {"10"}, "grace_days": {"2"}, "expiry_action": {"allow"},
			"expiry_notice_days": {"3, 14"}, "offline_release_hours": {"1.5"}, "entitlements": {"export"}})
		pol, err := e.svc.Catalog.Policy(ctx, polID)
		must(t, err)
		want := licensing.Policy{ID: polID, ProductID: prodID, Name: "Team", DurationSeconds: 30 * 86400, MaxMachines: 5, Floating: true,
			LeaseTTLSeconds: 3600, HeartbeatWindowSeconds: 600, GraceSeconds: 2 * 86400, ExpiryAction: licensing.ExpiryAllow,
			ExpiryNoticeDays: []int{14, 3}, OfflineReleaseSeconds: 5400, Entitlements: []string{"export"}}
		pol.CreatedAt, pol.UpdatedAt, pol.Metadata = want.CreatedAt, want.UpdatedAt, nil
		if !policyEqual(*pol, want) {
			t.Fatalf("policy = %+v\nwant     %+v", *pol, want)
		}
		// The edit form sends back what it shows; only the name changes.
		_, page := b.do("GET", "/console/policies/"+polID, nil)
		for _, v := range []string{`value="Team"`, `value="30"`, `value="1.5"`, `value="14, 3"`, `value="export" checked`} {
			if !strings.Contains(page, v) {
				t.Errorf("the policy's edit form lacks %s", v)
			}
		}
		edit := url.Values{"name": {"Team plus"}, "duration_days": {"30"}, "max_machines": {"5"}, "floating": {"on"}, "lease_ttl_minutes": {"60"},
			"heartbeat_minutes": {"10"}, "grace_days": {"2"}, "expiry_action": {"allow"}, "expiry_notice_days": {"14, 3"}, "offline_release_hours": {"1.5"},
			"entitlements": {"export"}}
		b.postWant("/console/policies/"+polID, edit, http.StatusSeeOther)
		pol, err = e.svc.Catalog.Policy(ctx, polID)
		must(t, err)
		want.Name = "Team plus"
		pol.CreatedAt, pol.UpdatedAt = want.CreatedAt, want.UpdatedAt
		if !policyEqual(*pol, want) {
			t.Fatalf("after the edit, policy = %+v", *pol)
		}
		e.byUser(licensing.ActionPolicyUpdated, polID, "admin@example.com")

		custID := b.created("/customers", url.Values{"name": {"Globex"}, "email": {"it@globex.example"},
			"contact_name": {"Hank", "", "Ann"}, "contact_email": {"hank@globex.example", "", "ann@globex.example"}, "contact_role": {"billing", "", ""},
			"permissions": {string(licensing.ReadLicenses), string(licensing.RotateLicenseKeys)}})
		cu, err := e.svc.Customers.Customer(ctx, custID)
		must(t, err)
		if cu.Name != "Globex" || len(cu.Contacts) != 2 || cu.Contacts[0] != (licensing.Contact{Name: "Hank", Email: "hank@globex.example", Role: "billing"}) ||
			!slices.Equal(cu.Permissions, []licensing.Permission{licensing.ReadLicenses, licensing.RotateLicenseKeys}) {
			t.Fatalf("customer = %+v", cu)
		}
		b.postWant("/console/customers/"+custID, url.Values{"name": {"Globex Corp"}, "email": {"it@globex.example"}, "status": {"disabled"},
			"contact_name": {"Ann"}, "contact_email": {"ann@globex.example"}, "contact_role": {""}}, http.StatusSeeOther)
		cu, err = e.svc.Customers.Customer(ctx, custID)
		must(t, err)
		if cu.Name != "Globex Corp" || cu.Status != licensing.CustomerDisabled || len(cu.Contacts) != 1 || len(cu.Permissions) != 0 {
			t.Fatalf("edited customer = %+v", cu)
		}
		e.byUser(licensing.ActionCustomerUpdated, custID, "admin@example.com")
		if _, body := b.do("GET", "/console/customers?q=GLOBEX", nil); !strings.Contains(body, custID) || strings.Contains(body, ">Acme<") {
			t.Fatal("the search for globex does not find Globex only")
		}
		if _, body := b.do("GET", "/console/customers?q=ann@globex", nil); !strings.Contains(body, custID) {
			t.Fatal("the search by a contact's email does not find the customer")
		}

		body := b.postWant("/console/licenses", url.Values{"product_id": {prodID}, "policy_id": {polID}, "customer_id": {custID},
			"name": {"Globex desk"}, "expires": {"2027-01-31"}, "entitlements": {"export"}}, http.StatusCreated)
		m := keyField.FindStringSubmatch(body)
		if m == nil || !strings.Contains(body, "only now") {
			t.Fatalf("the new license's key is not shown once:\n%s", body)
		}
		ls, err := e.svc.Licenses.Licenses(ctx, licensing.LicenseFilter{CustomerID: custID}, licensing.Page{})
		must(t, err)
		if len(ls) != 1 || ls[0].PolicyID != polID || ls[0].Name != "Globex desk" || !strings.HasSuffix(m[1], ls[0].KeyHint) ||
			ls[0].ExpiresAt == nil || ls[0].ExpiresAt.Format("2006-01-02 15:04:05") != "2027-01-31 23:59:59" || !slices.Equal(ls[0].Entitlements, []string{"export"}) {
			t.Fatalf("licenses of the customer = %+v (key %s)", ls, m[1])
		}
		e.byUser(licensing.ActionLicenseCreated, ls[0].ID, "admin@example.com")
		if _, page := b.do("GET", "/console/licenses/"+ls[0].ID, nil); strings.Contains(page, m[1]) {
			t.Fatal("the license page shows the key again")
		}
		if _, page := b.do("GET", "/console/customers/"+custID, nil); !strings.Contains(page, "/console/licenses/"+ls[0].ID) {
			t.Fatal("the customer page does not list its license")
		}
	})
}

func policyEqual(a, b licensing.Policy) bool {
	return a.ID == b.ID && a.ProductID == b.ProductID && a.Name == b.Name && a.DurationSeconds == b.DurationSeconds &&
		a.MaxMachines == b.MaxMachines && a.Floating == b.Floating && a.LeaseTTLSeconds == b.LeaseTTLSeconds &&
		a.HeartbeatWindowSeconds == b.HeartbeatWindowSeconds && a.GraceSeconds == b.GraceSeconds && a.ExpiryAction == b.ExpiryAction &&
		slices.Equal(a.ExpiryNoticeDays, b.ExpiryNoticeDays) && a.OfflineReleaseSeconds == b.OfflineReleaseSeconds &&
		slices.Equal(a.Entitlements, b.Entitlements)
}

// TestFormErrorsKeepTheValues: a form the service refuses comes back
// (422) with its message, the field marked and what was typed kept.
func TestFormErrorsKeepTheValues(t *testing.T) {
	t.Parallel()
	storagetest.OnPostgres(t, func(t *testing.T, st *storage.Store) {
		e := newEnv(t, st)
		b := e.signedIn(licensing.RoleAdmin)
		for _, c := range []struct {
			path    string
			form    url.Values
			message string
			kept    []string
		}{
			{"/console/products", url.Values{"code": {"Not A Code"}, "name": {"Kept name"}}, "code must be",
				[]string{`value="Not A Code"`, `value="Kept name"`, `id="code" name="code" value="Not A Code" required maxlength="64" pattern="[a-z0-9][a-z0-9._\-]*" aria-describedby="code-help form-error" aria-invalid="true"`}},
			{"/console/policies", url.Values{"product_id": {e.license.ProductID}, "name": {"Kept policy"}, "max_machines": {"3"}, "lease_ttl_minutes": {"60"}},
				"node-locked", []string{`value="Kept policy"`, `name="max_machines" type="number" min="1" max="100000" value="3" aria-invalid="true"`}},
			{"/console/policies", url.Values{"product_id": {e.license.ProductID}, "name": {"Short lease"}, "lease_ttl_minutes": {"1"}},
				"Lease lifetime (minutes) must be between 5 and 43200", []string{`value="Short lease"`, `name="lease_ttl_minutes" value="1" inputmode="decimal" aria-invalid="true"`}},
			{"/console/policies", url.Values{"product_id": {e.license.ProductID}, "name": {"Days"}, "duration_days": {"a month"}},
				"Duration (days) must be a number", []string{`value="a month"`}},
			{"/console/entitlements", url.Values{"code": {"x y"}, "name": {"Spaced"}, "description": {"kept text"}}, "code must be",
				[]string{`value="Spaced"`, ">kept text</textarea>"}},
			{"/console/customers", url.Values{"name": {"Initech"}, "email": {"not an address"}, "contact_name": {"Bill"}}, "email is not a valid address",
				[]string{`value="Initech"`, `value="not an address"`, `value="Bill"`, `type="email" value="not an address" aria-invalid="true"`}},
			{"/console/customers", url.Values{"name": {"Initech"}, "contact_name": {"Bill"}, "contact_email": {"bill"}}, "contact email is not a valid address",
				[]string{`value="Bill"`, `value="bill"`, `<fieldset class="choices" aria-invalid="true"`}},
			{"/console/licenses", url.Values{"product_id": {e.license.ProductID}, "policy_id": {e.license.PolicyID}, "customer_id": {"no-such-customer"}, "name": {"Kept license"}},
				"not found", []string{`value="Kept license"`, `name="customer_id" required aria-invalid="true"`}},
			{"/console/licenses/" + e.license.ID + "/change-plan", url.Values{"policy_id": {e.license.PolicyID}}, "give a reason", nil},
			{"/console/licenses/" + e.license.ID + "/transfer", url.Values{"customer_id": {"nobody"}, "reason": {"kept reason"}}, "customer nobody does not exist",
				[]string{`value="kept reason"`, `name="customer_id" required aria-invalid="true"`}},
		} {
			body := b.postWant(c.path, c.form, http.StatusUnprocessableEntity)
			if !strings.Contains(body, `role="alert" id="form-error">`) || !strings.Contains(body, c.message) {
				t.Errorf("POST %s: no error %q on the form\n%s", c.path, c.message, body)
				continue
			}
			for _, k := range c.kept {
				if !strings.Contains(body, k) {
					t.Errorf("POST %s: the form lacks %s", c.path, k)
				}
			}
		}
		ps, err := e.svc.Catalog.Products(context.Background(), licensing.Page{})
		must(t, err)
		cs, err := e.svc.Customers.Customers(context.Background(), licensing.Page{})
		must(t, err)
		if len(ps) != 1 || len(cs) != 1 {
			t.Fatalf("refused forms created %d products and %d customers, want the 1 of each of the setup", len(ps), len(cs))
		}
		// A clash is a 409 on the form.
		body := b.postWant("/console/products", url.Values{"code": {"studio"}, "name": {"Twice"}}, http.StatusConflict)
		if !strings.Contains(body, `value="Twice"`) {
			t.Error("a refused duplicate product lost its values")
		}
	})
}

// TestReadOnlyCannotPostTheForms: the forms' POSTs need the write
// permissions of licensing's table; a read-only user gets 403 and nothing
// changes. Support may edit customers and licenses but not the catalog.
func TestReadOnlyCannotPostTheForms(t *testing.T) {
	t.Parallel()
	storagetest.OnPostgres(t, func(t *testing.T, st *storage.Store) {
		e := newEnv(t, st)
		ctx := context.Background()
		pol, err := e.svc.Catalog.Policy(ctx, e.license.PolicyID)
		must(t, err)
		forms := map[string]url.Values{
			"/console/products":                                  {"code": {"ro"}, "name": {"RO"}},
			"/console/products/" + e.license.ProductID:           {"name": {"RO"}},
			"/console/policies":                                  {"product_id": {e.license.ProductID}, "name": {"RO"}},
			"/console/policies/" + pol.ID:                        {"name": {"RO"}, "max_machines": {"2"}, "floating": {"on"}},
			"/console/entitlements":                              {"code": {"ro"}, "name": {"RO"}},
			"/console/customers":                                 {"name": {"RO"}},
			"/console/customers/" + e.license.CustomerID:         {"name": {"RO"}, "status": {"disabled"}},
			"/console/licenses":                                  {"product_id": {e.license.ProductID}, "policy_id": {pol.ID}, "customer_id": {e.license.CustomerID}},
			"/console/licenses/" + e.license.ID + "/change-plan": {"policy_id": {pol.ID}, "reason": {"ro"}, "confirm": {"yes"}},
			"/console/licenses/" + e.license.ID + "/transfer":    {"customer_id": {e.license.CustomerID}, "reason": {"ro"}, "confirm": {"yes"}},
		}
		ro := e.signedIn(licensing.RoleReadOnly)
		for path, form := range forms {
			if body := ro.postWant(path, form, http.StatusForbidden); !strings.Contains(body, "your role may not do this") {
				t.Errorf("read-only POST %s: not the role refusal", path)
			}
			// The page of the form is not offered either.
		}
		for _, path := range []string{"/console/products/new", "/console/policies/new", "/console/customers/new", "/console/licenses/new",
			"/console/licenses/" + e.license.ID + "/change-plan", "/console/licenses/" + e.license.ID + "/transfer"} {
			if resp, _ := ro.do("GET", path, nil); resp.StatusCode != http.StatusForbidden {
				t.Errorf("read-only GET %s: %d, want 403", path, resp.StatusCode)
			}
		}
		support := e.signedIn(licensing.RoleSupport)
		support.postWant("/console/products", url.Values{"code": {"sup"}, "name": {"Support"}}, http.StatusForbidden)
		support.postWant("/console/customers/"+e.license.CustomerID, url.Values{"name": {"Acme support"}, "email": {"it@acme.example"}, "status": {"active"}}, http.StatusSeeOther)

		ps, err := e.svc.Catalog.Products(ctx, licensing.Page{})
		must(t, err)
		p2, err := e.svc.Catalog.Policy(ctx, pol.ID)
		must(t, err)
		cu, err := e.svc.Customers.Customer(ctx, e.license.CustomerID)
		must(t, err)
		if len(ps) != 1 || ps[0].Name != "Studio" || p2.Name != "Pro" || cu.Name != "Acme support" || cu.Status != licensing.CustomerActive {
			t.Fatalf("after the refused posts: products %+v, policy %q, customer %+v", ps, p2.Name, cu)
		}
	})
}

// TestChangePlanAndTransfer: each asks for a reason and a confirmation,
// then changes the license through the service, audited as the user.
func TestChangePlanAndTransfer(t *testing.T) {
	t.Parallel()
	storagetest.ForEach(t, func(t *testing.T, st *storage.Store) {
		e := newEnv(t, st)
		ctx := context.Background()
		basic, err := e.svc.Catalog.CreatePolicy(ctx, licensing.PolicyInput{ProductID: e.license.ProductID, Name: "Basic", MaxMachines: 1})
		must(t, err)
		other, err := e.svc.Customers.CreateCustomer(ctx, licensing.CustomerInput{Name: "Umbrella"})
		must(t, err)
		b := e.signedIn(licensing.RoleSupport)
		id := e.license.ID

		if _, page := b.do("GET", "/console/licenses/"+id, nil); !strings.Contains(page, `id="change-plan"`) || !strings.Contains(page, `id="transfer"`) {
			t.Fatal("the license page offers no change plan or transfer")
		}
		if _, page := b.do("GET", "/console/licenses/"+id+"/change-plan", nil); !strings.Contains(page, `<option value="`+basic.ID+`"`) ||
			strings.Contains(page, `<option value="`+e.license.PolicyID+`"`) {
			t.Fatal("the change-plan form does not offer the other policy (and only it)")
		}
		plan := url.Values{"policy_id": {basic.ID}, "reason": {"downgrade asked by mail"}}
		body := b.postWant("/console/licenses/"+id+"/change-plan", plan, http.StatusOK)
		if !strings.Contains(body, `name="confirm" value="yes"`) || !strings.Contains(body, `name="policy_id" value="`+basic.ID+`"`) || !strings.Contains(body, "change the plan of</strong> the license …"+e.license.KeyHint+" to the plan Basic") {
			t.Fatalf("change plan, first step: not the confirmation\n%s", body)
		}
		if l, _ := e.svc.Licenses.License(ctx, id); l.PolicyID != e.license.PolicyID {
			t.Fatal("the first step changed the plan")
		}
		plan.Set("confirm", "yes")
		b.postWant("/console/licenses/"+id+"/change-plan", plan, http.StatusSeeOther)
		l, err := e.svc.Licenses.License(ctx, id)
		must(t, err)
		if l.PolicyID != basic.ID {
			t.Fatalf("policy after the change: %s, want %s", l.PolicyID, basic.ID)
		}
		if ev := e.byUser(licensing.ActionLicensePolicyChange, id, "support@example.com"); ev.Reason != "downgrade asked by mail" {
			t.Errorf("change-plan reason = %q", ev.Reason)
		}

		move := url.Values{"customer_id": {other.ID}, "reason": {"company sold"}}
		body = b.postWant("/console/licenses/"+id+"/transfer", move, http.StatusOK)
		if !strings.Contains(body, `name="customer_id" value="`+other.ID+`"`) || !strings.Contains(body, "to the customer Umbrella") {
			t.Fatalf("transfer, first step: not the confirmation\n%s", body)
		}
		move.Set("confirm", "yes")
		b.postWant("/console/licenses/"+id+"/transfer", move, http.StatusSeeOther)
		l, err = e.svc.Licenses.License(ctx, id)
		must(t, err)
		if l.CustomerID != other.ID {
			t.Fatalf("customer after the transfer: %s, want %s", l.CustomerID, other.ID)
		}
		if ev := e.byUser(licensing.ActionLicenseTransferred, id, "support@example.com"); ev.Reason != "company sold" {
			t.Errorf("transfer reason = %q", ev.Reason)
		}
		// Transferring to the customer it already has: the service's
		// conflict, on the form.
		body = b.postWant("/console/licenses/"+id+"/transfer", move, http.StatusConflict)
		if !strings.Contains(body, "already belongs to this customer") || !strings.Contains(body, `value="company sold"`) {
			t.Fatalf("a second transfer: not the conflict on the form\n%s", body)
		}
	})
}

// TestListsArePaginated: a list page shows PageSize rows and a link to
// the rest; a customer search walks on from where its page stopped.
func TestListsArePaginated(t *testing.T) {
	t.Parallel()
	storagetest.ForEach(t, func(t *testing.T, st *storage.Store) {
		e := newEnv(t, st)
		ctx := context.Background()
		for i := range console.PageSize + 2 {
			_, err := e.svc.Catalog.CreateProduct(ctx, licensing.ProductInput{Code: fmt.Sprintf("p%03d", i), Name: fmt.Sprintf("Product %03d", i)})
			must(t, err)
			_, err = e.svc.Customers.CreateCustomer(ctx, licensing.CustomerInput{Name: fmt.Sprintf("Wayne %03d", i)})
			must(t, err)
			_, err = e.svc.Licenses.CreateLicense(ctx, licensing.LicenseInput{PolicyID: e.license.PolicyID, CustomerID: e.license.CustomerID})
			must(t, err)
		}
		b := e.signedIn(licensing.RoleReadOnly)
		rows := regexp.MustCompile(`<tr><td(?: data-label="[^"]*")?><a href="/console/(products|customers|licenses)/`)
		next := regexp.MustCompile(`href="/console/(?:products|customers|licenses)\?([^"]+)" rel="next"`)
		// Products and licenses: the setup's one and PageSize+2 more.
		for _, list := range []string{"/console/products", "/console/customers?q=wayne", "/console/licenses"} {
			_, body := b.do("GET", list, nil)
			m := next.FindStringSubmatch(body)
			if n := len(rows.FindAllString(body, -1)); n != console.PageSize || m == nil {
				t.Fatalf("%s: %d rows, next link %v; want %d and a link", list, n, m, console.PageSize)
			}
			path, _, _ := strings.Cut(list, "?")
			_, body = b.do("GET", path+"?"+strings.ReplaceAll(m[1], "&amp;", "&"), nil)
			if n := len(rows.FindAllString(body, -1)); n != 2 && !(path != "/console/customers" && n == 3) {
				t.Errorf("%s, second page: %d rows", list, n)
			}
		}
	})
}

// TestFindLicenseByKey: a whole key as pasted (any case, spaces) or its
// last four characters finds its license, and only it.
func TestFindLicenseByKey(t *testing.T) {
	t.Parallel()
	storagetest.ForEach(t, func(t *testing.T, st *storage.Store) {
		e := newEnv(t, st)
		ctx := context.Background()
		created, err := e.svc.Licenses.CreateLicense(ctx, licensing.LicenseInput{PolicyID: e.license.PolicyID, CustomerID: e.license.CustomerID})
		must(t, err)
		b := e.signedIn(licensing.RoleReadOnly)
		for _, typed := range []string{created.Key, " " + strings.ToLower(created.Key) + " ", strings.ToLower(created.KeyHint)} {
			_, body := b.do("GET", "/console/licenses?"+url.Values{"key": {typed}}.Encode(), nil)
			if !strings.Contains(body, "/console/licenses/"+created.ID) || strings.Contains(body, "/console/licenses/"+e.license.ID+`"`) {
				t.Errorf("search by %q does not list exactly the license", typed)
			}
		}
		if _, body := b.do("GET", "/console/licenses?key=QQQQ", nil); strings.Contains(body, "/console/licenses/"+created.ID) {
			t.Error("an unknown hint lists the license")
		}
	})
}
