package main

import (
	"context"
	"os"
	"strconv"
	"testing"
)

// TestInsightsRow runs the insights row's code path at small scale
// (NARCIDI_BENCH_INSIGHTS=100000 for the full size) and checks it reports
// both rows with figures.
func TestInsightsRow(t *testing.T) {
	t.Parallel()
	n := 3000
	if v, err := strconv.Atoi(os.Getenv("NARCIDI_BENCH_INSIGHTS")); err == nil && v > 0 {
		n = v
	}
	r := newReport(&Settings{InsightLicenses: n})
	if err := benchInsights(context.Background(), &Settings{InsightLicenses: n}, r); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"insights.score", "insights.peak_heap"} {
		row := r.row(id)
		if row == nil || row.Value <= 0 || row.Display == "" {
			t.Fatalf("row %s = %+v", id, row)
		}
		t.Logf("%-40s %s  (%s)", row.Name, row.Display, row.Note)
	}
}
