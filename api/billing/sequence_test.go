package billing_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nzilacode/narcidicontrole/api"
	"github.com/nzilacode/narcidicontrole/api/billing"
	"github.com/nzilacode/narcidicontrole/keys/keystest"
	"github.com/nzilacode/narcidicontrole/licensing"
	"github.com/nzilacode/narcidicontrole/licensing/licensingtest"
	"github.com/nzilacode/narcidicontrole/licensing/subscription"
	"github.com/nzilacode/narcidicontrole/storage"
	"github.com/nzilacode/narcidicontrole/storage/storagetest"
	"github.com/stripe/stripe-go/v82/webhook"
)

// Stripe's own objects (testdata/README.md: from Stripe's published
// OpenAPI fixtures), shaped for one API version by setting fields.

// Shapes of Stripe's API: before 2025-03-31.basil (periods on the
// subscription, the invoice's subscription at its top level) and after.
const (
	preBasil = "2024-12-18.acacia"
	basil    = "2025-03-31.basil"
)

var shapes = []string{preBasil, basil}

func fixture(t *testing.T, name string) map[string]any {
	t.Helper()
	b, err := os.ReadFile("testdata/stripe_" + name + ".json")
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// world is a harness with several plans and Stripe objects to send.
type world struct {
	*harness
	shape string
	solo  *licensing.Policy // 1 seat
	team  *licensing.Policy // 3 seats
}

func newWorld(t *testing.T, dialect, shape string, opts ...func(*billing.Config)) *world {
	start := time.Now().UTC().Truncate(time.Second)
	clock := licensingtest.NewClock(start)
	st := storagetest.Open(t, dialect)
	kr, _ := keystest.Keyring(t, clock.Now)
	svc := licensing.NewServices(storage.Stores(st), licensing.Deps{Signer: kr, Clock: clock.Now, Issuer: "test"})
	ctx := context.Background()
	prod, err := svc.Catalog.CreateProduct(ctx, licensing.ProductInput{Code: "studio", Name: "Studio"})
	if err != nil {
		t.Fatal(err)
	}
	pol := func(name string, seats int) *licensing.Policy {
		p, err := svc.Catalog.CreatePolicy(ctx, licensing.PolicyInput{ProductID: prod.ID, Name: name, MaxMachines: seats, Floating: true,
			LeaseTTLSeconds: 3600, GraceSeconds: 3600, Metadata: map[string]string{licensing.MetaDunningDays: "3"}})
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	solo, team := pol("Solo", 1), pol("Team", 3)
	subs, err := subscription.NewService(subscription.Config{Store: st.Subscriptions(), Licenses: svc.Licenses, Customers: svc.Customers,
		Clock: clock.Now, Prices: map[string]string{"price_monthly": solo.ID, "price_solo": solo.ID, "price_team": team.ID}})
	if err != nil {
		t.Fatal(err)
	}
	cfg := billing.Config{Subscriptions: subs, StripeSecret: secret, GenericSecret: "generic-secret"}
	for _, o := range opts {
		o(&cfg)
	}
	h := billing.New(cfg)
	server := api.New(api.Config{Services: svc, Health: st, Keys: kr, Billing: api.Billing{Subscriptions: subs, Endpoints: h}})
	return &world{harness: &harness{t: t, clock: clock, svc: svc, subs: subs, server: server, policy: solo}, shape: shape, solo: solo, team: team}
}

// subState is what the tests set on Stripe's subscription fixture.
type subState struct {
	status      string
	start, end  time.Time
	price       string // default price_solo
	quantity    int
	trialEnd    time.Time
	cancelAt    time.Time
	endedAt     time.Time
	cancelAtEnd bool
	meta        map[string]string
}

func (w *world) subscription(s subState) map[string]any {
	o := fixture(w.t, "subscription")
	o["id"], o["customer"], o["status"], o["cancel_at_period_end"] = "sub_1", "cus_1", s.status, s.cancelAtEnd
	o["metadata"] = map[string]any{}
	for k, v := range s.meta {
		o["metadata"].(map[string]any)[k] = v
	}
	unix := func(t time.Time) any {
		if t.IsZero() {
			return nil
		}
		return t.Unix()
	}
	o["cancel_at"], o["canceled_at"], o["ended_at"], o["trial_end"], o["trial_start"] = unix(s.cancelAt), unix(s.endedAt), unix(s.endedAt), unix(s.trialEnd), nil
	o["pause_collection"] = nil
	if s.price == "" {
		s.price = "price_solo"
	}
	if s.quantity == 0 {
		s.quantity = 1
	}
	item := o["items"].(map[string]any)["data"].([]any)[0].(map[string]any)
	item["price"].(map[string]any)["id"] = s.price
	item["quantity"] = s.quantity
	item["subscription"] = "sub_1"
	if w.shape == basil {
		item["current_period_start"], item["current_period_end"] = s.start.Unix(), s.end.Unix()
	} else {
		delete(item, "current_period_start")
		delete(item, "current_period_end")
		o["current_period_start"], o["current_period_end"] = s.start.Unix(), s.end.Unix()
	}
	return o
}

// line is an invoice line: the subscription's period, or a proration.
type line struct {
	start, end time.Time
	proration  bool
}

func (w *world) invoice(id string, amount int64, reason string, lines ...line) map[string]any {
	o := fixture(w.t, "invoice")
	o["id"], o["customer"], o["amount_paid"], o["billing_reason"], o["status"] = id, "cus_1", amount, reason, "paid"
	var data []any
	tmpl := o["lines"].(map[string]any)["data"].([]any)[0].(map[string]any)
	for i, l := range lines {
		li := map[string]any{}
		for k, v := range tmpl {
			li[k] = v
		}
		li["id"] = fmt.Sprintf("il_%s_%d", id, i)
		li["invoice"] = id
		li["period"] = map[string]any{"start": l.start.Unix(), "end": l.end.Unix()}
		if w.shape == basil {
			li["parent"] = map[string]any{"type": "subscription_item_details", "invoice_item_details": nil,
				"subscription_item_details": map[string]any{"invoice_item": nil, "proration": l.proration, "proration_details": nil,
					"subscription": "sub_1", "subscription_item": "si_1"}}
			delete(li, "subscription")
		} else {
			delete(li, "parent")
			li["type"], li["proration"], li["subscription"] = "subscription", l.proration, "sub_1"
			if l.proration {
				li["type"] = "invoiceitem"
			}
		}
		data = append(data, li)
	}
	o["lines"].(map[string]any)["data"] = data
	if w.shape == basil {
		o["parent"] = map[string]any{"type": "subscription_details", "quote_details": nil,
			"subscription_details": map[string]any{"metadata": nil, "subscription": "sub_1"}}
		delete(o, "subscription")
		o["payments"] = map[string]any{"object": "list", "data": []any{map[string]any{"payment": map[string]any{"type": "payment_intent", "payment_intent": "pi_" + id}}}}
	} else {
		delete(o, "parent")
		o["subscription"], o["payment_intent"], o["charge"] = "sub_1", "pi_"+id, "ch_"+id
	}
	return o
}

// stripe sends a Stripe event of the world's API version, created at the
// clock's time.
func (w *world) stripe(typ string, obj map[string]any) (int, map[string]any) {
	return w.post(w.signedBody(typ, obj, w.clock.Now()), secret, time.Now())
}

// signedBody is a Stripe event around obj created at created.
func (w *world) signedBody(typ string, obj map[string]any, created time.Time) []byte {
	w.n++
	raw, _ := json.Marshal(obj)
	ev := map[string]any{"id": fmt.Sprintf("evt_%d", w.n), "object": "event", "type": typ, "api_version": w.shape, "livemode": false,
		"created": created.Unix(), "pending_webhooks": 1, "data": map[string]any{"object": json.RawMessage(raw)}}
	b, _ := json.Marshal(ev)
	return b
}

func (w *world) ok(typ string, obj map[string]any) map[string]any {
	w.t.Helper()
	code, out := w.stripe(typ, obj)
	if code != 200 {
		w.t.Fatalf("%s: status %d: %v", typ, code, out)
	}
	return out
}

// theSub is the one subscription of the world (sub_1).
func (w *world) theSub() *subscription.Subscription {
	w.t.Helper()
	list, err := w.subs.Subscriptions(context.Background(), subscription.Filter{Provider: subscription.ProviderStripe}, licensing.Page{Limit: 10})
	if err != nil || len(list) != 1 {
		w.t.Fatalf("subscriptions: %v %v", list, err)
	}
	return &list[0]
}

func (w *world) theLicense() *licensing.License {
	w.t.Helper()
	s := w.theSub()
	if len(s.LicenseIDs) != 1 {
		w.t.Fatalf("licenses of the subscription: %v", s.LicenseIDs)
	}
	return w.license(s.LicenseIDs[0])
}

func (w *world) expiresAt(want time.Time) {
	w.t.Helper()
	l := w.theLicense()
	if l.ExpiresAt == nil || !l.ExpiresAt.Equal(want.UTC().Truncate(time.Second)) {
		w.t.Fatalf("license expires %v, want %v (status %s)", l.ExpiresAt, want.UTC(), l.Status)
	}
}

const day = 24 * time.Hour

func each(t *testing.T, fn func(t *testing.T, w *world)) {
	for _, d := range storagetest.Dialects {
		for _, shape := range shapes {
			t.Run(d+"/"+shape, func(t *testing.T) { fn(t, newWorld(t, d, shape)) })
		}
	}
}

// Finding 1: an older API version's invoice (subscription at the top
// level, periods on the subscription) renews the license; one billed for a
// subscription it does not name is refused, not acknowledged.
func TestStripeBothShapesRenew(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, w *world) {
		now := w.clock.Now()
		p1, p2 := now.Add(30*day), now.Add(61*day)
		w.ok("customer.subscription.created", w.subscription(subState{status: "active", start: now, end: p1}))
		w.expiresAt(p1)
		w.clock.Add(30*day + time.Hour)
		w.ok("invoice.paid", w.invoice("in_2", 2000, "subscription_cycle", line{start: p1, end: p2}))
		w.expiresAt(p2)
		if s := w.theSub(); s.PaidThrough == nil || !s.PaidThrough.Equal(p2) || s.CurrentPeriodEnd.Year() < 2000 {
			t.Fatalf("subscription %+v", s)
		}
		bad := w.invoice("in_3", 2000, "subscription_cycle", line{start: p1, end: p2})
		delete(bad, "subscription")
		bad["parent"] = nil
		if code, out := w.stripe("invoice.paid", bad); code != 400 {
			t.Fatalf("an invoice naming no subscription it was billed for: %d %v", code, out)
		}
	})
}

