package storage_test

import (
	"context"
	"fmt"
	"maps"
	"reflect"
	"testing"
	"time"

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
	t.Parallel()
	storagetest.ForEach(t, func(t *testing.T, s *storage.Store) {
		ctx := context.Background()
		const day = "2026-03-04"
		row := func(lic, machine string, act, ren, val int, networks string) {
			t.Helper()
			must(t, s.DB().Exec(`INSERT INTO telemetry_days (day, license_id, machine_id, activations, renewals, heartbeats, validations, networks, platforms, app_versions)
VALUES (?, ?, ?, ?, ?, 0, ?, ?, '[]', '[]')`, day, lic, machine, act, ren, val, networks).Error)
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

		// Migration 0014 again, as on a database that held these rows.
		must(t, s.DB().Exec("DELETE FROM schema_migrations WHERE id = ?", "0014_telemetry_one_row_per_use").Error)
		must(t, s.Migrate(ctx))
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

// TopScores answers the highest latest scores of a kind at or above the
// floor, highest first and equal ones by id, however many there are: the
// overview's strongest signals (it used to read the first 5,000 by id).
func TestTopScores(t *testing.T) {
	t.Parallel()
	storagetest.ForEach(t, func(t *testing.T, s *storage.Store) {
		ctx := context.Background()
		at := time.Date(2026, 3, 4, 5, 0, 0, 0, time.UTC)
		var scores []insights.Score
		values := []float64{0.71, 0.95, 0.5, 0.99, 0.8, 0.95, 0.69, 0.9}
		for n, v := range values {
			scores = append(scores, insights.Score{LicenseID: fmt.Sprintf("lic-%d", n), CustomerID: "c", ProductID: "p", PolicyID: "pol",
				Kind: insights.KindChurn, Value: v, Reasons: []insights.Reason{}, ModelVersion: "m", ComputedAt: at})
		}
		// Another kind, higher than all: never in the churn list.
		scores = append(scores, insights.Score{LicenseID: "lic-0", CustomerID: "c", ProductID: "p", PolicyID: "pol",
			Kind: insights.KindSharing, Value: 1, Reasons: []insights.Reason{}, ModelVersion: "m", ComputedAt: at})
		must(t, s.InsightScores().SaveScores(ctx, scores, insights.Thresholds{}))

		got, err := s.InsightScores().TopScores(ctx, insights.KindChurn, 0.7, 4)
		must(t, err)
		var licenses []string
		for _, r := range got {
			licenses = append(licenses, fmt.Sprintf("%s=%.2f", r.LicenseID, r.Value))
		}
		// 0.95 twice: by id, whichever that is, so compare values first.
		if len(got) != 4 || got[0].Value != 0.99 || got[1].Value != 0.95 || got[2].Value != 0.95 || got[3].Value != 0.9 || got[1].ID > got[2].ID {
			t.Errorf("top 4 churn scores ≥ 0.7 = %v, want 0.99, 0.95, 0.95 (by id), 0.90", licenses)
		}
		all, err := s.InsightScores().TopScores(ctx, insights.KindChurn, 0.7, 100)
		must(t, err)
		if len(all) != 6 || all[5].Value != 0.71 {
			t.Errorf("every churn score ≥ 0.7: %d, lowest %v; want 6, 0.71", len(all), all[len(all)-1].Value)
		}

		// LatestValues: the stored score of each kind of the licenses
		// asked for (the job's previous run), none of the others.
		prev, err := s.InsightScores().LatestValues(ctx, []string{"lic-0", "lic-3", "lic-none"})
		must(t, err)
		want := map[insights.ScoreKey]float64{{LicenseID: "lic-0", Kind: insights.KindChurn}: 0.71,
			{LicenseID: "lic-0", Kind: insights.KindSharing}: 1, {LicenseID: "lic-3", Kind: insights.KindChurn}: 0.99}
		if !maps.Equal(prev, want) {
			t.Errorf("latest values %v, want %v", prev, want)
		}
		if prev, err := s.InsightScores().LatestValues(ctx, nil); err != nil || len(prev) != 0 {
			t.Errorf("latest values of no license: %v %v", prev, err)
		}
	})
}

// TestPaymentStates: the payment state the insights read from the
// subscriptions table as it is (issue 26): a past-due subscription's
// licenses with when it began, when dunning ends and the last failure;
// one whose dunning suspended its licenses reads unpaid; an active one's
// licenses, and licenses not asked for, are absent.
func TestPaymentStates(t *testing.T) {
	t.Parallel()
	storagetest.ForEach(t, func(t *testing.T, s *storage.Store) {
		ctx := context.Background()
		since := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
		ends, failed := since.Add(7*24*time.Hour), since.Add(48*time.Hour)
		sub := func(id, status string, suspended bool, licenses string, pastDue, dunning, lastFailed *time.Time) {
			t.Helper()
			must(t, s.DB().Exec(`INSERT INTO subscriptions (id, customer_id, policy_id, interval, interval_days, status, cancel_at_period_end,
past_due_since, dunning_ends_at, licenses_suspended, provider, provider_customer_id, last_payment_failed_at, license_ids, metadata, created_at, updated_at)
VALUES (?, 'cus', 'pol', 'month', 30, ?, false, ?, ?, ?, 'manual', '', ?, ?, '{}', ?, ?)`,
				id, status, pastDue, dunning, suspended, lastFailed, licenses, since, since).Error)
		}
		sub("s-due", "past_due", false, `["lic-a","lic-b"]`, &since, &ends, &failed)
		sub("s-over", "past_due", true, `["lic-c"]`, &since, &ends, &failed)
		sub("s-ok", "active", false, `["lic-d"]`, nil, nil, nil)
		got, err := s.InsightScores().PaymentStates(ctx, []string{"lic-a", "lic-c", "lic-d", "lic-x"})
		if err != nil {
			t.Fatal(err)
		}
		due := insights.PaymentState{Status: insights.PaymentPastDue, Since: &since, DunningEndsAt: &ends, LastFailedAt: &failed}
		over := due
		over.Status = insights.PaymentUnpaid
		want := map[string]insights.PaymentState{"lic-a": due, "lic-c": over}
		if len(got) != len(want) {
			t.Fatalf("got %v, want lic-a and lic-c", got)
		}
		for id, w := range want {
			g := got[id]
			if g.Status != w.Status || !g.Since.Equal(*w.Since) || !g.DunningEndsAt.Equal(*w.DunningEndsAt) || !g.LastFailedAt.Equal(*w.LastFailedAt) {
				t.Errorf("%s: got %+v, want %+v", id, g, w)
			}
		}
	})
}

// Facts counts the machines used per day of the earlier quarter (13 to
// 24 weeks before the snapshot's day), and only of it: the churn
// features' normal from before the 90-day window (issue 26).
func TestFactsEarlierDays(t *testing.T) {
	t.Parallel()
	storagetest.ForEach(t, func(t *testing.T, s *storage.Store) {
		ctx := context.Background()
		at := time.Date(2026, 9, 1, 12, 0, 0, 0, time.UTC)
		dayAgo := func(k int) string { return at.AddDate(0, 0, -k).Format(insights.DayLayout) }
		var days []insights.Day
		for _, c := range []struct {
			ago      int
			machines []string
		}{
			{insights.EarlierFrom - 1, []string{"m1"}},     // within the 90 days: not earlier
			{insights.EarlierFrom, []string{"m1", "m2"}},   // the first earlier day
			{120, []string{"m1", "m2", "m3"}},              //
			{insights.EarlierTo, []string{"m2"}},           // the last earlier day
			{insights.EarlierTo + 1, []string{"m1", "m2"}}, // beyond it
		} {
			for _, m := range c.machines {
				days = append(days, insights.Day{Day: dayAgo(c.ago), LicenseID: "l1", MachineID: m, Renewals: 2})
			}
		}
		days = append(days, insights.Day{Day: dayAgo(120), LicenseID: "l1", Validations: 3}) // no machine: not a machine used
		must(t, s.Insights().AddDays(ctx, days))
		facts, err := s.InsightScores().Facts(ctx, []insights.FactsQuery{{LicenseID: "l1", From: at.Add(-insights.Window), To: at}})
		must(t, err)
		want := []insights.DayCount{{Day: dayAgo(insights.EarlierTo), Machines: 1}, {Day: dayAgo(120), Machines: 3},
			{Day: dayAgo(insights.EarlierFrom), Machines: 2}}
		if got := facts[0].EarlierDays; !reflect.DeepEqual(got, want) {
			t.Errorf("EarlierDays = %+v, want %+v", got, want)
		}
	})
}
