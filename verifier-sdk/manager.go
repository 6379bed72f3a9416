package verifier

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// State is what a Manager knows of its lease. States cross into apps' logs
// and UIs: only ever add.
type State string

const (
	StateNone     State = "none"           // no lease yet (no file, or an unusable one)
	StateValid    State = "valid"          // a verified lease, renewed on schedule
	StateRenewing State = "renewing"       // a renewal is in flight; the lease in hand stays valid
	StateOffline  State = "offline_valid"  // renewal failed (no network, server down); the lease is still valid
	StateGrace    State = "grace"          // the lease has ended, but less than Grace ago: the app may keep running
	StateExpired  State = "expired"        // the lease has ended (and its grace): stop licensed features
	StateRevoked  State = "revoked"        // the server refused to renew: license revoked, suspended, expired, or machine blocked (not_found is not a refusal: ErrServerDoesNotKnow)
	StateTampered State = "clock_tampered" // the ClockGuard saw the clock run back
)

// Event is a state change reported by a Manager.
type Event struct {
	State State
	Lease *Lease // the lease in hand (nil in StateNone)
	Err   error  // why, for StateOffline, StateRevoked, StateExpired, StateTampered, StateNone
}

// ErrServerDoesNotKnow is the Err of a StateOffline event when the server
// answered not_found to a renewal. That answer is not signed: a server
// restored from an old backup or rolled back gives it for licenses it will
// know again, so the Manager keeps the lease until it ends instead of
// treating it as revoked.
var ErrServerDoesNotKnow = errors.New("the server answered not_found for this license or machine, an unsigned answer: the lease in hand stays valid until it ends")

// Renewer renews a lease: *Client is one.
type Renewer interface {
	Renew(ctx context.Context, req MachineRequest) (*LeaseResponse, error)
}

var _ Renewer = (*Client)(nil)

// Manager keeps an app's lease: it loads it from its file, verifies it,
// renews it in the background at RenewFraction of its TTL (with jitter, and
// exponential backoff on failure), saves each new lease atomically (0600),
// and reports every state change. Run it in a goroutine; read State and
// HasEntitlement from anywhere.
type Manager struct {
	Verifier *Verifier      // required
	Client   Renewer        // required
	Request  MachineRequest // the license key and fingerprint to renew with
	Path     string         // the lease file (WriteLeaseFile format); required

	RenewFraction float64       // renew when this part of the TTL has passed; 0: 0.5
	Jitter        float64       // ± this part of the delay, so that a fleet does not renew at once; 0: 0.1
	MinBackoff    time.Duration // first retry delay; 0: 5s
	MaxBackoff    time.Duration // 0: 10m
	Grace         time.Duration // how long after its end a lease still counts (StateGrace); 0: none
	Guard         *ClockGuard   // optional: checked at every step
	OnChange      func(Event)   // called on each change, from Run's goroutine; a panic in it is recovered

	// For tests: the clock (should be the Verifier's) and the timer.
	Clock func() time.Time
	After func(time.Duration) <-chan time.Time

	lease atomic.Pointer[Lease]
	state atomic.Value // State
	mu    sync.Mutex   // one Run at a time
	// tampered is the clock tampering seen since the last renewal, sent
	// with the next one (Run's goroutine only).
	tampered *ClockTamperingReport
}

// State is the current state.
func (m *Manager) State() State {
	if s, ok := m.state.Load().(State); ok {
		return s
	}
	return StateNone
}

// Lease is the lease in hand, or nil.
func (m *Manager) Lease() *Lease { return m.lease.Load() }

// HasEntitlement reports whether the lease in hand grants code, the state
// allows running (valid, renewing, offline, grace) and the lease has not
// ended (plus leeway, or plus Grace in the grace state). The state changes
// only when Run wakes, which can be minutes apart while offline; checking
// the end here stops features at the lease's end, not at the next wake. It
// does not allocate.
func (m *Manager) HasEntitlement(code string) bool {
	l := m.lease.Load()
	if l == nil || m.Verifier == nil {
		return false
	}
	end := time.Unix(l.Claims.Expiry, 0).Add(m.Verifier.leeway)
	switch m.State() {
	case StateValid, StateRenewing, StateOffline:
	case StateGrace:
		end = end.Add(m.Grace)
	default:
		return false
	}
	return m.now().Before(end) && l.HasEntitlement(code)
}

func (m *Manager) now() time.Time {
	if m.Clock != nil {
		return m.Clock()
	}
	return time.Now()
}

func (m *Manager) after(d time.Duration) <-chan time.Time {
	if m.After != nil {
		return m.After(d)
	}
	return time.After(d)
}

func (m *Manager) set(s State, l *Lease, err error) {
	if l != nil {
		m.lease.Store(l)
	}
	prev := m.State()
	m.state.Store(s)
	if s == prev && err == nil && s != StateValid {
		return
	}
	if m.OnChange != nil {
		func() {
			defer func() { _ = recover() }() // an app's callback must not kill the renewals
			m.OnChange(Event{State: s, Lease: m.lease.Load(), Err: err})
		}()
	}
}

