package api

import (
	"strconv"

	"github.com/gofiber/fiber/v2"
	"github.com/nzilacode/narcidicontrole/licensing"
)

// The admin API. Routes are resource nouns under /v1; state changes that
// are not plain edits are actions under /v1/<resource>/:id/actions/<verb>.

// listResponse is every listing's shape: a page of data and the cursor of
// the next page ("" at the end).
type listResponse[T any] struct {
	Data       []T    `json:"data"`
	NextCursor string `json:"next_cursor"`
}

func page(c *fiber.Ctx) (licensing.Page, error) {
	p := licensing.Page{After: c.Query("cursor")}
	if l := c.Query("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > licensing.MaxPageLimit {
			return p, licensing.Errorf(licensing.EInvalid, "limit must be between 1 and %d", licensing.MaxPageLimit)
		}
		p.Limit = n
	}
	return p.Normalize(), nil
}

func list[T any](c *fiber.Ctx, p licensing.Page, items []T, id func(*T) string) error {
	out := listResponse[T]{Data: items}
	if len(items) == p.Limit {
		out.NextCursor = id(&items[len(items)-1])
	}
	return c.JSON(out)
}

func create[In, Out any](c *fiber.Ctx, fn func(In) (Out, error)) error {
	var in In
	if err := decodeJSON(c, &in); err != nil {
		return err
	}
	out, err := fn(in)
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(out)
}

func found[T any](c *fiber.Ctx, v T, err error) error {
	if err != nil {
		return err
	}
	return c.JSON(v)
}

func (s *Server) createProduct(c *fiber.Ctx) error {
	return create(c, func(in licensing.ProductInput) (*licensing.Product, error) {
		return s.svc.CreateProduct(c.UserContext(), in)
	})
}

func (s *Server) listProducts(c *fiber.Ctx) error {
	p, err := page(c)
	if err != nil {
		return err
	}
	items, err := s.svc.Store().ListProducts(c.UserContext(), p)
	if err != nil {
		return err
	}
	return list(c, p, items, func(x *licensing.Product) string { return x.ID })
}

func (s *Server) getProduct(c *fiber.Ctx) error {
	v, err := s.svc.Store().GetProduct(c.UserContext(), c.Params("id"))
	return found(c, v, err)
}

func (s *Server) createPolicy(c *fiber.Ctx) error {
	return create(c, func(in licensing.PolicyInput) (*licensing.Policy, error) {
		return s.svc.CreatePolicy(c.UserContext(), in)
	})
}

func (s *Server) listPolicies(c *fiber.Ctx) error {
	p, err := page(c)
	if err != nil {
		return err
	}
	items, err := s.svc.Store().ListPolicies(c.UserContext(), licensing.PolicyFilter{ProductID: c.Query("product_id")}, p)
	if err != nil {
		return err
	}
	return list(c, p, items, func(x *licensing.Policy) string { return x.ID })
}

func (s *Server) getPolicy(c *fiber.Ctx) error {
	v, err := s.svc.Store().GetPolicy(c.UserContext(), c.Params("id"))
	return found(c, v, err)
}

func (s *Server) createCustomer(c *fiber.Ctx) error {
	return create(c, func(in licensing.CustomerInput) (*licensing.Customer, error) {
		return s.svc.CreateCustomer(c.UserContext(), in)
	})
}

func (s *Server) listCustomers(c *fiber.Ctx) error {
	p, err := page(c)
	if err != nil {
		return err
	}
	items, err := s.svc.Store().ListCustomers(c.UserContext(), p)
	if err != nil {
		return err
	}
	return list(c, p, items, func(x *licensing.Customer) string { return x.ID })
}

func (s *Server) getCustomer(c *fiber.Ctx) error {
	v, err := s.svc.Store().GetCustomer(c.UserContext(), c.Params("id"))
	return found(c, v, err)
}

func (s *Server) createLicense(c *fiber.Ctx) error {
	return create(c, func(in licensing.LicenseInput) (*licensing.CreatedLicense, error) {
		return s.svc.CreateLicense(c.UserContext(), in)
	})
}

func (s *Server) listLicenses(c *fiber.Ctx) error {
	p, err := page(c)
	if err != nil {
		return err
	}
	f := licensing.LicenseFilter{
		CustomerID: c.Query("customer_id"), ProductID: c.Query("product_id"),
		PolicyID: c.Query("policy_id"), Status: licensing.LicenseStatus(c.Query("status")),
	}
	items, err := s.svc.Store().ListLicenses(c.UserContext(), f, p)
	if err != nil {
		return err
	}
	return list(c, p, items, func(x *licensing.License) string { return x.ID })
}

func (s *Server) getLicense(c *fiber.Ctx) error {
	v, err := s.svc.Store().GetLicense(c.UserContext(), c.Params("id"))
	return found(c, v, err)
}

func (s *Server) listLicenseMachines(c *fiber.Ctx) error {
	p, err := page(c)
	if err != nil {
		return err
	}
	if _, err := s.svc.Store().GetLicense(c.UserContext(), c.Params("id")); err != nil {
		return err
	}
	items, err := s.svc.Store().ListMachines(c.UserContext(), c.Params("id"), p)
	if err != nil {
		return err
	}
	return list(c, p, items, func(x *licensing.Machine) string { return x.ID })
}

// actionInput is the body of a license action: why it was done.
type actionInput struct {
	Reason string `json:"reason"`
}

func (s *Server) licenseAction(c *fiber.Ctx, do func(id, reason string) (*licensing.License, error)) error {
	var in actionInput
	if len(c.Body()) > 0 {
		if err := decodeJSON(c, &in); err != nil {
			return err
		}
	}
	l, err := do(c.Params("id"), in.Reason)
	return found(c, l, err)
}

func (s *Server) suspendLicense(c *fiber.Ctx) error {
	return s.licenseAction(c, func(id, reason string) (*licensing.License, error) {
		return s.svc.SuspendLicense(c.UserContext(), id, reason)
	})
}

func (s *Server) reinstateLicense(c *fiber.Ctx) error {
	return s.licenseAction(c, func(id, reason string) (*licensing.License, error) {
		return s.svc.ReinstateLicense(c.UserContext(), id, reason)
	})
}
