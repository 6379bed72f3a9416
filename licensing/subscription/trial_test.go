package subscription_test

import (
	"context"
	"testing"
	"time"

	"github.com/nzilacode/narcidicontrole/licensing"
	"github.com/nzilacode/narcidicontrole/licensing/subscription"
	"github.com/nzilacode/narcidicontrole/storage/storagetest"
)

// One trial per fingerprint per product, and a trial whose clock starts at
// first activation ends trial_seconds after that activation.
func TestTrials(t *testing.T) {
	t.Parallel()
	for _, d := range storagetest.Dialects {
		t.Run(d, func(t *testing.T) {
			ctx := context.Background()
			e := newEnv(t, d, time.Now().UTC().Truncate(time.Second))
			clock, svc, subs, prod := e.clock, e.svc, e.subs, e.prod
			pol, err := svc.Catalog.CreatePolicy(ctx, licensing.PolicyInput{ProductID: prod.ID, Name: "Trial", MaxMachines: 1, LeaseTTLSeconds: 3600,
				Metadata: map[string]string{licensing.MetaTrialSeconds: "86400", licensing.MetaTrialStart: licensing.TrialFromActivation}})
			if err != nil {
				t.Fatal(err)
			}
			cus, _ := svc.Customers.CreateCustomer(ctx, licensing.CustomerInput{Name: "A"})
			first, err := subs.Create(ctx, subscription.CreateInput{CustomerID: cus.ID, PolicyID: pol.ID, Interval: subscription.Month})
			if err != nil {
				t.Fatal(err)
			}
			if l, _ := svc.Licenses.License(ctx, first.LicenseIDs[0]); l.ExpiresAt != nil {
				t.Fatalf("the clock started before activation: %v", l.ExpiresAt)
			}
			clock.Add(5 * time.Hour)
			activatedAt := clock.Now()
			if _, err := svc.Leasing.Activate(ctx, licensing.MachineRequest{Key: first.LicenseKey, Fingerprint: "fingerprint-A"}); err != nil {
				t.Fatal(err)
			}
			l, _ := svc.Licenses.License(ctx, first.LicenseIDs[0])
			if want := activatedAt.Add(24 * time.Hour); l.ExpiresAt == nil || !l.ExpiresAt.Equal(want) {
				t.Fatalf("trial ends %v, want %v", l.ExpiresAt, want)
			}
			// Activating again on the same license is fine; a second trial is not.
			if _, err := svc.Leasing.Activate(ctx, licensing.MachineRequest{Key: first.LicenseKey, Fingerprint: "fingerprint-A"}); err != nil {
				t.Fatal(err)
			}
			second, err := subs.Create(ctx, subscription.CreateInput{CustomerID: cus.ID, PolicyID: pol.ID, Interval: subscription.Month})
			if err != nil {
				t.Fatal(err)
			}
			_, err = svc.Leasing.Activate(ctx, licensing.MachineRequest{Key: second.LicenseKey, Fingerprint: "fingerprint-A"})
			if licensing.ErrorCode(err) != licensing.ETrialUsed {
				t.Fatalf("second trial: %v, want %s", err, licensing.ETrialUsed)
			}
			clock.Add(24*time.Hour + time.Second)
			_, err = svc.Leasing.Renew(ctx, licensing.MachineRequest{Key: first.LicenseKey, Fingerprint: "fingerprint-A"})
			if licensing.ErrorCode(err) != licensing.ELicenseExpired {
				t.Fatalf("renew after the trial: %v", err)
			}
		})
	}
}
