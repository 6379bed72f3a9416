package api

import (
	"strconv"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/nzilacode/narcidicontrole/licensing"
)

// The admin API handlers: decode, call the service, encode. Rules and
// scoping live in licensing. Each handler is one call of its service
// through write, found or list, so they look alike by shape only.

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
			return p, licensing.FieldErrorf("limit", "limit must be between 1 and %d", licensing.MaxPageLimit)
		}
		p.Limit = n
	}
	return p.Normalize(), nil
}

func queryTime(c *fiber.Ctx, name string) (*time.Time, error) {
	v := c.Query(name)
	if v == "" {
		return nil, nil
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return nil, licensing.FieldErrorf(name, "%s must be an RFC 3339 time", name)
	}
	return &t, nil
}

// list runs a paged listing and answers it.
func list[T any](c *fiber.Ctx, fetch func(licensing.Page) ([]T, error), id func(*T) string) error {
	p, err := page(c)
	if err != nil {
		return err
	}
	items, err := fetch(p)
	if err != nil {
		return err
	}
	out := listResponse[T]{Data: items}
	if len(items) == p.Limit {
		out.NextCursor = id(&items[len(items)-1])
	}
	return c.JSON(out)
}

// write decodes the body into In, calls fn and answers status with its result.
func write[In, Out any](c *fiber.Ctx, status int, fn func(In) (Out, error)) error {
	var in In
	if err := decodeJSON(c, &in); err != nil {
		return err
	}
	out, err := fn(in)
	if err != nil {
		return err
	}
	return c.Status(status).JSON(out)
}

// optionalBody is write for actions whose body may be left out.
func optionalBody[In, Out any](c *fiber.Ctx, fn func(In) (Out, error)) error {
	if len(c.Body()) == 0 {
		var in In
		out, err := fn(in)
		if err != nil {
			return err
		}
		return c.JSON(out)
	}
	return write(c, fiber.StatusOK, fn)
}

func found[T any](c *fiber.Ctx, v T, err error) error {
	if err != nil {
		return err
	}
	return c.JSON(v)
}

func noContent(c *fiber.Ctx, err error) error {
	if err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}

func (s *Server) createProduct(c *fiber.Ctx) error {
	return write(c, 201, func(in licensing.ProductInput) (*licensing.Product, error) {
		return s.svc.Catalog.CreateProduct(c.UserContext(), in)
	})
}

func (s *Server) listProducts(c *fiber.Ctx) error {
	return list(c, func(p licensing.Page) ([]licensing.Product, error) {
		return s.svc.Catalog.Products(c.UserContext(), p)
	},
		func(x *licensing.Product) string { return x.ID })
}

func (s *Server) getProduct(c *fiber.Ctx) error {
	v, err := s.svc.Catalog.Product(c.UserContext(), c.Params("id"))
	return found(c, v, err)
}

func (s *Server) updateProduct(c *fiber.Ctx) error {
	return write(c, 200, func(in licensing.ProductPatch) (*licensing.Product, error) {
		return s.svc.Catalog.UpdateProduct(c.UserContext(), c.Params("id"), in)
	})
}

func (s *Server) updateEntitlement(c *fiber.Ctx) error {
	return write(c, 200, func(in licensing.EntitlementPatch) (*licensing.Entitlement, error) {
		return s.svc.Catalog.UpdateEntitlement(c.UserContext(), c.Params("id"), in)
	})
}

func (s *Server) createPolicy(c *fiber.Ctx) error {
	return write(c, 201, func(in licensing.PolicyInput) (*licensing.Policy, error) {
		return s.svc.Catalog.CreatePolicy(c.UserContext(), in)
	})
}

func (s *Server) listPolicies(c *fiber.Ctx) error {
	f := licensing.PolicyFilter{ProductID: c.Query("product_id")}
	return list(c, func(p licensing.Page) ([]licensing.Policy, error) {
		return s.svc.Catalog.Policies(c.UserContext(), f, p)
	},
		func(x *licensing.Policy) string { return x.ID })
}

