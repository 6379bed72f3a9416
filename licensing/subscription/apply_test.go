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

// The rule applied, as a table on both databases: a subscription brought
// to a provider state (after an active first period), its license out.
func TestApplyStates(t *testing.T) {
	t.Parallel()
	const day = 24 * time.Hour
	for _, d := range storagetest.Dialects {
		t.Run(d, func(t *testing.T) {
			ctx := context.Background()
			now := time.Now().UTC().Truncate(time.Second)
			e := newEnv(t, d, now)
			svc, subs, prod := e.svc, e.subs, e.prod
			pol, err := svc.Catalog.CreatePolicy(ctx, licensing.PolicyInput{ProductID: prod.ID, Name: "Monthly", MaxMachines: 1, LeaseTTLSeconds: 3600,
				Metadata: map[string]string{licensing.MetaDunningDays: "3"}})
			if err != nil {
				t.Fatal(err)
			}
			end, next := now.Add(30*day), now.Add(60*day)
			at := func(t time.Time) *time.Time { return &t }
			for i, c := range []struct {
				name    string
				ps      subscription.ProviderSubscription
				status  subscription.Status
				license licensing.LicenseStatus
				expires time.Time // zero: not checked
			}{
				{"renewed", subscription.ProviderSubscription{Status: subscription.Active, PeriodStart: end, PeriodEnd: next},
					subscription.Active, licensing.LicenseActive, next},
				{"cancel date", subscription.ProviderSubscription{Status: subscription.Active, PeriodStart: now, PeriodEnd: end, CancelAt: at(now.Add(5 * day))},
					subscription.Active, licensing.LicenseActive, now.Add(5 * day)},
				{"past due", subscription.ProviderSubscription{Status: subscription.PastDue, PeriodStart: now, PeriodEnd: end},
					subscription.PastDue, licensing.LicenseActive, now.Add(time.Minute + 3*day)},
				{"unpaid", subscription.ProviderSubscription{Status: subscription.Unpaid, PeriodStart: now, PeriodEnd: end},
					subscription.Unpaid, licensing.LicenseSuspended, time.Time{}},
				{"canceled early", subscription.ProviderSubscription{Status: subscription.Canceled, PeriodStart: now, PeriodEnd: end, EndedAt: at(now)},
					subscription.Canceled, licensing.LicenseExpired, time.Time{}},
				{"paused", subscription.ProviderSubscription{Status: subscription.Paused, PeriodStart: now, PeriodEnd: end},
					subscription.Paused, licensing.LicenseExpired, time.Time{}},
			} {
				t.Run(c.name, func(t *testing.T) {
					sid := fmt.Sprintf("g_%d", i)
					first := subscription.ProviderSubscription{ID: sid, CustomerID: "gc", PolicyID: pol.ID, Status: subscription.Active, PeriodStart: now, PeriodEnd: end}
					out, err := subs.Apply(ctx, subscription.ProviderEvent{Provider: "generic", ID: sid + "_1", Kind: subscription.KindSubscription, Created: now, Subscription: &first})
					if err != nil {
						t.Fatal(err)
					}
					ps := c.ps
					ps.ID, ps.CustomerID, ps.PolicyID = sid, "gc", pol.ID
					if _, err := subs.Apply(ctx, subscription.ProviderEvent{Provider: "generic", ID: sid + "_2", Kind: subscription.KindSubscription,
						Created: now.Add(time.Minute), Subscription: &ps}); err != nil {
						t.Fatal(err)
					}
					s, _ := subs.Subscription(ctx, out.SubscriptionID)
					l, _ := svc.Licenses.License(ctx, s.LicenseIDs[0])
					if s.Status != c.status || l.Status != c.license || (!c.expires.IsZero() && (l.ExpiresAt == nil || !l.ExpiresAt.Equal(c.expires))) {
						t.Fatalf("subscription %s, license %s expiring %v; want %s, %s, %v", s.Status, l.Status, l.ExpiresAt, c.status, c.license, c.expires)
					}
				})
			}
		})
	}
}
