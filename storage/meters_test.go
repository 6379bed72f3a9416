package storage_test

import (
	"context"
	"testing"

	"github.com/nzilacode/narcidicontrole/licensing"
	"github.com/nzilacode/narcidicontrole/storage"
	"github.com/nzilacode/narcidicontrole/storage/storagetest"
)

// Every column of 0023 written and read back on both databases: a
// retired entitlement, and a meter through each of its writes.
func TestMetersRoundTrip(t *testing.T) {
	t.Parallel()
	storagetest.ForEach(t, func(t *testing.T, s *storage.Store) {
		ctx := context.Background()
		ent := &licensing.Entitlement{ID: "01950000-0000-7000-8000-000000000106", Code: "export", Name: "Export", CreatedAt: rtTime(1)}
		if err := s.CreateEntitlement(ctx, ent); err != nil {
			t.Fatal(err)
		}
		if err := s.RetireEntitlement(ctx, ent.ID, rtTime(2)); err != nil {
			t.Fatal(err)
		}
		if err := s.RetireEntitlement(ctx, ent.ID, rtTime(3)); licensing.ErrorCode(err) != licensing.ENotFound {
			t.Fatalf("retire twice: %v", err)
		}
		ent.RetiredAt = rtPtr(2)
		got, err := s.GetEntitlement(ctx, ent.ID)
		if err != nil {
			t.Fatal(err)
		}
		sameStruct(t, "retired entitlement", got, ent)
		if missing, err := s.MissingEntitlements(ctx, []string{"export"}); err != nil || len(missing) != 1 {
			t.Fatalf("a retired entitlement is missing for new grants: %v %v", missing, err)
		}

		m := &licensing.Meter{ID: "01950000-0000-7000-8000-000000000107", LicenseID: "01950000-0000-7000-8000-000000000108",
			Entitlement: "export", Uses: 3, MaxUses: 10, Total: 13, PeriodStart: rtTime(1), CreatedAt: rtTime(2), UpdatedAt: rtTime(3)}
		mustFill(t, m)
		roundTrip(t, "meter", m, func(v *licensing.Meter) error { return s.CreateMeter(ctx, v) },
			func() (*licensing.Meter, error) { return s.GetMeter(ctx, m.ID) }, nil, nil)
		if err := s.CreateMeter(ctx, &licensing.Meter{LicenseID: m.LicenseID, Entitlement: "export", PeriodStart: rtTime(1), CreatedAt: rtTime(1), UpdatedAt: rtTime(1)}); licensing.ErrorCode(err) != licensing.EConflict {
			t.Fatalf("a second meter of one entitlement: %v", err)
		}
		if got, err := s.FindMeter(ctx, m.LicenseID, "export"); err != nil || got.ID != m.ID {
			t.Fatalf("find: %+v %v", got, err)
		}
		if _, err := s.FindMeter(ctx, m.LicenseID, ""); licensing.ErrorCode(err) != licensing.ENotFound {
			t.Fatalf("find the license's own: %v", err)
		}

		for i, c := range []struct {
			id      string
			n       int64
			bounded bool
			fresh   bool
			code    licensing.Code
		}{
			{"a", 7, true, true, ""},                        // 10 of 10
			{"a", 7, true, false, ""},                       // a replay adds nothing
			{"b", 1, true, true, licensing.EMeterExhausted}, // 11 > 10
			{"c", 2, false, true, ""},                       // a report passes the bound
		} {
			fresh, err := s.SpendUseID(ctx, m.ID, c.id, c.n, rtTime(4))
			if err != nil || fresh != c.fresh {
				t.Fatalf("%d: spend %q: %v %v", i, c.id, fresh, err)
			}
			if !fresh {
				continue
			}
			if err := s.AddUses(ctx, m.ID, c.n, c.bounded, rtTime(5)); licensing.ErrorCode(err) != c.code {
				t.Fatalf("%d: add %d: %v, want %q", i, c.n, err, c.code)
			}
		}
		want := *m
		want.Uses, want.Total, want.UpdatedAt = 12, 22, rtTime(5)
		got2, err := s.GetMeter(ctx, m.ID)
		if err != nil {
			t.Fatal(err)
		}
		sameStruct(t, "meter after uses", got2, &want)

		if err := s.SetMeterMax(ctx, m.ID, 20, rtTime(6)); err != nil {
			t.Fatal(err)
		}
		if ok, err := s.ResetMeter(ctx, m.ID, rtTime(7), true); err != nil || !ok {
			t.Fatalf("reset: %v %v", ok, err)
		}
		if ok, err := s.ResetMeter(ctx, m.ID, rtTime(7), true); err != nil || ok {
			t.Fatalf("the same period's reset again: %v %v", ok, err)
		}
		want.MaxUses, want.Uses, want.PeriodStart, want.UpdatedAt = 20, 0, rtTime(7), rtTime(7)
		ms, err := s.ListMeters(ctx, m.LicenseID)
		if err != nil || len(ms) != 1 {
			t.Fatalf("list: %v %v", ms, err)
		}
		sameStruct(t, "meter after reset", &ms[0], &want)
	})
}
