package webui

import (
	"context"

	"github.com/gofiber/fiber/v2"

	"github.com/nzilacode/narcidicontrole/licensing"
)

// Sessions is an area's cookie sessions: S is its domain's signed-in
// session (*users.Current, *portal.Current). The area's service says how a
// cookie's secret becomes one; the mechanics (resolve the cookie, clear a
// dead one, put the actor in the context, check the CSRF token of every
// state-changing request) are the same for both areas.
type Sessions[S any] struct {
	Cookies Cookies
	// Cookie is the session cookie; Pre the cookie that carries the CSRF
	// token of forms shown before a session exists (sign-in).
	Cookie, Pre string
	// Area names the area in messages ("console", "portal").
	Area string
	// Authenticate resolves a cookie's secret: EUnauthorized when it no
	// longer works (the cookie is then cleared), other errors fail.
	Authenticate func(ctx context.Context, secret string) (S, error)
	// Actor is who a session acts as; Token its synchronizer CSRF token.
	Actor func(S) *licensing.Actor
	Token func(S) string
	// Fail answers an error page.
	Fail func(c *fiber.Ctx, err error) error
}

type sessionKey struct{}

// Current is the request's signed-in session of type S, if any.
func Current[S any](c *fiber.Ctx) (S, bool) {
	s, ok := c.Locals(sessionKey{}).(S)
	return s, ok
}

// Resolve is the middleware that turns the session cookie into the
// request's session (Current) and its actor (in the user context, with
// the request id).
func (s *Sessions[S]) Resolve(c *fiber.Ctx) error {
	secret := c.Cookies(s.Cookie)
	if secret == "" {
		return c.Next()
	}
	cur, err := s.Authenticate(c.UserContext(), secret)
	switch {
	case licensing.ErrorCode(err) == licensing.EUnauthorized:
		s.Cookies.Clear(c, s.Cookie)
		return c.Next()
	case err != nil:
		return s.Fail(c, err)
	}
	a := s.Actor(cur)
	a.RequestID, _ = c.Locals("requestid").(string)
	c.Locals(sessionKey{}, cur)
	c.SetUserContext(licensing.WithActor(c.UserContext(), a))
	return c.Next()
}

// CSRF is the one check of every state-changing request: the form's csrf
// field must be the session's synchronizer token (compared in constant
// time), or, before a session exists, the pre-session cookie's.
func (s *Sessions[S]) CSRF(c *fiber.Ctx) error {
	if c.Method() == fiber.MethodGet || c.Method() == fiber.MethodHead {
		return c.Next()
	}
	got := c.FormValue("csrf")
	if cur, ok := Current[S](c); ok {
		if err := licensing.CheckCSRF(s.Token(cur), got, s.Area); err != nil {
			return s.Fail(c, err)
		}
		return c.Next()
	}
	if err := CheckPreSession(c, s.Pre, got, s.Area); err != nil {
		return s.Fail(c, err)
	}
	return c.Next()
}

// CSRFToken is the token the forms of this response carry.
func (s *Sessions[S]) CSRFToken(c *fiber.Ctx) string {
	if cur, ok := Current[S](c); ok {
		return s.Token(cur)
	}
	return s.Cookies.PreSessionToken(c, s.Pre)
}