// Finding 2: the license runs to the provider's trial end or cancel date,
// and ends when the provider ends an unpaid trial.
func TestStripeLicenseFollowsProviderDates(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, w *world) {
		now := w.clock.Now()
		trialEnd := now.Add(14 * day)
		w.ok("customer.subscription.created", w.subscription(subState{status: "trialing", start: now, end: trialEnd, trialEnd: trialEnd}))
		w.expiresAt(trialEnd)
		// The trial ends without a payment method: Stripe deletes it.
		w.clock.Add(14*day + time.Minute)
		w.ok("customer.subscription.deleted", w.subscription(subState{status: "canceled", start: now, end: trialEnd, trialEnd: trialEnd, endedAt: trialEnd}))
		if l := w.theLicense(); l.Check(w.solo, w.clock.Now()) == nil {
			t.Fatalf("license still valid after the trial ended unpaid: %+v", l)
		}
		if s := w.theSub(); s.Status.Valid() && (s.Status == subscription.Active || s.Status == subscription.Trialing) {
			t.Fatalf("subscription %s", s.Status)
		}
	})
}

// Finding 2: a cancel date ends the license then, not a month later.
func TestStripeLicenseRunsToCancelAt(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, w *world) {
		now := w.clock.Now()
		end, cancelAt := now.Add(30*day), now.Add(10*day)
		w.ok("customer.subscription.created", w.subscription(subState{status: "active", start: now, end: end}))
		w.ok("customer.subscription.updated", w.subscription(subState{status: "active", start: now, end: end, cancelAt: cancelAt}))
		w.expiresAt(cancelAt)
	})
}

