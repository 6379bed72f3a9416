package verifier

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"sync"
)

// MeterBudget lets an app spend a meter's allowance while offline: it
// starts from what a verified lease says the meter still allows, refuses
// uses past it, and keeps the uses spent until Report tells the server.
// A report carries one id until the server has accepted it, so a report
// retried after a lost answer is counted once. Safe for concurrent use.
type MeterBudget struct {
	mu      sync.Mutex
	meter   string
	left    int64 // -1: no bound
	pending int64
	id      string // the id of the pending report
}

// NewMeterBudget is the budget of meter (an entitlement code, "" for the
// license's own) in a verified lease. An error when the lease has no such
// meter.
func NewMeterBudget(lease *Lease, meter string) (*MeterBudget, error) {
	for _, m := range lease.Claims.Meters {
		if m.Meter == meter {
			return &MeterBudget{meter: meter, left: m.Remaining}, nil
		}
	}
	return nil, fmt.Errorf("verifier: the lease has no meter %q", meter)
}

// Spend takes n uses from the budget: false (and nothing taken) when fewer
// than n are left.
func (b *MeterBudget) Spend(n int64) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if n < 1 || (b.left >= 0 && n > b.left) {
		return false
	}
	if b.left >= 0 {
		b.left -= n
	}
	b.pending += n
	return true
}

// Left is what the budget still allows (-1: no bound); Pending the uses
// spent and not yet reported.
func (b *MeterBudget) Left() int64    { b.mu.Lock(); defer b.mu.Unlock(); return b.left }
func (b *MeterBudget) Pending() int64 { b.mu.Lock(); defer b.mu.Unlock(); return b.pending }

// Report sends the pending uses to the server (a report: counted even past
// the meter's bound, since they were spent, and once per id). On success
// the pending uses are cleared and the budget takes the server's
// remaining figure; on failure they stay, with the same id, for the next
// try. Nothing pending: nil, nil. Uses spent during a report wait for the
// next one.
func (b *MeterBudget) Report(ctx context.Context, c *Client, licenseKey, fingerprint string) (*UseResponse, error) {
	b.mu.Lock()
	n := b.pending
	if n == 0 {
		b.mu.Unlock()
		return nil, nil
	}
	if b.id == "" {
		var r [16]byte
		if _, err := rand.Read(r[:]); err != nil {
			b.mu.Unlock()
			return nil, err
		}
		b.id = "report-" + hex.EncodeToString(r[:])
	}
	id := b.id
	b.mu.Unlock()
	out, err := c.UseMeter(ctx, UseRequest{LicenseKey: licenseKey, Fingerprint: fingerprint, Meter: b.meter, ID: id, Uses: n, Report: true})
	if err != nil {
		return nil, err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.pending -= n
	b.id = ""
	if b.left >= 0 {
		// The server's figure, less what was spent meanwhile.
		b.left = max(out.Remaining-b.pending, 0)
	}
	return out, nil
}
