package wiring

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"runtime"
	"runtime/debug"
	"strconv"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/nzilacode/narcidicontrole/api"
	"github.com/nzilacode/narcidicontrole/keys"
	"github.com/nzilacode/narcidicontrole/licensing/i18n"
	"github.com/nzilacode/narcidicontrole/storage"
	"github.com/nzilacode/narcidicontrole/workers"
	"github.com/redis/go-redis/v9"
)

// Metrics are served only when asked for, and never to anyone without a
// token unless on loopback:
//
//   - neither NARCIDI_METRICS_ADDR nor NARCIDI_METRICS_TOKEN (the default):
//     not served;
//   - NARCIDI_METRICS_TOKEN alone (serve only): /metrics on the API's
//     listener, for scrapes that send "Authorization: Bearer <token>";
//   - NARCIDI_METRICS_ADDR: /metrics (and /healthz) on that separate
//     listener only, with the token required if it is set. A listener
//     that is not loopback-only needs the token: the process refuses to
//     start without it.
//
// The worker has no API: it serves its metrics on NARCIDI_METRICS_ADDR.

// minMetricsToken is the shortest NARCIDI_METRICS_TOKEN accepted.
const minMetricsToken = 16

func metricsSettings(c *Config) []setting {
	return []setting{
		{env: "NARCIDI_METRICS_ADDR", kind: "host:port", help: "separate listen address of /metrics and /healthz (e.g. 127.0.0.1:9090); empty: none (a non-loopback address needs NARCIDI_METRICS_TOKEN)", value: checked(&c.MetricsAddr, checkMetricsAddr)},
		{env: "NARCIDI_METRICS_TOKEN", kind: "token", help: "bearer token Prometheus sends to /metrics (at least 16 characters); set without NARCIDI_METRICS_ADDR, serve answers /metrics on its API address", value: &textValue{p: &c.MetricsToken, check: checkMetricsToken}, secret: true},
	}
}

func checkMetricsAddr(s string) error {
	if s == "" {
		return nil
	}
	if _, _, err := net.SplitHostPort(s); err != nil {
		return i18n.Say("cli.config.host_port", "value", strconv.Quote(s))
	}
	return nil
}

// checkMetricsToken never quotes the token: it is a secret.
func checkMetricsToken(s string) error {
	if s != "" && len(s) < minMetricsToken {
		return i18n.Say("cli.config.token_length", "n", minMetricsToken)
	}
	return nil
}

// loopbackOnly reports whether addr listens on loopback only.
func loopbackOnly(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// checkMetricsExposure refuses the settings that would serve metrics to
// anyone, or not at all while the operator thinks they are.
func checkMetricsExposure(cfg *Config, worker bool) error {
	if cfg.MetricsAddr != "" && cfg.MetricsToken == "" && !loopbackOnly(cfg.MetricsAddr) {
		return i18n.Say("cli.config.metrics_exposed", "addr", cfg.MetricsAddr)
	}
	if worker && cfg.MetricsToken != "" && cfg.MetricsAddr == "" {
		return i18n.Say("cli.config.metrics_token_alone")
	}
	return nil
}

// Metrics is a process's registry and, when configured, its separate
// metrics listener. Each App has its own registry (nothing global), so
// tests run several in one process.
type Metrics struct {
	reg   *prometheus.Registry
	token string
	addr  string
	app   *fiber.App
	ln    net.Listener
	done  chan error

	health func(context.Context) error // the separate listener's /healthz check (worker: Redis)

	api    *api.Metrics     // serve only
	signer keys.LeaseSigner // serve only: the keyring, timed
	jobs   *workers.Metrics
}

// newMetrics builds the registry with the Go runtime, process and build
// series; the adapters add theirs.
func newMetrics(cfg *Config) (*Metrics, error) {
	reg := prometheus.NewRegistry()
	v, r := BuildVersion(cfg.Build.Version, cfg.Build.Revision)
	build := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "narcidi_build_info",
		Help: "Always 1: the version, VCS revision and Go version of this binary.",
	}, []string{"version", "revision", "goversion"})
	build.WithLabelValues(v, r, runtime.Version()).Set(1)
	err := errors.Join(
		reg.Register(collectors.NewGoCollector()),
		reg.Register(collectors.NewProcessCollector(collectors.ProcessCollectorOpts{})),
		reg.Register(build),
	)
	if err != nil {
		return nil, err
	}
	return &Metrics{reg: reg, token: cfg.MetricsToken, addr: cfg.MetricsAddr}, nil
}

