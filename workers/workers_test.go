package workers_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/nzilacode/narcidicontrole/licensing"
	"github.com/nzilacode/narcidicontrole/storage"
	"github.com/nzilacode/narcidicontrole/storage/storagetest"
	"github.com/nzilacode/narcidicontrole/workers"
	"github.com/nzilacode/narcidicontrole/workers/workerstest"
	"github.com/redis/go-redis/v9"
)

var ctx = context.Background()

func TestMain(m *testing.M) {
	// go-redis logs every failed dial; the outage test makes many on purpose.
	redis.SetLogger(quietRedis{})
	// Cheap password hashes: the real cost is tested in licensing.
	licensing.UseCheapPasswordHashes()
	os.Exit(m.Run())
}

type quietRedis struct{}

func (quietRedis) Printf(context.Context, string, ...any) {}

const day = 24 * time.Hour

// runner is what both ways of running the workers offer the tests.
type runner interface {
	Run(ctx context.Context, typ string) error
	Shutdown()
}

func startLocal(t *testing.T, cfg workers.Config) *workers.Local {
	t.Helper()
	l := workers.NewLocal(cfg, 4)
	must(t, l.Start(ctx))
	t.Cleanup(l.Shutdown)
	return l
}

func redisClient(t *testing.T, addr string, db int) *redis.Client {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: addr, DB: db, DialTimeout: time.Second, ReadTimeout: time.Second, WriteTimeout: time.Second})
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func startWorker(t *testing.T, cfg workers.Config, rdb redis.UniversalClient) *workers.Worker {
	t.Helper()
	w := workers.NewWorker(cfg, rdb, 5)
	must(t, w.Start(ctx))
	t.Cleanup(w.Shutdown)
	return w
}

// modes runs fn with the in-process runner on SQLite and the asynq worker
// on PostgreSQL and Redis: the two ways Narcidi runs its automation.
func modes(t *testing.T, events []string, fail func(int) int, tune func(*workers.Config), fn func(t *testing.T, w *world, r runner)) {
	t.Run("local-sqlite", func(t *testing.T) {
		w := newWorld(t, storagetest.Open(t, "sqlite"), events, fail)
		cfg := w.config()
		if tune != nil {
			tune(&cfg)
		}
		fn(t, w, startLocal(t, cfg))
	})
	t.Run("asynq-postgres", func(t *testing.T) {
		w := newWorld(t, storagetest.Open(t, "postgres"), events, fail)
		cfg := w.config()
		if tune != nil {
			tune(&cfg)
		}
		fn(t, w, startWorker(t, cfg, redisClient(t, storagetest.RedisAddr(), storagetest.RedisDB(t))))
	})
}

