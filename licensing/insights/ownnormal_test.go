package insights_test

import (
	"testing"
	"time"

	"github.com/nzilacode/narcidicontrole/licensing"
	"github.com/nzilacode/narcidicontrole/licensing/insights"
)

// weeklySnapshot is a one-machine license used perWeek(w) days in week w
// before the snapshot (w = 0: the snapshot's day and the 6 before), over 25 weeks: the 90
// days as roll-ups, the weeks before as the earlier quarter's counts.
func weeklySnapshot(perWeek func(w int) int) insights.Snapshot {
	at := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	exp := at.AddDate(0, 1, 0)
	s := insights.Snapshot{At: at, LicenseID: "lic-1", PolicyID: "plan-1", Status: licensing.LicenseActive, Seats: 1,
		CreatedAt: at.AddDate(-1, 0, 0), ExpiresAt: &exp, GraceUntil: &exp}
	for k := insights.EarlierTo; k >= 0; k-- {
		w, j := k/7, k%7
		if j >= perWeek(w) {
			continue
		}
		day := at.AddDate(0, 0, -k).Format(insights.DayLayout)
		if k >= insights.EarlierFrom {
			s.EarlierDays = append(s.EarlierDays, insights.DayCount{Day: day, Machines: 1})
		} else if k < 90 {
			s.Days = append(s.Days, insights.Day{Day: day, LicenseID: "lic-1", MachineID: "m-1", Renewals: 1})
		}
	}
	return s
}

// TestOwnNormal: a license that fell from 5 days a week to 2 for its last
// 6 weeks has a run of 6 low weeks against its usual 5 and a large
// variance-normalised drop; one whose weeks swing between 1 and 7 days
// (the same mean as its normal) has no run and no drop.
func TestOwnNormal(t *testing.T) {
	t.Parallel()
	quiet := weeklySnapshot(func(w int) int {
		if w < 6 {
			return 2
		}
		return 5
	})
	f := insights.Extract(&quiet)
	if f.LowWeeks != 6 || f.UsualWeek != 5 || f.RecentBestWeek != 2 || f.OwnWeeks < 16 {
		t.Fatalf("quiet: low weeks %d, usual %.1f, best recent %.1f, own weeks %d; want 6, 5, 2 and at least 16", f.LowWeeks, f.UsualWeek, f.RecentBestWeek, f.OwnWeeks)
	}
	erratic := weeklySnapshot(func(w int) int {
		if w%2 == 0 {
			return 7
		}
		return 1
	})
	g := insights.Extract(&erratic)
	if g.LowWeeks != 0 || g.RecentBestWeek != 7 || g.OwnWeekStd < 2.5 {
		t.Fatalf("erratic: low weeks %d, best recent %.1f, spread %.1f; want 0, 7 and a wide normal", g.LowWeeks, g.RecentBestWeek, g.OwnWeekStd)
	}
	swing := weeklySnapshot(func(w int) int {
		if w%2 == 1 {
			return 7
		}
		return 1
	})
	if h := insights.Extract(&swing); h.LowWeeks != 1 {
		t.Fatalf("a low last week between good ones: run %d, want 1", h.LowWeeks)
	}
}
