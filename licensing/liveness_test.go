package licensing_test

import (
	"context"
	"testing"
	"time"

	"github.com/nzilacode/narcidicontrole/licensing"
	"github.com/nzilacode/narcidicontrole/storage/storagetest"
)

// A machine whose app renews its lease but never heartbeats (as
// verifier.Manager does) is alive: the offline scan must neither mark it
// offline nor free its seat (issue 11, item 1).
func TestRenewalIsASignOfLife(t *testing.T) {
	t.Parallel()
	signs := []struct {
		name string
		call func(f *fixture, key string) error
	}{
		{"renew", func(f *fixture, key string) error {
			_, err := f.svc.Leasing.Renew(context.Background(), req(key, "fingerprint-a"))
			return err
		}},
		{"activate again", func(f *fixture, key string) error {
			_, err := f.svc.Leasing.Activate(context.Background(), req(key, "fingerprint-a"))
			return err
		}},
	}
	for _, d := range storagetest.Dialects {
		for _, sign := range signs {
			t.Run(d+"/"+sign.name, func(t *testing.T) {
				ctx := context.Background()
				f := newFixture(t, d, licensing.PolicyInput{HeartbeatWindowSeconds: 60, OfflineReleaseSeconds: 120, LeaseTTLSeconds: 3600})
				lic := f.license(t, licensing.LicenseInput{})
				g, err := f.svc.Leasing.Activate(ctx, req(lic.Key, "fingerprint-a"))
				if err != nil {
					t.Fatal(err)
				}
				auto := f.svc.Automation
				// Past both the window and the release delay, with only
				// renewals in between: each must count as a heartbeat.
				for range 4 {
					f.clock.Add(50 * time.Second)
					if err := sign.call(f, lic.Key); err != nil {
						t.Fatal(err)
					}
					res, err := auto.ScanOffline(ctx)
					if err != nil {
						t.Fatal(err)
					}
					if res.Offline != 0 || res.Released != 0 {
						t.Fatalf("at %s the scan marked %d offline and released %d, want none", f.clock.Now().Sub(start), res.Offline, res.Released)
					}
				}
				m, err := f.svc.Licenses.Machine(ctx, g.Machine.ID)
				if err != nil {
					t.Fatalf("the machine lost its seat: %v", err)
				}
				if m.Status != licensing.MachineActive || m.LastHeartbeat == nil || !m.LastHeartbeat.Equal(f.clock.Now()) {
					t.Fatalf("machine = %s, last heartbeat %v; want active, heartbeat at %v", m.Status, m.LastHeartbeat, f.clock.Now())
				}
				// Silence after that is still caught.
				f.clock.Add(61*time.Second + licensing.LastSeenMargin)
				if res, err := auto.ScanOffline(ctx); err != nil || res.Offline != 1 {
					t.Fatalf("after 61 s of silence and the margin: %+v, %v; want one machine offline", res, err)
				}
			})
		}
	}
}

// The interval given to clients leaves room before the window ends, so a
// client heartbeating at that interval never races the offline scan.
func TestHeartbeatIntervalIsAFractionOfTheWindow(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		window int64
		want   int
	}{
		{0, 0}, {1, 1}, {2, 1}, {3, 1}, {60, 30}, {61, 30}, {86400, 43200},
		{licensing.MaxDurationSeconds, int(licensing.MaxDurationSeconds / 2)},
		{1 << 62, int(licensing.MaxDurationSeconds / 2)}, // a row from before the limits
	} {
		p := licensing.Policy{HeartbeatWindowSeconds: c.window}
		if got := p.HeartbeatIntervalSeconds(); got != c.want {
			t.Errorf("window %d s: interval %d s, want %d", c.window, got, c.want)
		}
	}
}
