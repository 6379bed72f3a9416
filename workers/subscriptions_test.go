package workers_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/nzilacode/narcidicontrole/licensing"
	"github.com/nzilacode/narcidicontrole/licensing/subscription"
	"github.com/nzilacode/narcidicontrole/storage"
	"github.com/nzilacode/narcidicontrole/storage/storagetest"
	"github.com/nzilacode/narcidicontrole/workers"
	"github.com/nzilacode/narcidicontrole/workers/workerstest"
)

// subscriptionService is a subscription service over st and svc on the
// world's clock.
func subscriptionService(t *testing.T, w *world, st *storage.Store, svc *licensing.Services) *subscription.Service {
	t.Helper()
	s, err := subscription.NewService(subscription.Config{Store: st.Subscriptions(), Licenses: svc.Licenses, Customers: svc.Customers, Clock: w.clock.Now})
	must(t, err)
	return s
}

// pastDueSubscriptions makes n generic-provider subscriptions under a
// policy with a one-day dunning window, each with a failed payment now;
// it returns their license ids.
func pastDueSubscriptions(t *testing.T, w *world, subs *subscription.Service, n int) []string {
	t.Helper()
	pol, err := w.svc.Catalog.CreatePolicy(ctx, licensing.PolicyInput{ProductID: w.policy.ProductID, Name: "Monthly", MaxMachines: 1,
		Metadata: map[string]string{licensing.MetaDunningDays: "1"}})
	must(t, err)
	now := w.clock.Now()
	var lids []string
	for i := range n {
		sid := fmt.Sprintf("gsub_%d", i)
		out, err := subs.Apply(ctx, subscription.ProviderEvent{Provider: "generic", ID: "evt_c" + sid, Kind: subscription.KindSubscription, Created: now.Add(-time.Hour),
			Subscription: &subscription.ProviderSubscription{ID: sid, CustomerID: "gcus_1", PolicyID: pol.ID, Status: subscription.Active,
				PeriodStart: now.Add(-time.Hour), PeriodEnd: now.Add(30 * day)}})
		must(t, err)
		_, err = subs.Apply(ctx, subscription.ProviderEvent{Provider: "generic", ID: "evt_f" + sid, Kind: subscription.KindPaymentFailed, Created: now,
			Invoice: &subscription.ProviderInvoice{ID: "in_" + sid, SubscriptionID: sid}})
		must(t, err)
		s, err := subs.Subscription(ctx, out.SubscriptionID)
		must(t, err)
		if s.Status != subscription.PastDue {
			t.Fatalf("subscription %s is %s, want past_due", s.ID, s.Status)
		}
		lids = append(lids, s.LicenseIDs...)
	}
	return lids
}

func countActions(t *testing.T, w *world, action string) int {
	t.Helper()
	evs, err := w.svc.Notifications.Events(ctx, licensing.EventFilter{Action: action}, licensing.Page{Limit: 200})
	must(t, err)
	return len(evs)
}

// TestSubscriptionSweepIsScheduled: the sweep is a periodic task of its own
// on the scans' schedule, in-process and on asynq: once a dunning window
// ends, the licenses are suspended without anybody running it by hand, and
// the webhooks follow.
func TestSubscriptionSweepIsScheduled(t *testing.T) {
	t.Parallel()
	for _, mode := range []string{"local-sqlite", "asynq-postgres"} {
		t.Run(mode, func(t *testing.T) {
			dialect := map[string]string{"local-sqlite": "sqlite", "asynq-postgres": "postgres"}[mode]
			st := storagetest.Open(t, dialect)
			w := newWorld(t, st, []string{licensing.ActionSubscriptionSuspended, licensing.ActionLicenseSuspended}, nil)
			subs := subscriptionService(t, w, st, w.svc)
			lids := pastDueSubscriptions(t, w, subs, 1)
			cfg := w.config()
			cfg.Schedules.Scans = "@every 1s"
			cfg.SubscriptionSweep = subs.Sweep
			if mode == "local-sqlite" {
				startLocal(t, cfg)
			} else {
				startWorker(t, cfg, redisClient(t, storagetest.RedisAddr(), storagetest.RedisDB(t)))
			}
			// Within the window: the sweeps that run change nothing.
			time.Sleep(1500 * time.Millisecond)
			if l, _ := w.svc.Licenses.License(ctx, lids[0]); l.Status != licensing.LicenseActive {
				t.Fatalf("suspended within the dunning window: %s", l.Status)
			}
			w.clock.Add(day + time.Minute)
			workerstest.WaitFor(t, "the scheduled sweep to suspend the license", func() bool {
				l, _ := w.svc.Licenses.License(ctx, lids[0])
				return l.Status == licensing.LicenseSuspended
			})
			workerstest.WaitFor(t, "the webhooks", func() bool { return len(w.hook.Received()) == 2 })
			got := map[string]int{}
			for _, a := range actions(w.hook.Received()) {
				got[a]++
			}
			if got[licensing.ActionSubscriptionSuspended] != 1 || got[licensing.ActionLicenseSuspended] != 1 {
				t.Fatalf("webhooks %v", got)
			}
		})
	}
}

