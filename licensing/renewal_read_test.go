package licensing_test

import (
	"context"
	"testing"

	"github.com/nzilacode/narcidicontrole/licensing"
	"github.com/nzilacode/narcidicontrole/storage/storagetest"
)

// Renew, Heartbeat and Validate read through ReadLease (one statement):
// they answer every case as the separate reads did, and a license still
// holding its legacy key hash is found (and migrated) on first use.
func TestRenewalReadCases(t *testing.T) {
	t.Parallel()
	for _, d := range storagetest.Dialects {
		t.Run(d, func(t *testing.T) {
			ctx := context.Background()
			f := newFixture(t, d, licensing.PolicyInput{MaxMachines: 3, Floating: true, LeaseTTLSeconds: 3600, HeartbeatWindowSeconds: 600})
			active := f.license(t, licensing.LicenseInput{})
			legacy := f.license(t, licensing.LicenseInput{})
			suspended := f.license(t, licensing.LicenseInput{})
			for _, l := range []*licensing.CreatedLicense{active, legacy, suspended} {
				if _, err := f.svc.Leasing.Activate(ctx, req(l.Key, "fingerprint-a")); err != nil {
					t.Fatal(err)
				}
			}
			g, err := f.svc.Leasing.Activate(ctx, req(active.Key, "fingerprint-blocked"))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := f.svc.Licenses.BlockMachine(ctx, g.Machine.ID, "stolen"); err != nil {
				t.Fatal(err)
			}
			if _, err := f.svc.Licenses.SuspendLicense(ctx, suspended.ID, "unpaid"); err != nil {
				t.Fatal(err)
			}
			if err := f.store.DB().Exec("UPDATE licenses SET key_hash = ? WHERE id = ?", licensing.SecretHash(legacy.Key), legacy.ID).Error; err != nil {
				t.Fatal(err)
			}
			type call struct {
				name string
				key  string
				fp   string
				want licensing.Code
				val  string // Validate's code
			}
			cases := []call{
				{"valid", active.Key, "fingerprint-a", "", "valid"},
				{"legacy hash", legacy.Key, "fingerprint-a", "", "valid"},
				{"unknown key", "NZL-AAAAAA-BBBBBB-CCCCCC-DDDDDD-EEEEEE", "fingerprint-a", licensing.ENotFound, "not_found"},
				{"no seat", active.Key, "fingerprint-z", licensing.ENotActivated, "not_activated"},
				{"blocked machine", active.Key, "fingerprint-blocked", licensing.EMachineBlocked, "not_activated"},
				{"suspended", suspended.Key, "fingerprint-a", licensing.ELicenseSuspended, "suspended"},
			}
			check := func(cases []call) {
				t.Helper()
				for _, c := range cases {
					_, err := f.svc.Leasing.Renew(ctx, req(c.key, c.fp))
					if licensing.ErrorCode(err) != c.want {
						t.Errorf("%s: renew: %v, want %q", c.name, err, c.want)
					}
					_, _, err = f.svc.Leasing.Heartbeat(ctx, req(c.key, c.fp))
					if licensing.ErrorCode(err) != c.want {
						t.Errorf("%s: heartbeat: %v, want %q", c.name, err, c.want)
					}
					v, err := f.svc.Leasing.Validate(ctx, c.key, c.fp)
					if err != nil || v.Code != c.val {
						t.Errorf("%s: validate: %+v, %v; want %s", c.name, v, err, c.val)
					}
				}
			}
			check(cases)
			if h := keyHashOf(t, f.store, legacy.ID); h == licensing.SecretHash(legacy.Key) {
				t.Error("the legacy hash was not migrated on first use")
			}
			// A disabled customer refuses every license of it.
			disabled := licensing.CustomerDisabled
			if _, err := f.svc.Customers.UpdateCustomer(ctx, f.cust.ID, licensing.CustomerPatch{Status: &disabled}); err != nil {
				t.Fatal(err)
			}
			check([]call{{"disabled customer", active.Key, "fingerprint-a", licensing.EForbidden, "suspended"}})
		})
	}
}
