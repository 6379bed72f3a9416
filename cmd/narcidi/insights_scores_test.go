package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nzilacode/narcidicontrole/licensing"
	"github.com/nzilacode/narcidicontrole/licensing/insights"
	"github.com/nzilacode/narcidicontrole/licensing/insights/sim"
	"github.com/nzilacode/narcidicontrole/storage/storagetest"
)

func init() {
	// The insights routes in the authorization spec of admin_test.go.
	for _, route := range []string{"GET /v1/insights", "GET /v1/licenses/:id/insights", "GET /v1/customers/:id/insights"} {
		expectedPerm[route] = "insights:read"
	}
	for _, role := range []string{"admin", "support", "read-only"} {
		rolePerms[role] = append(rolePerms[role], "insights:read")
	}
}

// fixedScorer scores every license with values (the real engine is
// another engineer's; the API is tested on known scores).
type fixedScorer map[insights.Kind]float64

func (fixedScorer) Train([]insights.Outcome) error { return nil }
func (f fixedScorer) Score(snaps []insights.Snapshot) ([]insights.Score, error) {
	var out []insights.Score
	for _, s := range snaps {
		for k, v := range f {
			out = append(out, insights.Score{LicenseID: s.LicenseID, Kind: k, Value: v, ModelVersion: "fixed",
				Reasons: []insights.Reason{{Text: "a reason", Feature: "f", Value: 1}}})
		}
	}
	return out, nil
}

// TestInsightsAPI: the scores of a run are listed with their reasons,
// filtered by kind, score, customer and product, per license and per
// customer; bad filters are refused and an unknown license is 404.
func TestInsightsAPI(t *testing.T) {
	t.Parallel()
	for _, d := range storagetest.Dialects {
		t.Run(d, func(t *testing.T) {
			t.Parallel()
			env := map[string]string{}
			if d == "postgres" {
				usePostgres(t, env)
			}
			scorer := fixedScorer{insights.KindChurn: 0.9, insights.KindSharing: 0.3}
			app := startScoredApp(t, env, func() insights.Scorer { return scorer })
			admin := apiClient{t, app.URL(), adminToken}
			cat := seedCatalog(t, admin, 2)
			var other struct{ ID string }
			admin.mustCreate("/v1/customers", map[string]any{"name": "Other", "email": "o@other.test"}, &other)
			admin.mustCreate("/v1/licenses", map[string]any{"policy_id": cat.policyID, "customer_id": other.ID}, nil)
			// Churn is announced once it held two runs in a row.
			res, err := app.scoring.Run(context.Background())
			if err != nil || res.Licenses != 2 || res.Events != 0 {
				t.Fatalf("first run: %+v %v, want no event", res, err)
			}
			res, err = app.scoring.Run(context.Background())
			if err != nil || res.Licenses != 2 || res.Events != 2 {
				t.Fatalf("second run: %+v %v, want the 2 churn crossings", res, err)
			}
			type page struct {
				Data       []insights.ScoreRecord
				NextCursor string `json:"next_cursor"`
			}
			get := func(path string) page {
				t.Helper()
				var p page
				if s, b := admin.call("GET", path, nil, &p); s != 200 {
					t.Fatalf("GET %s: %d %s", path, s, b)
				}
				return p
			}
			if p := get("/v1/insights"); len(p.Data) != 4 {
				t.Errorf("all: %d scores, want 4", len(p.Data))
			}
			p := get("/v1/insights?kind=churn_risk&min_score=0.8&customer_id=" + cat.customerID + "&product_id=" + cat.productID)
			if len(p.Data) != 1 || p.Data[0].LicenseID != cat.licenseID || p.Data[0].Value != 0.9 || len(p.Data[0].Reasons) != 1 ||
				p.Data[0].Reasons[0].Text != "a reason" || p.Data[0].AlertedAt == nil || p.Data[0].Threshold != 0.7 {
				t.Errorf("filtered: %+v", p.Data)
			}
			if p := get("/v1/insights?min_score=0.5"); len(p.Data) != 2 {
				t.Errorf("min_score: %d scores, want the 2 churn ones", len(p.Data))
			}
			if p := get("/v1/insights?limit=3"); len(p.Data) != 3 || p.NextCursor == "" || len(get("/v1/insights?limit=3&cursor="+p.NextCursor).Data) != 1 {
				t.Errorf("pages: %+v", p)
			}
			if p := get("/v1/licenses/" + cat.licenseID + "/insights?kind=sharing_suspected"); len(p.Data) != 1 || p.Data[0].Kind != insights.KindSharing {
				t.Errorf("license: %+v", p.Data)
			}
			if p := get("/v1/customers/" + other.ID + "/insights"); len(p.Data) != 2 || p.Data[0].CustomerID != other.ID {
				t.Errorf("customer: %+v", p.Data)
			}
			for _, bad := range []string{"/v1/insights?kind=nope", "/v1/insights?min_score=2", "/v1/insights?customer_id=x"} {
				if s, _ := admin.call("GET", bad, nil, nil); s != 422 {
					t.Errorf("GET %s: %d, want 422", bad, s)
				}
			}
			if s, _ := admin.call("GET", "/v1/licenses/"+licensing.NewID()+"/insights", nil, nil); s != 404 {
				t.Errorf("unknown license: %d, want 404", s)
			}
			// The OpenAPI document describes the score.
			_, doc := admin.call("GET", "/openapi.json", nil, nil)
			for _, want := range []string{`"/v1/insights"`, `"suggested_policy_id"`, `"reasons"`, `"model_version"`, `"alerted_at"`} {
				if !bytes.Contains(doc, []byte(want)) {
					t.Errorf("openapi.json lacks %s", want)
				}
			}
		})
	}
}

// TestInsightsImportCommand: `narcidi insights import` loads a simulated
// history into the database of the configuration.
func TestInsightsImportCommand(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	hist, labels := filepath.Join(dir, "h.jsonl"), filepath.Join(dir, "l.jsonl")
	h, _ := os.Create(hist)
	l, _ := os.Create(labels)
	if err := sim.Write(sim.Default(5, 10), h, l); err != nil {
		t.Fatal(err)
	}
	h.Close()
	l.Close()
	env := map[string]string{"NARCIDI_DATA_DIR": filepath.Join(dir, "data"), "NARCIDI_LOG_LEVEL": "warn"}
	var out, errOut bytes.Buffer
	code := run(context.Background(), []string{"insights", "import", "-history", hist}, func(k string) string { return env[k] }, &out, &errOut)
	if code != 0 || !strings.Contains(out.String(), "of 10 licenses") || !strings.Contains(out.String(), "past outcomes") {
		t.Fatalf("exit %d\n%s\n%s", code, out.String(), errOut.String())
	}
	cfg, _, err := loadConfig("insights import", nil, func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	st, err := openStore(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	past, err := st.InsightScores().PastOutcomes(context.Background(), time.Time{}, 1000)
	if err != nil || len(past) < 10 {
		t.Fatalf("%d outcomes stored (%v)", len(past), err)
	}
	if code := run(context.Background(), []string{"insights", "import"}, func(k string) string { return env[k] }, &out, &errOut); code != 2 {
		t.Errorf("without -history: exit %d, want 2", code)
	}
}
