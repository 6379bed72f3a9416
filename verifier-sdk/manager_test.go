package verifier

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// fakeTime is a clock that moves only when the Manager waits: every wait
// returns at once, having moved the clock by its duration. Tests see the
// same sequence of states on every run, however slow the machine.
type fakeTime struct {
	mu  sync.Mutex
	now time.Time
}

func (f *fakeTime) Now() time.Time { f.mu.Lock(); defer f.mu.Unlock(); return f.now }
func (f *fakeTime) After(d time.Duration) <-chan time.Time {
	f.mu.Lock()
	f.now = f.now.Add(d)
	f.mu.Unlock()
	c := make(chan time.Time, 1)
	c <- f.Now()
	return c
}

type renewFunc func(ctx context.Context, req MachineRequest) (*LeaseResponse, error)

func (f renewFunc) Renew(ctx context.Context, req MachineRequest) (*LeaseResponse, error) {
	return f(ctx, req)
}

// leaseAt is a lease issued at iat for an hour.
func leaseAt(t testing.TB, iat time.Time) string {
	return signLease(t, claimsWith(func(c *LeaseClaims) {
		c.IssuedAt, c.NotBefore, c.Expiry = iat.Unix(), iat.Unix(), iat.Add(time.Hour).Unix()
	}))
}

// runManager runs m until it has reported n events, and returns them.
func runManager(t *testing.T, m *Manager, n int) []Event {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var events []Event
	m.OnChange = func(e Event) {
		events = append(events, e)
		if len(events) == n {
			cancel()
		}
	}
	if err := m.Run(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Run = %v", err)
	}
	return events
}

func states(events []Event) []State {
	out := make([]State, len(events))
	for i, e := range events {
		out[i] = e.State
	}
	return out
}

func newManager(t *testing.T, clk *fakeTime, r Renewer) *Manager {
	t.Helper()
	v, err := New(Config{Keys: testKeySet(t), Product: testProduct, Fingerprint: testFP, Clock: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	return &Manager{Verifier: v, Client: r, Path: filepath.Join(t.TempDir(), "lease.json"), Clock: clk.Now, After: clk.After,
		MinBackoff: time.Minute, MaxBackoff: 8 * time.Minute}
}

func equalStates(t *testing.T, got []State, want ...State) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("states %v, want %v", got, want)
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("states %v, want %v", got, want)
		}
	}
}

func TestManagerRenews(t *testing.T) {
	clk := &fakeTime{now: testNow}
	var asked []time.Time
	m := newManager(t, clk, renewFunc(func(ctx context.Context, req MachineRequest) (*LeaseResponse, error) {
		asked = append(asked, clk.Now())
		if req.Fingerprint != testFP {
			t.Errorf("renewed with %+v", req)
		}
		return &LeaseResponse{Lease: leaseAt(t, clk.Now())}, nil
	}))
	m.Request = MachineRequest{LicenseKey: "NZL-1", Fingerprint: testFP}
	if err := WriteLeaseFile(m.Path, leaseAt(t, testNow.Add(-10*time.Minute))); err != nil {
		t.Fatal(err)
	}
	ev := runManager(t, m, 5)
	equalStates(t, states(ev), StateValid, StateRenewing, StateValid, StateRenewing, StateValid)
	// Renewed near half of the TTL (30m after iat, ±10%), not at its end.
	if d := asked[0].Sub(testNow.Add(-10 * time.Minute)); d < 27*time.Minute || d > 33*time.Minute {
		t.Fatalf("first renewal %v after issue", d)
	}
	fi, err := os.Stat(m.Path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("lease file: %v %v", fi, err)
	}
	b, _ := os.ReadFile(m.Path)
	tok, err := ParseLeaseFile(b)
	if err != nil || tok != m.Lease().Token || tok != ev[4].Lease.Token {
		t.Fatalf("the lease file does not hold the renewed lease: %v", err)
	}
	if !m.HasEntitlement("export") || m.HasEntitlement("admin") {
		t.Fatal("entitlements")
	}
	if n := testing.AllocsPerRun(100, func() { _ = m.HasEntitlement("sync") }); n != 0 {
		t.Fatalf("Manager.HasEntitlement allocates %v times", n)
	}
	// Past the lease's end (and leeway) features stop, even before Run
	// wakes to change the state.
	clk.mu.Lock()
	clk.now = time.Unix(m.Lease().Claims.Expiry, 0).Add(DefaultLeeway + time.Second)
	clk.mu.Unlock()
	if m.State() != StateValid || m.HasEntitlement("export") {
		t.Fatalf("state %s: an ended lease still grants its entitlements", m.State())
	}
}

