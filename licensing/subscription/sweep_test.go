package subscription_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/nzilacode/narcidicontrole/licensing"
	"github.com/nzilacode/narcidicontrole/licensing/subscription"
	"github.com/nzilacode/narcidicontrole/storage/storagetest"
)

// Finding 5: 205 converted trials that keep their trial_end, and 205
// trials due a notice, sort before a past-due subscription whose dunning
// window ended; the sweep still reaches it (it selects only what is due,
// and pages through all of that).
func TestSweepDoesNotStarve(t *testing.T) {
	t.Parallel()
	for _, d := range storagetest.Dialects {
		t.Run(d, func(t *testing.T) {
			ctx := context.Background()
			now := time.Now().UTC().Truncate(time.Second)
			e := newEnv(t, d, now)
			st, svc, subs, prod := e.st, e.svc, e.subs, e.prod
			pol, err := svc.Catalog.CreatePolicy(ctx, licensing.PolicyInput{ProductID: prod.ID, Name: "Monthly", MaxMachines: 1, LeaseTTLSeconds: 3600})
			if err != nil {
				t.Fatal(err)
			}
			cus, _ := svc.Customers.CreateCustomer(ctx, licensing.CustomerInput{Name: "A"})
			lic, err := svc.Licenses.CreateLicense(ctx, licensing.LicenseInput{PolicyID: pol.ID, CustomerID: cus.ID})
			if err != nil {
				t.Fatal(err)
			}
			past, end := now.Add(-30*24*time.Hour), now.Add(24*time.Hour)
			for i := range 205 {
				// Converted: active, its trial over long ago, the notice sent.
				s := &subscription.Subscription{ID: fmt.Sprintf("00000000-0000-4000-8000-%012d", i), CustomerID: cus.ID, PolicyID: pol.ID,
					Interval: subscription.Month, Status: subscription.Active, TrialEnd: &past, TrialNoticeAt: &past, CurrentPeriodEnd: &end,
					PaidThrough: &end, Provider: subscription.ProviderStripe, ProviderSubscriptionID: fmt.Sprintf("sub_%d", i), LicenseIDs: []string{},
					CreatedAt: now, UpdatedAt: now}
				if err := st.Subscriptions().CreateSubscription(ctx, s); err != nil {
					t.Fatal(err)
				}
			}
			soon := now.Add(24 * time.Hour)
			for i := range 205 {
				s := &subscription.Subscription{ID: fmt.Sprintf("10000000-0000-4000-8000-%012d", i), CustomerID: cus.ID, PolicyID: pol.ID,
					Interval: subscription.Month, Status: subscription.Trialing, TrialEnd: &soon, CurrentPeriodEnd: &soon,
					Provider: subscription.ProviderStripe, ProviderSubscriptionID: fmt.Sprintf("sub_t%d", i), LicenseIDs: []string{},
					CreatedAt: now, UpdatedAt: now}
				if err := st.Subscriptions().CreateSubscription(ctx, s); err != nil {
					t.Fatal(err)
				}
			}
			ended := now.Add(-time.Hour)
			due := &subscription.Subscription{ID: "ffffffff-0000-4000-8000-000000000000", CustomerID: cus.ID, PolicyID: pol.ID, Interval: subscription.Month,
				Status: subscription.PastDue, PastDueSince: &past, DunningEndsAt: &ended, DunningNoticeAt: &past, CurrentPeriodEnd: &end,
				Provider: subscription.ProviderStripe, ProviderSubscriptionID: "sub_due", LicenseIDs: []string{lic.ID}, CreatedAt: now, UpdatedAt: now}
			if err := st.Subscriptions().CreateSubscription(ctx, due); err != nil {
				t.Fatal(err)
			}
			if _, err := subs.Sweep(ctx); err != nil {
				t.Fatal(err)
			}
			got, err := subs.Subscription(ctx, due.ID)
			if err != nil {
				t.Fatal(err)
			}
			l, _ := svc.Licenses.License(ctx, lic.ID)
			if !got.LicensesSuspended || l.Status != licensing.LicenseSuspended {
				t.Fatalf("past due after its window: suspended %t, license %s", got.LicensesSuspended, l.Status)
			}
		})
	}
}