func (s *Server) getPolicy(c *fiber.Ctx) error {
	v, err := s.svc.Catalog.Policy(c.UserContext(), c.Params("id"))
	return found(c, v, err)
}

func (s *Server) updatePolicy(c *fiber.Ctx) error {
	return write(c, 200, func(in licensing.PolicyPatch) (*licensing.Policy, error) {
		return s.svc.Catalog.UpdatePolicy(c.UserContext(), c.Params("id"), in)
	})
}

func (s *Server) createEntitlement(c *fiber.Ctx) error {
	return write(c, 201, func(in licensing.EntitlementInput) (*licensing.Entitlement, error) {
		return s.svc.Catalog.CreateEntitlement(c.UserContext(), in)
	})
}

func (s *Server) listEntitlements(c *fiber.Ctx) error {
	return list(c, func(p licensing.Page) ([]licensing.Entitlement, error) {
		return s.svc.Catalog.Entitlements(c.UserContext(), p)
	},
		func(x *licensing.Entitlement) string { return x.ID })
}

func (s *Server) getEntitlement(c *fiber.Ctx) error {
	v, err := s.svc.Catalog.Entitlement(c.UserContext(), c.Params("id"))
	return found(c, v, err)
}

func (s *Server) createCustomer(c *fiber.Ctx) error {
	return write(c, 201, func(in licensing.CustomerInput) (*licensing.Customer, error) {
		return s.svc.Customers.CreateCustomer(c.UserContext(), in)
	})
}

func (s *Server) listCustomers(c *fiber.Ctx) error {
	return list(c, func(p licensing.Page) ([]licensing.Customer, error) {
		return s.svc.Customers.Customers(c.UserContext(), p)
	},
		func(x *licensing.Customer) string { return x.ID })
}

func (s *Server) getCustomer(c *fiber.Ctx) error {
	v, err := s.svc.Customers.Customer(c.UserContext(), c.Params("id"))
	return found(c, v, err)
}

func (s *Server) updateCustomer(c *fiber.Ctx) error {
	return write(c, 200, func(in licensing.CustomerPatch) (*licensing.Customer, error) {
		return s.svc.Customers.UpdateCustomer(c.UserContext(), c.Params("id"), in)
	})
}

func (s *Server) createLicense(c *fiber.Ctx) error {
	return write(c, 201, func(in licensing.LicenseInput) (*licensing.CreatedLicense, error) {
		return s.svc.Licenses.CreateLicense(c.UserContext(), in)
	})
}

func (s *Server) listLicenses(c *fiber.Ctx) error {
	before, err := queryTime(c, "expires_before")
	if err != nil {
		return err
	}
	f := licensing.LicenseFilter{
		CustomerID: c.Query("customer_id"), ProductID: c.Query("product_id"), PolicyID: c.Query("policy_id"),
		Status: licensing.LicenseStatus(c.Query("status")), ExpiresBefore: before,
	}
	return list(c, func(p licensing.Page) ([]licensing.License, error) {
		return s.svc.Licenses.Licenses(c.UserContext(), f, p)
	},
		func(x *licensing.License) string { return x.ID })
}

func (s *Server) getLicense(c *fiber.Ctx) error {
	v, err := s.svc.Licenses.License(c.UserContext(), c.Params("id"))
	return found(c, v, err)
}

func (s *Server) updateLicense(c *fiber.Ctx) error {
	return write(c, 200, func(in licensing.LicensePatch) (*licensing.License, error) {
		return s.svc.Licenses.UpdateLicense(c.UserContext(), c.Params("id"), in)
	})
}

