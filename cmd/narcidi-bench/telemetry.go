package main

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"time"

	"github.com/jackc/pgx/v5"
)

// telemetryOffRenewals runs the renewal load again against a server with
// NARCIDI_TELEMETRY=off and otherwise the same environment, on the same
// database and data dir (issue 14: telemetry may cost at most 10% of
// renewals/s). The caller has stopped the telemetry-on server first, so
// the two never share the machine.
func telemetryOffRenewals(ctx context.Context, s *Settings, bin string, env []string, conn *pgx.Conn) (*renewResult, error) {
	if err := settle(ctx, conn, "licenses", "machines"); err != nil {
		return nil, err
	}
	// serverEnv drops the harness's own NARCIDI_* variables, so env holds
	// no NARCIDI_TELEMETRY: this is the only difference.
	offEnv := append(append([]string(nil), env...), "NARCIDI_TELEMETRY=off")
	srv, err := startProc(ctx, bin, []string{"serve"}, offEnv, filepath.Join(s.Tmp, "server-telemetry-off.log"))
	if err != nil {
		return nil, err
	}
	defer srv.stop()
	return touchRun(ctx, s, srv, conn, "/v1/client/renew", "last_lease_at", s.Warmup, s.Duration)
}

// reportTelemetry adds the telemetry-off rate and the cost of telemetry:
// 1 − on/off, the share of renewals/s that recording usage takes.
func reportTelemetry(r *Report, on, off *renewResult) {
	onRate, offRate := on.load.rate(http.StatusOK), off.load.rate(http.StatusOK)
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
		Note: fmt.Sprintf("1 − on/off renewals/s: %.0f/s with telemetry on, %.0f/s off (negative: within noise)", onRate, offRate)})
}
