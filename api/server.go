package api

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync/atomic"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/recover"
	"github.com/gofiber/fiber/v2/middleware/requestid"
	"github.com/nzilacode/narcidicontrole/licensing"
	"github.com/nzilacode/narcidicontrole/licensing/insights"
	"github.com/nzilacode/narcidicontrole/licensing/release"
	"github.com/nzilacode/narcidicontrole/licensing/users"
	"github.com/valyala/fasthttp"
)

// Pinger reports whether a dependency (the database) is reachable:
// EUnavailable if not.
type Pinger interface {
	Ping(ctx context.Context) error
}

// KeySource gives the public key set that verifies leases.
type KeySource interface {
	JWKS() ([]byte, error)
}

// Config is what the HTTP layer needs.
type Config struct {
	// Services are the domain services the handlers call.
	Services *licensing.Services
	// Idempotency keeps the answers replayed for Idempotency-Key retries.
	Idempotency IdempotencyStore
	// IdempotencyBox seals the stored answers (they hold the secrets of
	// created tokens, licenses and webhooks); required with Idempotency.
	IdempotencyBox licensing.SecretBox
	// Health says whether the database is reachable (readiness).
	Health Pinger
	Keys   KeySource
	Logger *slog.Logger
	// BodyLimit caps request bodies in bytes (default 64 KiB).
	BodyLimit int
	// ReadTimeout bounds the wait for a request on a new connection and
	// its reading (default 15 s); an idle kept-alive connection is closed
	// after 120 s.
	ReadTimeout time.Duration
	// ProxyHeader, when set (e.g. X-Forwarded-For), carries the client IP
	// through the proxies of TrustedProxies (see clientAddress).
	ProxyHeader    string
	TrustedProxies []netip.Prefix
	// Limiter counts requests for the rate limits (default: per process).
	Limiter RateLimiter
	// ClientRate limits the client API per IP (activation guesses keys);
	// TokenRate limits token creation per token. Zero values take defaults.
	ClientRate, TokenRate RateRule
	// QueueMonitor, when set, is served to admins under QueueMonitorPath.
	QueueMonitor http.Handler
	// Releases serves the release routes (nil: they answer 503).
	Releases *release.Service
	Billing  Billing // subscriptions and billing endpoints (subscriptions.go)
	// Metrics counts requests and lease outcomes (nil: none); MetricsScrape,
	// when set, serves /metrics on this listener (metrics.go).
	Metrics       *Metrics
	MetricsScrape *MetricsScrape
	Console       Pages // the web console (api/console), mounted under /console
	Docs          Pages // the API reference (api/docs), mounted under /docs
	Portal        Pages // the customer portal (api/portal), mounted under /portal
	// Insights serves the scores routes (nil: they answer 503; insights.go).
	Insights *insights.Scores
	// Users serves the console users' routes (nil: they answer 503; users.go).
	Users *users.Service
}

// Default rate limits.
var (
	DefaultClientRate = RateRule{Name: "client", Rate: 120, Period: time.Minute, Burst: 60}
	DefaultTokenRate  = RateRule{Name: "tokens", Rate: 10, Period: time.Minute, Burst: 5}
)

// Server is the HTTP interface.
type Server struct {
	svc                   *licensing.Services
	idempotency           IdempotencyStore
	idempotencyBox        licensing.SecretBox
	health                Pinger
	keys                  KeySource
	log                   *slog.Logger
	app                   *fiber.App
	limiter               RateLimiter
	clientRate, tokenRate RateRule
	openapiDoc            []byte
	releases              *release.Service
	billing               Billing
	insights              *insights.Scores
	users                 *users.Service
	// draining is set by Drain: the instance is about to stop.
	draining atomic.Bool
}

// DefaultBodyLimit bounds request bodies: no client or admin call needs more.
const DefaultBodyLimit = 64 << 10

// BillingBodyLimit is the transport's share for billing providers' events
// (api/billing checks its own limit, at least this): Stripe's largest real
// events are a few hundred kB.
const BillingBodyLimit = 1 << 20

