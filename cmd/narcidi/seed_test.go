package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/nzilacode/narcidicontrole/licensing"
	"github.com/nzilacode/narcidicontrole/licensing/insights"
	"github.com/nzilacode/narcidicontrole/storage/storagetest"
	verifier "github.com/nzilacode/narcidicontrole/verifier-sdk"
)

// `narcidi seed` fills a fresh installation; the server then shows the demo
// and its sample key activates; a second seed is refused.
func TestSeed(t *testing.T) {
	t.Parallel()
	for _, d := range storagetest.Dialects {
		t.Run(d, func(t *testing.T) {
			t.Parallel()
			env, said := seedFresh(t, d)
			getenv := func(k string) string { return env[k] }
			if !strings.Contains(said, "2 products, 4 plans, 5 customers, 7 licenses, 10 machines, 2 license actions, 60 days of usage") {
				t.Fatalf("seed said: %s", said)
			}
			key := strings.TrimSpace(said[strings.LastIndex(said, ": ")+2:])

			app := startAppWith(t, env)
			admin := apiClient{t, app.URL(), adminToken}
			for path, want := range map[string]int{"/v1/products": 2, "/v1/policies": 4, "/v1/customers": 5, "/v1/licenses": 7, "/v1/machines": 10} {
				var page struct{ Data []map[string]any }
				if s, b := admin.call("GET", path+"?limit=200", nil, &page); s != 200 || len(page.Data) != want {
					t.Errorf("GET %s: %d, %d rows (want %d) %s", path, s, len(page.Data), want, b)
				}
			}
			var evs struct{ Data []licensing.Event }
			admin.call("GET", "/v1/events?limit=200", nil, &evs)
			actions := map[string]int{}
			for _, e := range evs.Data {
				actions[e.Action]++
			}
			if actions[licensing.ActionLicenseSuspended] != 1 || actions[licensing.ActionLicenseRevoked] != 1 || len(evs.Data) < 30 {
				t.Errorf("events: %d, by action %v", len(evs.Data), actions)
			}
			sdk := &verifier.Client{BaseURL: app.URL()}
			if _, err := sdk.Activate(context.Background(), verifier.MachineRequest{LicenseKey: key, Fingerprint: "seed-test-new-machine"}); err != nil {
				t.Errorf("the sample key %q does not activate: %v", key, err)
			}
			var out, errs bytes.Buffer
			if code := run(context.Background(), []string{"seed"}, getenv, &out, &errs); code != 1 || !strings.Contains(errs.String(), "only fills a fresh installation") {
				t.Errorf("second seed: exit %d: %s", code, errs.String())
			}
		})
	}
}

// The demo's insights agree with its machines: after seed and a scoring
// run one license in five at most scores high churn, the stopped one, and
// none with a machine seen today is called unused.
func TestSeedInsights(t *testing.T) {
	t.Parallel()
	for _, d := range storagetest.Dialects {
		t.Run(d, func(t *testing.T) {
			t.Parallel()
			env, _ := seedFresh(t, d)
			app := startAppWith(t, env)
			res, err := app.scoring.Run(context.Background())
			if err != nil || res.Licenses == 0 {
				t.Fatalf("scoring run: %+v %v", res, err)
			}
			admin := apiClient{t, app.URL(), adminToken}
			var machines struct{ Data []licensing.Machine }
			admin.call("GET", "/v1/machines?limit=200", nil, &machines)
			today := time.Now().UTC().Format(time.DateOnly)
			seenToday := map[string]bool{}
			for _, m := range machines.Data {
				for _, at := range []*time.Time{m.LastHeartbeat, m.LastLeaseAt} {
					if at != nil && at.UTC().Format(time.DateOnly) == today {
						seenToday[m.LicenseID] = true
					}
				}
			}
			if len(seenToday) < 4 {
				t.Fatalf("%d licenses with a machine seen today, want most of them", len(seenToday))
			}
			var scores struct{ Data []insights.ScoreRecord }
			if s, b := admin.call("GET", "/v1/insights?kind=churn_risk&limit=200", nil, &scores); s != 200 || len(scores.Data) == 0 {
				t.Fatalf("churn scores: %d %s", s, b)
			}
			high, stoppedHigh := 0, 0
			for _, sc := range scores.Data {
				unused := false
				for _, r := range sc.Reasons {
					if strings.Contains(r.Text, "not used") {
						unused = true
					}
				}
				if sc.Value >= sc.Threshold {
					high++
					if !seenToday[sc.LicenseID] {
						stoppedHigh++
					}
				}
				if seenToday[sc.LicenseID] && (unused || sc.Value >= sc.Threshold) {
					t.Errorf("license %s has a machine seen today but scores %.2f churn: %+v", sc.LicenseID, sc.Value, sc.Reasons)
				}
				t.Logf("license %s seen today %v: churn %.2f %+v", sc.LicenseID, seenToday[sc.LicenseID], sc.Value, sc.Reasons)
			}
			if high*4 > len(scores.Data) || stoppedHigh != 1 {
				t.Errorf("%d of %d licenses score high churn (%d of them stopped): want the stopped one only", high, len(scores.Data), stoppedHigh)
			}
		})
	}
}

// seedFresh runs `narcidi seed` on a fresh installation of dialect and
// returns its environment and what the seed printed.
func seedFresh(t *testing.T, dialect string) (map[string]string, string) {
	t.Helper()
	env := map[string]string{"NARCIDI_DATA_DIR": t.TempDir(), "NARCIDI_LOG_LEVEL": "warn"}
	if dialect == "postgres" {
		usePostgres(t, env)
	}
	getenv := func(k string) string { return env[k] }
	var out, errs bytes.Buffer
	if code := run(context.Background(), []string{"seed"}, getenv, &out, &errs); code != 0 {
		t.Fatalf("seed: exit %d: %s", code, errs.String())
	}
	return env, out.String()
}
