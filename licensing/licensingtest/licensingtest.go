// Package licensingtest holds what tests of the domain and its adapters
// share: the one settable test clock (the real lease signer is keys/keystest).
package licensingtest

import (
	"sync/atomic"
	"time"
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
