package workers_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/nzilacode/narcidicontrole/keys"
	"github.com/nzilacode/narcidicontrole/keys/keystest"
	"github.com/nzilacode/narcidicontrole/licensing"
	"github.com/nzilacode/narcidicontrole/licensing/licensingtest"
	"github.com/nzilacode/narcidicontrole/licensing/users"
	"github.com/nzilacode/narcidicontrole/storage"
	"github.com/nzilacode/narcidicontrole/workers"
	"github.com/nzilacode/narcidicontrole/workers/workerstest"
)

// logBuffer collects log lines of a test, safe for concurrent use.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// world is a seeded database with one customer, one license and one
// webhook endpoint, a mailbox and a receiver.
type world struct {
	t        *testing.T
	store    *storage.Store
	svc      *licensing.Services
	clock    *licensingtest.Clock
	mail     *workerstest.Mailbox
	hook     *workerstest.Receiver
	webhook  *licensing.CreatedWebhook
	policy   *licensing.Policy
	customer *licensing.Customer
	license  *licensing.CreatedLicense
	logs     *logBuffer
	box      *keys.SecretBox
}

var t0 = time.Date(2027, 1, 1, 9, 0, 0, 0, time.UTC)

// newWorld seeds st. The license expires 40 days after t0, with a one day
// grace; machines must beat every hour and lose their seat after a day.
func newWorld(t *testing.T, st *storage.Store, events []string, fail func(n int) int) *world {
	t.Helper()
	ctx := context.Background()
	w := &world{t: t, store: st, clock: licensingtest.NewClock(t0), mail: workerstest.StartMailbox(t), hook: workerstest.StartReceiver(t, fail), logs: &logBuffer{}}
	kr, _ := keystest.Keyring(t, w.clock.Now)
	w.box = newBox(t)
	w.svc = licensing.NewServices(storage.Stores(st), licensing.Deps{Signer: kr, Clock: w.clock.Now, Issuer: "test", Box: w.box, AllowPrivate: true})
	var err error
	p, err := w.svc.Catalog.CreateProduct(ctx, licensing.ProductInput{Code: "studio", Name: "Studio"})
	must(t, err)
	w.policy, err = w.svc.Catalog.CreatePolicy(ctx, licensing.PolicyInput{ProductID: p.ID, Name: "Pro", DurationSeconds: 40 * 86400, MaxMachines: 2, Floating: true,
		HeartbeatWindowSeconds: 3600, OfflineReleaseSeconds: 86400, GraceSeconds: 86400})
	must(t, err)
	w.customer, err = w.svc.Customers.CreateCustomer(ctx, licensing.CustomerInput{Name: "Acme", Email: "it@acme.test",
		Contacts: []licensing.Contact{{Name: "Ada", Email: "ada@acme.test", Role: "billing"}}})
	must(t, err)
	w.license, err = w.svc.Licenses.CreateLicense(ctx, licensing.LicenseInput{PolicyID: w.policy.ID, CustomerID: w.customer.ID})
	must(t, err)
	w.webhook, err = w.svc.Notifications.CreateWebhook(ctx, licensing.WebhookInput{URL: w.hook.URL + "/hook", EventTypes: events})
	must(t, err)
	w.hook.SetSecret(w.webhook.Secret)
	return w
}

func newBox(t *testing.T) *keys.SecretBox {
	t.Helper()
	master := make([]byte, 32)
	_, _ = rand.Read(master)
	box, err := keys.NewSecretBox(master, keys.BoxWebhooks)
	if err != nil {
		t.Fatal(err)
	}
	return box
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// config is the workers' configuration of the world: fast retries, loopback
// allowed, email to the mailbox.
func (w *world) config() workers.Config {
	m, err := workers.NewMailer("smtp://"+w.mail.Addr+"?tls=none", "alerts@narcidi.test")
	must(w.t, err)
	return workers.Config{
		Notifications: w.svc.Notifications, Automation: w.svc.Automation, Clock: w.clock.Now, Mailer: m, AdminEmails: []string{"ops@nzilacode.test"},
		AllowPrivate: true, RetryBase: 20 * time.Millisecond, RetryMax: 200 * time.Millisecond,
		RelayEvery: 20 * time.Millisecond, PollEvery: 50 * time.Millisecond, Log: slog.New(slog.NewTextHandler(w.logs, nil)),
		// As wiring does: staff addresses read as their console users chose.
		StaffLocale: func(ctx context.Context, email string) (string, string, error) {
			return users.Locale(ctx, w.store.Users(), email)
		},
	}
}

// settle waits until nothing is pending: every event dispatched and every
// delivery finished.
func (w *world) settle() {
	w.t.Helper()
	workerstest.WaitFor(w.t, "the outbox and deliveries to drain", func() bool {
		var n int64
		w.store.DB().Raw(`SELECT (SELECT count(*) FROM outboxes WHERE dispatched_at IS NULL) + (SELECT count(*) FROM deliveries WHERE status = 'pending')`).Scan(&n)
		return n == 0
	})
}

// actions returns the actions of the webhooks received, with the notice
// days for license.expiring ("license.expiring:30").
func actions(ps []workers.WebhookPayload) []string {
	var out []string
	for _, p := range ps {
		a := p.Type
		if a == licensing.ActionLicenseExpiring {
			var n licensing.ExpiryNotice
			_ = json.Unmarshal(p.Data.After, &n)
			a = fmt.Sprintf("%s:%d", a, n.DaysBefore)
		}
		out = append(out, a)
	}
	return out
}

// uniqueIDs de-duplicates by event id, as a receiver does, and reports
// whether any id came twice.
func uniqueIDs(ps []workers.WebhookPayload) (map[string]bool, int) {
	seen := map[string]bool{}
	dups := 0
	for _, p := range ps {
		if seen[p.ID] {
			dups++
		}
		seen[p.ID] = true
	}
	return seen, dups
}
