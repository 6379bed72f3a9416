package api

import (
	"context"
	"log/slog"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/recover"
	"github.com/gofiber/fiber/v2/middleware/requestid"
	"github.com/nzilacode/narcidicontrole/licensing"
)

// KeySource gives the public key set that verifies leases.
type KeySource interface {
	JWKS() ([]byte, error)
}

// Config is what the HTTP layer needs.
type Config struct {
	Service *licensing.Service
	Keys    KeySource
	Logger  *slog.Logger
	// BodyLimit caps request bodies in bytes (default 64 KiB).
	BodyLimit int
	// ProxyHeader, when set (e.g. X-Forwarded-For), is trusted for the client IP.
	ProxyHeader string
}

// Server is the HTTP interface.
type Server struct {
	svc  *licensing.Service
	keys KeySource
	log  *slog.Logger
	app  *fiber.App
}

// DefaultBodyLimit bounds request bodies: no client or admin call needs more.
const DefaultBodyLimit = 64 << 10

// New builds the fiber app with every route.
func New(cfg Config) *Server {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.BodyLimit <= 0 {
		cfg.BodyLimit = DefaultBodyLimit
	}
	s := &Server{svc: cfg.Service, keys: cfg.Keys, log: cfg.Logger}
	s.app = fiber.New(fiber.Config{
		AppName:               "narcidi",
		BodyLimit:             cfg.BodyLimit,
		ReadTimeout:           15 * time.Second,
		WriteTimeout:          15 * time.Second,
		IdleTimeout:           120 * time.Second,
		DisableStartupMessage: true,
		ErrorHandler:          errorHandler(cfg.Logger),
		ProxyHeader:           cfg.ProxyHeader,
	})
	s.app.Use(requestid.New(requestid.Config{Header: fiber.HeaderXRequestID, ContextKey: requestIDKey}))
	s.app.Use(recover.New())
	s.app.Use(s.accessLog)
	s.routes()
	return s
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

func (s *Server) routes() {
	s.app.Get("/healthz", func(c *fiber.Ctx) error { return c.JSON(fiber.Map{"status": "ok"}) })
	s.app.Get("/readyz", s.ready)
	s.app.Get("/.well-known/jwks.json", s.jwks)

	client := s.app.Group("/v1/client")
	client.Post("/activate", s.activate)
	client.Post("/renew", s.renew)
	client.Post("/heartbeat", s.heartbeat)
	client.Post("/deactivate", s.deactivate)
	client.Post("/validate", s.validate)

	v1 := s.app.Group("/v1", s.authenticate)
	v1.Post("/products", require(licensing.WriteCatalog), s.createProduct)
	v1.Get("/products", require(licensing.ReadCatalog), s.listProducts)
	v1.Get("/products/:id", require(licensing.ReadCatalog), s.getProduct)
	v1.Post("/policies", require(licensing.WriteCatalog), s.createPolicy)
	v1.Get("/policies", require(licensing.ReadCatalog), s.listPolicies)
	v1.Get("/policies/:id", require(licensing.ReadCatalog), s.getPolicy)
	v1.Post("/customers", require(licensing.WriteCustomer), s.createCustomer)
	v1.Get("/customers", require(licensing.ReadCustomers), s.listCustomers)
	v1.Get("/customers/:id", require(licensing.ReadCustomers), s.getCustomer)
	v1.Post("/licenses", require(licensing.WriteLicenses), s.createLicense)
	v1.Get("/licenses", require(licensing.ReadLicenses), s.listLicenses)
	v1.Get("/licenses/:id", require(licensing.ReadLicenses), s.getLicense)
	v1.Get("/licenses/:id/machines", require(licensing.ReadLicenses), s.listLicenseMachines)
	v1.Post("/licenses/:id/actions/suspend", require(licensing.WriteLicenses), s.suspendLicense)
	v1.Post("/licenses/:id/actions/reinstate", require(licensing.WriteLicenses), s.reinstateLicense)
}

func (s *Server) ready(c *fiber.Ctx) error {
	ctx, cancel := context.WithTimeout(c.UserContext(), 3*time.Second)
	defer cancel()
	if err := s.svc.Store().Ping(ctx); err != nil {
		return err
	}
	return c.JSON(fiber.Map{"status": "ready"})
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
