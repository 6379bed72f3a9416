package api

import (
	"encoding/base64"
	"net/http"
	"net/url"
	"strings"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/adaptor"
	"github.com/nzilacode/narcidicontrole/licensing"
)

// QueueMonitorPath is where the queue monitor (asynqmon) is mounted when
// the workers run on Redis.
const QueueMonitorPath = "/admin/queues"

// mountQueueMonitor serves h under QueueMonitorPath to admins only. A
// browser cannot send a bearer token, so this path also takes the token
// as the password of HTTP Basic authentication (any user name); an
// unauthenticated browser gets the Basic challenge.
func (s *Server) mountQueueMonitor(h http.Handler) {
	chain := []fiber.Handler{sameSiteOnly, basicAsBearer, s.authenticate, require(licensing.ManageQueues), adaptor.HTTPHandler(h)}
	s.app.All(QueueMonitorPath, chain...)
	s.app.All(QueueMonitorPath+"/*", chain...)
}

// basicAsBearer turns "Basic base64(user:token)" into "Bearer token", and
// asks a browser without credentials to log in.
func basicAsBearer(c *fiber.Ctx) error {
	auth := c.Get(fiber.HeaderAuthorization)
	if auth == "" {
		return licensing.Errorf(licensing.EUnauthorized, "log in with an admin API token as the password")
	}
	if enc, ok := authScheme(auth, "Basic"); ok {
		raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(enc))
		if err != nil {
			return licensing.Errorf(licensing.EUnauthorized, "malformed Basic credentials")
		}
		_, token, _ := strings.Cut(string(raw), ":")
		c.Request().Header.Set(fiber.HeaderAuthorization, "Bearer "+token)
	}
	return c.Next()
}

// sameSiteOnly protects the monitor from other sites. The browser sends the
// Basic credentials with any request to this origin, so a page elsewhere
// could pause or delete queues by posting a form or a fetch: state-changing
// methods are refused unless the browser says the request comes from this
// site (Sec-Fetch-Site) or its Origin is this host. Requests without either
// header are not from a browser's cross-site context (curl, scripts) and
// pass. Every answer also forbids framing, against clickjacking.
func sameSiteOnly(c *fiber.Ctx) error {
	c.Set(fiber.HeaderXFrameOptions, "DENY")
	c.Set(fiber.HeaderContentSecurityPolicy, "frame-ancestors 'none'")
	switch c.Method() {
	case fiber.MethodGet, fiber.MethodHead, fiber.MethodOptions:
		return c.Next()
	}
	switch site := c.Get("Sec-Fetch-Site"); site {
	case "same-origin", "none":
		return c.Next()
	case "":
	default:
		return licensing.Errorf(licensing.EForbidden, "the queue monitor refuses %s requests", site)
	}
	if origin := c.Get(fiber.HeaderOrigin); origin != "" {
		u, err := url.Parse(origin)
		if err != nil || u.Host == "" || !strings.EqualFold(u.Host, string(c.Request().Host())) {
			return licensing.Errorf(licensing.EForbidden, "the queue monitor refuses requests from another origin")
		}
	}
	return c.Next()
}
