package console_test

import (
	"context"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/nzilacode/narcidicontrole/licensing"
	"github.com/nzilacode/narcidicontrole/licensing/subscription"
	"github.com/nzilacode/narcidicontrole/storage"
	"github.com/nzilacode/narcidicontrole/storage/storagetest"
)

// A customer's subscriptions page shows each subscription's provider
// state, the over-seats flag, and the invoices seen with what each did.
func TestCustomerSubscriptionsPage(t *testing.T) {
	t.Parallel()
	storagetest.ForEach(t, func(t *testing.T, st *storage.Store) {
		e := newEnv(t, st)
		ctx := context.Background()
		now := e.clock.Now()
		end := now.Add(30 * 24 * time.Hour)
		// A generic provider's subscription taking over the license's
		// customer, then a paid invoice.
		out, err := e.subs.Apply(ctx, subscription.ProviderEvent{Provider: "localpay", ID: "evt_1", Kind: subscription.KindSubscription, Created: now,
			Subscription: &subscription.ProviderSubscription{ID: "lp_sub_1", CustomerID: "lp_cus_1", PolicyID: e.license.PolicyID, Status: subscription.Active,
				PeriodStart: now, PeriodEnd: end}})
		must(t, err)
		_, err = e.subs.Apply(ctx, subscription.ProviderEvent{Provider: "localpay", ID: "evt_2", Kind: subscription.KindInvoicePaid, Created: now.Add(time.Minute),
			Invoice: &subscription.ProviderInvoice{ID: "lp_in_1", SubscriptionID: "lp_sub_1", PeriodStart: now, PeriodEnd: end, AmountPaid: 4900, Currency: "aoa"}})
		must(t, err)
		sub, err := e.subs.Subscription(ctx, out.SubscriptionID)
		must(t, err)
		b := e.signedIn(licensing.RoleSupport)
		resp, body := b.do("GET", "/console/customers/"+sub.CustomerID+"/subscriptions", nil)
		if resp.StatusCode != 200 {
			t.Fatalf("status %d", resp.StatusCode)
		}
		for _, want := range []string{"lp_sub_1", "lp_in_1", "4900 aoa", "status active", "invoice.paid", "status-active"} {
			if !strings.Contains(body, want) {
				t.Errorf("the page lacks %q", want)
			}
		}
		_, cust := b.do("GET", "/console/customers/"+sub.CustomerID, nil)
		if !strings.Contains(cust, `id="customer-subscriptions"`) {
			t.Error("the customer page does not link its subscriptions")
		}
		// Issue 24, 5: the customer's and the license's pages show the
		// subscription's status, period end, trial and dunning.
		for _, page := range []string{"/console/customers/" + sub.CustomerID, "/console/licenses/" + sub.LicenseIDs[0]} {
			_, body := b.do("GET", page, nil)
			for _, want := range []string{`id="subscriptions"`, `<span class="status status-active">active</span>`, "lp_sub_1", "no trial", "paid up", "2026-05-31"} {
				if !strings.Contains(body, want) {
					t.Errorf("%s lacks %q", page, want)
				}
			}
		}
	})
}

// The policy form edits the subscription settings in the policy's
// metadata, keeps its other keys, and refuses a bad value.
func TestPolicyFormBillingSettings(t *testing.T) {
	t.Parallel()
	storagetest.ForEach(t, func(t *testing.T, st *storage.Store) {
		e := newEnv(t, st)
		ctx := context.Background()
		pid := e.license.PolicyID
		_, err := e.svc.Catalog.UpdatePolicy(ctx, pid, licensing.PolicyPatch{Metadata: &map[string]string{"crm": "x1"}})
		must(t, err)
		b := e.signedIn(licensing.RoleAdmin)
		path := "/console/policies/" + pid
		csrf := b.csrf(path)
		p, err := e.svc.Catalog.Policy(ctx, pid)
		must(t, err)
		form := url.Values{"csrf": {csrf}, "name": {p.Name}, "duration_days": {"365"}, "max_machines": {"2"}, "floating": {"on"},
			"lease_ttl_minutes": {"60"}, "heartbeat_minutes": {"10"}, "grace_days": {"0"}, "expiry_action": {"restrict"},
			"expiry_notice_days": {""}, "offline_release_hours": {"0"},
			"trial_days": {"14"}, "trial_start": {"activation"}, "dunning_days": {"5"}, "cancel_action": {"revoke"},
			"refund_action": {"nothing"}, "dispute_action": {"end"}}
		if resp, body := b.do("POST", path, form); resp.StatusCode != 303 {
			t.Fatalf("save: %d %s", resp.StatusCode, body)
		}
		p, err = e.svc.Catalog.Policy(ctx, pid)
		must(t, err)
		want := map[string]string{"crm": "x1", licensing.MetaTrialSeconds: "1209600", licensing.MetaTrialStart: "activation",
			licensing.MetaDunningDays: "5", licensing.MetaCancelAction: "revoke", licensing.MetaRefundAction: "nothing", licensing.MetaDisputeAction: "end"}
		for k, v := range want {
			if p.Metadata[k] != v {
				t.Errorf("metadata %s = %q, want %q (%v)", k, p.Metadata[k], v, p.Metadata)
			}
		}
		if _, body := b.do("GET", path, nil); !strings.Contains(body, `id="policy-billing"`) || !strings.Contains(body, `value="14"`) {
			t.Error("the form does not show the settings")
		}
		form.Set("dunning_days", "400")
		if resp, body := b.do("POST", path, form); resp.StatusCode != 422 || !strings.Contains(body, "dunning_days") {
			t.Fatalf("a bad dunning window: %d", resp.StatusCode)
		}
	})
}
