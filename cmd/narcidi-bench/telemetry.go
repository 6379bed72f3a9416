package main

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"time"

	"github.com/jackc/pgx/v5"
)

// telemetryRenewals runs the renewal load again against a new server with
// NARCIDI_TELEMETRY set to mode ("on" or "off") and otherwise the same
// environment, on the same database and data dir (issue 14: telemetry may
// cost at most 10% of renewals/s). The caller has stopped every other
// server first, so two never share the machine. run numbers the log file.
func telemetryRenewals(ctx context.Context, s *Settings, bin string, env []string, conn *pgx.Conn, mode string, run int) (*renewResult, error) {
	// telemetry_days too: the runs before updated its rows, and an
	// autovacuum of it during one run but not the other is not telemetry.
	if err := settle(ctx, conn, "licenses", "machines", "telemetry_days"); err != nil {
		return nil, err
	}
	// serverEnv drops the harness's own NARCIDI_* variables, so env holds
	// no NARCIDI_TELEMETRY: this is the only difference.
	modeEnv := append(append([]string(nil), env...), "NARCIDI_TELEMETRY="+mode)
	srv, err := startProc(ctx, bin, []string{"serve"}, modeEnv, filepath.Join(s.Tmp, fmt.Sprintf("server-telemetry-%d-%s.log", run, mode)))
	if err != nil {
		return nil, err
	}
	defer srv.stop()
	return touchRun(ctx, s, srv, conn, "/v1/client/renew", "last_lease_at", s.Warmup, s.Duration)
}

// reportTelemetry adds the telemetry-off rate and the cost of telemetry:
// 1 − on/off, the share of renewals/s that recording usage takes. The off
// run is bracketed by two on runs (before and after it, each on a new
// server, on the same warm database) and compared with their mean: the
// first renewal run of the benchmark meets a freshly seeded database, and
// comparing it with a later off run put that drift into the cost (8.4%,
// 2.0% and 15.6% in three runs of the same build).
func reportTelemetry(r *Report, on1, off, on2 *renewResult) {
	rate1, rate2, offRate := on1.load.rate(http.StatusOK), on2.load.rate(http.StatusOK), off.load.rate(http.StatusOK)
	onRate := (rate1 + rate2) / 2
	l := off.load
	r.add(Row{ID: "renew.telemetry_off", Name: "renewals/s, telemetry off", Value: offRate, Unit: "renewals/s",
		Display: fmt.Sprintf("%.0f/s", offRate), Status: StatusInfo,
		Note: fmt.Sprintf("NARCIDI_TELEMETRY=off, same settings, database and load (%d clients, %s); p99 %.2f ms; %d of %d last-seen updates lost; answers:%s",
			r.Settings.Clients, l.Elapsed.Round(time.Millisecond), ms(l.percentile(99)), off.lost, off.distinctOK, l.statusText())})
	cost := 0.0
	if offRate > 0 {
		cost = 100 * (1 - onRate/offRate)
	}
	r.add(Row{ID: "renew.telemetry_cost", Name: "telemetry cost", Value: cost, Unit: "%",
		Display: fmt.Sprintf("%.1f%%", cost), Target: "≤ 10%", Status: judge(offRate > 0 && cost <= 10),
		Note: fmt.Sprintf("1 − on/off renewals/s: %.0f/s with telemetry on (mean of %.0f/s before and %.0f/s after the off run), %.0f/s off (negative: within noise)", onRate, rate1, rate2, offRate)})
}
