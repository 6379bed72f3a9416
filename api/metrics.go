package api

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/adaptor"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/nzilacode/narcidicontrole/licensing"
)

// MetricsPath is where the Prometheus metrics are served.
const MetricsPath = "/metrics"

// Metrics are the API's series: every request by route template and
// status with its latency, and the client API's outcomes (leases issued,
// activations, refusals by error code). They are counted here, from the
// route and the error code, so that the domain knows nothing of metrics.
// A nil *Metrics counts nothing.
type Metrics struct {
	requests    *prometheus.CounterVec
	duration    *prometheus.HistogramVec
	leases      *prometheus.CounterVec
	activations *prometheus.CounterVec
	refusals    *prometheus.CounterVec

	// routes are the server's routes ("METHOD path"), middleware left
	// out, read from the app at the first request (all are registered
	// by then). One Metrics serves one Server.
	routesOnce sync.Once
	routes     map[string]bool
}

// The client routes whose outcomes are counted, and the operation label
// each gets.
var leaseRoutes = map[string]string{
	"/v1/client/activate":     "activate",
	"/v1/client/renew":        "renew",
	"/v1/offline-activations": "offline",
}

// NewMetrics registers the API's series on reg.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "narcidi_http_requests_total",
			Help: "HTTP requests answered, by method, route template (unmatched for unknown paths) and status.",
		}, []string{"method", "route", "status"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "narcidi_http_request_duration_seconds",
			Help:    "Time to answer an HTTP request, by method and route template.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"method", "route"}),
		leases: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "narcidi_leases_issued_total",
			Help: "Leases signed and returned, by operation: activate, renew (a renewal) or offline (an air-gapped activation).",
		}, []string{"operation"}),
		activations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "narcidi_activations_total",
			Help: "Successful activations: new_seat (201, a seat taken) or same_machine (200, the machine had its seat).",
		}, []string{"result"}),
		refusals: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "narcidi_lease_refusals_total",
			Help: "Activations, renewals and offline activations refused, by operation and error code (licensing's vocabulary).",
		}, []string{"operation", "code"}),
	}
	for _, c := range []prometheus.Collector{m.requests, m.duration, m.leases, m.activations, m.refusals} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	// Series that alerts divide by exist from the start, at 0.
	for _, op := range leaseRoutes {
		m.leases.WithLabelValues(op)
	}
	m.activations.WithLabelValues("new_seat")
	m.activations.WithLabelValues("same_machine")
	// Refusals too: after each restart the series are there at 0, so that
	// rate() and the renewal error alert see the first refusal, and a
	// dashboard shows 0 rather than "no data".
	for _, op := range leaseRoutes {
		for _, code := range licensing.Codes {
			m.refusals.WithLabelValues(op, string(code))
		}
	}
	return m, nil
}

// knownMethods bounds the method label: anything else counts as "other".
var knownMethods = []string{fiber.MethodGet, fiber.MethodHead, fiber.MethodPost, fiber.MethodPut, fiber.MethodPatch,
	fiber.MethodDelete, fiber.MethodOptions}

// middleware counts every request. It runs inside the access log and
// answers an error itself (through handle, the app's error handler) so
// that it sees both the error's code and the final status; the access log
// then sees the answer already written.
func (m *Metrics) middleware(handle fiber.ErrorHandler) fiber.Handler {
	if m == nil {
		return func(c *fiber.Ctx) error { return c.Next() }
	}
	return func(c *fiber.Ctx) error {
		start := time.Now()
		defer func() {
			// A panic is answered 500 by the recover middleware outside;
			// count it before it goes on up.
			if r := recover(); r != nil {
				m.observe(c, start, http.StatusInternalServerError, licensing.EInternal)
				panic(r)
			}
		}()
		err := c.Next()
		var code licensing.Code
		if err != nil {
			code = problemCode(err)
			if herr := handle(c, err); herr != nil {
				return herr
			}
		}
		m.observe(c, start, c.Response().StatusCode(), code)
		return nil
	}
}

// problemCode is the code errorHandler answers for err.
func problemCode(err error) licensing.Code {
	var fe *fiber.Error
	if errors.As(err, &fe) {
		if code, ok := fiberCodes[fe.Code]; ok {
			return code
		}
		return licensing.EInternal
	}
	return licensing.ErrorCode(err)
}

