package verifier

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"
)

// TestManagerReportsClockTampering: the clock tampering the guard saw is
// sent with the next renewal (count and times), with the app's version,
// and not again after that renewal succeeded.
func TestManagerReportsClockTampering(t *testing.T) {
	clk := &fakeTime{now: testNow}
	var reqs []MachineRequest
	m := newManager(t, clk, renewFunc(func(_ context.Context, req MachineRequest) (*LeaseResponse, error) {
		reqs = append(reqs, req)
		return &LeaseResponse{Lease: leaseAt(t, clk.Now())}, nil
	}))
	m.Request = MachineRequest{LicenseKey: "NZL-1", Fingerprint: testFP, AppVersion: "3.4.5"}
	m.Guard = &ClockGuard{Path: filepath.Join(t.TempDir(), "clock.json"), Secret: []byte("s"), Clock: clk.Now}
	// A lease from an hour ahead was seen: the clock now reads an hour back.
	if _, err := m.Guard.Observe(&Lease{Claims: LeaseClaims{IssuedAt: testNow.Add(time.Hour).Unix()}}); err != nil {
		t.Fatal(err)
	}
	if err := WriteLeaseFile(m.Path, leaseAt(t, testNow)); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	valid := 0
	tampered := 0
	m.OnChange = func(e Event) {
		switch e.State {
		case StateTampered:
			tampered++
		case StateValid:
			if valid++; valid == 2 {
				cancel()
			}
		}
	}
	if err := m.Run(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Run = %v", err)
	}
	if tampered < 2 || len(reqs) != 2 {
		t.Fatalf("%d tampering reports, %d renewals", tampered, len(reqs))
	}
	r := reqs[0].ClockTampering
	if r == nil || r.Count != tampered || !r.FirstAt.Equal(testNow) || !r.LastAt.After(r.FirstAt) || reqs[0].AppVersion != "3.4.5" {
		t.Fatalf("first renewal after the tampering sent %+v (app %q), want %d reports", r, reqs[0].AppVersion, tampered)
	}
	if reqs[1].ClockTampering != nil || reqs[1].AppVersion != "3.4.5" {
		t.Fatalf("the next renewal sent %+v again", reqs[1].ClockTampering)
	}
}