// Finding 3: a renewal invoice whose first line is a proration renews to
// the subscription line's period; an invoice that changes nothing emits no
// renewal.
func TestStripeRenewalWithProrationFirst(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, w *world) {
		now := w.clock.Now()
		p1, p2 := now.Add(30*day), now.Add(60*day)
		w.ok("customer.subscription.created", w.subscription(subState{status: "active", start: now, end: p1}))
		w.clock.Add(30 * day)
		inv := w.invoice("in_2", 2600, "subscription_cycle", line{start: now.Add(10 * day), end: p1, proration: true}, line{start: p1, end: p2})
		w.ok("invoice.paid", inv)
		w.expiresAt(p2)
		renewed := 0
		for _, a := range w.actions(w.theSub().ID) {
			if a == licensing.ActionSubscriptionRenewed {
				renewed++
			}
		}
		w.ok("invoice.paid", w.invoice("in_3", 600, "subscription_update", line{start: now.Add(20 * day), end: p2, proration: true}))
		after := 0
		for _, a := range w.actions(w.theSub().ID) {
			if a == licensing.ActionSubscriptionRenewed {
				after++
			}
		}
		if renewed != 1 || after != 1 {
			t.Fatalf("renewed events: %d then %d, want 1 and 1", renewed, after)
		}
	})
}

