package api

import (
	"strings"

	"github.com/gofiber/fiber/v2"
	"github.com/nzilacode/narcidicontrole/licensing"
)

// authenticate resolves the bearer token of admin routes into the actor,
// which travels in the request context down to the audit log.
func (s *Server) authenticate(c *fiber.Ctx) error {
	secret, ok := authScheme(c.Get(fiber.HeaderAuthorization), "Bearer")
	if !ok {
		return licensing.Errorf(licensing.EUnauthorized, "a bearer token is required")
	}
	a, err := s.svc.Access.Authenticate(c.UserContext(), strings.TrimSpace(secret))
	if err != nil {
		return err
	}
	a.RequestID = requestID(c)
	c.SetUserContext(licensing.WithActor(c.UserContext(), a))
	return c.Next()
}

// clientActor marks client API requests (apps holding a license key) so
// the events they cause carry the request id.
func clientActor(c *fiber.Ctx) error {
	c.SetUserContext(licensing.WithActor(c.UserContext(), &licensing.Actor{Name: "app", RequestID: requestID(c)}))
	return c.Next()
}

// require lets the request through only if the actor has p. Every admin
// route names one; there is no route without, so the default is deny.
func require(p licensing.Permission) fiber.Handler {
	return func(c *fiber.Ctx) error {
		if a := actor(c); a == nil || !a.Allows(p) {
			return licensing.Errorf(licensing.EForbidden, "this token may not do this (needs %s)", p)
		}
		return c.Next()
	}
}

func actor(c *fiber.Ctx) *licensing.Actor {
	a := licensing.ActorFrom(c.UserContext())
	if a.TokenID == "" {
		return nil
	}
	return a
}

// authScheme returns the credentials of an Authorization header of the
// given scheme. The scheme is case-insensitive (RFC 9110, section 11.1):
// "bearer x" and "BEARER x" are "Bearer x".
func authScheme(header, scheme string) (string, bool) {
	got, cred, ok := strings.Cut(strings.TrimLeft(header, " "), " ")
	if !ok || !strings.EqualFold(got, scheme) {
		return "", false
	}
	return strings.TrimSpace(cred), true
}
