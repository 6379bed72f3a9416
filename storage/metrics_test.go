package storage_test

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/nzilacode/narcidicontrole/licensing"
	"github.com/nzilacode/narcidicontrole/storage"
	"github.com/nzilacode/narcidicontrole/storage/storagetest"
)

// gathered is every sample of reg by name and then by its labels
// ("k=v,k=v", "" without labels).
func gathered(t *testing.T, reg *prometheus.Registry) map[string]map[string]float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	out := map[string]map[string]float64{}
	for _, mf := range mfs {
		byLabels := map[string]float64{}
		for _, m := range mf.GetMetric() {
			key := ""
			for i, lp := range m.GetLabel() {
				if i > 0 {
					key += ","
				}
				key += lp.GetName() + "=" + lp.GetValue()
			}
			byLabels[key] = value(m)
		}
		out[mf.GetName()] = byLabels
	}
	return out
}

func value(m *dto.Metric) float64 {
	switch {
	case m.Gauge != nil:
		return m.Gauge.GetValue()
	case m.Counter != nil:
		return m.Counter.GetValue()
	}
	return 0
}

func TestStoreMetrics(t *testing.T) {
	t.Parallel()
	storagetest.ForEach(t, func(t *testing.T, s *storage.Store) {
		ctx := context.Background()
		_, _, _, l := seed(t, s)
		for i, st := range []licensing.MachineStatus{licensing.MachineActive, licensing.MachineActive, licensing.MachineOffline, licensing.MachineBlocked} {
			must(t, s.CreateMachine(ctx, &licensing.Machine{LicenseID: l.ID, Fingerprint: string(rune('a'+i)) + "-fp", Status: st, CreatedAt: t0, UpdatedAt: t0}))
		}
		now := time.Now().UTC().Truncate(time.Microsecond)
		old := &licensing.Event{Time: now.Add(-time.Hour), Action: licensing.ActionMachineActivated, TargetType: "machine", TargetID: "m1", Actor: "system"}
		must(t, s.AppendEvent(ctx, old))
		must(t, s.AppendEvent(ctx, &licensing.Event{Time: now.Add(-time.Minute), Action: licensing.ActionMachineActivated, TargetType: "machine", TargetID: "m2", Actor: "system"}))
		done := &licensing.Event{Time: now.Add(-2 * time.Hour), Action: licensing.ActionMachineActivated, TargetType: "machine", TargetID: "m3", Actor: "system"}
		must(t, s.AppendEvent(ctx, done))
		must(t, s.MarkEventDispatched(ctx, done.ID, now))

		sqlDB, err := s.DB().DB()
		must(t, err)
		reg := prometheus.NewRegistry()
		must(t, s.RegisterMetrics(reg, nil))
		got := gathered(t, reg)
		for _, c := range []struct {
			name, labels string
			want         float64
		}{
			{"narcidi_database_up", "", 1},
			{"narcidi_outbox_pending", "", 2},
			{"narcidi_deliveries_pending", "", 0},
			{"narcidi_machines", "status=active", 2},
			{"narcidi_machines", "status=offline", 1},
			{"narcidi_machines", "status=blocked", 1},
			{"narcidi_seats_in_use", "", 3},
			{"narcidi_licenses", "status=active", 1},
			{"narcidi_licenses", "status=revoked", 0},
			{"go_sql_max_open_connections", "db_name=narcidi", float64(sqlDB.Stats().MaxOpenConnections)},
		} {
			v, ok := got[c.name][c.labels]
			if !ok || v != c.want {
				t.Errorf("%s{%s} = %v (present %v), want %v", c.name, c.labels, v, ok, c.want)
			}
		}
		// The oldest pending event is the one of an hour ago, not the
		// dispatched one of two hours ago.
		if age := got["narcidi_outbox_oldest_pending_age_seconds"][""]; age < 3590 || age > 3700 {
			t.Errorf("oldest pending age = %vs, want about 3600", age)
		}

		// The database gone: the scrape still answers, and says so.
		must(t, s.Close())
		got = gathered(t, reg)
		if v, ok := got["narcidi_database_up"][""]; !ok || v != 0 {
			t.Errorf("narcidi_database_up after close = %v (present %v), want 0", v, ok)
		}
		if _, ok := got["narcidi_outbox_pending"]; ok {
			t.Error("narcidi_outbox_pending is reported while the database is down")
		}
	})
}
