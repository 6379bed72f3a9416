package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"runtime"
	"runtime/debug"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/nzilacode/narcidicontrole/api"
	"github.com/nzilacode/narcidicontrole/keys"
	"github.com/nzilacode/narcidicontrole/licensing"
	"github.com/nzilacode/narcidicontrole/storage"
	verifier "github.com/nzilacode/narcidicontrole/verifier-sdk"
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
		return fmt.Errorf("must be host:port such as 127.0.0.1:9090, not %q", s)
	}
	return nil
}

// checkMetricsToken never quotes the token: it is a secret.
func checkMetricsToken(s string) error {
	if s != "" && len(s) < minMetricsToken {
		return fmt.Errorf("must be at least %d characters (the value is not shown)", minMetricsToken)
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
		return fmt.Errorf("NARCIDI_METRICS_ADDR %s is not loopback-only: set NARCIDI_METRICS_TOKEN too (Prometheus sends it as a bearer token), or listen on 127.0.0.1", cfg.MetricsAddr)
	}
	if worker && cfg.MetricsToken != "" && cfg.MetricsAddr == "" {
		return errors.New("NARCIDI_METRICS_TOKEN is set but the worker has no API to serve it on: set NARCIDI_METRICS_ADDR too")
	}
	return nil
}

// telemetry is a process's registry and, when configured, its separate
// metrics listener. Each App has its own registry (nothing global), so
// tests run several in one process.
type telemetry struct {
	reg   *prometheus.Registry
	token string
	addr  string
	app   *fiber.App
	ln    net.Listener
	done  chan error

	health func(context.Context) error // the separate listener's /healthz check (worker: Redis)

	api    *api.Metrics          // serve only
	signer licensing.LeaseSigner // serve only: the keyring, timed
	jobs   *workers.Metrics
}

// newTelemetry builds the registry with the Go runtime, process and build
// series; the adapters add theirs.
func newTelemetry(cfg *Config) (*telemetry, error) {
	reg := prometheus.NewRegistry()
	v, r := buildVersion()
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
	return &telemetry{reg: reg, token: cfg.MetricsToken, addr: cfg.MetricsAddr}, nil
}

// buildVersion is the main module's version and VCS revision: the -ldflags
// stamps, else the Go toolchain's ("(devel)" and "unknown" without any).
func buildVersion() (version, revision string) {
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
	// The -ldflags stamps of a release build win (version.go).
	return cmp.Or(stampedVersion, version), cmp.Or(stampedRevision, revision)
}

// apiScrape is /metrics on the API's listener: only with a token and no
// separate address.
func (t *telemetry) apiScrape() *api.MetricsScrape {
	if t.addr != "" || t.token == "" {
		return nil
	}
	return &api.MetricsScrape{Gatherer: t.reg, Token: t.token}
}

// listen starts the separate metrics listener, if one is configured.
func (t *telemetry) listen(log *slog.Logger) error {
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
func (t *telemetry) describe() string {
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

// metricsURL is the separate listener's /metrics URL ("" without one).
func (t *telemetry) metricsURL() string {
	if t == nil || t.ln == nil {
		return ""
	}
	return "http://" + t.ln.Addr().String() + api.MetricsPath
}

func (t *telemetry) close() error {
	if t == nil || t.app == nil {
		return nil
	}
	err := t.app.ShutdownWithTimeout(5 * time.Second)
	t.app = nil
	return err
}

// timedSigner times every lease signature.
type timedSigner struct {
	next     licensing.LeaseSigner
	duration prometheus.Histogram
}

func newTimedSigner(reg prometheus.Registerer, next licensing.LeaseSigner) (licensing.LeaseSigner, error) {
	h := prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "narcidi_lease_signing_duration_seconds",
		Help:    "Time to sign a lease with the active key.",
		Buckets: prometheus.ExponentialBuckets(0.00002, 2, 14), // 20µs to about 160ms
	})
	if err := reg.Register(h); err != nil {
		return nil, err
	}
	return timedSigner{next: next, duration: h}, nil
}

func (s timedSigner) SignLease(ctx context.Context, claims verifier.LeaseClaims) (string, error) {
	start := time.Now()
	tok, err := s.next.SignLease(ctx, claims)
	s.duration.Observe(time.Since(start).Seconds())
	return tok, err
}

