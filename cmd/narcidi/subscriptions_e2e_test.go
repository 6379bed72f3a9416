package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/nzilacode/narcidicontrole/licensing"
	"github.com/nzilacode/narcidicontrole/storage/storagetest"
	verifier "github.com/nzilacode/narcidicontrole/verifier-sdk"
	"github.com/nzilacode/narcidicontrole/workers/workerstest"
	"github.com/stripe/stripe-go/v82"
	"github.com/stripe/stripe-go/v82/webhook"
)

const e2eStripeSecret = "whsec_e2e_test_secret"

// stripeEvent is a Stripe event of typ around obj, created at created.
func stripeEvent(id, typ string, created time.Time, obj map[string]any) []byte {
	raw, _ := json.Marshal(obj)
	b, _ := json.Marshal(map[string]any{"id": id, "object": "event", "type": typ, "api_version": stripe.APIVersion,
		"created": created.Unix(), "data": map[string]any{"object": json.RawMessage(raw)}})
	return b
}

// postStripe posts payload to the server's Stripe endpoint, signed now with
// stripe-go's test helper, and returns the status and the answer.
func postStripe(t *testing.T, base string, payload []byte) (int, map[string]any) {
	t.Helper()
	sp := webhook.GenerateTestSignedPayload(&webhook.UnsignedPayload{Payload: payload, Secret: e2eStripeSecret, Timestamp: time.Now()})
	req, _ := http.NewRequest("POST", base+"/v1/billing/stripe/webhook", bytes.NewReader(payload))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Stripe-Signature", sp.Header)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var out map[string]any
	_ = json.Unmarshal(body, &out)
	return resp.StatusCode, out
}

func e2eStripeSub(start, end time.Time) map[string]any {
	return map[string]any{"id": "sub_e2e", "object": "subscription", "customer": "cus_e2e", "status": "active", "cancel_at_period_end": false,
		"items": map[string]any{"object": "list", "data": []any{map[string]any{"id": "si_e2e", "object": "subscription_item",
			"current_period_start": start.Unix(), "current_period_end": end.Unix(),
			"price": map[string]any{"id": "price_e2e", "object": "price", "recurring": map[string]any{"interval": "month", "interval_count": 1}}}}}}
}

func e2eInvoice(id string, start, end time.Time) map[string]any {
	return map[string]any{"id": id, "object": "invoice", "customer": "cus_e2e",
		"parent": map[string]any{"type": "subscription_details", "subscription_details": map[string]any{"subscription": "sub_e2e"}},
		"lines": map[string]any{"object": "list", "data": []any{map[string]any{"id": "il_" + id, "object": "line_item",
			"period": map[string]any{"start": start.Unix(), "end": end.Unix()}}}}}
}

