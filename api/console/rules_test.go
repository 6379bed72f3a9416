package console_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/nzilacode/narcidicontrole/licensing"
	"github.com/nzilacode/narcidicontrole/storage"
	"github.com/nzilacode/narcidicontrole/storage/storagetest"
)

// The license page shows the effective policy and marks what the license
// overrides; the machine page shows the components the machine reported.
func TestLicensePageShowsTheEffectivePolicy(t *testing.T) {
	t.Parallel()
	storagetest.ForEach(t, func(t *testing.T, st *storage.Store) {
		e := newEnv(t, st)
		ctx := context.Background()
		ttl := int64(600)
		lic, err := e.svc.Licenses.CreateLicense(ctx, licensing.LicenseInput{PolicyID: e.license.PolicyID, CustomerID: e.license.CustomerID,
			Overrides: &licensing.OverridesInput{LicenseOverrides: licensing.LicenseOverrides{LeaseTTLSeconds: &ttl}}})
		must(t, err)
		g, err := e.svc.Leasing.Activate(ctx, licensing.MachineRequest{Key: lic.Key, Fingerprint: "fingerprint-console",
			Components: []string{"disk-abc", "board-xyz"}})
		must(t, err)
		b := e.signedIn(licensing.RoleAdmin)
		_, page := b.do("GET", "/console/licenses/"+lic.ID, nil)
		for _, want := range []string{`<dd id="effective-lease-ttl">600 s <em>overridden</em>`, `<dd id="effective-grace">`} {
			if !strings.Contains(page, want) {
				t.Errorf("the license page lacks %s:\n%s", want, page)
			}
		}
		if strings.Contains(page, `<dd id="effective-grace">0 s <em>`) {
			t.Error("grace is marked overridden")
		}
		_, page = b.do("GET", "/console/machines/"+g.Machine.ID, nil)
		if !strings.Contains(page, `<code class="id">board-xyz</code> <code class="id">disk-abc</code>`) {
			t.Errorf("the machine page lacks its components:\n%s", page)
		}
	})
}

// The policy form sets the activation rules; a bad value is refused naming
// its field, and nothing is written.
func TestPolicyFormSetsTheRules(t *testing.T) {
	t.Parallel()
	storagetest.ForEach(t, func(t *testing.T, st *storage.Store) {
		e := newEnv(t, st)
		ctx := context.Background()
		b := e.signedIn(licensing.RoleAdmin)
		base := url.Values{"product_id": {e.license.ProductID}, "name": {"Rules"}, "max_machines": {"10"}, "floating": {"on"}, "lease_ttl_minutes": {"60"}}
		form := url.Values{"rule_matching": {"most"}, "rule_uniqueness": {"product"}, "rule_max_activations": {"10"},
			"rule_max_deactivations": {"2"}, "rule_limit_period_hours": {"1"}, "rule_min_seat_hold_hours": {"0.5"}, "rule_overage_factor": {"1.5"}}
		for k, v := range base {
			form[k] = v
		}
		polID := b.created("/policies", form)
		pol, err := e.svc.Catalog.Policy(ctx, polID)
		must(t, err)
		want := licensing.PolicyRules{Matching: licensing.MatchMost, Uniqueness: licensing.UniquePerProduct, OverageFactor: 1.5,
			ActivationLimits: licensing.ActivationLimits{MaxActivations: 10, MaxDeactivations: 2, LimitPeriodSeconds: 3600, MinSeatHoldSeconds: 1800}}
		if pol.Rules != want {
			t.Fatalf("rules %+v, want %+v", pol.Rules, want)
		}
		_, page := b.do("GET", "/console/policies/"+polID, nil)
		for _, v := range []string{`<option value="most" selected>`, `<option value="1.5" selected>`, `id="rule_min_seat_hold_hours" name="rule_min_seat_hold_hours" value="0.5"`} {
			if !strings.Contains(page, v) {
				t.Errorf("the policy's edit form lacks %s", v)
			}
		}
		form.Set("rule_overage_factor", "0.5")
		if body := b.postWant("/console/policies/"+polID, form, http.StatusUnprocessableEntity); !strings.Contains(body, `id="rule_overage_factor" name="rule_overage_factor" aria-invalid="true"`) {
			t.Errorf("the refusal does not mark the overage field:\n%s", body)
		}
		if pol, _ = e.svc.Catalog.Policy(ctx, polID); pol.Rules != want {
			t.Errorf("a refused edit wrote %+v", pol.Rules)
		}
	})
}
