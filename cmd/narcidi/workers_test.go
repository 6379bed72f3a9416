package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/nzilacode/narcidicontrole/licensing"
	"github.com/nzilacode/narcidicontrole/storage/storagetest"
	"github.com/nzilacode/narcidicontrole/workers/workerstest"
)

// registerHook registers rcv for events through the API and gives it the
// secret.
func registerHook(t *testing.T, admin apiClient, rcv *workerstest.Receiver, events ...string) licensing.CreatedWebhook {
	t.Helper()
	var hook licensing.CreatedWebhook
	admin.mustCreate("/v1/webhooks", map[string]any{"url": rcv.URL + "/narcidi", "event_types": events}, &hook)
	rcv.SetSecret(hook.Secret)
	return hook
}

// The embedded default (make run): the server itself delivers webhooks and
// email alerts, and the delivery log and redelivery work through the API.
func TestServeDeliversWebhooksAndEmail(t *testing.T) {
	t.Parallel()
	mail := workerstest.StartMailbox(t)
	rcv := workerstest.StartReceiver(t, nil)
	app := startAppWith(t, map[string]string{
		"NARCIDI_WEBHOOK_ALLOW_PRIVATE": "true",
		"NARCIDI_SMTP_URL":              "smtp://" + mail.Addr + "?tls=none",
		"NARCIDI_SMTP_FROM":             "alerts@narcidi.test",
		"NARCIDI_ALERT_EMAILS":          "ops@nzilacode.test",
	})
	admin := apiClient{t, app.URL(), adminToken}
	cat := seedCatalog(t, admin, 2)
	hook := registerHook(t, admin, rcv, licensing.ActionLicenseSuspended)
	if !strings.HasPrefix(hook.Secret, "whsec_") {
		t.Fatalf("secret %q", hook.Secret)
	}
	status, body := admin.call("GET", "/v1/webhooks/"+hook.ID, nil, nil)
	if status != 200 || bytes.Contains(body, []byte(hook.Secret)) || bytes.Contains(body, []byte("secret")) {
		t.Fatalf("GET webhook: %d %s (must not show the secret)", status, body)
	}

	if s, b := admin.call("POST", "/v1/licenses/"+cat.licenseID+"/actions/suspend", map[string]any{"reason": "unpaid"}, nil); s != 200 {
		t.Fatalf("suspend: %d %s", s, b)
	}
	workerstest.WaitFor(t, "the webhook", func() bool { return len(rcv.Received()) == 1 })
	got := rcv.Received()[0]
	if got.Type != licensing.ActionLicenseSuspended || got.Data.TargetID != cat.licenseID || got.Data.Reason != "unpaid" || rcv.BadSignatures() != 0 {
		t.Fatalf("webhook %+v (bad signatures %d)", got, rcv.BadSignatures())
	}
	workerstest.WaitFor(t, "the email", func() bool { return len(mail.Messages()) == 1 })
	m := mail.Messages()[0]
	if strings.Join(m.To, ",") != "it@acme.test,ops@nzilacode.test" || !strings.Contains(mail.Subjects()[0], "license is suspended") {
		t.Fatalf("email to %v: %q", m.To, mail.Subjects())
	}

	var ds struct{ Data []licensing.Delivery }
	workerstest.WaitFor(t, "the delivery log", func() bool {
		admin.call("GET", "/v1/deliveries?endpoint_id="+hook.ID+"&status=delivered", nil, &ds)
		return len(ds.Data) == 1
	})
	var d licensing.Delivery
	admin.call("GET", "/v1/deliveries/"+ds.Data[0].ID, nil, &d)
	if d.EventID != got.ID || len(d.Log) != 1 || d.Log[0].StatusCode != 200 {
		t.Fatalf("delivery %+v", d)
	}
	if s, b := admin.call("POST", "/v1/deliveries/"+d.ID+"/actions/redeliver", map[string]any{"reason": "receiver lost it"}, &d); s != 200 || d.Status != licensing.DeliveryPending {
		t.Fatalf("redeliver: %d %s", s, b)
	}
	workerstest.WaitFor(t, "the redelivery", func() bool { return len(rcv.Received()) == 2 })
	if again := rcv.Received()[1]; again.ID != got.ID {
		t.Fatalf("redelivered event id %s, want the same %s", again.ID, got.ID)
	}
	if s, _ := admin.call("GET", "/v1/deliveries?status=bogus", nil, nil); s != 422 {
		t.Fatalf("bad status filter: %d", s)
	}
	var hist struct{ Days []licensing.Rollup }
	if s, b := admin.call("GET", "/v1/dashboard/history?days=7", nil, &hist); s != 200 {
		t.Fatalf("history: %d %s", s, b)
	}
	if s, _ := admin.call("GET", "/v1/dashboard/history?days=0", nil, nil); s != 422 {
		t.Fatalf("history days=0: %d", s)
	}
}

