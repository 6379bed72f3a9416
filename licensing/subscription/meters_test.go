package subscription_test

import (
	"context"
	"testing"
	"time"

	"github.com/nzilacode/narcidicontrole/licensing"
	"github.com/nzilacode/narcidicontrole/licensing/subscription"
	"github.com/nzilacode/narcidicontrole/storage/storagetest"
)

// Each new subscription period starts a new period of the governed
// licenses' meters (uses back to 0, total kept); the same period applied
// again resets nothing.
func TestNewPeriodResetsMeters(t *testing.T) {
	t.Parallel()
	const day = 24 * time.Hour
	for _, d := range storagetest.Dialects {
		t.Run(d, func(t *testing.T) {
			ctx := context.Background()
			now := time.Now().UTC().Truncate(time.Second)
			e := newEnv(t, d, now)
			pol, err := e.svc.Catalog.CreatePolicy(ctx, licensing.PolicyInput{ProductID: e.prod.ID, Name: "Monthly", MaxMachines: 1, LeaseTTLSeconds: 3600})
			if err != nil {
				t.Fatal(err)
			}
			ps := subscription.ProviderSubscription{ID: "g_1", CustomerID: "gc", PolicyID: pol.ID, Status: subscription.Active, PeriodStart: now, PeriodEnd: now.Add(30 * day)}
			out, err := e.subs.Apply(ctx, subscription.ProviderEvent{Provider: "generic", ID: "e1", Kind: subscription.KindSubscription, Created: now, Subscription: &ps})
			if err != nil {
				t.Fatal(err)
			}
			sub, err := e.subs.Subscription(ctx, out.SubscriptionID)
			if err != nil {
				t.Fatal(err)
			}
			lic := sub.LicenseIDs[0]
			m, err := e.svc.Metering.CreateMeter(ctx, lic, licensing.MeterInput{MaxUses: 10})
			if err != nil {
				t.Fatal(err)
			}
			// Uses counted in the first period (by the store: the license
			// key of a provider's license is not known here).
			if err := e.st.AddUses(ctx, m.ID, 7, true, now); err != nil {
				t.Fatal(err)
			}
			e.clock.Add(30 * day)
			for i, id := range []string{"e2", "e3"} {
				ps.PeriodStart, ps.PeriodEnd = now.Add(30*day), now.Add(60*day)
				if _, err := e.subs.Apply(ctx, subscription.ProviderEvent{Provider: "generic", ID: id, Kind: subscription.KindSubscription,
					Created: now.Add(30*day + time.Duration(i)*time.Minute), Subscription: &ps}); err != nil {
					t.Fatal(err)
				}
				got, err := e.svc.Metering.Meter(ctx, m.ID)
				if err != nil {
					t.Fatal(err)
				}
				// The replayed period (e3) keeps the 2 uses spent since.
				wantUses, wantTotal := []int64{0, 2}[i], []int64{7, 9}[i]
				if got.Uses != wantUses || got.Total != wantTotal || !got.PeriodStart.Equal(ps.PeriodStart) {
					t.Fatalf("after period event %s: %+v, want uses %d total %d", id, got, wantUses, wantTotal)
				}
				if i == 0 {
					if err := e.st.AddUses(ctx, m.ID, 2, true, now); err != nil {
						t.Fatal(err)
					}
				}
			}
		})
	}
}
