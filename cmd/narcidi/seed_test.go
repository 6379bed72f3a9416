package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/nzilacode/narcidicontrole/licensing"
	"github.com/nzilacode/narcidicontrole/storage/storagetest"
	verifier "github.com/nzilacode/narcidicontrole/verifier-sdk"
)

// `narcidi seed` fills a fresh installation; the server then shows the demo
// and its sample key activates; a second seed is refused.
func TestSeed(t *testing.T) {
	for _, d := range storagetest.Dialects {
		t.Run(d, func(t *testing.T) {
			env := map[string]string{"NARCIDI_DATA_DIR": t.TempDir(), "NARCIDI_LOG_LEVEL": "warn"}
			if d == "postgres" {
				usePostgres(t, env)
			}
			getenv := func(k string) string { return env[k] }
			var out, errs bytes.Buffer
			if code := run(context.Background(), []string{"seed"}, getenv, &out, &errs); code != 0 {
				t.Fatalf("seed: exit %d: %s", code, errs.String())
			}
			if !strings.Contains(out.String(), "2 products, 4 plans, 5 customers, 7 licenses, 11 machines, 2 license actions") {
				t.Fatalf("seed said: %s", out.String())
			}
			key := strings.TrimSpace(out.String()[strings.LastIndex(out.String(), ": ")+2:])

			app := startAppWith(t, env)
			admin := apiClient{t, app.URL(), adminToken}
			for path, want := range map[string]int{"/v1/products": 2, "/v1/policies": 4, "/v1/customers": 5, "/v1/licenses": 7, "/v1/machines": 11} {
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
			out.Reset()
			errs.Reset()
			if code := run(context.Background(), []string{"seed"}, getenv, &out, &errs); code != 1 || !strings.Contains(errs.String(), "only fills a fresh installation") {
				t.Errorf("second seed: exit %d: %s", code, errs.String())
			}
		})
	}
}
