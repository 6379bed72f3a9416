package api

import (
	"github.com/gofiber/fiber/v2"
	"github.com/nzilacode/narcidicontrole/licensing"
)

// rotateLicenseKey answers the license with its new key, once. The answer
// is a secret: no cache may keep it (an Idempotency-Key replay is sealed).
func (s *Server) rotateLicenseKey(c *fiber.Ctx) error {
	c.Set(fiber.HeaderCacheControl, "no-store")
	return optionalBody(c, func(in licensing.ReasonInput) (*licensing.CreatedLicense, error) {
		return s.svc.Licenses.RotateKey(c.UserContext(), c.Params("id"), in.Reason)
	})
}
