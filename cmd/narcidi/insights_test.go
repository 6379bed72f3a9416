package main

import (
	"context"
	"io"
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
	for _, d := range storagetest.Dialects {
		t.Run(d, func(t *testing.T) {
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
