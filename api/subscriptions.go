package api

import (
	"github.com/gofiber/fiber/v2"
	"github.com/nzilacode/narcidicontrole/licensing"
	"github.com/nzilacode/narcidicontrole/licensing/subscription"
)

// BillingEndpoints are the inbound billing webhooks (api/billing
// implements them; api does not import it, so stripe-go stays there).
type BillingEndpoints interface {
	Stripe(c *fiber.Ctx) error
	Generic(c *fiber.Ctx) error
}

// Billing is the subscription side of the API.
type Billing struct {
	// Subscriptions serves the admin routes (nil: they answer 503).
	Subscriptions *subscription.Service
	// Endpoints serve the provider webhooks (nil: they answer 404).
	Endpoints BillingEndpoints
}

func (s *Server) subscriptions() (*subscription.Service, error) {
	if s.billing.Subscriptions == nil {
		return nil, licensing.Errorf(licensing.EUnavailable, "subscriptions are not configured on this server")
	}
	return s.billing.Subscriptions, nil
}

func (s *Server) stripeWebhook(c *fiber.Ctx) error {
	if s.billing.Endpoints == nil {
		return licensing.Errorf(licensing.ENotFound, "billing endpoints are not configured")
	}
	return s.billing.Endpoints.Stripe(c)
}

func (s *Server) billingEvent(c *fiber.Ctx) error {
	if s.billing.Endpoints == nil {
		return licensing.Errorf(licensing.ENotFound, "billing endpoints are not configured")
	}
	return s.billing.Endpoints.Generic(c)
}

func (s *Server) createSubscription(c *fiber.Ctx) error {
	svc, err := s.subscriptions()
	if err != nil {
		return err
	}
	return write(c, 201, func(in subscription.CreateInput) (*subscription.Created, error) {
		return svc.Create(c.UserContext(), in)
	})
}

func (s *Server) listSubscriptions(c *fiber.Ctx) error {
	svc, err := s.subscriptions()
	if err != nil {
		return err
	}
	f := subscription.Filter{CustomerID: c.Query("customer_id"), Status: subscription.Status(c.Query("status")), Provider: c.Query("provider")}
	return list(c, func(p licensing.Page) ([]subscription.Subscription, error) {
		return svc.Subscriptions(c.UserContext(), f, p)
	}, func(x *subscription.Subscription) string { return x.ID })
}

func (s *Server) getSubscription(c *fiber.Ctx) error {
	svc, err := s.subscriptions()
	if err != nil {
		return err
	}
	v, err := svc.Subscription(c.UserContext(), c.Params("id"))
	return found(c, v, err)
}

func (s *Server) changePlan(c *fiber.Ctx) error {
	svc, err := s.subscriptions()
	if err != nil {
		return err
	}
	return write(c, 200, func(in subscription.ChangePlanInput) (*subscription.Subscription, error) {
		return svc.ChangePlan(c.UserContext(), c.Params("id"), in)
	})
}

func (s *Server) cancelSubscription(c *fiber.Ctx) error {
	svc, err := s.subscriptions()
	if err != nil {
		return err
	}
	return optionalBody(c, func(in subscription.CancelInput) (*subscription.Subscription, error) {
		return svc.Cancel(c.UserContext(), c.Params("id"), in)
	})
}

func (s *Server) resumeSubscription(c *fiber.Ctx) error {
	svc, err := s.subscriptions()
	if err != nil {
		return err
	}
	return optionalBody(c, func(in licensing.ReasonInput) (*subscription.Subscription, error) {
		return svc.Resume(c.UserContext(), c.Params("id"), in.Reason)
	})
}