// TestExpiryNotices moves the clock through a license's life: one 30-day,
// one 7-day and one 1-day notice, then the expiry after the grace day, by
// webhook and by email, each once however often the scan runs.
func TestExpiryNotices(t *testing.T) {
	t.Parallel()
	modes(t, []string{licensing.ActionLicenseExpiring, licensing.ActionLicenseExpired}, nil, nil, func(t *testing.T, w *world, r runner) {
		exp := *w.license.ExpiresAt
		w.clock.Set(exp.Add(-31 * day))
		must(t, r.Run(ctx, workers.TypeScanExpiry))
		w.settle()
		if got := w.hook.Received(); len(got) != 0 {
			t.Fatalf("before any notice is due: got %v", actions(got))
		}
		steps := []struct {
			at      time.Time
			action  string
			subject string
		}{
			{exp.Add(-30*day + time.Minute), "license.expiring:30", "in 30 days"},
			{exp.Add(-7*day + time.Hour), "license.expiring:7", "in 7 days"},
			{exp.Add(-day + time.Minute), "license.expiring:1", "in 1 day."},
			{exp.Add(day + time.Minute), "license.expired", "has expired"},
		}
		var want []string
		for i, s := range steps {
			w.clock.Set(s.at)
			for range 3 {
				must(t, r.Run(ctx, workers.TypeScanExpiry))
			}
			w.settle()
			want = append(want, s.action)
			if got := actions(w.hook.Received()); !slices.Equal(got, want) {
				t.Fatalf("step %d: webhooks %v, want %v", i, got, want)
			}
			// Customer mails: the subject says the date in words, the
			// text how long is left; no event name, no id.
			subjects, bodies := w.mail.Subjects(), w.mail.Bodies()
			if len(subjects) != i+1 || !strings.Contains(bodies[i], s.subject) {
				t.Fatalf("step %d: emails %q, want %d with %q last:\n%s", i, subjects, i+1, s.subject, bodies[len(bodies)-1])
			}
			wantSubject := "license expires on " + licensing.DateWords(exp)
			if s.action == "license.expired" {
				wantSubject = "license has expired"
			}
			if !strings.Contains(subjects[i], wantSubject) || strings.Contains(subjects[i]+bodies[i], "license.") || strings.Contains(bodies[i], w.license.ID) {
				t.Fatalf("step %d: subject %q, want %q, and no event name or id in:\n%s", i, subjects[i], wantSubject, bodies[i])
			}
		}
		for _, m := range w.mail.Messages() {
			slices.Sort(m.To)
			if want := []string{"ada@acme.test", "it@acme.test", "ops@nzilacode.test"}; !slices.Equal(m.To, want) {
				t.Fatalf("email to %v, want %v", m.To, want)
			}
		}
		l, err := w.store.GetLicense(ctx, w.license.ID)
		must(t, err)
		if l.Status != licensing.LicenseExpired {
			t.Fatalf("license status %s, want expired", l.Status)
		}
		if w.hook.BadSignatures() != 0 {
			t.Fatalf("%d webhooks had a bad signature", w.hook.BadSignatures())
		}
	})
}

// TestLateLicenseGetsOnlyTheNearestNotice: a license that starts 5 days
// before its end gets the 7-day notice only, not a stale 30-day one.
func TestLateLicenseGetsOnlyTheNearestNotice(t *testing.T) {
	t.Parallel()
	w := newWorld(t, storagetest.Open(t, "sqlite"), []string{licensing.ActionLicenseExpiring}, nil)
	l := startLocal(t, w.config())
	exp := t0.Add(5 * day)
	late, err := w.svc.Licenses.CreateLicense(ctx, licensing.LicenseInput{PolicyID: w.policy.ID, CustomerID: w.customer.ID, ExpiresAt: &exp})
	must(t, err)
	w.clock.Set(t0.Add(time.Hour))
	must(t, l.Run(ctx, workers.TypeScanExpiry))
	must(t, l.Run(ctx, workers.TypeScanExpiry))
	w.settle()
	var got []string
	for _, p := range w.hook.Received() {
		if p.Data.TargetID == late.ID {
			got = append(got, actions([]workers.WebhookPayload{p})...)
		}
	}
	if !slices.Equal(got, []string{"license.expiring:7"}) {
		t.Fatalf("late license notices %v, want only the 7-day one", got)
	}
}

