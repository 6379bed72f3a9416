package verifier

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
)

// An offline app spends its lease's allowance, stops at zero, and reports
// its uses; a report whose answer was lost is sent again with the same id.
func TestMeterBudget(t *testing.T) {
	var mu sync.Mutex
	var got []UseRequest
	fail := true
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var in UseRequest
		if r.URL.Path != "/v1/client/meters/use" || json.NewDecoder(r.Body).Decode(&in) != nil {
			w.WriteHeader(400)
			return
		}
		mu.Lock()
		defer mu.Unlock()
		got = append(got, in)
		if fail {
			fail = false
			w.WriteHeader(503)
			return
		}
		_ = json.NewEncoder(w).Encode(UseResponse{Meter: in.Meter, Uses: 10, MaxUses: 10, Remaining: 0, Total: 10})
	}))
	defer srv.Close()

	lease := &Lease{Claims: LeaseClaims{Meters: []MeterClaim{{Meter: "export", Remaining: 3, Counter: 7}}}}
	if _, err := NewMeterBudget(lease, "other"); err == nil {
		t.Fatal("a budget of a meter the lease lacks")
	}
	b, err := NewMeterBudget(lease, "export")
	if err != nil {
		t.Fatal(err)
	}
	for i, c := range []struct {
		n  int64
		ok bool
	}{{2, true}, {2, false}, {1, true}, {1, false}, {0, false}} {
		if b.Spend(c.n) != c.ok {
			t.Fatalf("spend %d: %d", i, c.n)
		}
	}
	if b.Left() != 0 || b.Pending() != 3 {
		t.Fatalf("left %d pending %d", b.Left(), b.Pending())
	}
	c := &Client{BaseURL: srv.URL}
	ctx := context.Background()
	if _, err := b.Report(ctx, c, "KEY", "fp"); err == nil {
		t.Fatal("report through a failing server")
	}
	if b.Pending() != 3 {
		t.Fatalf("pending after a failed report: %d", b.Pending())
	}
	out, err := b.Report(ctx, c, "KEY", "fp")
	if err != nil || out.Total != 10 {
		t.Fatalf("report: %+v %v", out, err)
	}
	if b.Pending() != 0 || b.Left() != 0 {
		t.Fatalf("after report: left %d pending %d", b.Left(), b.Pending())
	}
	if r, err := b.Report(ctx, c, "KEY", "fp"); r != nil || err != nil {
		t.Fatalf("nothing to report: %v %v", r, err)
	}
	if len(got) != 2 || got[0].ID != got[1].ID || got[0].ID == "" || !got[1].Report || got[1].Uses != 3 || got[1].Meter != "export" {
		t.Fatalf("requests: %+v", got)
	}
}

// The meters claim is read by the strict parser as encoding/json reads it,
// and a member spelled in another case is refused.
func TestParseMetersClaim(t *testing.T) {
	var c LeaseClaims
	if !parseClaims(`{"exp":1,"meters":[{"meter":"export","remaining":-1,"counter":5,"later":{"x":[1]}},{"meter":"","remaining":3,"counter":0}]}`, &c) {
		t.Fatal("refused")
	}
	if len(c.Meters) != 2 || c.Meters[0] != (MeterClaim{"export", -1, 5}) || c.Meters[1] != (MeterClaim{"", 3, 0}) {
		t.Fatalf("meters: %+v", c.Meters)
	}
	for _, bad := range []string{
		`{"meters":[{"Meter":"x"}]}`,
		`{"meters":[{"meter":"x","meter":"y"}]}`,
		`{"meters":{"meter":"x"}}`,
		`{"meters":[{"remaining":1.5}]}`,
		`{"meters":[],"meters":[]}`,
	} {
		var c LeaseClaims
		if parseClaims(bad, &c) {
			t.Errorf("accepted %s", bad)
		}
	}
}
