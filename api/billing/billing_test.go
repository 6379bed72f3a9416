package billing_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
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
	"github.com/stripe/stripe-go/v82"
	"github.com/stripe/stripe-go/v82/webhook"
)

const secret = "whsec_test_secret"

type harness struct {
	t      *testing.T
	clock  *licensingtest.Clock
	svc    *licensing.Services
	subs   *subscription.Service
	server *api.Server
	policy *licensing.Policy
	n      int
}

func newHarness(t *testing.T, dialect string) *harness {
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
	pol, err := svc.Catalog.CreatePolicy(ctx, licensing.PolicyInput{ProductID: prod.ID, Name: "Monthly", MaxMachines: 1,
		LeaseTTLSeconds: 3600, GraceSeconds: 3600, Metadata: map[string]string{licensing.MetaDunningDays: "3"}})
	if err != nil {
		t.Fatal(err)
	}
	subs, err := subscription.NewService(subscription.Config{Store: st.Subscriptions(), Licenses: svc.Licenses, Customers: svc.Customers,
		Clock: clock.Now, Prices: map[string]string{"price_monthly": pol.ID}})
	if err != nil {
		t.Fatal(err)
	}
	h := billing.New(billing.Config{Subscriptions: subs, StripeSecret: secret, GenericSecret: "generic-secret"})
	server := api.New(api.Config{Services: svc, Health: st, Keys: kr, Billing: api.Billing{Subscriptions: subs, Endpoints: h}})
	return &harness{t: t, clock: clock, svc: svc, subs: subs, server: server, policy: pol}
}

// event builds a Stripe event of typ around obj.
func (h *harness) event(typ string, obj any) []byte {
	h.n++
	raw, _ := json.Marshal(obj)
	ev := map[string]any{"id": fmt.Sprintf("evt_%d", h.n), "object": "event", "type": typ, "api_version": stripe.APIVersion,
		"created": h.clock.Now().Unix(), "data": map[string]any{"object": json.RawMessage(raw)}}
	b, _ := json.Marshal(ev)
	return b
}

