package insights

import (
	"fmt"
	"testing"
	"time"
)

// TestBacktestFlagsAsTheJobAlerts: the backtest flags a license on the
// origin the job would announce it (alertDue): churn once a score at or
// above the alert threshold follows another on the license's previous
// origin, other kinds on the first; single high origins between low ones
// flag no churn.
func TestBacktestFlagsAsTheJobAlerts(t *testing.T) {
	for _, tc := range []struct {
		kind   Kind
		scores []float64
		first  int // origin flagged, -1 none
	}{
		{KindChurn, []float64{0.9}, -1},
		{KindChurn, []float64{0.9, 0.8}, 1},
		{KindChurn, []float64{0.9, 0.2, 0.9, 0.2, 0.95}, -1},
		{KindChurn, []float64{0.2, 0.7, 0.69, 0.7, 0.7, 0.9}, 4},
		{KindBlock, []float64{0.2, 0.9}, 1},
		{KindSharing, []float64{0.9, 0.1}, 0},
	} {
		t.Run(fmt.Sprintf("%s %v", tc.kind, tc.scores), func(t *testing.T) {
			t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
			decided := t0.Add(100 * day)
			var js []judged
			for i, v := range tc.scores {
				js = append(js, judged{score: v, y: true, license: "lic", at: t0.Add(time.Duration(i) * day), decided: decided})
			}
			bk := BacktestKind{Kind: tc.kind, AlertThreshold: 0.7}
			bk.judgeLicenses(js)
			if tc.first < 0 {
				if bk.Flagged != 0 {
					t.Errorf("flagged %d, want none", bk.Flagged)
				}
				return
			}
			if bk.Flagged != 1 {
				t.Fatalf("flagged %d, want 1", bk.Flagged)
			}
			if tc.kind == KindChurn || tc.kind == KindBlock {
				if want := float64(100 - tc.first); bk.LeadDays != want {
					t.Errorf("lead %.0f days, want %.0f (flagged on origin %d)", bk.LeadDays, want, tc.first)
				}
			}
		})
	}
}
