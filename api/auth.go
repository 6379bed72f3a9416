package api

import (
	"strings"

	"github.com/gofiber/fiber/v2"
	"github.com/nzilacode/narcidicontrole/licensing"
)

const tokenKey = "narcidi.token"

// authenticate resolves the bearer token of admin routes. Every admin route
// also names the permission it needs (require); a route without one is
// unreachable, which keeps the default at deny.
func (s *Server) authenticate(c *fiber.Ctx) error {
	h := c.Get(fiber.HeaderAuthorization)
	secret, ok := strings.CutPrefix(h, "Bearer ")
	if !ok {
		return licensing.Errorf(licensing.EUnauthorized, "a bearer token is required")
	}
	tok, err := s.svc.Authenticate(c.UserContext(), strings.TrimSpace(secret))
	if err != nil {
		return err
	}
	c.Locals(tokenKey, tok)
	return c.Next()
}

// require lets the request through only if its token's role has p.
func require(p licensing.Permission) fiber.Handler {
	return func(c *fiber.Ctx) error {
		tok, _ := c.Locals(tokenKey).(*licensing.APIToken)
		if tok == nil || !tok.Role.Allows(p) {
			return licensing.Errorf(licensing.EForbidden, "the token's role may not do this")
		}
		return c.Next()
	}
}
