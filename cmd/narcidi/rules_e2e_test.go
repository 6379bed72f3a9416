package main

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/nzilacode/narcidicontrole/licensing"
	verifier "github.com/nzilacode/narcidicontrole/verifier-sdk"
	"github.com/nzilacode/narcidicontrole/workers/workerstest"
)

// The activation rules end to end, through the real server and the SDK's
// client: a drifted machine under "most" and "all", the activation cap and
// its one webhook, and an offline meter budget reported on reconnect.
func TestRulesEndToEnd(t *testing.T) {
	t.Parallel()
	rcv := workerstest.StartReceiver(t, nil)
	app := startAppWith(t, map[string]string{"NARCIDI_WEBHOOK_ALLOW_PRIVATE": "true"})
	admin := apiClient{t, app.URL(), adminToken}
	cat := seedCatalog(t, admin, 1)
	sdk := &verifier.Client{BaseURL: app.URL()}
	ctx := context.Background()
	license := func(name string, seats int, rules map[string]any) (id, key string) {
		t.Helper()
		var pol struct{ ID string }
		admin.mustCreate("/v1/policies", map[string]any{"product_id": cat.productID, "name": name, "floating": true, "max_machines": seats,
			"lease_ttl_seconds": 3600, "entitlements": []string{"export"}, "rules": rules}, &pol)
		var lic struct{ ID, Key string }
		admin.mustCreate("/v1/licenses", map[string]any{"policy_id": pol.ID, "customer_id": cat.customerID}, &lic)
		return lic.ID, lic.Key
	}

	t.Run("a disk replaced: same seat under most, a new machine under all", func(t *testing.T) {
		before := verifier.ComponentsFrom("studio", "board-1", "disk-1", "mac-1", "os-1")
		after := verifier.ComponentsFrom("studio", "board-1", "disk-2", "mac-1", "os-1")
		for _, c := range []struct {
			rule     string
			sameSeat bool
		}{{"most", true}, {"all", false}} {
			id, key := license("Drift "+c.rule, 1, map[string]any{"matching": c.rule})
			first, err := sdk.Activate(ctx, verifier.MachineRequest{LicenseKey: key, Fingerprint: verifier.FingerprintFrom("studio", "pc-"+c.rule+"-1"), Components: before})
			if err != nil {
				t.Fatal(err)
			}
			again, err := sdk.Activate(ctx, verifier.MachineRequest{LicenseKey: key, Fingerprint: verifier.FingerprintFrom("studio", "pc-"+c.rule+"-2"), Components: after})
			var ms struct{ Data []licensing.Machine }
			admin.call("GET", "/v1/machines?license_id="+id, nil, &ms)
			switch {
			case c.sameSeat && (err != nil || again.MachineID != first.MachineID || len(ms.Data) != 1):
				t.Errorf("%s: %+v %v, machines %d: want the same seat", c.rule, again, err, len(ms.Data))
			case !c.sameSeat && (apiCode(err) != string(licensing.ESeatLimit) || len(ms.Data) != 1 || ms.Data[0].ID != first.MachineID):
				t.Errorf("%s: %v, machines %d: want a new machine refused a seat (seat_limit)", c.rule, err, len(ms.Data))
			}
		}
	})

	t.Run("10 fingerprints within an hour hit the activation cap; one webhook", func(t *testing.T) {
		id, key := license("Capped", 20, map[string]any{"max_activations": 5, "limit_period_seconds": 3600})
		registerHook(t, admin, rcv, licensing.ActionLicenseActivationLimited, licensing.ActionLicenseSuspended)
		granted, limited := 0, 0
		for i := range 10 {
			_, err := sdk.Activate(ctx, verifier.MachineRequest{LicenseKey: key, Fingerprint: verifier.FingerprintFrom("studio", fmt.Sprint("hopper-", i))})
			switch apiCode(err) {
			case "<nil>":
				granted++
			case string(licensing.EActivationLimited):
				limited++
			default:
				t.Fatalf("activation %d: %v", i, err)
			}
		}
		if granted != 5 || limited != 5 {
			t.Fatalf("granted %d, limited %d: want 5 and 5", granted, limited)
		}
		// A later event of the same license: once both have arrived, the
		// refusals' events are all out (one a refusal burst may write).
		admin.call("POST", "/v1/licenses/"+id+"/actions/suspend", map[string]any{"reason": "sharing"}, nil)
		count := func(action string) int {
			n := 0
			for _, e := range rcv.Received() {
				if e.Type == action && e.Data.TargetID == id {
					n++
				}
			}
			return n
		}
		workerstest.WaitFor(t, "the suspension's webhook and the cap's", func() bool {
			return count(licensing.ActionLicenseSuspended) == 1 && count(licensing.ActionLicenseActivationLimited) > 0
		})
		if n := count(licensing.ActionLicenseActivationLimited); n != 1 || rcv.BadSignatures() != 0 {
			t.Fatalf("license.activation_limited received %d times (bad signatures %d), want once", n, rcv.BadSignatures())
		}
	})

	t.Run("an offline app spends its lease budget and reports on reconnect", func(t *testing.T) {
		id, key := license("Metered", 1, nil)
		var m licensing.Meter
		admin.mustCreate("/v1/licenses/"+id+"/meters", map[string]any{"entitlement": "export", "max_uses": 5}, &m)
		fp := verifier.FingerprintFrom("studio", "offline-pc")
		act, actErr := sdk.Activate(ctx, verifier.MachineRequest{LicenseKey: key, Fingerprint: fp})
		jwks, keysErr := sdk.JWKS(ctx)
		if err := errors.Join(actErr, keysErr); err != nil {
			t.Fatal(err)
		}
		// The app's verifier, as it runs offline from here.
		v, err := verifier.New(verifier.Config{Keys: jwks, Product: cat.productID, Fingerprint: fp})
		var lease *verifier.Lease
		if err == nil {
			lease, err = v.Verify(act.Lease)
		}
		if err != nil {
			t.Fatal(err)
		}
		budget, err := verifier.NewMeterBudget(lease, "export")
		if err != nil {
			t.Fatal(err)
		}
		// Offline: five uses are spent from the lease, the sixth is refused.
		spent := 0
		for range 7 {
			if budget.Spend(1) {
				spent++
			}
		}
		if spent != 5 || budget.Left() != 0 || budget.Pending() != 5 {
			t.Fatalf("offline: spent %d, left %d, pending %d: want 5, 0, 5", spent, budget.Left(), budget.Pending())
		}
		// Back online: the report counts them all.
		r, err := budget.Report(ctx, sdk, key, fp)
		if err != nil || r.Uses != 5 || r.Total != 5 || r.Remaining != 0 || budget.Pending() != 0 {
			t.Fatalf("report: %+v %v (pending %d)", r, err, budget.Pending())
		}
		// A report whose answer was lost is sent again with its id: counted once.
		report := verifier.UseRequest{LicenseKey: key, Fingerprint: fp, Meter: "export", ID: "report-lost-answer", Uses: 2, Report: true}
		for i := range 2 {
			r, err := sdk.UseMeter(ctx, report)
			if err != nil || r.Total != 7 || r.Replayed != (i == 1) {
				t.Fatalf("report %d: %+v %v: want total 7, replayed only the second time", i, r, err)
			}
		}
		admin.call("GET", "/v1/meters/"+m.ID, nil, &m)
		if m.Uses != 7 || m.Total != 7 {
			t.Fatalf("the server counts %d uses (total %d), want exactly 7", m.Uses, m.Total)
		}
		// The next lease says nothing is left.
		ren, err := sdk.Renew(ctx, verifier.MachineRequest{LicenseKey: key, Fingerprint: fp})
		if err != nil {
			t.Fatal(err)
		}
		if l, err := v.Verify(ren.Lease); err != nil || len(l.Claims.Meters) != 1 || l.Claims.Meters[0].Remaining != 0 || l.Claims.Meters[0].Counter != 7 {
			t.Fatalf("renewed lease: %+v %v", l, err)
		}
	})
}
