package workers_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"net/http/httptest"
	"net/mail"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/go-jose/go-jose/v4"
	"github.com/nzilacode/narcidicontrole/keys"
	"github.com/nzilacode/narcidicontrole/licensing"
	"github.com/nzilacode/narcidicontrole/storage"
	verifier "github.com/nzilacode/narcidicontrole/verifier-sdk"
	"github.com/nzilacode/narcidicontrole/workers"
)

// fakeClock is the one clock of a test: service and workers read it.
type fakeClock struct{ ns atomic.Int64 }

func newClock(t time.Time) *fakeClock        { c := &fakeClock{}; c.ns.Store(t.UnixNano()); return c }
func (c *fakeClock) Now() time.Time          { return time.Unix(0, c.ns.Load()).UTC() }
func (c *fakeClock) Set(t time.Time)         { c.ns.Store(t.UnixNano()) }
func (c *fakeClock) Advance(d time.Duration) { c.ns.Add(int64(d)) }

type signer struct{ priv ed25519.PrivateKey }

func (s signer) SignLease(_ context.Context, c verifier.LeaseClaims) (string, error) {
	sig, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.EdDSA, Key: s.priv}, (&jose.SignerOptions{}).WithType(verifier.LeaseType))
	if err != nil {
		return "", err
	}
	payload, _ := json.Marshal(c)
	obj, err := sig.Sign(payload)
	if err != nil {
		return "", err
	}
	return obj.CompactSerialize()
}

// mailbox is a real SMTP server (go-smtp) on loopback that keeps what it
// receives.
type mailbox struct {
	addr string
	mu   sync.Mutex
	msgs []mailMsg
}

type mailMsg struct {
	From string
	To   []string
	Data string
}

func (m *mailbox) NewSession(*smtp.Conn) (smtp.Session, error) { return &mailSession{box: m}, nil }

type mailSession struct {
	box *mailbox
	msg mailMsg
}

func (s *mailSession) Mail(from string, _ *smtp.MailOptions) error { s.msg.From = from; return nil }
func (s *mailSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.msg.To = append(s.msg.To, to)
	return nil
}
func (s *mailSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.msg.Data = string(b)
	s.box.mu.Lock()
	s.box.msgs = append(s.box.msgs, s.msg)
	s.box.mu.Unlock()
	s.msg = mailMsg{}
	return nil
}
func (s *mailSession) Reset()        { s.msg = mailMsg{} }
func (s *mailSession) Logout() error { return nil }

func startMailbox(t *testing.T) *mailbox {
	t.Helper()
	box := &mailbox{}
	srv := smtp.NewServer(box)
	srv.Domain = "localhost"
	srv.AllowInsecureAuth = true
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	box.addr = ln.Addr().String()
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return box
}

// subjects returns the subjects of the messages received, in order.
func (m *mailbox) subjects() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []string
	for _, msg := range m.msgs {
		parsed, err := mail.ReadMessage(strings.NewReader(msg.Data))
		if err != nil {
			out = append(out, "unreadable: "+err.Error())
			continue
		}
		subject, err := new(mime.WordDecoder).DecodeHeader(parsed.Header.Get("Subject"))
		if err != nil {
			subject = "undecodable: " + err.Error()
		}
		out = append(out, subject)
	}
	return out
}

func (m *mailbox) messages() []mailMsg {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.msgs)
}

// receiver is a webhook endpoint that checks signatures and records what it
// gets. fail says what status to answer to the n-th request (0-based).
type receiver struct {
	srv    *httptest.Server
	secret atomic.Value // string
	mu     sync.Mutex
	got    []workers.WebhookPayload
	codes  []int
	bad    int // requests with a wrong signature
	fail   func(n int) int
}