// With the server unreachable, the lease carries the app to its end, then
// the grace period, then expiry; retries back off.
func TestManagerOfflineGraceExpired(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	srv.Close() // connection refused from now on
	clk := &fakeTime{now: testNow}
	m := newManager(t, clk, &Client{BaseURL: srv.URL})
	m.Grace = 10 * time.Minute
	if err := WriteLeaseFile(m.Path, leaseAt(t, testNow.Add(-50*time.Minute))); err != nil {
		t.Fatal(err)
	}
	var seen []State
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	m.OnChange = func(e Event) {
		seen = append(seen, e.State)
		if e.State == StateExpired {
			cancel()
		}
	}
	if err := m.Run(ctx); !errors.Is(err, context.Canceled) {
		t.Fatal(err)
	}
	// Collapse the renewing/offline alternation to the states' order.
	var order []State
	for _, s := range seen {
		if s == StateRenewing {
			continue
		}
		if len(order) == 0 || order[len(order)-1] != s {
			order = append(order, s)
		}
	}
	equalStates(t, order, StateValid, StateOffline, StateGrace, StateExpired)
	if m.HasEntitlement("export") {
		t.Fatal("an expired lease still grants entitlements")
	}
}

// problemManager is a Manager holding a valid lease whose server answers
// every renewal with a problem of code.
func problemManager(t *testing.T, status int, code string) *Manager {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/problem+json")
		w.WriteHeader(status)
		_, _ = fmt.Fprintf(w, `{"type":"about:blank","title":"refused","status":%d,"code":%q}`, status, code)
	}))
	t.Cleanup(srv.Close)
	m := newManager(t, &fakeTime{now: testNow}, &Client{BaseURL: srv.URL})
	if err := WriteLeaseFile(m.Path, leaseAt(t, testNow)); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestManagerRevoked(t *testing.T) {
	m := problemManager(t, 403, "license_revoked")
	ev := runManager(t, m, 3)
	equalStates(t, states(ev), StateValid, StateRenewing, StateRevoked)
	var apiErr *APIError
	if !errors.As(ev[2].Err, &apiErr) || apiErr.Code() != "license_revoked" || m.HasEntitlement("export") {
		t.Fatalf("revoked: %v", ev[2].Err)
	}
}

// Issue 23 item 2: a not_found renewal answer (a rolled-back or restored
// server) is unsigned: the lease stays in hand until it ends, the event
// says why, and features stay on.
func TestManagerKeepsLeaseOnNotFound(t *testing.T) {
	m := problemManager(t, 404, "not_found")
	ev := runManager(t, m, 3)
	equalStates(t, states(ev), StateValid, StateRenewing, StateOffline)
	var apiErr *APIError
	if !errors.Is(ev[2].Err, ErrServerDoesNotKnow) || !errors.As(ev[2].Err, &apiErr) || apiErr.Code() != "not_found" {
		t.Fatalf("not_found event: %v", ev[2].Err)
	}
	if !m.HasEntitlement("export") || m.Lease() == nil {
		t.Fatal("a not_found answer switched the features off")
	}
}

func TestManagerNeverPanics(t *testing.T) {
	clk := &fakeTime{now: testNow}
	m := newManager(t, clk, renewFunc(func(context.Context, MachineRequest) (*LeaseResponse, error) {
		panic("boom")
	}))
	if err := os.WriteFile(m.Path, []byte("not a lease file"), 0o600); err != nil {
		t.Fatal(err)
	}
	m.OnChange = func(Event) { panic("app bug") }
	if err := m.Run(context.Background()); err == nil {
		t.Fatal("Run swallowed a panic of the renewer without an error")
	}
	if m.State() != StateRenewing {
		t.Fatalf("state %s", m.State())
	}
	if err := (&Manager{}).Run(context.Background()); err == nil {
		t.Fatal("an empty Manager ran")
	}
}

func TestManagerClockTampered(t *testing.T) {
	clk := &fakeTime{now: testNow}
	m := newManager(t, clk, renewFunc(func(context.Context, MachineRequest) (*LeaseResponse, error) {
		return nil, errors.New("offline")
	}))
	m.Guard = &ClockGuard{Path: filepath.Join(t.TempDir(), "clock.json"), Secret: []byte("s"), Clock: clk.Now}
	if _, err := m.Guard.Observe(&Lease{Claims: LeaseClaims{IssuedAt: testNow.Add(3 * time.Hour).Unix()}}); err != nil {
		t.Fatal(err)
	}
	if err := WriteLeaseFile(m.Path, leaseAt(t, testNow)); err != nil {
		t.Fatal(err)
	}
	ev := runManager(t, m, 1)
	if ev[0].State != StateTampered || !errors.Is(ev[0].Err, ErrClockTampered) {
		t.Fatalf("events %+v", ev)
	}
}