// Finding 4: past due inside the dunning window keeps the license valid
// past its paid-through; the window's end suspends it.
func TestStripeDunningKeepsAccess(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, w *world) {
		now := w.clock.Now()
		end := now.Add(time.Hour)
		w.ok("customer.subscription.created", w.subscription(subState{status: "active", start: now.Add(-30 * day), end: end}))
		w.clock.Add(2 * time.Hour)
		w.ok("invoice.payment_failed", w.invoice("in_2", 0, "subscription_cycle", line{start: end, end: end.Add(30 * day)}))
		w.clock.Add(2 * day) // past paid-through + grace, inside the 3-day window
		if err := w.theLicense().Check(w.solo, w.clock.Now()); err != nil {
			t.Fatalf("license inside the dunning window: %v", err)
		}
		w.clock.Add(day + time.Hour)
		w.sweep()
		if l := w.theLicense(); l.Status != licensing.LicenseSuspended {
			t.Fatalf("after the window: %s", l.Status)
		}
	})
}

// Finding 6: a downgrade below the machines in use is applied and flagged,
// and later states (cancel, resume) apply; an unmapped price applies the
// rest of the state.
func TestStripeDowngradeOverSeats(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, w *world) {
		ctx := context.Background()
		cust, err := w.svc.Customers.CreateCustomer(ctx, licensing.CustomerInput{Name: "Acme"})
		if err != nil {
			t.Fatal(err)
		}
		tr, err := w.subs.Create(ctx, subscription.CreateInput{CustomerID: cust.ID, PolicyID: w.team.ID, Interval: subscription.Month})
		if err != nil {
			t.Fatal(err)
		}
		for i := range 2 {
			if _, err := w.svc.Leasing.Activate(ctx, licensing.MachineRequest{Key: tr.LicenseKey, Fingerprint: fmt.Sprintf("machine-fingerprint-%d", i)}); err != nil {
				t.Fatal(err)
			}
		}
		now := w.clock.Now()
		end := now.Add(30 * day)
		link := map[string]string{"narcidi_subscription_id": tr.ID}
		w.ok("customer.subscription.created", w.subscription(subState{status: "active", start: now, end: end, price: "price_team", meta: link}))
		w.clock.Add(time.Minute)
		w.ok("customer.subscription.updated", w.subscription(subState{status: "active", start: now, end: end, price: "price_solo", meta: link}))
		l := w.license(tr.LicenseIDs[0])
		if l.PolicyID != w.solo.ID {
			t.Fatalf("license policy %s, want solo", l.PolicyID)
		}
		if s, _ := w.subs.Subscription(ctx, tr.ID); s.OverSeats != 1 || !contains(w.actions(tr.ID), licensing.ActionSubscriptionOverSeats) {
			t.Fatalf("over seats %d, events %v", s.OverSeats, w.actions(tr.ID))
		}
		// The customer frees a seat: the next state clears the flag.
		if err := w.svc.Leasing.Deactivate(ctx, licensing.MachineRequest{Key: tr.LicenseKey, Fingerprint: "machine-fingerprint-1"}); err != nil {
			t.Fatal(err)
		}
		w.clock.Add(time.Minute)
		w.ok("customer.subscription.updated", w.subscription(subState{status: "active", start: now, end: end, price: "price_solo", cancelAtEnd: true, meta: link}))
		w.clock.Add(time.Minute)
		w.ok("customer.subscription.updated", w.subscription(subState{status: "active", start: now, end: end, price: "price_unknown", meta: link}))
		s, err := w.subs.Subscription(ctx, tr.ID)
		if err != nil {
			t.Fatal(err)
		}
		if s.CancelAtPeriodEnd || s.PolicyID != w.solo.ID || s.OverSeats != 0 {
			t.Fatalf("after resume with an unmapped price: %+v", s)
		}
	})
}