func startReceiver(t *testing.T, fail func(n int) int) *receiver {
	t.Helper()
	r := &receiver{fail: fail}
	r.secret.Store("")
	r.srv = httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) serve(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	defer r.mu.Unlock()
	n := len(r.codes)
	code := 200
	if r.fail != nil {
		code = r.fail(n)
	}
	if !verifySignature(r.secret.Load().(string), req.Header.Get(workers.SignatureHeader), body) {
		r.bad++
		code = 400
	}
	r.codes = append(r.codes, code)
	if code == 200 {
		var p workers.WebhookPayload
		if err := json.Unmarshal(body, &p); err == nil {
			r.got = append(r.got, p)
		}
	}
	w.WriteHeader(code)
}

// verifySignature is what a receiver does, written from the documentation
// (not with workers.Sign): HMAC-SHA256 over "<t>.<body>".
func verifySignature(secret, header string, body []byte) bool {
	var ts, v1 string
	for _, part := range strings.Split(header, ",") {
		k, v, _ := strings.Cut(part, "=")
		switch k {
		case "t":
			ts = v
		case "v1":
			v1 = v
		}
	}
	return ts != "" && v1 != "" && hmacHex(secret, ts+"."+string(body)) == v1
}

// events returns the event ids received (duplicates included) per action.
func (r *receiver) received() []workers.WebhookPayload {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.got)
}

func (r *receiver) statusCodes() []int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.codes)
}

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
	svc      *licensing.Service
	clock    *fakeClock
	mail     *mailbox
	hook     *receiver
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
	w := &world{t: t, store: st, clock: newClock(t0), mail: startMailbox(t), hook: startReceiver(t, fail), logs: &logBuffer{}}
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	w.svc = licensing.NewService(st, signer{priv}, w.clock.Now, "test")
	w.box = newBox(t)
	w.svc.ConfigureWebhooks(w.box, true)
	var err error
	p, err := w.svc.CreateProduct(ctx, licensing.ProductInput{Code: "studio", Name: "Studio"})
	must(t, err)
	w.policy, err = w.svc.CreatePolicy(ctx, licensing.PolicyInput{ProductID: p.ID, Name: "Pro", DurationSeconds: 40 * 86400, MaxMachines: 2, Floating: true,
		HeartbeatWindowSeconds: 3600, OfflineReleaseSeconds: 86400, GraceSeconds: 86400})
	must(t, err)
	w.customer, err = w.svc.CreateCustomer(ctx, licensing.CustomerInput{Name: "Acme", Email: "it@acme.test",
		Contacts: []licensing.Contact{{Name: "Ada", Email: "ada@acme.test", Role: "billing"}}})
	must(t, err)
	w.license, err = w.svc.CreateLicense(ctx, licensing.LicenseInput{PolicyID: w.policy.ID, CustomerID: w.customer.ID})
	must(t, err)
	w.webhook, err = w.svc.CreateWebhook(ctx, licensing.WebhookInput{URL: w.hook.srv.URL + "/hook", EventTypes: events})
	must(t, err)
	w.hook.secret.Store(w.webhook.Secret)
	return w
}

func newBox(t *testing.T) *keys.SecretBox {
	t.Helper()
	master := make([]byte, 32)
	_, _ = rand.Read(master)
	box, err := keys.NewSecretBox(master, "webhooks")
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
	m, err := workers.NewMailer("smtp://"+w.mail.addr+"?tls=none", "alerts@narcidi.test")
	must(w.t, err)
	return workers.Config{
		Service: w.svc, Clock: w.clock.Now, Mailer: m, AdminEmails: []string{"ops@nzilacode.test"},
		AllowPrivate: true, RetryBase: 20 * time.Millisecond, RetryMax: 200 * time.Millisecond,
		RelayEvery: 20 * time.Millisecond, Log: slog.New(slog.NewTextHandler(w.logs, nil)),
	}
}

// waitFor polls cond until it holds or a generous deadline passes. It
// waits for work to be done; it asserts nothing about how long it took.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// settle waits until nothing is pending: every event dispatched and every
// delivery finished.
func (w *world) settle() {
	w.t.Helper()
	waitFor(w.t, "the outbox and deliveries to drain", func() bool {
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

func hmacHex(secret, msg string) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(msg))
	return hex.EncodeToString(m.Sum(nil))
}
