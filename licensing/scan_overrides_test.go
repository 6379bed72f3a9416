package licensing_test

import (
	"context"
	"testing"
	"time"

	"github.com/nzilacode/narcidicontrole/licensing"
	"github.com/nzilacode/narcidicontrole/storage/storagetest"
)

// The background scans follow a license's overrides, not only its
// policy's values: the expiry scan its grace and expiry action, the
// offline scan its heartbeat window (a policy without one included).
func TestScansFollowOverrides(t *testing.T) {
	t.Parallel()
	i64 := func(v int64) *int64 { return &v }
	act := func(a licensing.ExpiryAction) *licensing.ExpiryAction { return &a }
	for _, d := range storagetest.Dialects {
		t.Run(d, func(t *testing.T) {
			ctx := context.Background()
			f := newFixture(t, d, licensing.PolicyInput{DurationSeconds: 86400, LeaseTTLSeconds: 3600, HeartbeatWindowSeconds: 600})
			noWindow, err := f.svc.Catalog.CreatePolicy(ctx, licensing.PolicyInput{ProductID: f.policy.ProductID, Name: "No heartbeat",
				DurationSeconds: 86400, LeaseTTLSeconds: 3600})
			if err != nil {
				t.Fatal(err)
			}
			mk := func(policyID string, o licensing.LicenseOverrides) *licensing.CreatedLicense {
				l, err := f.svc.Licenses.CreateLicense(ctx, licensing.LicenseInput{PolicyID: policyID, CustomerID: f.cust.ID,
					Overrides: &licensing.OverridesInput{LicenseOverrides: o}})
				if err != nil {
					t.Fatal(err)
				}
				if _, err := f.svc.Leasing.Activate(ctx, req(l.Key, "fingerprint-1")); err != nil {
					t.Fatal(err)
				}
				return l
			}
			cases := []struct {
				name    string
				lic     *licensing.CreatedLicense
				machine licensing.MachineStatus // after 1 hour of silence
				at2d    licensing.LicenseStatus // 2 days in (1 day past expiry)
				at5d    licensing.LicenseStatus
			}{
				{"policy's values", mk(f.policy.ID, licensing.LicenseOverrides{}), licensing.MachineOffline, licensing.LicenseExpired, licensing.LicenseExpired},
				{"lease TTL only", mk(f.policy.ID, licensing.LicenseOverrides{LeaseTTLSeconds: i64(1800)}), licensing.MachineOffline, licensing.LicenseExpired, licensing.LicenseExpired},
				{"longer window", mk(f.policy.ID, licensing.LicenseOverrides{HeartbeatWindowSeconds: i64(7200)}), licensing.MachineActive, licensing.LicenseExpired, licensing.LicenseExpired},
				{"window on a policy without", mk(noWindow.ID, licensing.LicenseOverrides{HeartbeatWindowSeconds: i64(600)}), licensing.MachineOffline, licensing.LicenseExpired, licensing.LicenseExpired},
				{"no window on a policy with", mk(f.policy.ID, licensing.LicenseOverrides{HeartbeatWindowSeconds: i64(0)}), licensing.MachineActive, licensing.LicenseExpired, licensing.LicenseExpired},
				{"3 days of grace", mk(f.policy.ID, licensing.LicenseOverrides{GraceSeconds: i64(3 * 86400)}), licensing.MachineOffline, licensing.LicenseActive, licensing.LicenseExpired},
				{"revoke at expiry", mk(f.policy.ID, licensing.LicenseOverrides{ExpiryAction: act(licensing.ExpiryRevoke)}), licensing.MachineOffline, licensing.LicenseRevoked, licensing.LicenseRevoked},
				{"revoke after grace", mk(noWindow.ID, licensing.LicenseOverrides{ExpiryAction: act(licensing.ExpiryRevoke), GraceSeconds: i64(3 * 86400)}), licensing.MachineActive, licensing.LicenseActive, licensing.LicenseRevoked},
			}
			f.clock.Add(time.Hour)
			if _, err := f.svc.Automation.ScanOffline(ctx); err != nil {
				t.Fatal(err)
			}
			for _, c := range cases {
				ms, err := f.svc.Licenses.Machines(ctx, licensing.MachineFilter{LicenseID: c.lic.ID}, licensing.Page{Limit: 10})
				if err != nil || len(ms) != 1 || ms[0].Status != c.machine {
					t.Errorf("%s: machines after an hour %+v %v, want one %s", c.name, ms, err, c.machine)
				}
			}
			check := func(when string, want func(int) licensing.LicenseStatus) {
				t.Helper()
				if _, err := f.svc.Automation.ScanExpiry(ctx); err != nil {
					t.Fatal(err)
				}
				for i, c := range cases {
					got, err := f.svc.Licenses.License(ctx, c.lic.ID)
					if err != nil || got.Status != want(i) {
						t.Errorf("%s at %s: %+v %v, want %s", c.name, when, got, err, want(i))
					}
				}
			}
			f.clock.Add(47 * time.Hour)
			check("2 days", func(i int) licensing.LicenseStatus { return cases[i].at2d })
			f.clock.Add(3 * 24 * time.Hour)
			check("5 days", func(i int) licensing.LicenseStatus { return cases[i].at5d })
		})
	}
}