func (s *Server) listLicenseMachines(c *fiber.Ctx) error {
	if _, err := s.svc.Licenses.License(c.UserContext(), c.Params("id")); err != nil {
		return err
	}
	f := licensing.MachineFilter{LicenseID: c.Params("id")}
	return list(c, func(p licensing.Page) ([]licensing.Machine, error) {
		return s.svc.Licenses.Machines(c.UserContext(), f, p)
	},
		func(x *licensing.Machine) string { return x.ID })
}

func (s *Server) licenseAction(c *fiber.Ctx, do func(id, reason string) (*licensing.License, error)) error {
	return optionalBody(c, func(in licensing.ReasonInput) (*licensing.License, error) { return do(c.Params("id"), in.Reason) })
}

func (s *Server) suspendLicense(c *fiber.Ctx) error {
	return optionalBody(c, func(in licensing.SuspendInput) (*licensing.License, error) {
		return s.svc.Licenses.Suspend(c.UserContext(), c.Params("id"), in)
	})
}

func (s *Server) reinstateLicense(c *fiber.Ctx) error {
	return s.licenseAction(c, func(id, r string) (*licensing.License, error) {
		return s.svc.Licenses.ReinstateLicense(c.UserContext(), id, r)
	})
}

func (s *Server) revokeLicense(c *fiber.Ctx) error {
	return s.licenseAction(c, func(id, r string) (*licensing.License, error) {
		return s.svc.Licenses.RevokeLicense(c.UserContext(), id, r)
	})
}

func (s *Server) extendLicense(c *fiber.Ctx) error {
	return optionalBody(c, func(in licensing.ExtendInput) (*licensing.License, error) {
		return s.svc.Licenses.ExtendLicense(c.UserContext(), c.Params("id"), in)
	})
}

func (s *Server) changePolicy(c *fiber.Ctx) error {
	return write(c, 200, func(in licensing.ChangePolicyInput) (*licensing.License, error) {
		return s.svc.Licenses.ChangePolicy(c.UserContext(), c.Params("id"), in.PolicyID, in.Reason)
	})
}

func (s *Server) transferLicense(c *fiber.Ctx) error {
	return write(c, 200, func(in licensing.TransferInput) (*licensing.License, error) {
		return s.svc.Licenses.TransferLicense(c.UserContext(), c.Params("id"), in.CustomerID, in.Reason)
	})
}

func (s *Server) listMachines(c *fiber.Ctx) error {
	f := licensing.MachineFilter{LicenseID: c.Query("license_id"), CustomerID: c.Query("customer_id"), Status: licensing.MachineStatus(c.Query("status"))}
	return list(c, func(p licensing.Page) ([]licensing.Machine, error) {
		return s.svc.Licenses.Machines(c.UserContext(), f, p)
	},
		func(x *licensing.Machine) string { return x.ID })
}

func (s *Server) getMachine(c *fiber.Ctx) error {
	v, err := s.svc.Licenses.Machine(c.UserContext(), c.Params("id"))
	return found(c, v, err)
}

func (s *Server) deactivateMachine(c *fiber.Ctx) error {
	return noContent(c, s.svc.Licenses.DeactivateMachine(c.UserContext(), c.Params("id"), "deactivated through the API"))
}

func (s *Server) blockMachine(c *fiber.Ctx) error {
	return optionalBody(c, func(in licensing.ReasonInput) (*licensing.Machine, error) {
		return s.svc.Licenses.BlockMachine(c.UserContext(), c.Params("id"), in.Reason)
	})
}

func (s *Server) unblockMachine(c *fiber.Ctx) error {
	var in licensing.ReasonInput
	if len(c.Body()) > 0 {
		if err := decodeJSON(c, &in); err != nil {
			return err
		}
	}
	return noContent(c, s.svc.Licenses.UnblockMachine(c.UserContext(), c.Params("id"), in.Reason))
}

func (s *Server) resetHeartbeat(c *fiber.Ctx) error {
	return optionalBody(c, func(struct{}) (*licensing.Machine, error) {
		return s.svc.Licenses.ResetHeartbeat(c.UserContext(), c.Params("id"))
	})
}

