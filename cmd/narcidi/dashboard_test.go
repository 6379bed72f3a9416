package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Issue 23 item 8: the dashboard's panels do not overlap, the stat panels
// say what is bad (thresholds), and the queue panel shows the backlog, not
// every task asynq keeps (asynq_queue_size counts completed ones too).
func TestDashboardLayoutAndQueries(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile(filepath.Join("..", "..", "deploy", "grafana", "dashboards", "narcidi.json"))
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Panels []struct {
			ID      int
			Title   string
			Type    string
			GridPos struct{ X, Y, W, H int } `json:"gridPos"`
			Targets []struct{ Expr string }
			Field   struct {
				Defaults struct {
					Thresholds *struct{ Steps []any } `json:"thresholds"`
				} `json:"defaults"`
			} `json:"fieldConfig"`
		}
	}
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatal(err)
	}
	for i, a := range d.Panels {
		for _, c := range d.Panels[i+1:] {
			ga, gc := a.GridPos, c.GridPos
			if ga.X < gc.X+gc.W && gc.X < ga.X+ga.W && ga.Y < gc.Y+gc.H && gc.Y < ga.Y+ga.H {
				t.Errorf("panels %q and %q overlap", a.Title, c.Title)
			}
		}
		if a.Type == "stat" && a.Title != "Versions" && a.Title != "Seats in use" && a.Title != "Signing keys" &&
			(a.Field.Defaults.Thresholds == nil || len(a.Field.Defaults.Thresholds.Steps) < 2) {
			t.Errorf("stat panel %q has no thresholds", a.Title)
		}
		for _, tg := range a.Targets {
			if strings.Contains(tg.Expr, "asynq_queue_size") {
				t.Errorf("panel %q counts asynq_queue_size (completed tasks too), not the backlog", a.Title)
			}
		}
	}
}
