package wiring

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/nzilacode/narcidicontrole/licensing/i18n"
	"github.com/nzilacode/narcidicontrole/licensing/insights"
	"github.com/nzilacode/narcidicontrole/storage"
)

// The retention of telemetry (NARCIDI_TELEMETRY_RETENTION) is counted in
// days; a shorter one would leave the models nothing to learn from, a
// longer one than ten years is a mistake.
const (
	minTelemetryRetention = 24 * time.Hour
	maxTelemetryRetention = 3650 * 24 * time.Hour
)

// daysValue reads a retention as "180d" (days) or a Go duration ("4320h").
type daysValue struct {
	p      *time.Duration
	lo, hi time.Duration
}

func (v *daysValue) String() string { return "" }
func (v *daysValue) Set(s string) error {
	d, err := parseDays(s)
	if err != nil || d < v.lo || d > v.hi {
		return i18n.Say("cli.config.days", "lo", int(v.lo/(24*time.Hour)), "hi", int(v.hi/(24*time.Hour)), "value", strconv.Quote(s))
	}
	*v.p = d
	return nil
}

func parseDays(s string) (time.Duration, error) {
	if n, ok := strings.CutSuffix(s, "d"); ok {
		days, err := strconv.Atoi(n)
		if err != nil {
			return 0, err
		}
		return time.Duration(days) * 24 * time.Hour, nil
	}
	return time.ParseDuration(s)
}

// telemetrySetting is the row of NARCIDI_TELEMETRY_RETENTION (group jobs:
// the daily clean-up enforces it).
func telemetrySetting(c *Config) setting {
	return setting{env: "NARCIDI_TELEMETRY_RETENTION", def: "180d", kind: "days",
		help:  "how long client-API telemetry (daily roll-ups, refusals) is kept; the daily clean-up deletes older rows (1d-3650d)",
		value: &daysValue{&c.TelemetryRetention, minTelemetryRetention, maxTelemetryRetention}}
}

// telemetryCleanup is the clean-up step that enforces the retention.
func telemetryCleanup(st *storage.Store, retention time.Duration) func(context.Context) (int, error) {
	svc := insights.NewService(st.Insights(), time.Now, retention)
	return svc.Cleanup
}