// BuildVersion is the main module's version and VCS revision: the -ldflags
// stamps given (cmd/narcidi's version.go), else the Go toolchain's
// ("(devel)" and "unknown" without any).
func BuildVersion(stampedVersion, stampedRevision string) (version, revision string) {
	version, revision = "(devel)", "unknown"
	if bi, ok := debug.ReadBuildInfo(); ok {
		if bi.Main.Version != "" {
			version = bi.Main.Version
		}
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && s.Value != "" {
				revision = s.Value
			}
		}
	}
	// The -ldflags stamps of a release build win.
	return cmp.Or(stampedVersion, version), cmp.Or(stampedRevision, revision)
}

// APIScrape is /metrics on the API's listener: only with a token and no
// separate address.
func (t *Metrics) APIScrape() *api.MetricsScrape {
	if t.addr != "" || t.token == "" {
		return nil
	}
	return &api.MetricsScrape{Gatherer: t.reg, Token: t.token}
}

// listen starts the separate metrics listener, if one is configured.
func (t *Metrics) listen(log *slog.Logger) error {
	if t.addr == "" {
		return nil
	}
	ln, err := net.Listen("tcp", t.addr)
	if err != nil {
		return fmt.Errorf("NARCIDI_METRICS_ADDR: %w", err)
	}
	t.ln, t.done = ln, make(chan error, 1)
	t.app = api.NewMetricsServer(api.MetricsScrape{Gatherer: t.reg, Token: t.token, Health: t.health}, log)
	go func() { t.done <- t.app.Listener(ln) }()
	return nil
}

// describe says where the metrics are, for the start-up line.
func (t *Metrics) describe() string {
	switch {
	case t.ln != nil && t.token != "":
		return fmt.Sprintf("metrics on http://%s%s (bearer token)", t.ln.Addr(), api.MetricsPath)
	case t.ln != nil:
		return fmt.Sprintf("metrics on http://%s%s", t.ln.Addr(), api.MetricsPath)
	case t.token != "":
		return "metrics on " + api.MetricsPath + " (bearer token)"
	}
	return "metrics not served (set NARCIDI_METRICS_ADDR or NARCIDI_METRICS_TOKEN)"
}

// URL is the separate listener's /metrics URL ("" without one).
func (t *Metrics) URL() string {
	if t == nil || t.ln == nil {
		return ""
	}
	return "http://" + t.ln.Addr().String() + api.MetricsPath
}

func (t *Metrics) close() error {
	if t == nil || t.app == nil {
		return nil
	}
	err := t.app.ShutdownWithTimeout(5 * time.Second)
	t.app = nil
	return err
}

// serveMetrics is the metrics of narcidi serve: the database's, the
// keys', the API's, the signer's and (run in-process without Redis) the
// jobs' series.
func serveMetrics(cfg *Config, st *storage.Store, kr *keys.Keyring, log *slog.Logger) (*Metrics, error) {
	t, err := newMetrics(cfg)
	if err != nil {
		return nil, err
	}
	if err := st.RegisterMetrics(t.reg, log); err != nil {
		return nil, err
	}
	if err := t.reg.Register(keys.NewCollector(kr, time.Now)); err != nil {
		return nil, err
	}
	if t.api, err = api.NewMetrics(t.reg); err != nil {
		return nil, err
	}
	if t.signer, err = keys.NewTimedSigner(t.reg, kr); err != nil {
		return nil, err
	}
	t.jobs, err = workers.NewMetrics(t.reg)
	return t, err
}

// workerMetrics is the metrics of narcidi worker: the database's, the
// jobs' and asynq's queue series.
func workerMetrics(cfg *Config, st *storage.Store, rdb redis.UniversalClient, log *slog.Logger) (*Metrics, error) {
	t, err := newMetrics(cfg)
	if err != nil {
		return nil, err
	}
	if err := st.RegisterMetrics(t.reg, log); err != nil {
		return nil, err
	}
	if err := workers.RegisterQueueMetrics(t.reg, rdb); err != nil {
		return nil, err
	}
	if err := workers.RegisterRedisMetrics(t.reg, rdb); err != nil {
		return nil, err
	}
	t.health = workers.RedisHealth(rdb)
	t.jobs, err = workers.NewMetrics(t.reg)
	return t, err
}
