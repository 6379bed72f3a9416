package api_test

import (
	"testing"

	"github.com/nzilacode/narcidicontrole/api"
	"github.com/prometheus/client_golang/prometheus"
)

// Issue 23 item 8: the refusal series exist at 0 from the start (after a
// restart, before the first refusal), for every operation and code.
func TestRefusalSeriesStartAtZero(t *testing.T) {
	reg := prometheus.NewRegistry()
	if _, err := api.NewMetrics(reg); err != nil {
		t.Fatal(err)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, mf := range mfs {
		if mf.GetName() != "narcidi_lease_refusals_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if m.GetCounter().GetValue() != 0 {
				t.Errorf("%v starts at %v", labels, m.GetCounter().GetValue())
			}
			seen[labels["operation"]+"/"+labels["code"]] = true
		}
	}
	for _, want := range []string{"renew/internal", "renew/unavailable", "activate/seat_limit", "offline/license_suspended"} {
		if !seen[want] {
			t.Errorf("no %s series at start (have %d)", want, len(seen))
		}
	}
}