// Finding 8: the generic endpoint takes a correctly signed neutral event.
func TestGenericSignedEvent(t *testing.T) {
	t.Parallel()
	for _, d := range storagetest.Dialects {
		t.Run(d, func(t *testing.T) {
			w := newWorld(t, d, basil)
			now := w.clock.Now()
			body, _ := json.Marshal(map[string]any{"id": "evt_local_1", "type": "subscription", "created": now.Format(time.RFC3339),
				"subscription": map[string]any{"id": "sub_local_1", "customer_id": "cus_local_1", "policy_id": w.team.ID, "status": "active",
					"period_start": now.Format(time.RFC3339), "period_end": now.Add(30 * day).Format(time.RFC3339)}})
			sp := webhook.GenerateTestSignedPayload(&webhook.UnsignedPayload{Payload: body, Secret: "generic-secret", Timestamp: time.Now()})
			req := httptest.NewRequest(http.MethodPost, "/v1/billing/events", bytes.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set(billing.GenericSignatureHeader, sp.Header)
			resp, err := w.server.App().Test(req, 10000)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != 200 {
				t.Fatalf("generic event: %d %s", resp.StatusCode, b)
			}
			list, _ := w.subs.Subscriptions(context.Background(), subscription.Filter{Provider: subscription.ProviderGeneric}, licensing.Page{Limit: 10})
			if len(list) != 1 || list[0].PolicyID != w.team.ID {
				t.Fatalf("generic subscriptions: %+v", list)
			}
		})
	}
}

// Item 7: a valid event of several hundred kB is taken (Stripe's large
// invoices); one over the limit is refused with 413.
func TestStripeLargeEvent(t *testing.T) {
	t.Parallel()
	w := newWorld(t, storagetest.Dialects[0], basil)
	now := w.clock.Now()
	s := w.subscription(subState{status: "active", start: now, end: now.Add(30 * day)})
	s["description"] = strings.Repeat("x", 600<<10)
	if code, out := w.stripe("customer.subscription.created", s); code != 200 {
		t.Fatalf("600 kB event: %d %v", code, out)
	}
	s["description"] = strings.Repeat("x", 1100<<10)
	if code, _ := w.stripe("customer.subscription.updated", s); code != 413 {
		t.Fatalf("1.1 MB event: %d, want 413", code)
	}
}

// Item 7: the first events of one checkout, delivered at once, all apply.
func TestStripeConcurrentCheckout(t *testing.T) {
	t.Parallel()
	for _, d := range storagetest.Dialects {
		t.Run(d, func(t *testing.T) {
			w := newWorld(t, d, basil)
			now := w.clock.Now()
			end := now.Add(30 * day)
			cu := fixture(t, "customer")
			cu["id"], cu["name"], cu["email"] = "cus_1", "Acme Lda", "billing@acme.example"
			events := [][]byte{}
			for i, e := range []struct {
				typ string
				obj map[string]any
			}{
				{"customer.created", cu},
				{"customer.subscription.created", w.subscription(subState{status: "active", start: now, end: end})},
				{"customer.subscription.updated", w.subscription(subState{status: "active", start: now, end: end})},
			} {
				raw, _ := json.Marshal(e.obj)
				b, _ := json.Marshal(map[string]any{"id": fmt.Sprintf("evt_c%d", i), "object": "event", "type": e.typ, "api_version": basil,
					"created": now.Unix(), "data": map[string]any{"object": json.RawMessage(raw)}})
				events = append(events, b)
			}
			var wg sync.WaitGroup
			codes := make([]int, len(events))
			for i, b := range events {
				wg.Add(1)
				go func() {
					defer wg.Done()
					codes[i], _ = w.post(b, secret, time.Now())
				}()
			}
			wg.Wait()
			for i, c := range codes {
				if c != 200 {
					t.Fatalf("event %d: %d (all: %v)", i, c, codes)
				}
			}
			s := w.theSub()
			c, err := w.svc.Customers.Customer(context.Background(), s.CustomerID)
			if err != nil || c.Name != "Acme Lda" {
				t.Fatalf("customer %+v %v", c, err)
			}
		})
	}
}

// The README's worked example: scripts/billing-event.sh signs the neutral
// event with openssl and sends it with curl to a running server.
func TestGenericScript(t *testing.T) {
	t.Parallel()
	for _, tool := range []string{"sh", "openssl", "curl"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is missing (apt-get install -y %s)", tool, tool)
		}
	}
	w := newWorld(t, storagetest.Dialects[0], basil)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = w.server.App().Listener(ln) }()
	t.Cleanup(func() { _ = w.server.App().Shutdown() })
	example, err := os.ReadFile("../../scripts/testdata/billing-event.json")
	if err != nil {
		t.Fatal(err)
	}
	now := w.clock.Now()
	body := strings.NewReplacer("POLICY_ID", w.team.ID, "2026-03-01T12:00:00Z", now.Format(time.RFC3339),
		"2026-04-01T12:00:00Z", now.Add(30*day).Format(time.RFC3339)).Replace(string(example))
	file := t.TempDir() + "/event.json"
	if err := os.WriteFile(file, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("sh", "../../scripts/billing-event.sh", file)
	cmd.Env = append(os.Environ(), "NARCIDI_URL=http://"+ln.Addr().String(), "NARCIDI_BILLING_SECRET=generic-secret")
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), `"subscription_id"`) {
		t.Fatalf("script: %v: %s", err, out)
	}
	list, _ := w.subs.Subscriptions(context.Background(), subscription.Filter{Provider: subscription.ProviderGeneric}, licensing.Page{Limit: 10})
	if len(list) != 1 || list[0].Status != subscription.Active || list[0].PolicyID != w.team.ID {
		t.Fatalf("subscriptions: %+v", list)
	}
}

