package console_test

import (
	"context"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/nzilacode/narcidicontrole/licensing"
	"github.com/nzilacode/narcidicontrole/storage"
	"github.com/nzilacode/narcidicontrole/storage/storagetest"
)

// TestAuditAndDeliveriesNewestFirst (issue 24, 2): the audit log and the
// delivery log list the latest first, and their filters narrow them.
func TestAuditAndDeliveriesNewestFirst(t *testing.T) {
	t.Parallel()
	storagetest.ForEach(t, func(t *testing.T, st *storage.Store) {
		e := newEnv(t, st)
		ctx := context.Background()
		for _, n := range []string{"First Co", "Second Co", "Third Co"} {
			e.clock.Add(time.Hour)
			_, err := e.svc.Customers.CreateCustomer(ctx, licensing.CustomerInput{Name: n})
			must(t, err)
		}
		ro := e.signedIn(licensing.RoleReadOnly)
		order := func(body string, names ...string) []int {
			var at []int
			for _, n := range names {
				at = append(at, strings.Index(body, ">"+n+"</a>"))
			}
			return at
		}
		_, body := ro.do("GET", "/console/audit?action=customer.created", nil)
		if at := order(body, "Third Co", "Second Co", "First Co", "Acme"); !(at[0] > 0 && at[0] < at[1] && at[1] < at[2] && at[2] < at[3]) {
			t.Errorf("audit order (positions of Third, Second, First, Acme): %v", at)
		}
		_, body = ro.do("GET", "/console/audit?action=customer.created&since=2026-05-01T11:30&until=2026-05-01T12:30", nil)
		if at := order(body, "Second Co", "First Co", "Third Co"); at[0] < 0 || at[1] >= 0 || at[2] >= 0 {
			t.Errorf("audit time filter: %v", at)
		}
		resp, body := ro.do("GET", "/console/audit?actor=nobody%40example.com", nil)
		wantStatus(t, "an unknown actor", resp, http.StatusUnprocessableEntity)

		// Deliveries: three of one webhook, one of another, made an hour apart.
		w1 := &licensing.WebhookEndpoint{URL: "https://one.example/hook", Enabled: true, EventTypes: []string{"*"}, SealedSecret: []byte("sealed")}
		w2 := &licensing.WebhookEndpoint{URL: "https://two.example/hook", Enabled: true, EventTypes: []string{"*"}, SealedSecret: []byte("sealed")}
		must(t, st.CreateWebhook(ctx, w1))
		must(t, st.CreateWebhook(ctx, w2))
		base := time.Date(2026, 5, 2, 9, 0, 0, 0, time.UTC)
		for i, d := range []struct {
			hook   string
			action string
			status licensing.DeliveryStatus
		}{{w1.ID, "license.created", licensing.DeliveryDelivered}, {w1.ID, "license.suspended", licensing.DeliveryFailed}, {w2.ID, "license.revoked", licensing.DeliveryPending}, {w1.ID, "license.extended", licensing.DeliveryDelivered}} {
			at := base.Add(time.Duration(i) * 24 * time.Hour)
			must(t, st.CreateDelivery(ctx, &licensing.Delivery{EventID: licensing.NewID(), Action: d.action, Channel: licensing.ChannelWebhook,
				EndpointID: d.hook, Status: d.status, AttemptLimit: 5, CreatedAt: at, UpdatedAt: at}))
		}
		rows := regexp.MustCompile(`<td data-label="Event"><a href="/console/deliveries/[^"]+">([a-z.]+)</a>`)
		got := func(q string) string {
			_, body := ro.do("GET", "/console/deliveries"+q, nil)
			var out []string
			for _, m := range rows.FindAllStringSubmatch(body, -1) {
				out = append(out, m[1])
			}
			return strings.Join(out, " ")
		}
		for _, tc := range []struct{ q, want string }{
			{"", "license.extended license.revoked license.suspended license.created"},
			{"?webhook=" + w1.ID, "license.extended license.suspended license.created"},
			{"?status=failed", "license.suspended"},
			{"?action=license.revoked", "license.revoked"},
			{"?since=2026-05-03&until=2026-05-04", "license.revoked license.suspended"},
		} {
			if g := got(tc.q); g != tc.want {
				t.Errorf("deliveries%s = %q, want %q", tc.q, g, tc.want)
			}
		}
		resp, _ = ro.do("GET", "/console/deliveries?status=lost", nil)
		wantStatus(t, "a bad status", resp, http.StatusUnprocessableEntity)
	})
}
