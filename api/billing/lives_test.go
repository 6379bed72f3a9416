package billing_test

import (
	"context"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/nzilacode/narcidicontrole/api/billing"
	"github.com/nzilacode/narcidicontrole/licensing"
	"github.com/nzilacode/narcidicontrole/licensing/subscription"
	"github.com/nzilacode/narcidicontrole/storage/storagetest"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// Whole lives of Stripe subscriptions, replayed through the HTTP handler
// and real storage, in both API shapes.

func (w *world) customerObj(name, email string) map[string]any {
	cu := fixture(w.t, "customer")
	cu["id"], cu["name"], cu["email"] = "cus_1", name, email
	return cu
}

func (w *world) hasAction(action string) bool {
	return contains(w.actions(w.theSub().ID), action)
}

// A checkout's events in every order Stripe may deliver them, each refused
// one delivered again later (as Stripe does): the end state is the same.
func TestStripeCheckoutShuffled(t *testing.T) {
	t.Parallel()
	for _, d := range storagetest.Dialects {
		for _, shape := range shapes {
			for round := range 4 {
				t.Run(d+"/"+shape+"/"+string(rune('a'+round)), func(t *testing.T) {
					w := newWorld(t, d, shape)
					now := w.clock.Now()
					end := now.Add(30 * day)
					type ev struct {
						typ string
						obj map[string]any
					}
					evs := []ev{
						{"customer.created", w.customerObj("Acme Lda", "billing@acme.example")},
						{"customer.subscription.created", w.subscription(subState{status: "incomplete", start: now, end: end})},
						{"invoice.paid", w.invoice("in_1", 2000, "subscription_create", line{start: now, end: end})},
						{"customer.subscription.updated", w.subscription(subState{status: "active", start: now, end: end})},
					}
					// Stripe stamps each event with its own time.
					bodies := map[int][]byte{}
					for i, e := range evs {
						bodies[i] = w.signedBody(e.typ, e.obj, now.Add(time.Duration(i)*time.Second))
					}
					order := rand.New(rand.NewPCG(uint64(round), 21)).Perm(len(evs))
					pending := order
					for tries := 0; len(pending) > 0; tries++ {
						if tries > 10 {
							t.Fatalf("events never applied: %v", pending)
						}
						var again []int
						for _, i := range pending {
							if code, _ := w.post(bodies[i], secret, time.Now()); code != 200 {
								again = append(again, i)
							}
						}
						pending = again
					}
					s := w.theSub()
					if s.Status != subscription.Active {
						t.Fatalf("order %v: status %s", order, s.Status)
					}
					w.expiresAt(end)
					c, _ := w.svc.Customers.Customer(context.Background(), s.CustomerID)
					if c.Name != "Acme Lda" || c.Email != "billing@acme.example" {
						t.Fatalf("order %v: customer %q %q", order, c.Name, c.Email)
					}
				})
			}
		}
	}
}

// Failed payments through recovery, and through cancellation.
func TestStripeDunningLives(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, w *world) {
		now := w.clock.Now()
		p1, p2 := now.Add(30*day), now.Add(60*day)
		w.ok("customer.subscription.created", w.subscription(subState{status: "active", start: now, end: p1}))
		w.clock.Set(p1.Add(time.Hour))
		w.ok("customer.subscription.updated", w.subscription(subState{status: "active", start: p1, end: p2}))
		w.ok("invoice.payment_failed", w.invoice("in_2", 0, "subscription_cycle", line{start: p1, end: p2}))
		w.clock.Add(time.Second)
		w.ok("customer.subscription.updated", w.subscription(subState{status: "past_due", start: p1, end: p2}))
		if s := w.theSub(); s.Status != subscription.PastDue {
			t.Fatalf("status %s", s.Status)
		}
		w.clock.Add(4 * day)
		w.sweep()
		if l := w.theLicense(); l.Status != licensing.LicenseSuspended {
			t.Fatalf("after the window: %s", l.Status)
		}
		// Paid at last: reinstated, running to the new period.
		w.clock.Add(time.Hour)
		w.ok("invoice.paid", w.invoice("in_2", 2000, "subscription_cycle", line{start: p1, end: p2}))
		w.clock.Add(time.Second)
		w.ok("customer.subscription.updated", w.subscription(subState{status: "active", start: p1, end: p2}))
		if l := w.theLicense(); l.Status != licensing.LicenseActive {
			t.Fatalf("after payment: %s", l.Status)
		}
		w.expiresAt(p2)
		// A past_due state from before the payment, delivered late, does
		// not reopen dunning.
		late := w.signedBody("customer.subscription.updated", w.subscription(subState{status: "past_due", start: p1, end: p2}), p1.Add(2*time.Hour))
		if code, out := w.post(late, secret, time.Now()); code != 200 {
			t.Fatalf("late past_due: %d %v", code, out)
		}
		if s := w.theSub(); s.Status != subscription.Active || s.PastDueSince != nil {
			t.Fatalf("late past_due reopened dunning: %+v", s)
		}
	})
}