// Item 7: seats follow the quantity billed. A 1-seat plan billed 3, then
// 5: the 4th and 5th machines activate after the raise, the 6th is
// refused; billed 2, the license is over its seats (flagged, not refused).
func TestStripeSeatsFollowQuantity(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, w *world) {
		ctx := context.Background()
		now := w.clock.Now()
		end := now.Add(30 * day)
		state := func(q int) map[string]any {
			return w.subscription(subState{status: "active", start: now, end: end, quantity: q})
		}
		w.ok("customer.subscription.created", state(3))
		l := w.theLicense()
		if l.MaxMachines != 3 || l.SeatsOverride == nil || *l.SeatsOverride != 3 {
			t.Fatalf("billed 3: max_machines %d, override %v", l.MaxMachines, l.SeatsOverride)
		}
		key, err := w.svc.Licenses.RotateKey(ctx, l.ID, "")
		if err != nil {
			t.Fatal(err)
		}
		activate := func(i int) error {
			_, err := w.svc.Leasing.Activate(ctx, licensing.MachineRequest{Key: key.Key, Fingerprint: fmt.Sprintf("machine-fingerprint-%d", i)})
			return err
		}
		for i := 1; i <= 3; i++ {
			if err := activate(i); err != nil {
				t.Fatalf("machine %d of 3: %v", i, err)
			}
		}
		if err := activate(4); licensing.ErrorCode(err) != licensing.ESeatLimit {
			t.Fatalf("machine 4 of 3 seats: %v, want seat_limit", err)
		}
		w.clock.Add(time.Minute)
		w.ok("customer.subscription.updated", state(5))
		for i := 4; i <= 5; i++ {
			if err := activate(i); err != nil {
				t.Fatalf("machine %d of 5: %v", i, err)
			}
		}
		if err := activate(6); licensing.ErrorCode(err) != licensing.ESeatLimit {
			t.Fatalf("machine 6 of 5 seats: %v, want seat_limit", err)
		}
		if s := w.theSub(); s.Seats != 5 || s.OverSeats != 0 {
			t.Fatalf("billed 5: seats %d, over %d", s.Seats, s.OverSeats)
		}
		w.clock.Add(time.Minute)
		w.ok("customer.subscription.updated", state(2))
		s := w.theSub()
		if s.Seats != 2 || s.OverSeats != 3 || !contains(w.actions(s.ID), licensing.ActionSubscriptionOverSeats) {
			t.Fatalf("billed 2 with 5 machines: seats %d, over %d, events %v", s.Seats, s.OverSeats, w.actions(s.ID))
		}
		if l := w.theLicense(); l.MaxMachines != 2 || l.Status != licensing.LicenseActive {
			t.Fatalf("billed 2: max_machines %d, status %s", l.MaxMachines, l.Status)
		}
		if err := activate(6); licensing.ErrorCode(err) != licensing.ESeatLimit {
			t.Fatalf("machine 6 over seats: %v, want seat_limit", err)
		}
		// Back to one unit: the policy's own seats, no override.
		w.clock.Add(time.Minute)
		w.ok("customer.subscription.updated", state(1))
		if l := w.theLicense(); l.SeatsOverride != nil || l.MaxMachines != 1 {
			t.Fatalf("billed 1: override %v, max_machines %d", l.SeatsOverride, l.MaxMachines)
		}
	})
}
