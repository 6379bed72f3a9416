package api

import (
	"strings"
	"testing"

	"github.com/nzilacode/narcidicontrole/licensing"
	verifier "github.com/nzilacode/narcidicontrole/verifier-sdk"
)

// Entitlements after issue and meters through HTTP: each route, the
// status of each refusal, and the field a 422 names.
func TestMetersAndEntitlementsAPI(t *testing.T) {
	a := newTestAPI(t, "sqlite", Config{})
	f := a.fixture(1)
	var ent licensing.Entitlement
	a.must(201, "POST", "/v1/entitlements", licensing.EntitlementInput{Code: "export", Name: "Export"}, &ent)
	var lic licensing.License
	a.must(200, "POST", "/v1/licenses/"+f.license.ID+"/entitlements", licensing.EntitlementChange{Attach: []string{"export"}}, &lic)
	if len(lic.Entitlements) != 1 {
		t.Fatalf("attached: %+v", lic)
	}
	var pol licensing.Policy
	a.must(200, "POST", "/v1/policies/"+f.policy.ID+"/entitlements", licensing.EntitlementChange{Attach: []string{"export"}}, &pol)
	a.must(200, "POST", "/v1/licenses/"+f.license.ID+"/entitlements", licensing.EntitlementChange{Detach: []string{"export"}}, &lic)

	var m licensing.Meter
	a.must(201, "POST", "/v1/licenses/"+f.license.ID+"/meters", licensing.MeterInput{Entitlement: "export", MaxUses: 2}, &m)
	var list listResponse[licensing.Meter]
	a.must(200, "GET", "/v1/licenses/"+f.license.ID+"/meters", nil, &list)
	if len(list.Data) != 1 || list.Data[0].ID != m.ID {
		t.Fatalf("meters: %+v", list)
	}
	a.must(201, "POST", "/v1/client/activate", verifier.MachineRequest{LicenseKey: f.license.Key, Fingerprint: "fingerprint-1"}, nil)
	var u verifier.UseResponse
	in := verifier.UseRequest{LicenseKey: f.license.Key, Fingerprint: "fingerprint-1", Meter: "export", ID: "u1", Uses: 2}
	a.must(200, "POST", "/v1/client/meters/use", in, &u)
	if u.Remaining != 0 || u.Uses != 2 || u.Replayed {
		t.Fatalf("use: %+v", u)
	}
	a.must(200, "POST", "/v1/client/meters/use", in, &u)
	if !u.Replayed || u.Total != 2 {
		t.Fatalf("replay: %+v", u)
	}

	for _, c := range []struct {
		name, method, path string
		body               any
		status             int
		code, field        string
	}{
		{"exhausted", "POST", "/v1/client/meters/use", verifier.UseRequest{LicenseKey: f.license.Key, Fingerprint: "fingerprint-1", Meter: "export", ID: "u2"}, 409, "meter_exhausted", ""},
		{"10 kB id", "POST", "/v1/client/meters/use", verifier.UseRequest{LicenseKey: f.license.Key, Fingerprint: "fingerprint-1", Meter: "export", ID: strings.Repeat("x", 10<<10)}, 422, "invalid", "id"},
		{"negative bound", "PATCH", "/v1/meters/" + m.ID, map[string]any{"max_uses": -5}, 422, "invalid", "max_uses"},
		{"unknown attach", "POST", "/v1/licenses/" + f.license.ID + "/entitlements", licensing.EntitlementChange{Attach: []string{"nope"}}, 422, "invalid", "attach"},
		{"no meter", "GET", "/v1/meters/0195aaaa-0000-7000-8000-000000000000", nil, 404, "not_found", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			res, raw := a.do(c.method, c.path, c.body)
			if res.StatusCode != c.status {
				t.Fatalf("status %d, want %d: %s", res.StatusCode, c.status, raw)
			}
			p := problemOf(t, res, raw)
			if p.Code != c.code || (c.field != "" && (len(p.InvalidParams) != 1 || p.InvalidParams[0].Name != c.field)) {
				t.Fatalf("problem %+v, want %s naming %q", p, c.code, c.field)
			}
		})
	}

	a.must(200, "POST", "/v1/meters/"+m.ID+"/actions/reset", licensing.ReasonInput{Reason: "goodwill"}, &m)
	if m.Uses != 0 || m.Total != 2 {
		t.Fatalf("reset: %+v", m)
	}
	a.must(200, "POST", "/v1/entitlements/"+ent.ID+"/actions/retire", nil, &ent)
	if ent.RetiredAt == nil {
		t.Fatalf("retired: %+v", ent)
	}
	var got licensing.Policy
	a.must(200, "GET", "/v1/policies/"+f.policy.ID, nil, &got)
	if len(got.Entitlements) != 0 {
		t.Fatalf("a retired entitlement is still granted: %+v", got)
	}
	res, raw := a.do("POST", "/v1/client/meters/use", verifier.UseRequest{LicenseKey: f.license.Key, Fingerprint: "fingerprint-1", Meter: "export", ID: "u3"})
	if p := problemOf(t, res, raw); res.StatusCode != 403 || p.Code != "not_entitled" {
		t.Fatalf("a meter of a retired entitlement: %d %+v", res.StatusCode, p)
	}
}
