package console_test

import (
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/nzilacode/narcidicontrole/licensing"
	"github.com/nzilacode/narcidicontrole/storage/storagetest"
)

// markedTag is an element the page marks as wrong.
var markedTag = regexp.MustCompile(`<(input|select|textarea|fieldset)\b[^>]*aria-invalid="true"[^>]*>`)

// markedFields names the fields a page marks: their ids, "fieldset" for a
// group of choices.
func markedFields(body string) []string {
	var out []string
	for _, tag := range markedTag.FindAllStringSubmatch(body, -1) {
		if tag[1] == "fieldset" {
			out = append(out, "fieldset")
			continue
		}
		if m := regexp.MustCompile(`\bid="([^"]+)"`).FindStringSubmatch(tag[0]); m != nil {
			out = append(out, m[1])
		}
	}
	return out
}

// TestRefusalsMarkTheirField (issue 28, 3): each refusal of the product,
// policy and license forms marks the one input the service's error names
// (licensing.Error.Field), not a field guessed from the message's words.
func TestRefusalsMarkTheirField(t *testing.T) {
	t.Parallel()
	e := newEnv(t, storagetest.Open(t, storagetest.Dialects[0]))
	b := e.signedIn(licensing.RoleAdmin)
	with := func(base url.Values, kv ...string) url.Values {
		v := url.Values{}
		for k, vs := range base {
			v[k] = slices.Clone(vs)
		}
		for i := 0; i+1 < len(kv); i += 2 {
			v.Set(kv[i], kv[i+1])
		}
		return v
	}
	policy := url.Values{"product_id": {e.license.ProductID}, "name": {"Marks"}, "lease_ttl_minutes": {"60"}}
	license := url.Values{"product_id": {e.license.ProductID}, "policy_id": {e.license.PolicyID}, "customer_id": {e.license.CustomerID}}
	b.postWant("/console/products", url.Values{"code": {"taken"}, "name": {"Taken"}}, http.StatusSeeOther)
	key := "Kx7-Qw9-Zr2-Pm4-Ld8-Vn3"
	b.postWant("/console/licenses", with(license, "key", key), http.StatusCreated)
	for _, tc := range []struct {
		name, path string
		form       url.Values
		status     int
		field      string
	}{
		{"product code", "/console/products", url.Values{"code": {"Not A Code"}, "name": {"P"}}, 422, "code"},
		{"product name", "/console/products", url.Values{"code": {"fine"}, "name": {" "}}, 422, "name"},
		{"product code taken", "/console/products", url.Values{"code": {"taken"}, "name": {"Again"}}, 409, "code"},
		{"policy name", "/console/policies", with(policy, "name", ""), 422, "name"},
		{"policy node-locked seats", "/console/policies", with(policy, "max_machines", "3"), 422, "max_machines"},
		{"policy lease", "/console/policies", with(policy, "lease_ttl_minutes", "1"), 422, "lease_ttl_minutes"},
		{"policy offline release", "/console/policies", with(policy, "offline_release_hours", "2"), 422, "offline_release_hours"},
		{"policy notice days", "/console/policies", with(policy, "expiry_notice_days", "400"), 422, "expiry_notice_days"},
		{"policy overage", "/console/policies", with(policy, "rule_overage_factor", "3"), 422, "rule_overage_factor"},
		{"policy entitlements", "/console/policies", with(policy, "entitlements", "no-such"), 422, "fieldset"},
		{"license of no policy", "/console/licenses", with(license, "policy_id", "nope"), 422, "policy_id"},
		{"license of no customer", "/console/licenses", with(license, "customer_id", "nope"), 422, "customer_id"},
		{"license weak key", "/console/licenses", with(license, "key", "aaaa"), 422, "key"},
		{"license key taken", "/console/licenses", with(license, "key", key), 409, "key"},
		{"license name", "/console/licenses", with(license, "name", strings.Repeat("n", 201)), 422, "name"},
		{"license expiry", "/console/licenses", with(license, "expires", "1000-01-01"), 422, "expires"},
		{"license entitlements", "/console/licenses", with(license, "entitlements", "no-such"), 422, "fieldset"},
	} {
		resp, body := b.post(tc.path, tc.form)
		if got := markedFields(body); resp.StatusCode != tc.status || !slices.Equal(got, []string{tc.field}) {
			t.Errorf("%s: %d marking %v, want %d marking [%s]\n%s", tc.name, resp.StatusCode, got, tc.status, tc.field, body)
		}
	}
}