// The signing keys' series, read from the keyring at scrape time.
var (
	descSigningKeys = prometheus.NewDesc("narcidi_signing_keys",
		"Lease signing keys by status (active, retired).", []string{"status"}, nil)
	descRootInUse = prometheus.NewDesc("narcidi_signing_root_in_use",
		"1 if any signing key has a root certificate attached (apps may pin the root), else 0.", nil, nil)
	descActiveCertified = prometheus.NewDesc("narcidi_signing_active_key_certified",
		"1 if the active signing key has a root certificate valid now, else 0.", nil, nil)
	descActiveCertExpiry = prometheus.NewDesc("narcidi_signing_active_key_certificate_expiry_timestamp_seconds",
		"Unix time at which the active key's root certificate ends (absent without one).", nil, nil)
)

type keysCollector struct {
	kr  *keys.Keyring
	now func() time.Time
}

func (c keysCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descSigningKeys, descRootInUse, descActiveCertified, descActiveCertExpiry} {
		ch <- d
	}
}

func (c keysCollector) Collect(ch chan<- prometheus.Metric) {
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	byStatus := map[string]int{keys.StatusActive: 0, keys.StatusRetired: 0}
	rootInUse := false
	for _, k := range c.kr.List() {
		byStatus[k.Status]++
		if _, ok := c.kr.Certificate(k.KID); ok {
			rootInUse = true
		}
	}
	for st, n := range byStatus {
		gauge(descSigningKeys, float64(n), st)
	}
	gauge(descRootInUse, b2f(rootInUse))
	certified := false
	if kid, ok := c.kr.Active(); ok {
		if nbf, exp, ok := c.kr.CertificateWindow(kid); ok {
			now := c.now()
			certified = !now.Before(nbf) && now.Before(exp)
			gauge(descActiveCertExpiry, float64(exp.Unix()))
		}
	}
	gauge(descActiveCertified, b2f(certified))
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// descRedisUp is Redis's reachability, pinged at scrape time: the job queue,
// the shared rate limits and the cache messages all need it.
var descRedisUp = prometheus.NewDesc("narcidi_redis_up",
	"1 if Redis answered a PING at scrape time (2s timeout), else 0.", nil, nil)

type redisCollector struct{ rdb redis.UniversalClient }

func (c redisCollector) Describe(ch chan<- *prometheus.Desc) { ch <- descRedisUp }

func (c redisCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	ch <- prometheus.MustNewConstMetric(descRedisUp, prometheus.GaugeValue, b2f(c.rdb.Ping(ctx).Err() == nil))
}

// redisHealth is a worker's /healthz check: Redis answers.
func redisHealth(rdb redis.UniversalClient) func(context.Context) error {
	return func(ctx context.Context) error {
		if err := rdb.Ping(ctx).Err(); err != nil {
			return fmt.Errorf("redis: %w", err)
		}
		return nil
	}
}

// serveTelemetry is the telemetry of narcidi serve: the database's, the
// keys', the API's, the signer's and (run in-process without Redis) the
// jobs' series.
func serveTelemetry(cfg *Config, st *storage.Store, kr *keys.Keyring, log *slog.Logger) (*telemetry, error) {
	t, err := newTelemetry(cfg)
	if err != nil {
		return nil, err
	}
	if err := st.RegisterMetrics(t.reg, log); err != nil {
		return nil, err
	}
	if err := t.reg.Register(keysCollector{kr: kr, now: time.Now}); err != nil {
		return nil, err
	}
	if t.api, err = api.NewMetrics(t.reg); err != nil {
		return nil, err
	}
	if t.signer, err = newTimedSigner(t.reg, kr); err != nil {
		return nil, err
	}
	t.jobs, err = workers.NewMetrics(t.reg)
	return t, err
}

// workerTelemetry is the telemetry of narcidi worker: the database's, the
// jobs' and asynq's queue series.
func workerTelemetry(cfg *Config, st *storage.Store, rdb redis.UniversalClient, log *slog.Logger) (*telemetry, error) {
	t, err := newTelemetry(cfg)
	if err != nil {
		return nil, err
	}
	if err := st.RegisterMetrics(t.reg, log); err != nil {
		return nil, err
	}
	if err := workers.RegisterQueueMetrics(t.reg, rdb); err != nil {
		return nil, err
	}
	if err := t.reg.Register(redisCollector{rdb}); err != nil {
		return nil, err
	}
	t.health = redisHealth(rdb)
	t.jobs, err = workers.NewMetrics(t.reg)
	return t, err
}