func TestStripeDunningToCancellation(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, w *world) {
		now := w.clock.Now()
		p1, p2 := now.Add(30*day), now.Add(60*day)
		w.ok("customer.subscription.created", w.subscription(subState{status: "active", start: now, end: p1}))
		w.clock.Set(p1.Add(time.Hour))
		w.ok("invoice.payment_failed", w.invoice("in_2", 0, "subscription_cycle", line{start: p1, end: p2}))
		w.clock.Add(time.Second)
		w.ok("customer.subscription.updated", w.subscription(subState{status: "past_due", start: p1, end: p2}))
		w.clock.Add(2 * day)
		w.ok("customer.subscription.updated", w.subscription(subState{status: "unpaid", start: p1, end: p2}))
		if l := w.theLicense(); l.Status != licensing.LicenseSuspended {
			t.Fatalf("unpaid: license %s", l.Status)
		}
		w.clock.Add(day)
		w.ok("customer.subscription.deleted", w.subscription(subState{status: "canceled", start: p1, end: p2, endedAt: w.clock.Now()}))
		if s := w.theSub(); s.Status != subscription.Canceled {
			t.Fatalf("status %s", s.Status)
		}
		if l := w.theLicense(); l.Check(w.solo, w.clock.Now()) == nil {
			t.Fatalf("license still valid: %s", l.Status)
		}
	})
}

// Trials: converted (the $0 invoice keeps it a trial, the notice goes
// out), paused at its end, resumed.
func TestStripeTrialLives(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, w *world) {
		now := w.clock.Now()
		trialEnd := now.Add(14 * day)
		w.ok("customer.subscription.created", w.subscription(subState{status: "trialing", start: now, end: trialEnd, trialEnd: trialEnd}))
		w.ok("invoice.paid", w.invoice("in_0", 0, "subscription_create", line{start: now, end: trialEnd}))
		if s := w.theSub(); s.Status != subscription.Trialing {
			t.Fatalf("the $0 trial invoice made it %s", s.Status)
		}
		w.clock.Add(12 * day)
		w.sweep()
		if !w.hasAction(licensing.ActionTrialEnding) {
			t.Fatal("no trial.ending notice")
		}
		// Paused at the trial's end (no payment method).
		w.clock.Set(trialEnd.Add(time.Minute))
		w.ok("customer.subscription.paused", w.subscription(subState{status: "paused", start: now, end: trialEnd, trialEnd: trialEnd}))
		if l := w.theLicense(); l.Check(w.solo, w.clock.Now()) == nil {
			t.Fatalf("paused trial: license still valid")
		}
		// Resumed: paid, running to the new period.
		next := w.clock.Now().Add(30 * day)
		w.clock.Add(time.Hour)
		w.ok("customer.subscription.resumed", w.subscription(subState{status: "active", start: w.clock.Now(), end: next, trialEnd: trialEnd}))
		w.expiresAt(next)
		if err := w.theLicense().Check(w.solo, w.clock.Now()); err != nil {
			t.Fatalf("resumed: %v", err)
		}
	})
}

