package main

import (
	"io"
	"strings"
	"testing"
	"time"
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