// TestOfflineScan: a machine silent past its heartbeat window goes offline
// (and back to active on its next heartbeat); silent past the release
// window it loses its seat.
func TestOfflineScan(t *testing.T) {
	t.Parallel()
	modes(t, []string{licensing.ActionMachineOffline, licensing.ActionMachineDeactivated}, nil, nil, func(t *testing.T, w *world, r runner) {
		req := licensing.MachineRequest{Key: w.license.Key, Fingerprint: "fp-offline-1", Hostname: "ws-1"}
		g, err := w.svc.Leasing.Activate(ctx, req)
		must(t, err)
		machineStatus := func() licensing.MachineStatus {
			m, err := w.store.GetMachine(ctx, g.Machine.ID)
			if licensing.ErrorCode(err) == licensing.ENotFound {
				return "gone"
			}
			must(t, err)
			return m.Status
		}
		w.clock.Add(59 * time.Minute)
		must(t, r.Run(ctx, workers.TypeScanOffline))
		if s := machineStatus(); s != licensing.MachineActive {
			t.Fatalf("within the window: %s", s)
		}
		w.clock.Add(2 * time.Minute)
		must(t, r.Run(ctx, workers.TypeScanOffline))
		must(t, r.Run(ctx, workers.TypeScanOffline))
		if s := machineStatus(); s != licensing.MachineOffline {
			t.Fatalf("past the window: %s", s)
		}
		_, _, err = w.svc.Leasing.Heartbeat(ctx, req)
		must(t, err)
		if s := machineStatus(); s != licensing.MachineActive {
			t.Fatalf("after a heartbeat: %s", s)
		}
		w.clock.Add(2 * time.Hour)
		must(t, r.Run(ctx, workers.TypeScanOffline))
		w.clock.Add(day)
		must(t, r.Run(ctx, workers.TypeScanOffline))
		must(t, r.Run(ctx, workers.TypeScanOffline))
		if s := machineStatus(); s != "gone" {
			t.Fatalf("past the release window: %s", s)
		}
		n, err := w.store.CountMachines(ctx, w.license.ID)
		must(t, err)
		if n != 0 {
			t.Fatalf("seats used %d after release", n)
		}
		w.settle()
		// Deliveries run concurrently: webhooks promise no order.
		want := []string{"machine.deactivated", "machine.offline", "machine.offline"}
		if got := slices.Sorted(slices.Values(actions(w.hook.Received()))); !slices.Equal(got, want) {
			t.Fatalf("webhooks %v, want %v", got, want)
		}
		subjects := w.mail.Subjects()
		if len(subjects) != 2 || !strings.Contains(subjects[0], "is offline") {
			t.Fatalf("emails %q, want two offline alerts (a freed seat is not mailed)", subjects)
		}
	})
}

// TestWebhookRetriedThenDelivered: an endpoint that answers 500 and then
// 200 gets the event on the second try, and the log shows both.
func TestWebhookRetriedThenDelivered(t *testing.T) {
	t.Parallel()
	first500 := func(n int) int {
		if n == 0 {
			return 500
		}
		return 200
	}
	modes(t, []string{licensing.ActionLicenseSuspended}, first500, nil, func(t *testing.T, w *world, r runner) {
		_, err := w.svc.Licenses.SuspendLicense(ctx, w.license.ID, "unpaid")
		must(t, err)
		w.settle()
		ds, err := w.store.ListDeliveries(ctx, licensing.DeliveryFilter{EndpointID: w.webhook.ID}, licensing.Page{})
		must(t, err)
		if len(ds) != 1 {
			t.Fatalf("%d deliveries, want 1", len(ds))
		}
		d, err := w.svc.Notifications.Delivery(ctx, ds[0].ID)
		must(t, err)
		var codes []int
		for _, a := range d.Log {
			codes = append(codes, a.StatusCode)
		}
		if d.Status != licensing.DeliveryDelivered || d.Attempts != 2 || !slices.Equal(codes, []int{500, 200}) {
			t.Fatalf("delivery %s after %d attempts, log codes %v; want delivered after [500 200]", d.Status, d.Attempts, codes)
		}
		if d.Log[0].Error == "" || d.Log[1].Error != "" {
			t.Fatalf("attempt errors %q, %q", d.Log[0].Error, d.Log[1].Error)
		}
		// Each attempt keeps what it sent and what it got, bounded.
		for _, a := range d.Log {
			if !strings.Contains(a.RequestBody, `"type":"license.suspended"`) || !strings.Contains(a.RequestBody, d.EventID) {
				t.Errorf("attempt %d request body %q", a.Number, a.RequestBody)
			}
		}
		if r := d.Log[0].ResponseBody; len(r) != licensing.MaxAttemptBody || !strings.HasPrefix(r, "endpoint down. ") {
			t.Errorf("failed attempt's response body: %d bytes %.40q", len(r), r)
		}
		if r := d.Log[1].ResponseBody; r != `{"ok":true,"n":1}` {
			t.Errorf("delivered attempt's response body %q", r)
		}
		if got := w.hook.StatusCodes(); !slices.Equal(got, []int{500, 200}) {
			t.Fatalf("receiver saw %v", got)
		}
	})
}