// Plan and quantity changes; cancel at period end, then its end.
func TestStripePlanQuantityAndCancelAtPeriodEnd(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, w *world) {
		now := w.clock.Now()
		end := now.Add(30 * day)
		w.ok("customer.subscription.created", w.subscription(subState{status: "active", start: now, end: end}))
		w.clock.Add(time.Hour)
		w.ok("customer.subscription.updated", w.subscription(subState{status: "active", start: now, end: end, price: "price_team", quantity: 4}))
		if s := w.theSub(); s.PolicyID != w.team.ID || s.Seats != 4 {
			t.Fatalf("after upgrade: policy %s seats %d", s.PolicyID, s.Seats)
		}
		if l := w.theLicense(); l.PolicyID != w.team.ID {
			t.Fatalf("license policy %s", l.PolicyID)
		}
		w.clock.Add(time.Hour)
		w.ok("customer.subscription.updated", w.subscription(subState{status: "active", start: now, end: end, price: "price_team", quantity: 4, cancelAtEnd: true}))
		if !w.theSub().CancelAtPeriodEnd {
			t.Fatal("not marked")
		}
		w.expiresAt(end)
		w.clock.Set(end)
		w.ok("customer.subscription.deleted", w.subscription(subState{status: "canceled", start: now, end: end, price: "price_team", quantity: 4, endedAt: end}))
		if s := w.theSub(); s.Status != subscription.Expired {
			t.Fatalf("status %s", s.Status)
		}
	})
}

// Refunds and disputes do what the policy says, and are audited.
func TestStripeRefundAndDispute(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, w *world) {
		ctx := context.Background()
		now := w.clock.Now()
		end := now.Add(30 * day)
		w.ok("customer.subscription.created", w.subscription(subState{status: "active", start: now, end: end}))
		w.ok("invoice.paid", w.invoice("in_1", 2000, "subscription_create", line{start: now, end: end}))
		payRef := "pi_in_1"
		if w.shape == preBasil {
			payRef = "ch_in_1"
		}
		dp := fixture(t, "dispute")
		dp["id"], dp["charge"], dp["payment_intent"] = "dp_1", "ch_in_1", "pi_in_1"
		w.ok("charge.dispute.created", dp)
		if l := w.theLicense(); l.Status != licensing.LicenseSuspended {
			t.Fatalf("dispute (default suspend): %s", l.Status)
		}
		if !w.hasAction(licensing.ActionSubscriptionDisputed) {
			t.Fatal("dispute not audited")
		}
		// A partial refund changes nothing; a full one ends (default).
		ch := fixture(t, "charge")
		ch["id"], ch["payment_intent"], ch["amount"], ch["amount_refunded"], ch["refunded"] = "ch_in_1", "pi_in_1", 2000, 500, false
		_ = payRef
		w.ok("charge.refunded", ch)
		if s := w.theSub(); s.Status != subscription.Active {
			t.Fatalf("partial refund: %s", s.Status)
		}
		nothing := "nothing"
		if _, err := w.svc.Catalog.UpdatePolicy(ctx, w.solo.ID, licensing.PolicyPatch{Metadata: &map[string]string{licensing.MetaRefundAction: nothing}}); err != nil {
			t.Fatal(err)
		}
		ch["amount_refunded"], ch["refunded"] = 2000, true
		w.ok("charge.refunded", ch)
		if s := w.theSub(); s.Status != subscription.Active || !w.hasAction(licensing.ActionSubscriptionRefunded) {
			t.Fatalf("refund with refund_action nothing: %s", s.Status)
		}
		if _, err := w.svc.Catalog.UpdatePolicy(ctx, w.solo.ID, licensing.PolicyPatch{Metadata: &map[string]string{licensing.MetaRefundAction: "end"}}); err != nil {
			t.Fatal(err)
		}
		ch2 := fixture(t, "charge")
		ch2["id"], ch2["payment_intent"], ch2["amount"], ch2["amount_refunded"], ch2["refunded"] = "ch_in_1", "pi_in_1", 2000, 2000, true
		ch2["description"] = "again"
		w.ok("charge.refunded", ch2)
		if s := w.theSub(); s.Status != subscription.Canceled {
			t.Fatalf("full refund with end: %s", s.Status)
		}
	})
}

// Customers follow their provider's updates, not an older event.
func TestStripeCustomerUpdates(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, w *world) {
		now := w.clock.Now()
		w.ok("customer.subscription.created", w.subscription(subState{status: "active", start: now, end: now.Add(30 * day)}))
		w.clock.Add(time.Minute)
		w.ok("customer.updated", w.customerObj("Acme Lda", "new@acme.example"))
		late := w.signedBody("customer.created", w.customerObj("Acme", "old@acme.example"), now)
		if code, _ := w.post(late, secret, time.Now()); code != 200 {
			t.Fatalf("late customer.created: %d", code)
		}
		c, _ := w.svc.Customers.Customer(context.Background(), w.theSub().CustomerID)
		if c.Name != "Acme Lda" || c.Email != "new@acme.example" {
			t.Fatalf("customer %q %q", c.Name, c.Email)
		}
	})
}

