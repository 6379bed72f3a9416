package licensing_test

import (
	"context"
	"testing"
	"time"

	"github.com/nzilacode/narcidicontrole/licensing"
	"github.com/nzilacode/narcidicontrole/storage/storagetest"
)

// What each expiry action makes of a license past its expiry and grace:
// the answer of CheckUsable, the lease's end, and what the expiry scan
// records.
func TestExpiryActions(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	past, soon := now.Add(-2*time.Hour), now.Add(30*time.Minute)
	for _, c := range []struct {
		action licensing.ExpiryAction
		code   licensing.Code
		capped bool // a lease issued before expiry ends with the license
	}{
		{licensing.ExpiryRestrict, licensing.ELicenseExpired, true},
		{licensing.ExpiryAllow, "", false},
		{licensing.ExpiryRevoke, licensing.ELicenseRevoked, true},
		{licensing.ExpiryMaintain, "", false},
	} {
		t.Run(string(c.action), func(t *testing.T) {
			pol := &licensing.Policy{ExpiryAction: c.action, GraceSeconds: 3600}
			lic := &licensing.License{Status: licensing.LicenseActive, ExpiresAt: &past}
			if got := licensing.ErrorCode(lic.Check(pol, now)); got != c.code {
				t.Fatalf("check: %q, want %q", got, c.code)
			}
			if pol.EndsAtExpiry() != c.capped {
				t.Fatalf("ends at expiry: %v", pol.EndsAtExpiry())
			}
			lic.ExpiresAt = &soon
			if err := lic.Check(pol, now); err != nil {
				t.Fatalf("before expiry: %v", err)
			}
			if u := lic.UpdatesUntil(pol); (u != nil) != (c.action == licensing.ExpiryMaintain) {
				t.Fatalf("updates until: %v", u)
			}
		})
	}
}

// The expiry scan revokes the licenses of a revoking policy, and expires
// the others; a maintaining license still renews its lease.
func TestExpiryScanByAction(t *testing.T) {
	t.Parallel()
	for _, d := range storagetest.Dialects {
		t.Run(d, func(t *testing.T) {
			ctx := context.Background()
			f := newFixture(t, d, licensing.PolicyInput{DurationSeconds: 86400, LeaseTTLSeconds: 3600, ExpiryAction: licensing.ExpiryRevoke})
			revoking := f.license(t, licensing.LicenseInput{})
			maintain, err := f.svc.Catalog.CreatePolicy(ctx, licensing.PolicyInput{ProductID: f.policy.ProductID, Name: "M", DurationSeconds: 86400,
				LeaseTTLSeconds: 3600, ExpiryAction: licensing.ExpiryMaintain})
			if err != nil {
				t.Fatal(err)
			}
			kept, err := f.svc.Licenses.CreateLicense(ctx, licensing.LicenseInput{PolicyID: maintain.ID, CustomerID: f.cust.ID})
			if err != nil {
				t.Fatal(err)
			}
			for _, l := range []*licensing.CreatedLicense{revoking, kept} {
				if _, err := f.svc.Leasing.Activate(ctx, req(l.Key, "fingerprint-1")); err != nil {
					t.Fatal(err)
				}
			}
			f.clock.Add(48 * time.Hour)
			if _, err := f.svc.Automation.ScanExpiry(ctx); err != nil {
				t.Fatal(err)
			}
			got, err := f.svc.Licenses.License(ctx, revoking.ID)
			if err != nil || got.Status != licensing.LicenseRevoked || got.StatusReason != "revoked at expiry" {
				t.Fatalf("revoking policy: %+v %v", got, err)
			}
			_, err = f.svc.Leasing.Renew(ctx, req(revoking.Key, "fingerprint-1"))
			wantCode(t, err, licensing.ELicenseRevoked)
			g, err := f.svc.Leasing.Renew(ctx, req(kept.Key, "fingerprint-1"))
			if err != nil {
				t.Fatalf("maintain renews past expiry: %v", err)
			}
			if !g.ExpiresAt.After(f.clock.Now()) {
				t.Fatalf("maintain lease ends %v", g.ExpiresAt)
			}
			_, err = f.svc.Catalog.CreatePolicy(ctx, licensing.PolicyInput{ProductID: f.policy.ProductID, Name: "X", ExpiryAction: "forever"})
			wantField(t, err, "expiry_action")
		})
	}
}