// post sends payload signed at ts with key.
func (h *harness) post(payload []byte, key string, ts time.Time) (int, map[string]any) {
	sp := webhook.GenerateTestSignedPayload(&webhook.UnsignedPayload{Payload: payload, Secret: key, Timestamp: ts})
	req := httptest.NewRequest(http.MethodPost, "/v1/billing/stripe/webhook", bytes.NewReader(payload))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Stripe-Signature", sp.Header)
	resp, err := h.server.App().Test(req, 10000)
	if err != nil {
		h.t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	var out map[string]any
	_ = json.Unmarshal(body, &out)
	return resp.StatusCode, out
}

func (h *harness) send(payload []byte) map[string]any {
	h.t.Helper()
	code, out := h.post(payload, secret, time.Now())
	if code != 200 {
		h.t.Fatalf("status %d: %v", code, out)
	}
	return out
}

func stripeSub(status string, start, end time.Time, cancelAtEnd bool, meta map[string]string) map[string]any {
	return map[string]any{"id": "sub_1", "object": "subscription", "customer": "cus_1", "status": status, "cancel_at_period_end": cancelAtEnd,
		"metadata": meta,
		"items": map[string]any{"object": "list", "data": []any{map[string]any{"id": "si_1", "object": "subscription_item",
			"current_period_start": start.Unix(), "current_period_end": end.Unix(),
			"price": map[string]any{"id": "price_monthly", "object": "price", "recurring": map[string]any{"interval": "month", "interval_count": 1}}}}}}
}

func invoice(id string, start, end time.Time) map[string]any {
	return map[string]any{"id": id, "object": "invoice", "customer": "cus_1",
		"parent": map[string]any{"type": "subscription_details", "subscription_details": map[string]any{"subscription": "sub_1"}},
		"lines": map[string]any{"object": "list", "data": []any{map[string]any{"id": "il_" + id, "object": "line_item",
			"period": map[string]any{"start": start.Unix(), "end": end.Unix()}}}}}
}

func (h *harness) license(id string) *licensing.License {
	h.t.Helper()
	l, err := h.svc.Licenses.License(context.Background(), id)
	if err != nil {
		h.t.Fatal(err)
	}
	return l
}

func (h *harness) sub(id string) *subscription.Subscription {
	h.t.Helper()
	s, err := h.subs.Subscription(context.Background(), id)
	if err != nil {
		h.t.Fatal(err)
	}
	return s
}

func (h *harness) sweep() {
	h.t.Helper()
	if _, err := h.subs.Sweep(context.Background()); err != nil {
		h.t.Fatal(err)
	}
}

func (h *harness) actions(target string) []string {
	evs, err := h.svc.Notifications.Events(context.Background(), licensing.EventFilter{TargetID: target}, licensing.Page{Limit: 200})
	if err != nil {
		h.t.Fatal(err)
	}
	var out []string
	for _, e := range evs {
		out = append(out, e.Action)
	}
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// TestStripeFullLife drives one subscription through its whole life by
// signed Stripe events: trial, converted to paid keeping its machine,
// renewal, payment failed, dunning, suspended, paid, reinstated, canceled
// at period end, expired. Each step is checked in the license state, the
// next renewal of the activated machine and the audit log.
func TestStripeFullLife(t *testing.T) {
	t.Parallel()
	for _, d := range storagetest.Dialects {
		t.Run(d, func(t *testing.T) {
			h := newHarness(t, d)
			ctx := context.Background()
			cust, err := h.svc.Customers.CreateCustomer(ctx, licensing.CustomerInput{Name: "Acme"})
			if err != nil {
				t.Fatal(err)
			}
			// A trial policy of the same product; the admin starts a trial.
			trialPol, err := h.svc.Catalog.CreatePolicy(ctx, licensing.PolicyInput{ProductID: h.policy.ProductID, Name: "Trial", MaxMachines: 1,
				LeaseTTLSeconds: 3600, Metadata: map[string]string{licensing.MetaTrialSeconds: "1209600"}})
			if err != nil {
				t.Fatal(err)
			}
			tr, err := h.subs.Create(ctx, subscription.CreateInput{CustomerID: cust.ID, PolicyID: trialPol.ID, Interval: subscription.Month})
			if err != nil {
				t.Fatal(err)
			}
			if tr.Status != subscription.Trialing || tr.LicenseKey == "" || len(tr.LicenseIDs) != 1 {
				t.Fatalf("trial = %+v", tr)
			}
			lid := tr.LicenseIDs[0]
			req := licensing.MachineRequest{Key: tr.LicenseKey, Fingerprint: "machine-fingerprint-1"}
			if _, err := h.svc.Leasing.Activate(ctx, req); err != nil {
				t.Fatal(err)
			}
			renews := func(want licensing.Code) {
				t.Helper()
				_, err := h.svc.Leasing.Renew(ctx, req)
				if got := licensing.ErrorCode(err); got != want {
					t.Fatalf("renew: %q, want %q (%v)", got, want, err)
				}
			}
			now := h.clock.Now()
			// Converted: Stripe's subscription carries the Narcidi id.
			end1 := now.Add(30 * 24 * time.Hour)
			h.send(h.event("customer.subscription.created", stripeSub("active", now, end1, false, map[string]string{"narcidi_subscription_id": tr.ID})))
			s := h.sub(tr.ID)
			if s.Status != subscription.Active || s.PolicyID != h.policy.ID || s.ProviderSubscriptionID != "sub_1" {
				t.Fatalf("after conversion: %+v", s)
			}
			l := h.license(lid)
			if l.PolicyID != h.policy.ID || l.ExpiresAt == nil || !l.ExpiresAt.Equal(end1) {
				t.Fatalf("license after conversion: policy %s expires %v, want %s", l.PolicyID, l.ExpiresAt, end1)
			}
			ms, _ := h.svc.Licenses.Machines(ctx, licensing.MachineFilter{LicenseID: lid}, licensing.Page{})
			if len(ms) != 1 {
				t.Fatalf("machines after conversion: %d", len(ms))
			}
			renews("")
			// Renewal: the next period's invoice is paid.
			h.clock.Set(end1.Add(-time.Hour))
			end2 := end1.Add(30 * 24 * time.Hour)
			inv2 := h.event("invoice.paid", invoice("in_2", end1, end2))
			h.send(inv2)
			if l := h.license(lid); !l.ExpiresAt.Equal(end2) {
				t.Fatalf("after renewal expires %v, want %v", l.ExpiresAt, end2)
			}
			// The same event again, and an older invoice: no change.
			if out := h.send(inv2); out["duplicate"] != true {
				t.Fatalf("replayed event: %v", out)
			}
			if out := h.send(h.event("invoice.paid", invoice("in_1", now, end1))); out["ignored"] == nil {
				t.Fatalf("old invoice: %v", out)
			}
			if l := h.license(lid); !l.ExpiresAt.Equal(end2) {
				t.Fatalf("after duplicates expires %v, want %v", l.ExpiresAt, end2)
			}
			// Payment of the third period fails: dunning, then suspension.
			h.clock.Set(end2.Add(-time.Hour))
			end3 := end2.Add(30 * 24 * time.Hour)
			h.send(h.event("invoice.payment_failed", invoice("in_3", end2, end3)))
			if s := h.sub(tr.ID); s.Status != subscription.PastDue || s.DunningEndsAt == nil {
				t.Fatalf("after failure: %+v", s)
			}
			renews("") // still within the dunning window
			h.clock.Add(2*24*time.Hour + time.Hour)
			h.sweep()
			if s := h.sub(tr.ID); s.DunningNoticeAt == nil {
				t.Fatalf("no dunning reminder: %+v", s)
			}
			h.clock.Add(24 * time.Hour)
			h.sweep()
			if l := h.license(lid); l.Status != licensing.LicenseSuspended {
				t.Fatalf("after the dunning window: %s", l.Status)
			}
			renews(licensing.ELicenseSuspended)
			// Paid: reinstated and extended.
			h.send(h.event("invoice.paid", invoice("in_3", end2, end3)))
			if l := h.license(lid); l.Status != licensing.LicenseActive || !l.ExpiresAt.Equal(end3) {
				t.Fatalf("after payment: %s %v", l.Status, l.ExpiresAt)
			}
			renews("")
			// Canceled at period end: runs to the end, then expires.
			h.send(h.event("customer.subscription.updated", stripeSub("active", end2, end3, true, nil)))
			if s := h.sub(tr.ID); !s.CancelAtPeriodEnd || s.Status != subscription.Active {
				t.Fatalf("cancel at period end: %+v", s)
			}
			renews("")
			h.clock.Set(end3.Add(2 * time.Hour)) // past the end and the policy's one-hour grace
			h.send(h.event("customer.subscription.deleted", stripeSub("canceled", end2, end3, true, nil)))
			if s := h.sub(tr.ID); s.Status != subscription.Expired {
				t.Fatalf("after the end: %s", s.Status)
			}
			renews(licensing.ELicenseExpired)
			acts := h.actions(tr.ID)
			for _, a := range []string{licensing.ActionSubscriptionCreated, licensing.ActionSubscriptionPlanChanged, licensing.ActionSubscriptionRenewed,
				licensing.ActionSubscriptionPastDue, licensing.ActionSubscriptionDunning, licensing.ActionSubscriptionSuspended,
				licensing.ActionSubscriptionCanceled, licensing.ActionSubscriptionExpired} {
				if !contains(acts, a) {
					t.Errorf("audit log of the subscription lacks %s: %v", a, acts)
				}
			}
			lacts := h.actions(lid)
			for _, a := range []string{licensing.ActionLicensePolicyChange, licensing.ActionLicenseRenewed, licensing.ActionLicenseSuspended, licensing.ActionLicenseReinstated} {
				if !contains(lacts, a) {
					t.Errorf("audit log of the license lacks %s: %v", a, lacts)
				}
			}
		})
	}
}

// TestStripeRefusals: bad signature, stale timestamp, unknown price,
// invoices before their subscription: clear refusals that change nothing.
func TestStripeRefusals(t *testing.T) {
	t.Parallel()
	for _, d := range storagetest.Dialects {
		t.Run(d, func(t *testing.T) {
			h := newHarness(t, d)
			now := h.clock.Now()
			good := h.event("customer.subscription.created", stripeSub("active", now, now.Add(720*time.Hour), false, nil))
			if code, _ := h.post(good, "whsec_other", time.Now()); code != 401 {
				t.Errorf("bad signature: %d", code)
			}
			if code, _ := h.post(good, secret, time.Now().Add(-10*time.Minute)); code != 401 {
				t.Errorf("stale timestamp: %d", code)
			}
			sub := stripeSub("active", now, now.Add(720*time.Hour), false, nil)
			sub["items"].(map[string]any)["data"].([]any)[0].(map[string]any)["price"].(map[string]any)["id"] = "price_unknown"
			if code, out := h.post(h.event("customer.subscription.created", sub), secret, time.Now()); code != 422 || out["code"] != "invalid" {
				t.Errorf("unknown price: %d %v", code, out)
			}
			if code, _ := h.post(h.event("invoice.paid", invoice("in_x", now, now.Add(time.Hour))), secret, time.Now()); code != 409 {
				t.Errorf("invoice before its subscription: %d", code)
			}
			list, err := h.subs.Subscriptions(context.Background(), subscription.Filter{}, licensing.Page{})
			if err != nil || len(list) != 0 {
				t.Fatalf("subscriptions after refusals: %v %v", list, err)
			}
			// The refused event was not claimed: once accepted it applies.
			h.send(good)
			if code, out := h.post(good, secret, time.Now()); code != 200 || out["duplicate"] != true {
				t.Errorf("replay: %d %v", code, out)
			}
		})
	}
}

// TestConcurrentInvoiceExtendsOnce delivers the same invoice event 20
// times at once: the license is extended once, one renewal recorded.
func TestConcurrentInvoiceExtendsOnce(t *testing.T) {
	t.Parallel()
	for _, d := range storagetest.Dialects {
		t.Run(d, func(t *testing.T) {
			h := newHarness(t, d)
			now := h.clock.Now()
			end1 := now.Add(720 * time.Hour)
			out := h.send(h.event("customer.subscription.created", stripeSub("active", now, end1, false, nil)))
			id := out["subscription_id"].(string)
			lid := h.sub(id).LicenseIDs[0]
			end2 := end1.Add(720 * time.Hour)
			inv := h.event("invoice.paid", invoice("in_2", end1, end2))
			var wg sync.WaitGroup
			codes := make([]int, 20)
			for i := range 20 {
				wg.Add(1)
				go func() { defer wg.Done(); codes[i], _ = h.post(inv, secret, time.Now()) }()
			}
			wg.Wait()
			for i, c := range codes {
				if c != 200 {
					t.Errorf("delivery %d: %d", i, c)
				}
			}
			if l := h.license(lid); !l.ExpiresAt.Equal(end2) {
				t.Fatalf("expires %v, want %v", l.ExpiresAt, end2)
			}
			n := 0
			for _, a := range h.actions(lid) {
				if a == licensing.ActionLicenseRenewed {
					n++
				}
			}
			if n != 1 {
				t.Fatalf("%d renewals recorded, want 1", n)
			}
		})
	}
}