// States of one period in the same second apply by their status order,
// an older period never after a newer one; an incomplete subscription's
// failed first payment is answered (not refused forever).
func TestStripeOrdering(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, w *world) {
		now := w.clock.Now()
		p1, p2 := now.Add(30*day), now.Add(60*day)
		w.ok("customer.subscription.created", w.subscription(subState{status: "incomplete", start: now, end: p1}))
		w.ok("invoice.payment_failed", w.invoice("in_1", 0, "subscription_create", line{start: now, end: p1}))
		if s := w.theSub(); s.Status != subscription.Incomplete || len(s.LicenseIDs) != 0 {
			t.Fatalf("incomplete: %+v", s)
		}
		newer := w.signedBody("customer.subscription.updated", w.subscription(subState{status: "active", start: p1, end: p2}), now)
		older := w.signedBody("customer.subscription.updated", w.subscription(subState{status: "active", start: now, end: p1}), now)
		for _, b := range [][]byte{newer, older} {
			if code, out := w.post(b, secret, time.Now()); code != 200 {
				t.Fatalf("%d %v", code, out)
			}
		}
		if s := w.theSub(); !s.CurrentPeriodEnd.Equal(p2) {
			t.Fatalf("period end %v, want %v", s.CurrentPeriodEnd, p2)
		}
		w.expiresAt(p2)
	})
}

// Bad input: a clear answer and nothing applied.
func TestStripeBadInput(t *testing.T) {
	t.Parallel()
	for _, d := range storagetest.Dialects {
		t.Run(d, func(t *testing.T) {
			w := newWorld(t, d, basil, func(c *billing.Config) { c.StripeMode = "live" })
			now := w.clock.Now()
			sub := w.subscription(subState{status: "active", start: now, end: now.Add(30 * day)})
			if code, _ := w.stripe("customer.subscription.created", sub); code != 422 {
				t.Fatalf("a test-mode event on a live endpoint: %d", code)
			}
			w.n++
			if code, _ := w.post([]byte(`{"id": "evt_x", "type": "customer.subscription.created", "data": {"object": `), secret, time.Now()); code != 400 {
				t.Fatalf("malformed: %d", code)
			}
			w2 := newWorld(t, d, preBasil)
			unknown := w2.subscription(subState{status: "active", start: now, end: now.Add(30 * day), price: "price_nobody_sells"})
			if code, _ := w2.stripe("customer.subscription.created", unknown); code != 422 {
				t.Fatalf("unknown price: %d", code)
			}
			noPeriod := w2.subscription(subState{status: "active", start: now, end: now.Add(30 * day)})
			delete(noPeriod, "current_period_end")
			if code, _ := w2.stripe("customer.subscription.created", noPeriod); code != 400 {
				t.Fatalf("no period in either shape: %d", code)
			}
			for _, ww := range []*world{w, w2} {
				list, _ := ww.subs.Subscriptions(context.Background(), subscription.Filter{}, licensing.Page{Limit: 10})
				cs, _ := ww.svc.Customers.Customers(context.Background(), licensing.Page{Limit: 10})
				if len(list) != 0 || len(cs) != 0 {
					t.Fatalf("half-applied: %d subscriptions, %d customers", len(list), len(cs))
				}
			}
		})
	}
}

// Finding 1: an event that cannot be applied is counted by outcome, for
// the alert; an applied one too.
func TestStripeOutcomeMetric(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	m, err := billing.NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	w := newWorld(t, storagetest.Dialects[0], preBasil, func(c *billing.Config) { c.Metrics = m })
	now := w.clock.Now()
	w.ok("customer.subscription.created", w.subscription(subState{status: "active", start: now, end: now.Add(30 * day)}))
	bad := w.invoice("in_x", 2000, "subscription_cycle", line{start: now, end: now.Add(30 * day)})
	delete(bad, "subscription")
	if code, _ := w.stripe("invoice.paid", bad); code != 400 {
		t.Fatalf("unreadable: %d", code)
	}
	for _, c := range []struct {
		typ, outcome string
	}{{"customer.subscription.created", "applied"}, {"invoice.paid", "unreadable"}} {
		var got dto.Metric
		if err := m.Counter("stripe", c.typ, c.outcome).Write(&got); err != nil || got.GetCounter().GetValue() != 1 {
			t.Errorf("%s %s: %v %v", c.typ, c.outcome, got.GetCounter().GetValue(), err)
		}
	}
}
