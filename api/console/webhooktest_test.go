package console_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/nzilacode/narcidicontrole/licensing"
	"github.com/nzilacode/narcidicontrole/storage"
	"github.com/nzilacode/narcidicontrole/storage/storagetest"
	"github.com/nzilacode/narcidicontrole/workers"
	"github.com/nzilacode/narcidicontrole/workers/workerstest"
)

// TestWebhookSendTestEvent (issue 24): "Send test event" on a webhook's
// page goes through the real delivery path (outbox, relay, signed POST) to
// that endpoint alone, even one not subscribed to it; the delivery page
// shows what was sent and what the endpoint answered. A disabled endpoint
// has no button and the action is refused.
func TestWebhookSendTestEvent(t *testing.T) {
	t.Parallel()
	storagetest.ForEach(t, func(t *testing.T, st *storage.Store) {
		e := newEnv(t, st)
		ctx := context.Background()
		hook, other := workerstest.StartReceiver(t, nil), workerstest.StartReceiver(t, nil)
		admin := e.signedIn(licensing.RoleAdmin)
		create := func(r *workerstest.Receiver, events ...string) string {
			resp, body := admin.post("/console/webhooks", url.Values{"url": {r.URL + "/hook"}, "events": events})
			wantStatus(t, "create", resp, http.StatusCreated)
			r.SetSecret(shownOnce(t, body))
			ws, err := e.svc.Notifications.Webhooks(ctx, licensing.Page{Limit: 10})
			must(t, err)
			for _, w := range ws {
				if strings.HasPrefix(w.URL, r.URL) {
					return w.ID
				}
			}
			t.Fatal("the created endpoint is not listed")
			return ""
		}
		id := create(hook, licensing.ActionLicenseSuspended) // not subscribed to webhook.test
		create(other, "*")                                   // subscribed to everything: still not sent the test

		local := workers.NewLocal(workers.Config{Notifications: e.svc.Notifications, Automation: e.svc.Automation, Clock: e.clock.Now,
			AllowPrivate: true, MaxAttempts: 1, RetryBase: 10 * time.Millisecond, RetryMax: 50 * time.Millisecond, RelayEvery: 20 * time.Millisecond}, 1)
		must(t, local.Start(ctx))
		t.Cleanup(local.Shutdown)

		_, body := admin.do("GET", "/console/webhooks/"+id, nil)
		if !strings.Contains(body, `id="test-webhook"`) {
			t.Fatalf("no test button on the webhook page:\n%s", body)
		}
		ro := e.signedIn(licensing.RoleReadOnly)
		wantStatus(t, "read-only testing", first(ro.post("/console/webhooks/"+id+"/test", url.Values{})), http.StatusForbidden)
		resp, _ := admin.post("/console/webhooks/"+id+"/test", url.Values{})
		wantStatus(t, "send test event", resp, http.StatusSeeOther)
		e.audited(licensing.ActionWebhookTest, id, "admin@example.com", "")

		var d *licensing.Delivery
		workerstest.WaitFor(t, "the test event delivered", func() bool {
			ds, err := e.svc.Notifications.Deliveries(ctx, licensing.DeliveryFilter{EndpointID: id, Action: licensing.ActionWebhookTest}, licensing.Page{})
			if err != nil || len(ds) != 1 {
				return false
			}
			d, err = e.svc.Notifications.Delivery(ctx, ds[0].ID)
			return err == nil && d.Status == licensing.DeliveryDelivered
		})
		if got := hook.Received(); len(got) != 1 || got[0].Type != licensing.ActionWebhookTest || hook.BadSignatures() != 0 {
			t.Fatalf("the receiver got %+v (%d bad signatures)", got, hook.BadSignatures())
		}
		for _, p := range other.Received() {
			if p.Type == licensing.ActionWebhookTest {
				t.Errorf("the other endpoint got the test event")
			}
		}
		if len(d.Log) != 1 || d.Log[0].StatusCode != 200 || !strings.Contains(d.Log[0].RequestBody, `"type":"webhook.test"`) ||
			d.Log[0].ResponseBody != `{"ok":true,"n":0}` {
			t.Fatalf("attempt log = %+v", d.Log)
		}
		_, body = admin.do("GET", "/console/deliveries/"+d.ID, nil)
		for _, want := range []string{`id="attempt-1-request"`, `&#34;type&#34;:&#34;webhook.test&#34;`, `id="attempt-1-response">{&#34;ok&#34;:true,&#34;n&#34;:0}</pre>`, "HTTP 200"} {
			if !strings.Contains(body, want) {
				t.Errorf("the delivery page lacks %s:\n%s", want, body)
			}
		}

		// Disabled: no button, and the action is refused.
		off := false
		_, err := e.svc.Notifications.UpdateWebhook(ctx, id, licensing.WebhookPatch{Enabled: &off})
		must(t, err)
		if _, body := admin.do("GET", "/console/webhooks/"+id, nil); strings.Contains(body, `id="test-webhook"`) {
			t.Error("a disabled webhook offers a test event")
		}
		wantStatus(t, "testing a disabled webhook", first(admin.post("/console/webhooks/"+id+"/test", url.Values{})), http.StatusConflict)
	})
}
