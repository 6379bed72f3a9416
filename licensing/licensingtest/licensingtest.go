// Package licensingtest holds what tests of the domain and its adapters
// share: the one settable test clock, and the real keyring as lease signer.
package licensingtest

import (
	"bytes"
	"crypto/ed25519"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nzilacode/narcidicontrole/keys"
)

// Clock is the one clock of a test: it moves only when told, and services,
// workers and stores of the test all read it. Safe for concurrent use.
type Clock struct{ ns atomic.Int64 }

// NewClock starts a clock at t.
func NewClock(t time.Time) *Clock { c := &Clock{}; c.Set(t); return c }

// Now is the clock's time (UTC); pass c.Now as a licensing.Clock.
func (c *Clock) Now() time.Time { return time.Unix(0, c.ns.Load()).UTC() }

// Set moves the clock to t.
func (c *Clock) Set(t time.Time) { c.ns.Store(t.UnixNano()) }

// Add moves the clock by d.
func (c *Clock) Add(d time.Duration) { c.ns.Add(int64(d)) }

// Keyring opens a real keyring (the production lease signer) in a
// temporary folder with an active key, and returns it with that key's
// public half.
func Keyring(t testing.TB, clock func() time.Time) (*keys.Keyring, ed25519.PublicKey) {
	t.Helper()
	kr, err := keys.Open(t.TempDir(), bytes.Repeat([]byte{7}, keys.MasterKeySize), clock)
	if err != nil {
		t.Fatal(err)
	}
	kid, _, err := kr.EnsureActive()
	if err != nil {
		t.Fatal(err)
	}
	return kr, kr.PublicKeys()[kid]
}
