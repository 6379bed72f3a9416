package api

import (
	"strconv"

	"github.com/gofiber/fiber/v2"
	"github.com/nzilacode/narcidicontrole/licensing"
)

func (s *Server) createWebhook(c *fiber.Ctx) error {
	return write(c, 201, func(in licensing.WebhookInput) (*licensing.CreatedWebhook, error) {
		return s.svc.Notifications.CreateWebhook(c.UserContext(), in)
	})
}

func (s *Server) listWebhooks(c *fiber.Ctx) error {
	return list(c, func(p licensing.Page) ([]licensing.WebhookEndpoint, error) {
		return s.svc.Notifications.Webhooks(c.UserContext(), p)
	}, func(x *licensing.WebhookEndpoint) string { return x.ID })
}

func (s *Server) getWebhook(c *fiber.Ctx) error {
	v, err := s.svc.Notifications.Webhook(c.UserContext(), c.Params("id"))
	return found(c, v, err)
}

func (s *Server) updateWebhook(c *fiber.Ctx) error {
	return write(c, 200, func(in licensing.WebhookPatch) (*licensing.WebhookEndpoint, error) {
		return s.svc.Notifications.UpdateWebhook(c.UserContext(), c.Params("id"), in)
	})
}

func (s *Server) deleteWebhook(c *fiber.Ctx) error {
	return noContent(c, s.svc.Notifications.DeleteWebhook(c.UserContext(), c.Params("id")))
}

// testEventInput is the test action's body: none, or an empty object (a
// body is still read strictly, so a malformed one is refused, not ignored).
type testEventInput struct{}

func (s *Server) sendTestEvent(c *fiber.Ctx) error {
	return optionalBody(c, func(testEventInput) (*licensing.Event, error) {
		return s.svc.Notifications.SendTestEvent(c.UserContext(), c.Params("id"))
	})
}

func (s *Server) listDeliveries(c *fiber.Ctx) error {
	f := licensing.DeliveryFilter{EndpointID: c.Query("endpoint_id"), EventID: c.Query("event_id"), Status: licensing.DeliveryStatus(c.Query("status"))}
	switch f.Status {
	case "", licensing.DeliveryPending, licensing.DeliveryDelivered, licensing.DeliveryFailed:
	default:
		return licensing.FieldErrorf("status", "status must be pending, delivered or failed")
	}
	return list(c, func(p licensing.Page) ([]licensing.Delivery, error) {
		return s.svc.Notifications.Deliveries(c.UserContext(), f, p)
	}, func(x *licensing.Delivery) string { return x.ID })
}

func (s *Server) getDelivery(c *fiber.Ctx) error {
	v, err := s.svc.Notifications.Delivery(c.UserContext(), c.Params("id"))
	return found(c, v, err)
}

func (s *Server) redeliver(c *fiber.Ctx) error {
	return optionalBody(c, func(in licensing.ReasonInput) (*licensing.Delivery, error) {
		return s.svc.Notifications.Redeliver(c.UserContext(), c.Params("id"), in.Reason)
	})
}

func (s *Server) dashboardHistory(c *fiber.Ctx) error {
	days := 30
	if v := c.Query("days"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			return licensing.FieldErrorf("days", "days must be a whole number")
		}
		days = n
	}
	v, err := s.svc.Automation.DashboardHistory(c.UserContext(), days)
	if err != nil {
		return err
	}
	return c.JSON(historyOut{Days: nonNilRollups(v)})
}

func nonNilRollups(v []licensing.Rollup) []licensing.Rollup {
	if v == nil {
		return []licensing.Rollup{}
	}
	return v
}
