package licensing_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/nzilacode/narcidicontrole/licensing"
	"github.com/nzilacode/narcidicontrole/storage/storagetest"
)

func use(key, meter, id string, n int64) licensing.UseRequest {
	return licensing.UseRequest{LicenseKey: key, Fingerprint: "fingerprint-1", Meter: meter, ID: id, Uses: n}
}

// Increments are atomic and idempotent: on PostgreSQL 200 concurrent ones
// against a bound of 150 leave exactly 150 accepted, and a replayed id is
// counted once.
func TestMeterConcurrentIncrements(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t, "postgres", licensing.PolicyInput{Entitlements: []string{"export"}})
	lic := f.license(t, licensing.LicenseInput{})
	if _, err := f.svc.Leasing.Activate(ctx, req(lic.Key, "fingerprint-1")); err != nil {
		t.Fatal(err)
	}
	m, err := f.svc.Metering.CreateMeter(ctx, lic.ID, licensing.MeterInput{Entitlement: "export", MaxUses: 150})
	if err != nil {
		t.Fatal(err)
	}
	var accepted, refused, replayed atomic.Int64
	var wg sync.WaitGroup
	// 200 distinct ids, and each of the first 20 sent twice at once.
	for i := range 220 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := f.svc.Metering.Use(ctx, use(lic.Key, "export", fmt.Sprintf("use-%03d", i%200), 1))
			switch {
			case licensing.ErrorCode(err) == licensing.EMeterExhausted:
				refused.Add(1)
			case err != nil:
				t.Errorf("use %d: %v", i, err)
			case r.Replayed:
				replayed.Add(1)
			default:
				accepted.Add(1)
			}
		}()
	}
	wg.Wait()
	got, err := f.svc.Metering.Meter(ctx, m.ID)
	if err != nil {
		t.Fatal(err)
	}
	if accepted.Load() != 150 || got.Uses != 150 || got.Total != 150 || got.Remaining() != 0 {
		t.Fatalf("accepted %d (refused %d, replayed %d), meter %+v: want exactly 150", accepted.Load(), refused.Load(), replayed.Load(), got)
	}
	if accepted.Load()+refused.Load()+replayed.Load() != 220 {
		t.Fatalf("answers: %d %d %d", accepted.Load(), refused.Load(), replayed.Load())
	}
	// An id counted before is a replay, even with the meter full.
	var counted string
	for i := range 200 {
		r, err := f.svc.Metering.Use(ctx, use(lic.Key, "export", fmt.Sprintf("use-%03d", i), 1))
		if err == nil && r.Replayed {
			counted = fmt.Sprintf("use-%03d", i)
			break
		}
	}
	if counted == "" {
		t.Fatal("no id is a replay")
	}
}

