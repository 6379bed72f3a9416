package verifier

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestClockGuard(t *testing.T) {
	now := testNow
	path := filepath.Join(t.TempDir(), "clock.json")
	g := &ClockGuard{Path: path, Secret: []byte("app-secret"), Tolerance: 5 * time.Minute, Clock: func() time.Time { return now }}

	if _, err := g.Now(); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("time record: %v %v", fi, err)
	}
	now = testNow.Add(-4 * time.Minute) // within the tolerance: an NTP step
	if _, err := g.Now(); err != nil {
		t.Fatalf("within tolerance: %v", err)
	}
	now = testNow.Add(-6 * time.Minute)
	if _, err := g.Now(); !errors.Is(err, ErrClockTampered) {
		t.Fatalf("clock set back 6m: %v", err)
	}
	// Forward is fine, and raises the mark.
	now = testNow.Add(time.Hour)
	if _, err := g.Now(); err != nil {
		t.Fatal(err)
	}
	now = testNow
	if _, err := g.Now(); !errors.Is(err, ErrClockTampered) {
		t.Fatalf("back to a time before the mark: %v", err)
	}

	// A lease's iat raises the mark even on a fresh record.
	g2 := &ClockGuard{Path: filepath.Join(t.TempDir(), "c.json"), Secret: []byte("s"), Clock: func() time.Time { return now }}
	now = testNow
	lease := &Lease{Claims: LeaseClaims{IssuedAt: testNow.Add(2 * time.Hour).Unix()}}
	if _, err := g2.Observe(lease); err != nil { // checked against the old mark, then raises it
		t.Fatal(err)
	}
	if _, err := g2.Now(); !errors.Is(err, ErrClockTampered) {
		t.Fatalf("clock 2h behind a lease already seen (default tolerance): %v", err)
	}
}

func TestClockGuardDetectsEdits(t *testing.T) {
	now := testNow
	path := filepath.Join(t.TempDir(), "clock.json")
	g := &ClockGuard{Path: path, Secret: []byte("app-secret"), Clock: func() time.Time { return now }}
	if _, err := g.Now(); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	edited := strings.Replace(string(b), `"max_seen":`, `"max_seen":1`, 1) // another number, same MAC
	if err := os.WriteFile(path, []byte(edited), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := g.Now(); !errors.Is(err, ErrClockTampered) {
		t.Fatalf("edited record: %v", err)
	}
	other := &ClockGuard{Path: path, Secret: []byte("another app"), Clock: g.Clock}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := other.Now(); !errors.Is(err, ErrClockTampered) {
		t.Fatalf("record of another secret: %v", err)
	}
	if _, err := (&ClockGuard{Path: path}).Now(); err == nil {
		t.Fatal("a guard without a secret worked")
	}
}