func (m *Metrics) observe(c *fiber.Ctx, start time.Time, status int, code licensing.Code) {
	m.routesOnce.Do(func() {
		m.routes = map[string]bool{}
		for _, r := range c.App().GetRoutes(true) {
			m.routes[r.Method+" "+r.Path] = true
		}
	})
	// Labels are constants, never the request's own bytes: fasthttp reuses
	// those buffers, and the label would change under the counter.
	method := "other"
	if i := slices.Index(knownMethods, c.Method()); i >= 0 {
		method = knownMethods[i]
	}
	// After the handlers ran, Route is the last route that matched: a
	// middleware's when no route did (404, 405).
	route := "unmatched"
	if r := c.Route(); r != nil && m.routes[r.Method+" "+r.Path] {
		route = r.Path
	}
	m.requests.WithLabelValues(method, route, strconv.Itoa(status)).Inc()
	m.duration.WithLabelValues(method, route).Observe(time.Since(start).Seconds())
	op, ok := leaseRoutes[route]
	if !ok || method != fiber.MethodPost {
		return
	}
	switch {
	case code == "" && status < 300:
		m.leases.WithLabelValues(op).Inc()
		if op == "activate" {
			result := "same_machine"
			if status == http.StatusCreated {
				result = "new_seat"
			}
			m.activations.WithLabelValues(result).Inc()
		}
	case code != "":
		m.refusals.WithLabelValues(op, string(code)).Inc()
	}
}

// MetricsScrape is how /metrics is served: what it gathers and, when Token
// is set, the bearer token a scrape must send (Prometheus's
// authorization.credentials).
type MetricsScrape struct {
	Gatherer prometheus.Gatherer
	Token    string
	// Health, when set, is what the separate listener's /healthz checks: a
	// worker without Redis does nothing, so it must not say ok.
	Health func(ctx context.Context) error
}

// handlers are the token check and the Prometheus handler. A series that
// fails to collect is left out of the answer instead of failing it, so
// that a database down still lets narcidi_database_up 0 through.
func (ms *MetricsScrape) handlers() []fiber.Handler {
	want := sha256.Sum256([]byte(ms.Token))
	check := func(c *fiber.Ctx) error {
		if ms.Token == "" {
			return c.Next()
		}
		cred, ok := authScheme(c.Get(fiber.HeaderAuthorization), "Bearer")
		got := sha256.Sum256([]byte(cred))
		// Hashes compared in constant time: neither the token nor its
		// length leaks through timing.
		if !ok || subtle.ConstantTimeCompare(got[:], want[:]) != 1 {
			return licensing.Errorf(licensing.EUnauthorized, "the metrics need the bearer token of NARCIDI_METRICS_TOKEN")
		}
		return c.Next()
	}
	h := promhttp.HandlerFor(ms.Gatherer, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
	return []fiber.Handler{check, adaptor.HTTPHandler(h)}
}

// mountMetrics serves ms at MetricsPath on the API's own listener.
func (s *Server) mountMetrics(ms *MetricsScrape) {
	s.app.Get(MetricsPath, ms.handlers()...)
}

// NewMetricsServer is the app of a separate metrics listener
// (NARCIDI_METRICS_ADDR): MetricsPath, and /healthz so that a worker,
// which has no API, can be health-checked too. Every other path is a 404
// problem, like the API's.
func NewMetricsServer(ms MetricsScrape, log *slog.Logger) *fiber.App {
	if log == nil {
		log = slog.Default()
	}
	app := fiber.New(fiber.Config{
		AppName:               "narcidi-metrics",
		ReadTimeout:           15 * time.Second,
		WriteTimeout:          30 * time.Second,
		IdleTimeout:           120 * time.Second,
		DisableStartupMessage: true,
		ErrorHandler:          errorHandler(log),
	})
	app.Get(MetricsPath, ms.handlers()...)
	app.Get("/healthz", func(c *fiber.Ctx) error {
		if ms.Health != nil {
			ctx, cancel := context.WithTimeout(c.UserContext(), 2*time.Second)
			defer cancel()
			if err := ms.Health(ctx); err != nil {
				return licensing.Wrap(licensing.EUnavailable, err, "a dependency of this process is unreachable")
			}
		}
		return c.JSON(healthOut{Status: "ok"})
	})
	return app
}