// TestFailingEndpointDisabledThenRedelivered: an endpoint failing again and
// again is turned off (webhook.disabled is recorded); once fixed and
// enabled, an admin redelivers and the log goes on.
func TestFailingEndpointDisabledThenRedelivered(t *testing.T) {
	t.Parallel()
	var healthy atomic.Bool
	fail := func(int) int {
		if healthy.Load() {
			return 200
		}
		return 503
	}
	tune := func(c *workers.Config) { c.MaxAttempts, c.DisableAfter = 2, 3 }
	modes(t, []string{licensing.ActionLicenseSuspended, licensing.ActionLicenseReinstated}, fail, tune, func(t *testing.T, w *world, r runner) {
		healthy.Store(false)
		_, err := w.svc.Licenses.SuspendLicense(ctx, w.license.ID, "")
		must(t, err)
		w.settle()
		_, err = w.svc.Licenses.ReinstateLicense(ctx, w.license.ID, "")
		must(t, err)
		w.settle()
		hook, err := w.store.GetWebhook(ctx, w.webhook.ID)
		must(t, err)
		if hook.Enabled || hook.DisabledReason == "" {
			t.Fatalf("endpoint still enabled after %v", w.hook.StatusCodes())
		}
		if n := len(w.hook.StatusCodes()); n != 3 {
			t.Fatalf("%d requests reached the failing endpoint, want 3 (2 tries, then 1 before it was disabled)", n)
		}
		evs, err := w.store.ListEvents(ctx, licensing.EventFilter{Action: licensing.ActionWebhookDisabled}, licensing.Page{})
		must(t, err)
		if len(evs) != 1 || evs[0].TargetID != hook.ID {
			t.Fatalf("webhook.disabled events: %+v", evs)
		}
		ds, err := w.store.ListDeliveries(ctx, licensing.DeliveryFilter{EndpointID: hook.ID}, licensing.Page{})
		must(t, err)
		for _, d := range ds {
			if d.Status != licensing.DeliveryFailed {
				t.Fatalf("delivery %s is %s, want failed", d.ID, d.Status)
			}
		}

		healthy.Store(true)
		enabled := true
		_, err = w.svc.Notifications.UpdateWebhook(ctx, hook.ID, licensing.WebhookPatch{Enabled: &enabled})
		must(t, err)
		if _, err := w.svc.Notifications.Redeliver(ctx, ds[0].ID, "fixed"); err != nil {
			t.Fatal(err)
		}
		if _, err := w.svc.Notifications.Redeliver(ctx, ds[0].ID, "fixed"); licensing.ErrorCode(err) != licensing.EConflict {
			t.Fatalf("redelivering a pending delivery: %v, want conflict", err)
		}
		w.settle()
		d, err := w.svc.Notifications.Delivery(ctx, ds[0].ID)
		must(t, err)
		if d.Status != licensing.DeliveryDelivered || d.Attempts != 3 || d.Log[2].StatusCode != 200 || d.Log[2].Number != 3 {
			t.Fatalf("after redelivery: %s, %d attempts, log %+v", d.Status, d.Attempts, d.Log)
		}
		if got := w.hook.Received(); len(got) != 1 || got[0].ID != ds[0].EventID {
			t.Fatalf("receiver got %v", actions(got))
		}
	})
}