// By default webhook URLs may not point into private networks.
func TestWebhookURLsGuardedByDefault(t *testing.T) {
	t.Parallel()
	app := startAppWith(t, nil)
	admin := apiClient{t, app.URL(), adminToken}
	for _, u := range []string{"http://127.0.0.1:9/x", "http://10.0.0.1/x", "http://localhost/x", "http://169.254.169.254/", "file:///etc/passwd"} {
		status, body := admin.call("POST", "/v1/webhooks", map[string]any{"url": u, "event_types": []string{"*"}}, nil)
		if status != 422 || !strings.Contains(string(body), `"code":"invalid"`) {
			t.Errorf("%s: %d %s", u, status, body)
		}
	}
	if status, body := admin.call("POST", "/v1/webhooks", map[string]any{"url": "https://93.184.216.34/x", "event_types": []string{"no.such.event"}}, nil); status != 422 {
		t.Errorf("unknown event type: %d %s", status, body)
	}
}

// With Redis, `narcidi worker` processes do the work and the server shows
// their queues to admins only.
func TestWorkerProcessOnRedis(t *testing.T) {
	t.Parallel()
	rcv := workerstest.StartReceiver(t, nil)
	// Server and worker reach Redis through a proxy the test can cut.
	proxy := storagetest.NewProxy(t, storagetest.RedisAddr())
	redisURL := fmt.Sprintf("redis://%s/%d", proxy.Addr(), storagetest.RedisDB(t))
	dataDir := t.TempDir()
	env := map[string]string{
		"NARCIDI_DATABASE_URL": storagetest.MigratedPostgresURL(t), "NARCIDI_MASTER_KEY": testMasterKey,
		"NARCIDI_REDIS_URL":             redisURL,
		"NARCIDI_DATA_DIR":              dataDir, // the worker needs the server's master key
		"NARCIDI_WEBHOOK_ALLOW_PRIVATE": "true",
	}
	app := startAppWith(t, env)
	admin := apiClient{t, app.URL(), adminToken}
	cat := seedCatalog(t, admin, 2)
	registerHook(t, admin, rcv, licensing.ActionLicenseSuspended, licensing.ActionLicenseReinstated)

	runWorker(t, env)

	admin.call("POST", "/v1/licenses/"+cat.licenseID+"/actions/suspend", nil, nil)
	admin.call("POST", "/v1/licenses/"+cat.licenseID+"/actions/reinstate", nil, nil)
	workerstest.WaitFor(t, "both webhooks through the worker", func() bool { return len(rcv.Received()) == 2 })

	// Redis goes away: the API keeps answering (rate limits fall back to
	// per-instance counting) and the events wait in the outbox.
	proxy.Cut()
	for i := range 5 {
		for _, action := range []string{"suspend", "reinstate"} {
			if s, b := admin.call("POST", "/v1/licenses/"+cat.licenseID+"/actions/"+action, nil, nil); s != 200 {
				t.Fatalf("%s %d while Redis is down: %d %s", action, i, s, b)
			}
		}
	}
	if s, b := (apiClient{t, app.URL(), ""}).call("POST", "/v1/client/activate", map[string]any{"license_key": cat.key, "fingerprint": "fp-during-outage-1"}, nil); s != 201 {
		t.Fatalf("activate while Redis is down: %d %s", s, b)
	}
	proxy.Restore()
	var evs struct{ Data []licensing.Event }
	admin.call("GET", "/v1/events?target_id="+cat.licenseID+"&limit=200", nil, &evs)
	want := map[string]bool{}
	for _, e := range evs.Data {
		if e.Action == licensing.ActionLicenseSuspended || e.Action == licensing.ActionLicenseReinstated {
			want[e.ID] = true
		}
	}
	if len(want) != 12 {
		t.Fatalf("%d suspend/reinstate events recorded, want 12", len(want))
	}
	workerstest.WaitFor(t, "every event after Redis is back", func() bool {
		got := map[string]bool{}
		for _, p := range rcv.Received() {
			got[p.ID] = true
		}
		return len(got) == len(want)
	})
	for _, p := range rcv.Received() {
		if !want[p.ID] {
			t.Fatalf("unexpected event %s", p.ID)
		}
	}

	queues := app.URL() + "/admin/queues"
	get := func(auth string) (int, string) {
		req, _ := http.NewRequest("GET", queues, nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		return resp.StatusCode, resp.Header.Get("WWW-Authenticate")
	}
	if s, challenge := get(""); s != 401 || !strings.HasPrefix(challenge, "Basic") {
		t.Errorf("queue monitor without credentials: %d %q", s, challenge)
	}
	var ro struct{ Secret string }
	admin.mustCreate("/v1/tokens", map[string]any{"name": "ro", "role": "read-only"}, &ro)
	if s, _ := get("Bearer " + ro.Secret); s != 403 {
		t.Errorf("queue monitor as read-only: %d", s)
	}
	if s, _ := get("Basic " + base64.StdEncoding.EncodeToString([]byte("x:wrong-token"))); s != 401 {
		t.Errorf("queue monitor with a wrong token: %d", s)
	}
	if s, _ := get("Basic " + base64.StdEncoding.EncodeToString([]byte("admin:"+adminToken))); s != 200 {
		t.Errorf("queue monitor as admin (Basic): %d", s)
	}
}

func TestWorkerNeedsRedis(t *testing.T) {
	t.Parallel()
	var out, errs bytes.Buffer
	code := run(context.Background(), []string{"worker", "-data-dir", t.TempDir()}, func(string) string { return "" }, &out, &errs)
	if code != 1 || !strings.Contains(errs.String(), "NARCIDI_REDIS_URL is required") {
		t.Fatalf("exit %d: %s", code, errs.String())
	}
}

// lockedBuffer is an output written by one goroutine while a test reads it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// runWorker runs `narcidi worker` in-process with env until the test ends,
// and fails the test if it then exits with an error. It returns its stdout.
func runWorker(t *testing.T, env map[string]string) *lockedBuffer {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	out, errs := &lockedBuffer{}, &lockedBuffer{}
	var code atomic.Int64
	code.Store(-1)
	wg.Go(func() {
		code.Store(int64(run(ctx, []string{"worker"}, func(k string) string { return env[k] }, out, errs)))
	})
	t.Cleanup(func() {
		cancel()
		wg.Wait()
		if c := code.Load(); c != 0 {
			t.Errorf("narcidi worker exited %d: %s", c, errs.String())
		}
	})
	return out
}

// The API's test event: delivered to the one endpoint, signed, with its
// request and response bodies in the delivery log; refused (409) once the
// endpoint is disabled.
func TestAPISendsWebhookTestEvent(t *testing.T) {
	t.Parallel()
	rcv := workerstest.StartReceiver(t, nil)
	app := startAppWith(t, map[string]string{"NARCIDI_WEBHOOK_ALLOW_PRIVATE": "true"})
	admin := apiClient{t, app.URL(), adminToken}
	hook := registerHook(t, admin, rcv, licensing.ActionLicenseSuspended)
	var ev licensing.Event
	if s, b := admin.call("POST", "/v1/webhooks/"+hook.ID+"/actions/test", nil, &ev); s != 200 || ev.Action != licensing.ActionWebhookTest {
		t.Fatalf("test event: %d %s", s, b)
	}
	workerstest.WaitFor(t, "the test event received", func() bool { return len(rcv.Received()) == 1 })
	if got := rcv.Received()[0]; got.Type != licensing.ActionWebhookTest || got.ID != ev.ID || rcv.BadSignatures() != 0 {
		t.Fatalf("received %+v (%d bad signatures)", got, rcv.BadSignatures())
	}
	var ds struct{ Data []licensing.Delivery }
	var d licensing.Delivery
	workerstest.WaitFor(t, "the delivery logged", func() bool {
		admin.call("GET", "/v1/deliveries?event_id="+ev.ID, nil, &ds)
		if len(ds.Data) != 1 {
			return false
		}
		admin.call("GET", "/v1/deliveries/"+ds.Data[0].ID, nil, &d)
		return d.Status == licensing.DeliveryDelivered && len(d.Log) == 1
	})
	if a := d.Log[0]; a.StatusCode != 200 || !strings.Contains(a.RequestBody, ev.ID) || a.ResponseBody != `{"ok":true,"n":0}` {
		t.Errorf("attempt %+v", a)
	}
	admin.call("PATCH", "/v1/webhooks/"+hook.ID, map[string]any{"enabled": false}, nil)
	if s, b := admin.call("POST", "/v1/webhooks/"+hook.ID+"/actions/test", nil, nil); s != 409 {
		t.Errorf("test event to a disabled endpoint: %d %s", s, b)
	}
}
