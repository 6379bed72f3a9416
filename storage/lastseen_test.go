package storage_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/nzilacode/narcidicontrole/licensing"
	"github.com/nzilacode/narcidicontrole/storage"
	"github.com/nzilacode/narcidicontrole/storage/storagetest"
)

// seenMachines creates n machines on license l, last seen at t0.
func seenMachines(t *testing.T, s *storage.Store, l *licensing.License, n int, status licensing.MachineStatus) []*licensing.Machine {
	t.Helper()
	out := make([]*licensing.Machine, n)
	for i := range out {
		seen := t0
		m := &licensing.Machine{LicenseID: l.ID, Fingerprint: fmt.Sprintf("fp-%s-%03d", status, i), IP: "192.0.2.1", Status: status,
			LastHeartbeat: &seen, LastLeaseAt: &seen, CreatedAt: t0, UpdatedAt: t0}
		must(t, s.CreateMachine(context.Background(), m))
		out[i] = m
	}
	return out
}

func reload(t *testing.T, s *storage.Store, m *licensing.Machine) *licensing.Machine {
	t.Helper()
	got, err := s.GetMachine(context.Background(), m.ID)
	must(t, err)
	return got
}

// eventually polls cond for up to 5 s (the harness's bound for a stamp).
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !cond(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("after 5 s: %s", what)
		}
	}
}

func heartbeatAt(t *testing.T, s *storage.Store, m *licensing.Machine, at time.Time) bool {
	got := reload(t, s, m)
	return got.LastHeartbeat != nil && got.LastHeartbeat.Equal(at)
}