func (s *Server) createToken(c *fiber.Ctx) error {
	return write(c, 201, func(in licensing.TokenInput) (*licensing.CreatedToken, error) {
		return s.svc.Access.CreateToken(c.UserContext(), in)
	})
}

func (s *Server) listTokens(c *fiber.Ctx) error {
	return list(c, func(p licensing.Page) ([]licensing.APIToken, error) {
		return s.svc.Access.Tokens(c.UserContext(), p)
	},
		func(x *licensing.APIToken) string { return x.ID })
}

func (s *Server) revokeToken(c *fiber.Ctx) error {
	return noContent(c, s.svc.Access.RevokeToken(c.UserContext(), c.Params("id")))
}

func (s *Server) listEvents(c *fiber.Ctx) error {
	since, err := queryTime(c, "since")
	if err != nil {
		return err
	}
	until, err := queryTime(c, "until")
	if err != nil {
		return err
	}
	f := licensing.EventFilter{TargetType: c.Query("target_type"), TargetID: c.Query("target_id"), Actor: c.Query("actor"),
		Action: c.Query("action"), Since: since, Until: until}
	return list(c, func(p licensing.Page) ([]licensing.Event, error) {
		return s.svc.Notifications.Events(c.UserContext(), f, p)
	},
		func(x *licensing.Event) string { return x.ID })
}

func (s *Server) dashboard(c *fiber.Ctx) error {
	v, err := s.svc.Automation.Dashboard(c.UserContext())
	return found(c, v, err)
}

// Entitlements after issue and meters.

func (s *Server) retireEntitlement(c *fiber.Ctx) error {
	return optionalBody(c, func(in licensing.ReasonInput) (*licensing.Entitlement, error) {
		return s.svc.Catalog.RetireEntitlement(c.UserContext(), c.Params("id"), in.Reason)
	})
}

func (s *Server) changeLicenseEntitlements(c *fiber.Ctx) error {
	return write(c, 200, func(in licensing.EntitlementChange) (*licensing.License, error) {
		return s.svc.Licenses.ChangeEntitlements(c.UserContext(), c.Params("id"), in)
	})
}

func (s *Server) changePolicyEntitlements(c *fiber.Ctx) error {
	return write(c, 200, func(in licensing.EntitlementChange) (*licensing.Policy, error) {
		return s.svc.Catalog.ChangePolicyEntitlements(c.UserContext(), c.Params("id"), in)
	})
}

func (s *Server) createMeter(c *fiber.Ctx) error {
	return write(c, 201, func(in licensing.MeterInput) (*licensing.Meter, error) {
		return s.svc.Metering.CreateMeter(c.UserContext(), c.Params("id"), in)
	})
}

// listMeters answers every meter of the license in one page (a license
// has at most licensing.MaxMetersPerLicense).
func (s *Server) listMeters(c *fiber.Ctx) error {
	ms, err := s.svc.Metering.Meters(c.UserContext(), c.Params("id"))
	if err != nil {
		return err
	}
	return c.JSON(listResponse[licensing.Meter]{Data: ms})
}

func (s *Server) getMeter(c *fiber.Ctx) error {
	v, err := s.svc.Metering.Meter(c.UserContext(), c.Params("id"))
	return found(c, v, err)
}

func (s *Server) updateMeter(c *fiber.Ctx) error {
	return write(c, 200, func(in licensing.MeterPatch) (*licensing.Meter, error) {
		return s.svc.Metering.UpdateMeter(c.UserContext(), c.Params("id"), in)
	})
}

func (s *Server) resetMeter(c *fiber.Ctx) error {
	return optionalBody(c, func(in licensing.ReasonInput) (*licensing.Meter, error) {
		return s.svc.Metering.ResetMeter(c.UserContext(), c.Params("id"), in.Reason)
	})
}
