package storage_test

import (
	"context"
	"reflect"
	"testing"

	"github.com/nzilacode/narcidicontrole/licensing"
	"github.com/nzilacode/narcidicontrole/licensing/insights"
	"github.com/nzilacode/narcidicontrole/storage"
	"github.com/nzilacode/narcidicontrole/storage/storagetest"
)

// Roll-ups are stored one row per use (a machine's, or a license's for a
// use without machine) and read with the license's total built
// (insights.LicenseDays); migration 0014 turns rows written the old way
// (each use in its machine's row and again in its license's) into that,
// and the dashboard's daily sums count every use once either way.
func TestTelemetryOneRowPerUse(t *testing.T) {
	storagetest.ForEach(t, func(t *testing.T, s *storage.Store) {
		ctx := context.Background()
		const day = "2026-03-04"
		row := func(lic, machine string, act, ren, val int, networks string) {
			t.Helper()
			must(t, s.ExecForTest(`INSERT INTO telemetry_days (day, license_id, machine_id, activations, renewals, heartbeats, validations, networks, platforms, app_versions)
VALUES (?, ?, ?, ?, ?, 0, ?, ?, '[]', '[]')`, day, lic, machine, act, ren, val, networks))
		}
		// Written the old way: l1's license row counts its two machines'
		// uses again, plus one validation without a machine; l2's holds
		// nothing of its own.
		row("l1", "", 2, 5, 1, `["192.0.2.0/24","198.51.100.0/24"]`)
		row("l1", "m1", 1, 3, 0, `["192.0.2.0/24"]`)
		row("l1", "m2", 1, 2, 0, `["198.51.100.0/24"]`)
		row("l2", "", 1, 4, 0, `["203.0.113.0/24"]`)
		row("l2", "m3", 1, 4, 0, `["203.0.113.0/24"]`)
		before, err := s.DailyUse(ctx, day, day)
		must(t, err)
		if len(before) != 1 || before[0].Activations != 6 || before[0].Renewals != 18 {
			t.Fatalf("old rows summed = %+v (every use twice, as the old rows hold them)", before)
		}

		must(t, s.MigrateTelemetryOneRowPerUse())
		in := s.Insights()
		got, err := in.Days(ctx, "l1", day, day)
		must(t, err)
		want := []insights.Day{
			{Day: day, LicenseID: "l1", Activations: 2, Renewals: 5, Validations: 1, Networks: []string{"192.0.2.0/24", "198.51.100.0/24"}},
			{Day: day, LicenseID: "l1", MachineID: "m1", Activations: 1, Renewals: 3, Networks: []string{"192.0.2.0/24"}},
			{Day: day, LicenseID: "l1", MachineID: "m2", Activations: 1, Renewals: 2, Networks: []string{"198.51.100.0/24"}},
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("l1 after the migration:\n%+v\nwant\n%+v", got, want)
		}
		got, err = in.Days(ctx, "l2", day, day)
		must(t, err)
		want = []insights.Day{
			{Day: day, LicenseID: "l2", Activations: 1, Renewals: 4, Networks: []string{"203.0.113.0/24"}},
			{Day: day, LicenseID: "l2", MachineID: "m3", Activations: 1, Renewals: 4, Networks: []string{"203.0.113.0/24"}},
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("l2 after the migration:\n%+v\nwant\n%+v", got, want)
		}
		after, err := s.DailyUse(ctx, day, day)
		must(t, err)
		if want := []licensing.DayUse{{Day: day, Activations: 3, Renewals: 9}}; !reflect.DeepEqual(after, want) {
			t.Errorf("daily use after the migration = %+v, want %+v", after, want)
		}

		// New uses: one row each, added to the same totals.
		must(t, in.AddDays(ctx, []insights.Day{
			{Day: day, LicenseID: "l2", MachineID: "m3", Renewals: 1, Networks: []string{"203.0.113.0/24"}},
			{Day: day, LicenseID: "l2", Validations: 2},
		}))
		got, err = in.Days(ctx, "l2", day, day)
		must(t, err)
		if got[0].MachineID != "" || got[0].Renewals != 5 || got[0].Validations != 2 || got[1].Renewals != 5 {
			t.Errorf("l2 after new uses = %+v", got)
		}
	})
}
