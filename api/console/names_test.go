package console_test

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/nzilacode/narcidicontrole/licensing"
	"github.com/nzilacode/narcidicontrole/storage"
	"github.com/nzilacode/narcidicontrole/storage/storagetest"
)

// options are the options of the select named name on a page.
func options(t *testing.T, body, name string) []string {
	t.Helper()
	m := regexp.MustCompile(`(?s)<select id="[^"]*" name="` + name + `"[^>]*>(.*?)</select>`).FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no select %s:\n%s", name, body)
	}
	var out []string
	for _, o := range regexp.MustCompile(`<option value="[^"]*"( selected)?>([^<]*)</option>`).FindAllStringSubmatch(m[1], -1) {
		out = append(out, strings.TrimSpace(o[2])+o[1])
	}
	return out
}

// TestPickCustomersByName (issue 24, 1): the new-license, transfer, token
// and licenses-filter forms pick the customer by name through a search the
// server narrows; the lists name and link products and customers.
func TestPickCustomersByName(t *testing.T) {
	t.Parallel()
	storagetest.ForEach(t, func(t *testing.T, st *storage.Store) {
		e := newEnv(t, st)
		ctx := context.Background()
		globex, err := e.svc.Customers.CreateCustomer(ctx, licensing.CustomerInput{Name: "Globex Corp", Email: "ops@globex.example"})
		must(t, err)
		_, err = e.svc.Customers.CreateCustomer(ctx, licensing.CustomerInput{Name: "Globex Labs", Email: "lab@globex.example"})
		must(t, err)
		b := e.signedIn(licensing.RoleAdmin)
		newForm := "/console/licenses/new?product=" + e.license.ProductID
		_, body := b.do("GET", newForm, nil)
		if got := options(t, body, "customer_id"); len(got) != 3 || got[0] != "Acme (it@acme.example)" {
			t.Fatalf("the picker offers %v, want the 3 customers by name", got)
		}
		csrf := b.csrf(newForm)
		base := url.Values{"csrf": {csrf}, "product_id": {e.license.ProductID}, "policy_id": {e.license.PolicyID}, "name": {"Globex seat"}}
		with := func(kv ...string) url.Values {
			v := url.Values{}
			for k, vs := range base {
				v[k] = vs
			}
			for i := 0; i < len(kv); i += 2 {
				v.Set(kv[i], kv[i+1])
			}
			return v
		}
		for _, tc := range []struct {
			name  string
			form  url.Values
			want  []string
			code  int
			error string
		}{
			{"find narrows", with("find", "1", "customer_id_q", "globex"), []string{"Globex Corp (ops@globex.example)", "Globex Labs (lab@globex.example)"}, http.StatusOK, ""},
			{"one match is chosen", with("find", "1", "customer_id_q", "CORP"), []string{"Globex Corp (ops@globex.example) selected"}, http.StatusOK, ""},
			{"none", with("find", "1", "customer_id_q", "initech"), nil, http.StatusOK, ""},
			{"typed but not found", with("customer_id_q", "labs", "customer_id", e.license.CustomerID), []string{"Globex Labs (lab@globex.example) selected"}, http.StatusUnprocessableEntity, "not one of those matching “labs”"},
		} {
			resp, body := b.do("POST", "/console/licenses", tc.form)
			wantStatus(t, tc.name, resp, tc.code)
			if got := options(t, body, "customer_id"); strings.Join(got, "|") != strings.Join(tc.want, "|") {
				t.Errorf("%s: options %v, want %v", tc.name, got, tc.want)
			}
			if !strings.Contains(body, tc.error) {
				t.Errorf("%s: no %q on the form", tc.name, tc.error)
			}
		}
		ls, err := e.svc.Licenses.Licenses(ctx, licensing.LicenseFilter{CustomerID: globex.ID}, licensing.Page{})
		must(t, err)
		if len(ls) != 0 {
			t.Fatal("a search created a license")
		}
		resp, _ := b.do("POST", "/console/licenses", with("customer_id_q", "globex corp", "customer_id", globex.ID))
		wantStatus(t, "create", resp, http.StatusCreated)
		ls, err = e.svc.Licenses.Licenses(ctx, licensing.LicenseFilter{CustomerID: globex.ID}, licensing.Page{})
		must(t, err)
		if len(ls) != 1 || ls[0].Name != "Globex seat" {
			t.Fatalf("Globex's licenses: %+v", ls)
		}

		// The list: product and customer named and linked, New license.
		_, body = b.do("GET", "/console/licenses", nil)
		for _, want := range []string{`href="/console/licenses/new"`, `<a href="/console/customers/` + globex.ID + `">Globex Corp</a>`,
			`<a href="/console/products/` + e.license.ProductID + `">Studio</a>`} {
			if !strings.Contains(body, want) {
				t.Errorf("the license list lacks %s", want)
			}
		}
		// The filter by name: one match filters, several ask to choose.
		_, body = b.do("GET", "/console/licenses?customer_q=corp", nil)
		if !strings.Contains(body, "Globex seat") || strings.Contains(body, "Acme studio") {
			t.Error("the customer filter by name does not narrow the list")
		}
		_, body = b.do("GET", "/console/licenses?customer_q=globex", nil)
		if !strings.Contains(body, "2 customers match") {
			t.Error("an ambiguous customer filter does not ask to choose")
		}

		// Transfer: the same picker.
		tr := "/console/licenses/" + ls[0].ID + "/transfer"
		_, body = b.do("POST", tr, url.Values{"csrf": {csrf}, "find": {"1"}, "customer_id_q": {"acme"}, "customer_id": {globex.ID}})
		if got := options(t, body, "customer_id"); len(got) != 1 || got[0] != "Acme (it@acme.example) selected" {
			t.Errorf("transfer picker: %v", got)
		}
		resp, body = b.do("POST", tr, url.Values{"csrf": {csrf}, "customer_id_q": {"acme"}, "customer_id": {e.license.CustomerID}, "reason": {"merger"}})
		wantStatus(t, "transfer confirmation", resp, http.StatusOK)
		if !strings.Contains(body, "to the customer Acme (it@acme.example)") {
			t.Error("the transfer's confirmation does not name the customer")
		}

		// Tokens: the customer of a customer token by name.
		_, body = b.do("POST", "/console/tokens", url.Values{"csrf": {csrf}, "find": {"1"}, "name": {"portal"}, "role": {"customer"}, "customer_q": {"corp"}})
		if got := options(t, body, "customer"); strings.Join(got, "|") != "any|Globex Corp (ops@globex.example) selected" {
			t.Errorf("token picker: %v", got)
		}

		// Audit targets and machines' licenses: names, linked.
		m := e.activate("build-01")
		_, body = b.do("GET", "/console/audit", nil)
		if !strings.Contains(body, `<a href="/console/customers/`+globex.ID+`">Globex Corp</a>`) || !strings.Contains(body, `<a href="/console/licenses/`+ls[0].ID+`">…`+ls[0].KeyHint+` Globex seat</a>`) {
			t.Error("audit targets are not named and linked")
		}
		_, body = b.do("GET", "/console/machines", nil)
		l, err := e.svc.Licenses.License(ctx, m.LicenseID)
		must(t, err)
		if !strings.Contains(body, `<a href="/console/licenses/`+l.ID+`">…`+l.KeyHint) {
			t.Error("a machine's license is not its key hint, linked")
		}
	})
}