// New builds the fiber app with every route.
func New(cfg Config) *Server {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.BodyLimit <= 0 {
		cfg.BodyLimit = DefaultBodyLimit
	}
	if cfg.ReadTimeout <= 0 {
		cfg.ReadTimeout = 15 * time.Second
	}
	if cfg.Limiter == nil {
		cfg.Limiter = NewRateLimiter(nil, "", cfg.Logger)
	}
	if cfg.ClientRate.Rate == 0 {
		cfg.ClientRate = DefaultClientRate
	}
	if cfg.TokenRate.Rate == 0 {
		cfg.TokenRate = DefaultTokenRate
	}
	if cfg.Idempotency != nil && cfg.IdempotencyBox == nil {
		panic("api.New: Config.Idempotency needs Config.IdempotencyBox: replay answers hold secrets")
	}
	s := &Server{svc: cfg.Services, idempotency: cfg.Idempotency, idempotencyBox: cfg.IdempotencyBox, health: cfg.Health, keys: cfg.Keys, log: cfg.Logger, limiter: cfg.Limiter, clientRate: cfg.ClientRate, tokenRate: cfg.TokenRate}
	s.app = fiber.New(fiber.Config{
		AppName: "narcidi",
		// The transport's hard limit is well above the API's: a body between
		// the two is read whole and refused with a clean 413 problem, while
		// the transport cuts off bigger ones without reading them (the
		// client may then see the connection reset instead of the 413).
		BodyLimit:             max(16*cfg.BodyLimit, 2*BillingBodyLimit),
		ReadTimeout:           cfg.ReadTimeout,
		WriteTimeout:          15 * time.Second,
		IdleTimeout:           120 * time.Second,
		DisableStartupMessage: true,
		ErrorHandler:          errorHandler(cfg.Logger),
	})
	closeTimedOutQuietly(s.app.Server())
	s.app.Use(requestid.New(requestid.Config{Header: fiber.HeaderXRequestID, ContextKey: requestIDKey}))
	s.app.Use(recover.New())
	s.app.Use(s.accessLog)
	s.app.Use(cfg.Metrics.middleware(s.app.ErrorHandler))
	s.app.Use(guards(cfg)...)
	s.app.Use(func(c *fiber.Ctx) error {
		if strings.HasPrefix(c.Path(), "/v1/billing/") && c.Method() == fiber.MethodPost {
			// A provider's event carries whole objects: the billing
			// handlers check their own, larger limit.
			return c.Next()
		}
		if len(c.Body()) > cfg.BodyLimit {
			return licensing.Errorf(licensing.ETooLarge, "the body is larger than %d bytes", cfg.BodyLimit)
		}
		return c.Next()
	})
	s.releases = cfg.Releases
	s.billing = cfg.Billing
	s.insights = cfg.Insights
	s.users = cfg.Users
	s.openapiDoc = buildOpenAPI()
	s.routes()
	if cfg.QueueMonitor != nil {
		s.mountQueueMonitor(cfg.QueueMonitor)
	}
	if cfg.MetricsScrape != nil {
		s.mountMetrics(cfg.MetricsScrape)
	}
	if cfg.Console != nil {
		cfg.Console.Mount(s.app.Group("/console"))
	}
	if cfg.Docs != nil {
		cfg.Docs.Mount(s.app.Group("/docs"))
	}
	if cfg.Portal != nil {
		cfg.Portal.Mount(s.app.Group("/portal"))
	}
	return s
}

// closeTimedOutQuietly makes the transport close a connection whose
// request did not come (or not whole) within the read timeout without
// writing anything on it. Browsers open sockets before they need them; a
// "408"/"400 Request Timeout" body written there is read as the answer to
// the next request sent on that socket (a page replaced by raw JSON).
// RFC 9112 §9.5 lets a server close an idle connection at any time; the
// client then retries on a new one. Every other transport error still goes
// to fiber's handler (a 431 or 413 problem).
func closeTimedOutQuietly(srv *fasthttp.Server) {
	next := srv.ErrorHandler
	srv.ErrorHandler = func(ctx *fasthttp.RequestCtx, err error) {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			// fasthttp writes the response after this returns: on a closed
			// connection that write fails and nothing leaves.
			_ = ctx.Conn().Close()
			return
		}
		next(ctx, err)
	}
}

// App exposes the fiber app (Listen, Test, Shutdown).
func (s *Server) App() *fiber.App { return s.app }

const requestIDKey = "requestid"

func requestID(c *fiber.Ctx) string {
	id, _ := c.Locals(requestIDKey).(string)
	return id
}

func (s *Server) accessLog(c *fiber.Ctx) error {
	start := time.Now()
	err := c.Next()
	if err != nil {
		// The error handler writes the answer; run it now so the status is known.
		if herr := s.app.ErrorHandler(c, err); herr != nil {
			return herr
		}
	}
	s.log.Info("http", "request_id", requestID(c), "method", c.Method(), "path", c.Path(),
		"status", c.Response().StatusCode(), "duration_ms", float64(time.Since(start).Microseconds())/1000)
	return nil
}

func (s *Server) healthz(c *fiber.Ctx) error { return c.JSON(healthOut{Status: "ok"}) }

// Drain makes /readyz answer 503 from now on while every other route is
// served as before: a load balancer that polls readiness stops sending
// new requests here before the listener closes (the shutdown grace).
func (s *Server) Drain() { s.draining.Store(true) }

// errDraining is /readyz's answer while draining: a 503 that is planned, so
// it is not logged as a failure.
var errDraining = licensing.Errorf(licensing.EUnavailable, "this instance is shutting down")

func (s *Server) ready(c *fiber.Ctx) error {
	if s.draining.Load() {
		return errDraining
	}
	ctx, cancel := context.WithTimeout(c.UserContext(), 3*time.Second)
	defer cancel()
	if err := s.health.Ping(ctx); err != nil {
		return err
	}
	return c.JSON(healthOut{Status: "ready"})
}

func (s *Server) jwks(c *fiber.Ctx) error {
	doc, err := s.keys.JWKS()
	if err != nil {
		return licensing.Wrap(licensing.EInternal, err, "the key set is unavailable")
	}
	c.Set(fiber.HeaderCacheControl, "public, max-age=300")
	c.Set(fiber.HeaderContentType, "application/jwk-set+json")
	return c.Send(doc)
}