// Run loads, verifies and renews the lease until ctx ends; it returns
// ctx.Err(), or an error when the Manager is misconfigured. It never panics:
// a panic inside is recovered and returned as an error.
func (m *Manager) Run(ctx context.Context) (err error) {
	if m.Verifier == nil || m.Client == nil || m.Path == "" {
		return errors.New("verifier: Manager needs a Verifier, a Client and a Path")
	}
	if !m.mu.TryLock() {
		return errors.New("verifier: Manager is already running")
	}
	defer m.mu.Unlock()
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("verifier: Manager: recovered from panic: %v", r)
		}
	}()
	m.loadFile()
	backoff := time.Duration(0)
	for {
		wait := m.nextRenewal(backoff)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-m.after(wait):
		}
		if ctx.Err() != nil { // both were ready: select picks at random
			return ctx.Err()
		}
		if m.checkClock() {
			backoff = m.grow(backoff)
			continue
		}
		m.set(StateRenewing, nil, nil)
		if m.renew(ctx) {
			backoff = 0
		} else {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			backoff = m.grow(backoff)
		}
	}
}

func (m *Manager) grow(b time.Duration) time.Duration {
	lo, hi := m.MinBackoff, m.MaxBackoff
	if lo <= 0 {
		lo = 5 * time.Second
	}
	if hi <= 0 {
		hi = 10 * time.Minute
	}
	if b < lo {
		return lo
	}
	return min(2*b, hi)
}

// nextRenewal is the wait before the next renewal: the backoff after a
// failure, else until RenewFraction of the TTL, jittered.
func (m *Manager) nextRenewal(backoff time.Duration) time.Duration {
	l := m.lease.Load()
	var d time.Duration
	switch {
	case backoff > 0:
		d = backoff
	case l == nil:
		return 0
	default:
		frac := m.RenewFraction
		if frac <= 0 || frac >= 1 {
			frac = 0.5
		}
		ttl := time.Duration(l.Claims.Expiry-l.Claims.IssuedAt) * time.Second
		d = time.Unix(l.Claims.IssuedAt, 0).Add(time.Duration(float64(ttl) * frac)).Sub(m.now())
	}
	j := m.Jitter
	if j <= 0 || j >= 1 {
		j = 0.1
	}
	d += time.Duration((rand.Float64()*2 - 1) * j * float64(d))
	return max(d, 0)
}

// checkClock reports (and enters StateTampered) when the guard refuses the clock.
func (m *Manager) checkClock() bool {
	if m.Guard == nil {
		return false
	}
	if _, err := m.Guard.Observe(m.lease.Load()); err != nil {
		now := m.now()
		if m.tampered == nil {
			m.tampered = &ClockTamperingReport{FirstAt: now}
		}
		m.tampered.Count++
		m.tampered.LastAt = now
		m.set(StateTampered, nil, err)
		return true
	}
	return false
}

func (m *Manager) loadFile() {
	b, err := os.ReadFile(m.Path)
	if err != nil {
		m.set(StateNone, nil, err)
		return
	}
	tok, err := ParseLeaseFile(b)
	if err != nil {
		m.set(StateNone, nil, err)
		return
	}
	if m.checkClock() {
		return
	}
	m.judge(tok, nil)
}

// judge verifies tok and enters the state it earns; why is the renewal
// failure, if any, that led here.
func (m *Manager) judge(tok string, why error) {
	l, err := m.Verifier.Verify(tok)
	switch {
	case err == nil && why == nil:
		m.set(StateValid, l, nil)
	case err == nil:
		m.set(StateOffline, l, why)
	case errors.Is(err, ErrExpired) && m.inGrace(tok):
		m.set(StateGrace, nil, errors.Join(err, why))
	case errors.Is(err, ErrExpired):
		m.set(StateExpired, nil, errors.Join(err, why))
	default:
		m.set(StateNone, nil, err)
	}
}

func (m *Manager) inGrace(tok string) bool {
	if m.Grace <= 0 {
		return false
	}
	v := m.Verifier
	shifted := &Verifier{keys: v.keys, roots: v.roots, product: v.product, fingerprint: v.fingerprint, leeway: v.leeway,
		clock: func() time.Time { return v.clock().Add(-m.Grace) }}
	l, err := shifted.Verify(tok)
	if err != nil {
		return false
	}
	m.lease.Store(l)
	return true
}

// renew asks for a new lease; it reports success.
func (m *Manager) renew(ctx context.Context) bool {
	req := m.Request
	if m.tampered != nil {
		report := *m.tampered
		req.ClockTampering = &report
	}
	res, err := m.Client.Renew(ctx, req)
	if err == nil {
		m.tampered = nil // the server has it
		l, verr := m.Verifier.Verify(res.Lease)
		if verr != nil {
			err = fmt.Errorf("the server sent a lease that does not verify: %w", verr)
		} else if werr := WriteLeaseFile(m.Path, res.Lease); werr != nil {
			err = werr
		} else {
			m.set(StateValid, l, nil)
			return true
		}
	}
	var apiErr *APIError
	if errors.As(err, &apiErr) {
		switch apiErr.Code() {
		case "license_revoked", "license_suspended", "license_expired", "machine_blocked", "machine_not_activated":
			m.set(StateRevoked, nil, err)
			return false
		case "not_found":
			// A server that does not know the license (a database restored
			// from an old backup, a rolled-back server, a wrong base URL)
			// states nothing it signed: the lease in hand stays valid until
			// it ends, as when the server is unreachable, and says why.
			err = fmt.Errorf("%w: %w", ErrServerDoesNotKnow, err)
		}
	}
	if l := m.lease.Load(); l != nil {
		m.judge(l.Token, err)
	} else {
		m.set(StateNone, nil, err)
	}
	return false
}
