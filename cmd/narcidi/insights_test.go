package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nzilacode/narcidicontrole/licensing"
	"github.com/nzilacode/narcidicontrole/licensing/insights"
	"github.com/nzilacode/narcidicontrole/storage/storagetest"
)

// TestTelemetryRetentionSetting: NARCIDI_TELEMETRY_RETENTION reads days or
// a duration, defaults to 180 days, and refuses what is out of range.
func TestTelemetryRetentionSetting(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		value   string
		want    time.Duration
		wantErr string
	}{
		{"", 180 * 24 * time.Hour, ""},
		{"30d", 30 * 24 * time.Hour, ""},
		{"48h", 48 * time.Hour, ""},
		{"0d", 0, "must be a number of days such as 180d (1d to 3650d)"},
		{"12h", 0, "must be a number of days"},
		{"3651d", 0, "must be a number of days"},
		{"half a year", 0, "NARCIDI_TELEMETRY_RETENTION: must be a number of days"},
	} {
		t.Run(tc.value, func(t *testing.T) {
			env := map[string]string{"NARCIDI_TELEMETRY_RETENTION": tc.value}
			for _, command := range []string{"serve", "worker"} {
				cfg, _, err := parseConfig(command, nil, func(k string) string { return env[k] }, io.Discard)
				if tc.wantErr != "" {
					if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
						t.Fatalf("%s: got %v, want %q", command, err, tc.wantErr)
					}
					continue
				}
				if err != nil || cfg.TelemetryRetention != tc.want {
					t.Fatalf("%s: retention %v, %v; want %v", command, cfg, err, tc.want)
				}
			}
		})
	}
}

// TestServerKeepsTelemetry: through the real server, client calls end up
// as roll-ups and refusal events once the server stops (Close writes the
// last batch), on both databases.
func TestServerKeepsTelemetry(t *testing.T) {
	t.Parallel()
	for _, d := range storagetest.Dialects {
		t.Run(d, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			app := startApp(t, d)
			cat := seedCatalog(t, apiClient{t, app.URL(), adminToken}, 1)
			anon := apiClient{t, app.URL(), ""}
			body := func(fp string) map[string]any {
				return map[string]any{"license_key": cat.key, "fingerprint": fp, "platform": "linux/amd64"}
			}
			if status, b := anon.call("POST", "/v1/client/activate", body("fingerprint-1"), nil); status != 201 {
				t.Fatalf("activate: %d %s", status, b)
			}
			for range 3 {
				if status, b := anon.call("POST", "/v1/client/renew", body("fingerprint-1"), nil); status != 200 {
					t.Fatalf("renew: %d %s", status, b)
				}
			}
			if status, _ := anon.call("POST", "/v1/client/activate", body("fingerprint-2"), nil); status < 400 {
				t.Fatalf("a second seat on a one-seat license: %d", status)
			}
			if err := app.Close(); err != nil {
				t.Fatal(err)
			}
			st, err := openStore(ctx, app.Config)
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			svc := insights.NewService(st.Insights(), nil, 0)
			days, err := svc.Usage(ctx, cat.licenseID, 1)
			if err != nil {
				t.Fatal(err)
			}
			refs, err := svc.Refusals(ctx, cat.licenseID, 1)
			if err != nil {
				t.Fatal(err)
			}
			if len(days) != 2 || days[0].MachineID != "" || days[0].Activations != 1 || days[0].Renewals != 3 ||
				!slices.Equal(days[0].Platforms, []string{"linux/amd64"}) || len(days[0].Networks) != 1 {
				t.Errorf("roll-ups %+v, want the license's and the machine's: 1 activation, 3 renewals, from one network", days)
			}
			if len(refs) != 1 || refs[0].Code != licensing.ESeatLimit || refs[0].Fingerprint != "fingerprint-2" {
				t.Errorf("refusals %+v, want one seat_limit of fingerprint-2", refs)
			}
		})
	}
}

// TestInsightsSimulateAndEvaluate: the CLI writes a simulated history and
// evaluates every score on it; bad input exits 1 or 2 with a reason.
func TestInsightsSimulateAndEvaluate(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	history, labels := filepath.Join(dir, "h.jsonl"), filepath.Join(dir, "l.jsonl")
	getenv := func(string) string { return "" }
	runCmd := func(args ...string) (int, string, string) {
		var out, errs bytes.Buffer
		code := run(context.Background(), args, getenv, &out, &errs)
		return code, out.String(), errs.String()
	}
	if code, out, errs := runCmd("insights", "simulate", "-out", history, "-labels", labels, "-seed", "4", "-licenses", "400", "-mix", "wide"); code != 0 {
		t.Fatalf("simulate: exit %d\n%s%s", code, out, errs)
	}
	code, out, errs := runCmd("insights", "evaluate", "-history", history, "-labels", labels)
	if code != 0 {
		t.Fatalf("evaluate: exit %d\n%s%s", code, out, errs)
	}
	var auc, precision, recall float64
	i := strings.Index(out, "AUC ")
	if i < 0 {
		t.Fatalf("no AUC in\n%s", out)
	}
	if _, err := fmt.Sscanf(out[i:], "AUC %f   precision %f   recall %f", &auc, &precision, &recall); err != nil || auc < 0.8 {
		t.Fatalf("AUC %v (%v) in\n%s", auc, err, out)
	}
	for _, kind := range insights.Kinds {
		if !strings.Contains(out, string(kind)+"  ") || !strings.Contains(out, string(kind)+" (backtest)") {
			t.Errorf("no %s block or backtest in\n%s", kind, out)
		}
	}
	for _, want := range []string{"reliability (calibration error", "raised per profile", "erratic", "vm_farm", "rolling backtest:",
		"last 14 days before expiry:", "median lead", "targets", "VM farms flagged by the job"} {
		if !strings.Contains(out, want) {
			t.Errorf("no %q in\n%s", want, out)
		}
	}
	t.Logf("\n%s", out)

	bad := filepath.Join(dir, "bad.jsonl")
	if err := os.WriteFile(bad, []byte(`{"license_id":"lic-000001","churned":true}`+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"insights", "evaluate", "-history", history}, 2, "-history and -labels are required"},
		{[]string{"insights", "evaluate", "-history", history, "-labels", bad}, 1, `line 1: a label needs "license_id" and "decided_at"`},
		{[]string{"insights", "evaluate", "-history", bad, "-labels", labels}, 1, "line 1"},
		{[]string{"insights", "guess"}, 1, `unknown insights subcommand "guess"`},
		{[]string{"insights", "simulate", "-out", bad, "-labels", bad, "-mix", "odd"}, 2, `-mix must be classic, wide or traps, not "odd"`},
		{[]string{"insights", "-h"}, 0, "Usage"},
		{[]string{"insights", "evaluate", "-h"}, 0, "-history"},
	} {
		code, out, errs := runCmd(tc.args...)
		if code != tc.code || !strings.Contains(out+errs, tc.want) {
			t.Errorf("%v: exit %d, want %d with %q\n%s%s", tc.args, code, tc.code, tc.want, out, errs)
		}
	}
}