// TestConcurrentSweepsSuspendOnce runs four sweeps at once (on PostgreSQL
// through two asynq workers with their own database pools) over twenty subscriptions whose
// dunning window ended: each license is suspended once, with one event per
// license and per subscription, and a later sweep finds nothing to do.
func TestConcurrentSweepsSuspendOnce(t *testing.T) {
	t.Parallel()
	for _, dialect := range storagetest.Dialects {
		t.Run(dialect, func(t *testing.T) {
			open := func() *storage.Store { return storagetest.Open(t, dialect) }
			var st1, st2 *storage.Store
			if dialect == "postgres" {
				url := storagetest.MigratedPostgresURL(t)
				open = func() *storage.Store {
					st, err := storage.Open(ctx, storage.Config{DatabaseURL: url})
					must(t, err)
					t.Cleanup(func() { _ = st.Close() })
					must(t, st.Migrate(ctx))
					return st
				}
				st1, st2 = open(), open()
			} else {
				st1 = open()
				st2 = st1 // one SQLite file has one writer: a second pool adds nothing
			}
			w := newWorld(t, st1, []string{licensing.ActionLicenseSuspended}, nil)
			subs1 := subscriptionService(t, w, st1, w.svc)
			svc2 := licensing.NewServices(storage.Stores(st2), licensing.Deps{Clock: w.clock.Now, Issuer: "test", Box: w.box, AllowPrivate: true})
			subs2 := subscriptionService(t, w, st2, svc2)
			lids := pastDueSubscriptions(t, w, subs1, 20)
			cfg1, cfg2 := w.config(), w.config()
			cfg1.SubscriptionSweep = subs1.Sweep
			cfg2.Notifications, cfg2.Automation, cfg2.SubscriptionSweep = svc2.Notifications, svc2.Automation, subs2.Sweep
			var r1, r2 runner
			if dialect == "postgres" {
				db := storagetest.RedisDB(t)
				r1, r2 = startWorker(t, cfg1, redisClient(t, storagetest.RedisAddr(), db)), startWorker(t, cfg2, redisClient(t, storagetest.RedisAddr(), db))
			} else {
				// Local is one process's runner (two on one database would
				// each relay the outbox): the four sweeps run on it at once.
				r1 = startLocal(t, cfg1)
				r2 = r1
			}
			w.clock.Add(day + time.Minute)
			var wg sync.WaitGroup
			for _, r := range []runner{r1, r2, r1, r2} {
				wg.Go(func() {
					if err := r.Run(ctx, workers.TypeSubscriptionSweep); err != nil {
						t.Error(err)
					}
				})
			}
			wg.Wait()
			for _, id := range lids {
				if l, err := w.svc.Licenses.License(ctx, id); err != nil || l.Status != licensing.LicenseSuspended {
					t.Fatalf("license %s: %v %v", id, l, err)
				}
			}
			if n := countActions(t, w, licensing.ActionLicenseSuspended); n != 20 {
				t.Errorf("%d license.suspended events, want 20", n)
			}
			if n := countActions(t, w, licensing.ActionSubscriptionSuspended); n != 20 {
				t.Errorf("%d subscription.suspended events, want 20", n)
			}
			if n, err := subs2.Sweep(ctx); err != nil || n != 0 {
				t.Errorf("a later sweep changed %d (%v), want nothing", n, err)
			}
			w.settle()
			if ids, dups := uniqueIDs(w.hook.Received()); len(ids) != 20 || dups != 0 {
				t.Errorf("receiver got %d distinct webhooks (%d duplicates), want 20", len(ids), dups)
			}
		})
	}
}