// TestTwoWorkersSendEachNoticeOnce runs two asynq workers, each with its
// own database pool and Redis connection as two processes would have,
// scanning at the same time: every notice goes out once.
func TestTwoWorkersSendEachNoticeOnce(t *testing.T) {
	t.Parallel()
	url := storagetest.MigratedPostgresURL(t)
	open := func() *storage.Store {
		st, err := storage.Open(ctx, storage.Config{DatabaseURL: url})
		must(t, err)
		t.Cleanup(func() { _ = st.Close() })
		must(t, st.Migrate(ctx))
		return st
	}
	w := newWorld(t, open(), []string{licensing.ActionLicenseExpiring, licensing.ActionLicenseExpired}, nil)
	// Fifty licenses of the same policy and expiry, to give the race room.
	for range 49 {
		_, err := w.svc.Licenses.CreateLicense(ctx, licensing.LicenseInput{PolicyID: w.policy.ID, CustomerID: w.customer.ID})
		must(t, err)
	}
	db := storagetest.RedisDB(t)
	cfg1 := w.config()
	svc2 := licensing.NewServices(storage.Stores(open()), licensing.Deps{Clock: w.clock.Now, Issuer: "test", Box: w.box, AllowPrivate: true})
	cfg2 := w.config()
	cfg2.Notifications, cfg2.Automation = svc2.Notifications, svc2.Automation
	w1 := startWorker(t, cfg1, redisClient(t, storagetest.RedisAddr(), db))
	w2 := startWorker(t, cfg2, redisClient(t, storagetest.RedisAddr(), db))

	exp := *w.license.ExpiresAt
	for _, at := range []time.Time{exp.Add(-30*day + time.Minute), exp.Add(-7*day + time.Minute), exp.Add(-day + time.Minute), exp.Add(day + time.Minute)} {
		w.clock.Set(at)
		var wg sync.WaitGroup
		for _, r := range []runner{w1, w2, w1, w2} {
			wg.Go(func() {
				if err := r.Run(ctx, workers.TypeScanExpiry); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
	}
	w.settle()
	got := w.hook.Received()
	ids, dups := uniqueIDs(got)
	if dups != 0 || len(got) != 50*4 {
		t.Fatalf("receiver got %d webhooks (%d distinct, %d duplicates), want 200 distinct", len(got), len(ids), dups)
	}
	per := map[string]int{}
	for _, a := range actions(got) {
		per[a]++
	}
	for _, a := range []string{"license.expiring:30", "license.expiring:7", "license.expiring:1", "license.expired"} {
		if per[a] != 50 {
			t.Fatalf("%s sent %d times, want 50 (%v)", a, per[a], per)
		}
	}
	if n := len(w.mail.Messages()); n != 200 {
		t.Fatalf("%d emails, want 200", n)
	}
}

// TestRedisOutageLosesNothing cuts the worker's Redis while licenses
// change: the changes go through, nothing is delivered while Redis is
// away, and once it is back every event arrives; after de-duplication by
// event id none is missing.
func TestRedisOutageLosesNothing(t *testing.T) {
	t.Parallel()
	w := newWorld(t, storagetest.Open(t, "postgres"), []string{licensing.ActionLicenseSuspended, licensing.ActionLicenseReinstated}, nil)
	proxy := storagetest.NewProxy(t, storagetest.RedisAddr())
	startWorker(t, w.config(), redisClient(t, proxy.Addr(), storagetest.RedisDB(t)))

	proxy.Cut()
	for i := range 10 {
		if _, err := w.svc.Licenses.SuspendLicense(ctx, w.license.ID, "outage test"); err != nil {
			t.Fatalf("suspend %d while Redis is down: %v", i, err)
		}
		if _, err := w.svc.Licenses.ReinstateLicense(ctx, w.license.ID, ""); err != nil {
			t.Fatalf("reinstate %d while Redis is down: %v", i, err)
		}
	}
	// The relay keeps failing meanwhile (it runs every 20ms); let it try.
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(w.logs.String(), "cannot hand events to the queue") {
		if time.Now().After(deadline) {
			t.Fatalf("the relay never reported the outage; logs:\n%s", w.logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if got := w.hook.Received(); len(got) != 0 {
		t.Fatalf("%d webhooks arrived while Redis was down", len(got))
	}
	var want []string
	for _, a := range []string{licensing.ActionLicenseSuspended, licensing.ActionLicenseReinstated} {
		evs, err := w.store.ListEvents(ctx, licensing.EventFilter{Action: a}, licensing.Page{Limit: 100})
		must(t, err)
		for _, e := range evs {
			want = append(want, e.ID)
		}
	}
	if len(want) != 20 {
		t.Fatalf("%d events recorded, want 20", len(want))
	}

	proxy.Restore()
	w.settle()
	ids, dups := uniqueIDs(w.hook.Received())
	for _, id := range want {
		if !ids[id] {
			t.Fatalf("event %s never arrived", id)
		}
	}
	if len(ids) != len(want) {
		t.Fatalf("receiver saw %d distinct events, want %d", len(ids), len(want))
	}
	t.Logf("after the outage: %d events delivered, %d duplicates before de-duplication", len(ids), dups)
}

// TestBadPayloadsAreArchived: tasks whose payload cannot be read go to the
// archive at once with a clear log line, and the queue goes on.
func TestBadPayloadsAreArchived(t *testing.T) {
	t.Parallel()
	w := newWorld(t, storagetest.Open(t, "postgres"), []string{licensing.ActionLicenseSuspended}, nil)
	db := storagetest.RedisDB(t)
	rdb := redisClient(t, storagetest.RedisAddr(), db)
	client := asynq.NewClientFromRedisClient(rdb)
	for _, task := range []*asynq.Task{
		asynq.NewTask(workers.TypeDeliver, []byte("not json")),
		asynq.NewTask(workers.TypeDispatch, []byte(`{"event_id":""}`)),
		asynq.NewTask(workers.TypeDispatch, []byte(`{"event_id":"x","extra":1}`)),
	} {
		if _, err := client.Enqueue(task, asynq.MaxRetry(5)); err != nil {
			t.Fatal(err)
		}
	}
	startWorker(t, w.config(), rdb)
	_, err := w.svc.Licenses.SuspendLicense(ctx, w.license.ID, "")
	must(t, err)
	w.settle()
	if got := w.hook.Received(); len(got) != 1 {
		t.Fatalf("the good event: %d webhooks", len(got))
	}
	insp := asynq.NewInspectorFromRedisClient(rdb)
	workerstest.WaitFor(t, "three archived tasks", func() bool {
		qi, err := insp.GetQueueInfo("default")
		return err == nil && qi.Archived == 3 && qi.Retry == 0
	})
	if n := strings.Count(w.logs.String(), "task archived without retry"); n != 3 {
		t.Fatalf("%d archive log lines, want 3:\n%s", n, w.logs.String())
	}
}

// TestLocalPicksUpWhatAStoppedProcessLeft: events recorded, even ones whose
// hand-off was recorded by a process that then died, are delivered when
// the in-process runner starts.
func TestLocalPicksUpWhatAStoppedProcessLeft(t *testing.T) {
	t.Parallel()
	w := newWorld(t, storagetest.Open(t, "sqlite"), []string{licensing.ActionLicenseSuspended, licensing.ActionLicenseReinstated}, nil)
	_, err := w.svc.Licenses.SuspendLicense(ctx, w.license.ID, "")
	must(t, err)
	_, err = w.svc.Licenses.ReinstateLicense(ctx, w.license.ID, "")
	must(t, err)
	// A previous process handed both to its in-memory queue, then died.
	pending, err := w.store.PendingEvents(ctx, w.clock.Now(), 100)
	must(t, err)
	var ids []string
	for _, e := range pending {
		ids = append(ids, e.ID)
	}
	must(t, w.store.MarkEventsRelayed(ctx, ids, w.clock.Now()))
	startLocal(t, w.config())
	w.settle()
	if got := slices.Sorted(slices.Values(actions(w.hook.Received()))); !slices.Equal(got, []string{"license.reinstated", "license.suspended"}) {
		t.Fatalf("got %v", got)
	}
}

// TestRollupAndCleanup: the roll-up stores today's figures; the clean-up
// drops old dispatched outbox entries and finished deliveries, not the
// audit log.
func TestRollupAndCleanup(t *testing.T) {
	t.Parallel()
	w := newWorld(t, storagetest.Open(t, "sqlite"), []string{"*"}, nil)
	cfg := w.config()
	var extra atomic.Int32 // the server adds the abandoned-upload clean-up here
	cfg.Cleanups = append(cfg.Cleanups, func(context.Context) (int, error) { extra.Add(1); return 2, nil })
	l := startLocal(t, cfg)
	_, err := w.svc.Licenses.SuspendLicense(ctx, w.license.ID, "")
	must(t, err)
	w.settle()
	must(t, l.Run(ctx, workers.TypeRollup))
	hist, err := w.svc.Automation.DashboardHistory(ctx, 7)
	must(t, err)
	if len(hist) != 1 || hist[0].Day != w.clock.Now().Format(time.DateOnly) || hist[0].Stats.LicensesByStatus[licensing.LicenseSuspended] != 1 {
		t.Fatalf("history %+v", hist)
	}
	count := func(table string) int64 {
		var n int64
		w.store.DB().Table(table).Count(&n)
		return n
	}
	events, deliveries := count("events"), count("deliveries")
	if count("outboxes") == 0 || deliveries == 0 {
		t.Fatal("nothing to clean up")
	}
	w.clock.Add(31 * day)
	must(t, l.Run(ctx, workers.TypeCleanup))
	if count("outboxes") != 0 || count("deliveries") != 0 || count("delivery_attempts") != 0 {
		t.Fatalf("left after clean-up: outbox %d, deliveries %d, attempts %d", count("outboxes"), count("deliveries"), count("delivery_attempts"))
	}
	if count("events") != events {
		t.Fatal("clean-up touched the audit log")
	}
	if extra.Load() != 1 {
		t.Fatalf("the extra clean-up step ran %d times, want 1", extra.Load())
	}
}

// TestSignatureVector checks Sign against the documented vector, computed
// outside Go.
func TestSignatureVector(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("testdata/webhook_vector.json")
	must(t, err)
	var v struct {
		Secret    string `json:"secret"`
		Timestamp int64  `json:"timestamp"`
		Body      string `json:"body"`
		Header    string `json:"header"`
	}
	must(t, json.Unmarshal(b, &v))
	if got := workers.Sign([]byte(v.Secret), time.Unix(v.Timestamp, 0), []byte(v.Body)); got != v.Header {
		t.Fatalf("Sign = %s, want %s", got, v.Header)
	}
	if !workerstest.VerifySignature(v.Secret, v.Header, []byte(v.Body)) || workerstest.VerifySignature(v.Secret, v.Header, []byte(v.Body+" ")) {
		t.Fatal("the receiver's check disagrees with the vector")
	}
}

// TestWebhookTargetsGuarded: without the allowance, URLs of loopback and
// private networks are refused at registration and at connection time.
func TestWebhookTargetsGuarded(t *testing.T) {
	t.Parallel()
	st := storagetest.Open(t, "sqlite")
	box := newBox(t)
	svc := licensing.NewServices(storage.Stores(st), licensing.Deps{Issuer: "test", Box: box})
	for _, u := range []string{
		"http://127.0.0.1:8080/x", "http://localhost/x", "http://api.localhost/x", "http://[::1]/x", "http://10.1.2.3/x",
		"http://192.168.0.10/x", "http://169.254.169.254/latest/meta-data", "http://[::ffff:127.0.0.1]/x", "http://0.0.0.0/x",
		"http://100.64.0.1/x", "ftp://93.184.216.34/x", "http://user:pw@93.184.216.34/x", "not a url",
	} {
		if err := svc.Notifications.CheckWebhookURL(ctx, u); licensing.ErrorCode(err) != licensing.EInvalid {
			t.Errorf("%s: %v, want invalid", u, err)
		}
	}
	if err := svc.Notifications.CheckWebhookURL(ctx, "https://93.184.216.34/hooks"); err != nil {
		t.Errorf("a public address: %v", err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(200) }))
	defer srv.Close()
	resp, err := workers.NewWebhookClient(false).Post(srv.URL, "application/json", strings.NewReader("{}"))
	if err == nil {
		resp.Body.Close()
		t.Fatal("the guarded client reached a loopback server")
	}
	if !strings.Contains(err.Error(), "not public") {
		t.Fatalf("error %v", err)
	}
	resp, err = workers.NewWebhookClient(true).Post(srv.URL, "application/json", strings.NewReader("{}"))
	must(t, err)
	resp.Body.Close()
}