func TestLastSeenBatcher(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	at := t0.Add(time.Hour)
	run := func(name string, fn func(t *testing.T, s *storage.Store, l *licensing.License)) {
		t.Run(name, func(t *testing.T) {
			storagetest.ForEach(t, func(t *testing.T, s *storage.Store) {
				_, _, _, l := seed(t, s)
				fn(t, s, l)
			})
		})
	}
	{
		run("flush on size", func(t *testing.T, s *storage.Store, l *licensing.License) {
			ms := seenMachines(t, s, l, 3, licensing.MachineActive)
			b := storage.NewLastSeenBatcherUnbounded(s, storage.LastSeenConfig{MaxDelay: time.Hour, MaxBatch: 3})
			defer b.Close(ctx)
			for _, m := range ms[:2] {
				must(t, b.RecordSeen(ctx, licensing.Sighting{MachineID: m.ID, At: at}))
			}
			time.Sleep(200 * time.Millisecond)
			if heartbeatAt(t, s, ms[0], at) || b.Pending() != 2 {
				t.Fatalf("written before the batch was full or its delay passed (pending %d)", b.Pending())
			}
			must(t, b.RecordSeen(ctx, licensing.Sighting{MachineID: ms[2].ID, At: at}))
			eventually(t, "the full batch is written", func() bool {
				return heartbeatAt(t, s, ms[0], at) && heartbeatAt(t, s, ms[1], at) && heartbeatAt(t, s, ms[2], at)
			})
		})
		run("flush on delay", func(t *testing.T, s *storage.Store, l *licensing.License) {
			ms := seenMachines(t, s, l, 1, licensing.MachineActive)
			b := storage.NewLastSeenBatcher(s, storage.LastSeenConfig{MaxDelay: 100 * time.Millisecond, MaxBatch: 1000})
			defer b.Close(ctx)
			must(t, b.RecordSeen(ctx, licensing.Sighting{MachineID: ms[0].ID, At: at, Lease: true}))
			eventually(t, "the stamp is written after the delay", func() bool { return heartbeatAt(t, s, ms[0], at) })
			if got := reload(t, s, ms[0]); got.LastLeaseAt == nil || !got.LastLeaseAt.Equal(at) {
				t.Fatalf("last lease %v, want %v", got.LastLeaseAt, at)
			}
			// A second batch after the first.
			later := at.Add(time.Minute)
			must(t, b.RecordSeen(ctx, licensing.Sighting{MachineID: ms[0].ID, At: later}))
			eventually(t, "the second batch is written", func() bool { return heartbeatAt(t, s, ms[0], later) })
		})
		run("flush on close, then at once", func(t *testing.T, s *storage.Store, l *licensing.License) {
			ms := seenMachines(t, s, l, 2, licensing.MachineActive)
			b := storage.NewLastSeenBatcherUnbounded(s, storage.LastSeenConfig{MaxDelay: time.Hour, MaxBatch: 1000})
			must(t, b.RecordSeen(ctx, licensing.Sighting{MachineID: ms[0].ID, At: at}))
			if heartbeatAt(t, s, ms[0], at) {
				t.Fatal("written before Close")
			}
			must(t, b.Close(ctx))
			if !heartbeatAt(t, s, ms[0], at) {
				t.Fatal("Close did not write the pending stamp")
			}
			must(t, b.RecordSeen(ctx, licensing.Sighting{MachineID: ms[1].ID, At: at}))
			if !heartbeatAt(t, s, ms[1], at) {
				t.Fatal("a stamp recorded after Close was not written at once")
			}
		})
		run("merge, conditional on blocked, back to active", func(t *testing.T, s *storage.Store, l *licensing.License) {
			ms := seenMachines(t, s, l, 1, licensing.MachineOffline)
			blocked := seenMachines(t, s, l, 1, licensing.MachineBlocked)[0]
			b := storage.NewLastSeenBatcherUnbounded(s, storage.LastSeenConfig{MaxDelay: time.Hour})
			m := ms[0]
			t1, t2, t3 := at, at.Add(time.Second), at.Add(2*time.Second)
			// Out of order, as concurrent requests may hand them over.
			must(t, b.RecordSeen(ctx, licensing.Sighting{MachineID: m.ID, At: t2, Lease: true, IP: "198.51.100.2"}))
			must(t, b.RecordSeen(ctx, licensing.Sighting{MachineID: m.ID, At: t3, IP: "198.51.100.3"}))
			must(t, b.RecordSeen(ctx, licensing.Sighting{MachineID: m.ID, At: t1, Lease: true, IP: "198.51.100.1"}))
			must(t, b.RecordSeen(ctx, licensing.Sighting{MachineID: blocked.ID, At: t3, Lease: true}))
			must(t, b.RecordSeen(ctx, licensing.Sighting{MachineID: "0190a8e8-0000-7000-8000-00000000dead", At: t3})) // deleted meanwhile
			must(t, b.Close(ctx))
			got := reload(t, s, m)
			if got.Status != licensing.MachineActive || !got.LastHeartbeat.Equal(t3) || !got.LastLeaseAt.Equal(t2) || got.IP != "198.51.100.3" {
				t.Fatalf("machine = %s, heartbeat %v, lease %v, ip %s; want active, %v, %v, 198.51.100.3", got.Status, got.LastHeartbeat, got.LastLeaseAt, got.IP, t3, t2)
			}
			gb := reload(t, s, blocked)
			if gb.Status != licensing.MachineBlocked || !gb.LastHeartbeat.Equal(t0) || !gb.LastLeaseAt.Equal(t0) {
				t.Fatalf("blocked machine = %s, heartbeat %v, lease %v; want untouched", gb.Status, gb.LastHeartbeat, gb.LastLeaseAt)
			}
			// Another instance's older batch landing late moves nothing back.
			old := storage.NewLastSeenBatcherUnbounded(s, storage.LastSeenConfig{MaxDelay: time.Hour})
			must(t, old.RecordSeen(ctx, licensing.Sighting{MachineID: m.ID, At: t1, Lease: true, IP: "198.51.100.9"}))
			must(t, old.Close(ctx))
			if got := reload(t, s, m); !got.LastHeartbeat.Equal(t3) || !got.LastLeaseAt.Equal(t2) || got.IP != "198.51.100.3" {
				t.Fatalf("after an older batch: heartbeat %v, lease %v, ip %s; want %v, %v, 198.51.100.3", got.LastHeartbeat, got.LastLeaseAt, got.IP, t3, t2)
			}
		})
		run("concurrent use", func(t *testing.T, s *storage.Store, l *licensing.License) {
			ms := seenMachines(t, s, l, 20, licensing.MachineActive)
			b := storage.NewLastSeenBatcher(s, storage.LastSeenConfig{MaxDelay: 10 * time.Millisecond, MaxBatch: 7})
			var wg sync.WaitGroup
			for g := range 8 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := range 100 {
						m := ms[(g+i)%len(ms)]
						if err := b.RecordSeen(ctx, licensing.Sighting{MachineID: m.ID, At: at.Add(time.Duration(g*100+i) * time.Millisecond), Lease: i%2 == 0}); err != nil {
							t.Error(err)
						}
						if i%25 == 0 {
							_ = b.Pending()
						}
					}
				}()
			}
			wg.Wait()
			must(t, b.Close(ctx))
			// The latest stamp of each machine is what it holds.
			latest := map[string]time.Time{}
			for g := range 8 {
				for i := range 100 {
					id, ts := ms[(g+i)%len(ms)].ID, at.Add(time.Duration(g*100+i)*time.Millisecond)
					if ts.After(latest[id]) {
						latest[id] = ts
					}
				}
			}
			for _, m := range ms {
				if got := reload(t, s, m); !got.LastHeartbeat.Equal(latest[m.ID]) {
					t.Errorf("machine %s: heartbeat %v, want %v", m.Fingerprint, got.LastHeartbeat, latest[m.ID])
				}
			}
		})
	}
}