func TestMeterRules(t *testing.T) {
	t.Parallel()
	for _, d := range storagetest.Dialects {
		t.Run(d, func(t *testing.T) {
			ctx := context.Background()
			f := newFixture(t, d, licensing.PolicyInput{Entitlements: []string{"export"}})
			lic := f.license(t, licensing.LicenseInput{})
			if _, err := f.svc.Leasing.Activate(ctx, req(lic.Key, "fingerprint-1")); err != nil {
				t.Fatal(err)
			}
			own, err := f.svc.Metering.CreateMeter(ctx, lic.ID, licensing.MeterInput{MaxUses: 5})
			if err != nil {
				t.Fatal(err)
			}
			exp, err := f.svc.Metering.CreateMeter(ctx, lic.ID, licensing.MeterInput{Entitlement: "export"})
			if err != nil {
				t.Fatal(err)
			}
			_, err = f.svc.Metering.CreateMeter(ctx, lic.ID, licensing.MeterInput{MaxUses: 1})
			wantCode(t, err, licensing.EConflict)

			for _, c := range []struct {
				name  string
				in    licensing.MeterInput
				field string
			}{
				{"negative bound", licensing.MeterInput{MaxUses: -1}, "max_uses"},
				{"absurd bound", licensing.MeterInput{MaxUses: 1 << 62}, "max_uses"},
				{"not granted", licensing.MeterInput{Entitlement: "beta"}, "entitlement"},
				{"unknown", licensing.MeterInput{Entitlement: "nope"}, "entitlement"},
			} {
				_, err := f.svc.Metering.CreateMeter(ctx, lic.ID, c.in)
				wantField(t, err, c.field)
			}

			for _, c := range []struct {
				name string
				in   licensing.UseRequest
				want licensing.Code
				left int64
			}{
				{"first", use(lic.Key, "", "a", 3), "", 2},
				{"replay", use(lic.Key, "", "a", 3), "", 2},
				{"past the bound", use(lic.Key, "", "b", 3), licensing.EMeterExhausted, 2},
				{"to the bound", use(lic.Key, "", "b", 2), "", 0},
				{"unbounded meter", use(lic.Key, "export", "a", 1000), "", -1},
				{"no such meter", use(lic.Key, "beta", "x", 1), licensing.ENotFound, 0},
				{"not activated", licensing.UseRequest{LicenseKey: lic.Key, Fingerprint: "fingerprint-2", ID: "z"}, licensing.ENotActivated, 0},
				{"wrong key", use("nope", "", "z", 1), licensing.ENotFound, 0},
			} {
				r, err := f.svc.Metering.Use(ctx, c.in)
				if licensing.ErrorCode(err) != c.want {
					t.Fatalf("%s: %v, want %q", c.name, err, c.want)
				}
				if err == nil && r.Meter.Remaining() != c.left {
					t.Fatalf("%s: remaining %d, want %d", c.name, r.Meter.Remaining(), c.left)
				}
			}
			for _, c := range []struct {
				name  string
				in    licensing.UseRequest
				field string
			}{
				{"no id", use(lic.Key, "", "", 1), "id"},
				{"a 10 kB id", use(lic.Key, "", strings.Repeat("i", 10<<10), 1), "id"},
				{"negative uses", use(lic.Key, "", "n", -1), "uses"},
				{"absurd uses", use(lic.Key, "", "n", 1<<40), "uses"},
			} {
				_, err := f.svc.Metering.Use(ctx, c.in)
				wantField(t, err, c.field)
			}

			// A report of offline uses counts past the bound, once.
			rep := use(lic.Key, "", "offline-1", 4)
			rep.Report = true
			for range 2 {
				if r, err := f.svc.Metering.Use(ctx, rep); err != nil || r.Meter.Uses != 9 || r.Meter.Total != 9 {
					t.Fatalf("report: %+v %v", r, err)
				}
			}
			// Reset by an admin: uses 0, total stays.
			m, err := f.svc.Metering.ResetMeter(ctx, own.ID, "new deal")
			if err != nil || m.Uses != 0 || m.Total != 9 || !m.PeriodStart.Equal(f.clock.Now()) {
				t.Fatalf("reset: %+v %v", m, err)
			}
			if m, err = f.svc.Metering.UpdateMeter(ctx, own.ID, licensing.MeterPatch{MaxUses: ptr(int64(1))}); err != nil || m.MaxUses != 1 {
				t.Fatalf("bound: %+v %v", m, err)
			}
			// A new subscription period resets each meter once.
			f.clock.Add(24 * 3600e9)
			if _, err := f.svc.Metering.Use(ctx, use(lic.Key, "", "c", 1)); err != nil {
				t.Fatal(err)
			}
			for i, want := range []int{2, 0} {
				if n, err := f.svc.Metering.ResetPeriod(ctx, lic.ID, f.clock.Now()); err != nil || n != want {
					t.Fatalf("period reset %d: %d %v, want %d", i, n, err, want)
				}
			}
			// Detaching the entitlement stops its meter.
			if _, err := f.svc.Catalog.ChangePolicyEntitlements(ctx, f.policy.ID, licensing.EntitlementChange{Detach: []string{"export"}}); err != nil {
				t.Fatal(err)
			}
			_, err = f.svc.Metering.Use(ctx, use(lic.Key, "export", "after", 1))
			wantCode(t, err, licensing.ENotEntitled)
			ms, err := f.svc.Metering.Meters(ctx, lic.ID)
			if err != nil || len(ms) != 2 || ms[1].ID != exp.ID || ms[1].Total != 1000 {
				t.Fatalf("meters: %+v %v", ms, err)
			}
		})
	}
}

// A lease carries each meter's remaining allowance and its monotonic
// counter, from the first lease on (activation) and on renewals.
func TestLeaseCarriesMeters(t *testing.T) {
	t.Parallel()
	for _, d := range storagetest.Dialects {
		t.Run(d, func(t *testing.T) {
			ctx := context.Background()
			f := newFixture(t, d, licensing.PolicyInput{Entitlements: []string{"export"}})
			lic := f.license(t, licensing.LicenseInput{})
			if _, err := f.svc.Metering.CreateMeter(ctx, lic.ID, licensing.MeterInput{Entitlement: "export", MaxUses: 10}); err != nil {
				t.Fatal(err)
			}
			g, err := f.svc.Leasing.Activate(ctx, req(lic.Key, "fingerprint-1"))
			if err != nil {
				t.Fatal(err)
			}
			if ms := claimsOf(t, g, f.pub).Meters; len(ms) != 1 || ms[0].Meter != "export" || ms[0].Remaining != 10 || ms[0].Counter != 0 {
				t.Fatalf("activation lease meters: %+v", ms)
			}
			if _, err := f.svc.Metering.Use(ctx, use(lic.Key, "export", "a", 4)); err != nil {
				t.Fatal(err)
			}
			g, err = f.svc.Leasing.Renew(ctx, req(lic.Key, "fingerprint-1"))
			if err != nil {
				t.Fatal(err)
			}
			if ms := claimsOf(t, g, f.pub).Meters; len(ms) != 1 || ms[0].Remaining != 6 || ms[0].Counter != 4 {
				t.Fatalf("renewal lease meters: %+v", ms)
			}
		})
	}
}