// TestStripeDunningEndToEnd runs the real server (the in-process workers,
// their scheduled subscription sweep every second) and drives a Stripe
// subscription through a failed payment to suspension and back:
//
//	customer.subscription.created (Stripe-signed) → a license nobody has
//	the key of → rotate-key gives it once → the verifier SDK activates →
//	invoice.payment_failed → the sweep suspends the license when the
//	dunning window ends (the policy's dunning_days is 0: the server's own
//	clock need not move) → the SDK's renewal is refused license_suspended →
//	invoice.paid → reinstated and extended → the SDK renews again.
//
// The webhook receiver on loopback gets each step's event and the audit
// log shows each one.
func TestStripeDunningEndToEnd(t *testing.T) {
	t.Parallel()
	for _, d := range storagetest.Dialects {
		t.Run(d, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			env := map[string]string{
				"NARCIDI_ADDR": "127.0.0.1:0", "NARCIDI_DATA_DIR": t.TempDir(), "NARCIDI_ADMIN_TOKEN": adminToken, "NARCIDI_LOG_LEVEL": "warn",
				"NARCIDI_WEBHOOK_ALLOW_PRIVATE": "true", "NARCIDI_SCAN_SCHEDULE": "@every 1s", "NARCIDI_STRIPE_WEBHOOK_SECRET": e2eStripeSecret,
			}
			if d == "postgres" {
				usePostgres(t, env)
			}
			// The price→policy mapping is configuration, and the policy's
			// id comes from the server: make the plan, then restart with it.
			first, _ := launch(t, env)
			admin := apiClient{t, first.URL(), adminToken}
			var prod, pol struct{ ID string }
			admin.mustCreate("/v1/products", map[string]any{"code": "studio", "name": "Studio"}, &prod)
			admin.mustCreate("/v1/policies", map[string]any{"product_id": prod.ID, "name": "Monthly", "max_machines": 1, "lease_ttl_seconds": 3600,
				"metadata": map[string]string{licensing.MetaDunningDays: "0"}}, &pol)
			if err := first.Close(); err != nil {
				t.Fatal(err)
			}
			env["NARCIDI_STRIPE_PRICES"] = "price_e2e=" + pol.ID
			app := startAppWith(t, env)
			admin = apiClient{t, app.URL(), adminToken}

			rcv := workerstest.StartReceiver(t, nil)
			registerHook(t, admin, rcv, licensing.ActionSubscriptionCreated, licensing.ActionSubscriptionPastDue, licensing.ActionSubscriptionSuspended,
				licensing.ActionSubscriptionRenewed, licensing.ActionLicenseSuspended, licensing.ActionLicenseReinstated, licensing.ActionLicenseKeyRotated)

			now := time.Now().UTC().Truncate(time.Second)
			end1 := now.Add(30 * 24 * time.Hour)
			status, out := postStripe(t, app.URL(), stripeEvent("evt_e2e_1", "customer.subscription.created", now.Add(-30*time.Second), e2eStripeSub(now, end1)))
			subID, _ := out["subscription_id"].(string)
			if status != 200 || subID == "" {
				t.Fatalf("subscription created: %d %v", status, out)
			}
			var sub struct {
				Status     string   `json:"status"`
				LicenseIDs []string `json:"license_ids"`
			}
			admin.call("GET", "/v1/subscriptions/"+subID, nil, &sub)
			if sub.Status != "active" || len(sub.LicenseIDs) != 1 {
				t.Fatalf("subscription %+v", sub)
			}
			lid := sub.LicenseIDs[0]
			// The provider's license: its key is obtained by rotating it.
			var rotated licensing.CreatedLicense
			if s, b := admin.call("POST", "/v1/licenses/"+lid+"/actions/rotate-key", map[string]string{"reason": "deliver the key"}, &rotated); s != 200 || rotated.Key == "" {
				t.Fatalf("rotate-key: %d %s", s, b)
			}
			sdk := &verifier.Client{BaseURL: app.URL()}
			req := verifier.MachineRequest{LicenseKey: rotated.Key, Fingerprint: verifier.FingerprintFrom("studio", "e2e-machine")}
			if _, err := sdk.Activate(ctx, req); err != nil {
				t.Fatal(err)
			}

			// The payment fails: past due; the window is zero days, so the
			// next scheduled sweep suspends the license.
			if status, out := postStripe(t, app.URL(), stripeEvent("evt_e2e_2", "invoice.payment_failed", now.Add(-20*time.Second), e2eInvoice("in_e2e_2", end1, end1.Add(30*24*time.Hour)))); status != 200 || out["ignored"] != nil {
				t.Fatalf("payment failed: %d %v", status, out)
			}
			workerstest.WaitFor(t, "the scheduled sweep to suspend the license", func() bool {
				var l licensing.License
				admin.call("GET", "/v1/licenses/"+lid, nil, &l)
				return l.Status == licensing.LicenseSuspended
			})
			if _, err := sdk.Renew(ctx, req); apiCode(err) != "license_suspended" {
				t.Fatalf("renewal while suspended: %v", err)
			}

			// Paid: reinstated, extended to the new period's end.
			end2 := end1.Add(30 * 24 * time.Hour)
			if status, out := postStripe(t, app.URL(), stripeEvent("evt_e2e_3", "invoice.paid", now.Add(-10*time.Second), e2eInvoice("in_e2e_2", end1, end2))); status != 200 || out["ignored"] != nil {
				t.Fatalf("invoice paid: %d %v", status, out)
			}
			var l licensing.License
			admin.call("GET", "/v1/licenses/"+lid, nil, &l)
			if l.Status != licensing.LicenseActive || l.ExpiresAt == nil || !l.ExpiresAt.Equal(end2) {
				t.Fatalf("after payment: %s %v, want active until %v", l.Status, l.ExpiresAt, end2)
			}
			if _, err := sdk.Renew(ctx, req); err != nil {
				t.Fatalf("renewal after payment: %v", err)
			}
			// The same invoice again changes nothing.
			if status, out := postStripe(t, app.URL(), stripeEvent("evt_e2e_3", "invoice.paid", now.Add(-10*time.Second), e2eInvoice("in_e2e_2", end1, end2))); status != 200 || out["duplicate"] != true {
				t.Fatalf("replayed invoice: %d %v", status, out)
			}

			want := []string{licensing.ActionSubscriptionCreated, licensing.ActionLicenseKeyRotated, licensing.ActionSubscriptionPastDue,
				licensing.ActionLicenseSuspended, licensing.ActionSubscriptionSuspended, licensing.ActionLicenseReinstated, licensing.ActionSubscriptionRenewed}
			workerstest.WaitFor(t, "the webhooks", func() bool { return len(rcv.Received()) >= len(want) })
			var got []string
			for _, p := range rcv.Received() {
				got = append(got, p.Type)
			}
			for _, a := range want {
				if n := countOf(got, a); n != 1 {
					t.Errorf("webhook %s received %d times, want once (all: %v)", a, n, got)
				}
			}
			if rcv.BadSignatures() != 0 {
				t.Errorf("%d webhooks with a bad signature", rcv.BadSignatures())
			}
			auditOf := func(target string) []string {
				var evs struct{ Data []licensing.Event }
				admin.call("GET", fmt.Sprintf("/v1/events?target_id=%s&limit=200", target), nil, &evs)
				var acts []string
				for _, e := range evs.Data {
					acts = append(acts, e.Action)
				}
				return acts
			}
			subLog, licLog := auditOf(subID), auditOf(lid)
			for _, a := range []string{licensing.ActionSubscriptionCreated, licensing.ActionSubscriptionPastDue, licensing.ActionSubscriptionSuspended, licensing.ActionSubscriptionRenewed} {
				if !slices.Contains(subLog, a) {
					t.Errorf("the subscription's audit log lacks %s: %v", a, subLog)
				}
			}
			for _, a := range []string{licensing.ActionLicenseCreated, licensing.ActionLicenseKeyRotated, licensing.ActionLicenseSuspended, licensing.ActionLicenseReinstated, licensing.ActionLicenseRenewed} {
				if !slices.Contains(licLog, a) {
					t.Errorf("the license's audit log lacks %s: %v", a, licLog)
				}
			}
		})
	}
}

func countOf(list []string, s string) int {
	n := 0
	for _, x := range list {
		if x == s {
			n++
		}
	}
	return n
}
