package api

import (
	"encoding/base64"
	"net/http"
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
	chain := []fiber.Handler{basicAsBearer, s.authenticate, require(licensing.ManageQueues), adaptor.HTTPHandler(h)}
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
	if enc, ok := strings.CutPrefix(auth, "Basic "); ok {
		raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(enc))
		if err != nil {
			return licensing.Errorf(licensing.EUnauthorized, "malformed Basic credentials")
		}
		_, token, _ := strings.Cut(string(raw), ":")
		c.Request().Header.Set(fiber.HeaderAuthorization, "Bearer "+token)
	}
	return c.Next()
}
