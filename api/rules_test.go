package api

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/nzilacode/narcidicontrole/licensing"
	"github.com/nzilacode/narcidicontrole/storage/storagetest"
	verifier "github.com/nzilacode/narcidicontrole/verifier-sdk"
)

// Bad activation rules and overrides are 422 naming the field, and nothing
// is written; PATCH with null clears an override; GET shows the effective
// policy.
func TestRulesThroughTheAPI(t *testing.T) {
	for _, d := range storagetest.Dialects {
		t.Run(d, func(t *testing.T) {
			a := newTestAPI(t, d, Config{})
			f := a.fixture(2)
			many := make([]string, 10_000)
			for i := range many {
				many[i] = "c" // short: 10,000 of them fit in the client body limit (64 KiB)
			}
			manyJSON, _ := json.Marshal(many)
			for _, tc := range []struct {
				method, path, body, field string
			}{
				{"PATCH", "/v1/policies/" + f.policy.ID, `{"rules":{"matching":"three"}}`, "rules.matching"},
				{"PATCH", "/v1/policies/" + f.policy.ID, `{"rules":{"overage_factor":0.5}}`, "rules.overage_factor"},
				{"PATCH", "/v1/policies/" + f.policy.ID, `{"rules":{"max_activations":-1,"limit_period_seconds":60}}`, "rules.max_activations"},
				{"PATCH", "/v1/policies/" + f.policy.ID, `{"rules":{"max_deactivations":99999999,"limit_period_seconds":60}}`, "rules.max_deactivations"},
				{"PATCH", "/v1/licenses/" + f.license.ID, `{"overrides":{"grace_seconds":-1}}`, "overrides.grace_seconds"},
				{"PATCH", "/v1/licenses/" + f.license.ID, `{"overrides":{"max_activations":-2}}`, "overrides.max_activations"},
				{"POST", "/v1/client/activate", `{"license_key":"` + f.license.Key + `","fingerprint":"fingerprint-1","components":` + string(manyJSON) + `}`, "components"},
			} {
				res, raw := a.do(tc.method, tc.path, tc.body)
				if res.StatusCode != 422 {
					t.Fatalf("%s %s %.80s: status %d: %s", tc.method, tc.path, tc.body, res.StatusCode, raw)
				}
				p := problemOf(t, res, raw)
				if len(p.InvalidParams) != 1 || p.InvalidParams[0].Name != tc.field {
					t.Errorf("%.80s: invalid_params %+v, want %s", tc.body, p.InvalidParams, tc.field)
				}
			}
			var pol licensing.Policy
			a.must(200, "GET", "/v1/policies/"+f.policy.ID, nil, &pol)
			if pol.Rules != (licensing.PolicyRules{}) {
				t.Errorf("a refused patch wrote the rules: %+v", pol.Rules)
			}
			var machines struct{ Data []licensing.Machine }
			a.must(200, "GET", "/v1/licenses/"+f.license.ID+"/machines", nil, &machines)
			if len(machines.Data) != 0 {
				t.Errorf("a refused activation wrote a machine")
			}

			a.must(200, "PATCH", "/v1/policies/"+f.policy.ID, `{"rules":{"matching":"most","overage_seats":1}}`, &pol)
			if pol.Rules.Matching != licensing.MatchMost || pol.Rules.SeatCap(2) != 3 {
				t.Fatalf("rules %+v", pol.Rules)
			}
			var lic licensing.License
			a.must(200, "PATCH", "/v1/licenses/"+f.license.ID, `{"overrides":{"grace_seconds":3600,"lease_ttl_seconds":900}}`, &lic)
			a.must(200, "PATCH", "/v1/licenses/"+f.license.ID, `{"overrides":{"lease_ttl_seconds":null}}`, &lic)
			lic = licensing.License{} // a fresh decode: omitted members must not keep old values
			a.must(200, "GET", "/v1/licenses/"+f.license.ID, nil, &lic)
			if e := lic.Effective; e == nil || e.GraceSeconds != 3600 || e.LeaseTTLSeconds != 3600 || e.SeatCap != 3 ||
				strings.Join(e.Overridden, ",") != "grace_seconds" || lic.Overrides.LeaseTTLSeconds != nil {
				t.Fatalf("effective %+v, overrides %+v", lic.Effective, lic.Overrides)
			}

			// Components go through the client API and drive the matching.
			var g1, g2 verifier.LeaseResponse
			a.must(201, "POST", "/v1/client/activate", verifier.MachineRequest{LicenseKey: f.license.Key, Fingerprint: "fingerprint-1",
				Components: []string{"board", "disk-1", "mac"}}, &g1)
			a.must(200, "POST", "/v1/client/activate", verifier.MachineRequest{LicenseKey: f.license.Key, Fingerprint: "fingerprint-2",
				Components: []string{"board", "disk-2", "mac"}}, &g2)
			if g1.MachineID != g2.MachineID {
				t.Errorf("a drifted machine under most took a new seat")
			}
		})
	}
}
