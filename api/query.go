package api

import (
	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"
	"github.com/nzilacode/narcidicontrole/licensing"
)

// A filter or cursor the store cannot match silently gave an empty page
// (200 and no data), which reads as "nothing there" rather than "you asked
// wrong". checkQuery refuses such values with 422 naming the parameter,
// before the handler runs, from the route's declared parameters.

// queryCheck says whether a query value is acceptable, and if not, why.
type queryCheck func(v string) (ok bool, want string)

// queryChecks are the value rules of query parameters, by route path and
// name ("" path: every route that declares the parameter).
var queryChecks = map[string]map[string]queryCheck{
	"": {
		"cursor": isID,
	},
	"/v1/licenses": {
		"status": func(v string) (bool, string) {
			return licensing.LicenseStatus(v).Valid(), "active, suspended, expired or revoked"
		},
		"customer_id": isID, "product_id": isID, "policy_id": isID,
	},
	"/v1/machines": {
		"status": func(v string) (bool, string) {
			return licensing.MachineStatus(v).Valid(), "active, offline or blocked"
		},
		"license_id": isID, "customer_id": isID,
	},
	"/v1/policies": {"product_id": isID},
	"/v1/deliveries": {
		"status": func(v string) (bool, string) {
			switch licensing.DeliveryStatus(v) {
			case licensing.DeliveryPending, licensing.DeliveryDelivered, licensing.DeliveryFailed:
				return true, ""
			}
			return false, "pending, delivered or failed"
		},
		"endpoint_id": isID, "event_id": isID,
	},
	"/v1/insights":               insightChecks(),
	"/v1/licenses/:id/insights":  insightChecks(),
	"/v1/customers/:id/insights": insightChecks(),
}

// isID accepts the ids Narcidi gives out (UUIDs), as cursors and id filters.
func isID(v string) (bool, string) {
	_, err := uuid.Parse(v)
	return err == nil && len(v) == 36, "an id (next_cursor of a previous page, or a UUID)"
}

// checkQuery refuses, for route r, an empty-but-present or unacceptable
// value of a declared parameter it has a rule for. Called once per route
// when the router is built.
func checkQuery(r route) fiber.Handler {
	type rule struct {
		name  string
		check queryCheck
	}
	var rules []rule
	for _, p := range r.query {
		if ch, ok := queryChecks[r.path][p.name]; ok {
			rules = append(rules, rule{p.name, ch})
		} else if ch, ok := queryChecks[""][p.name]; ok {
			rules = append(rules, rule{p.name, ch})
		}
	}
	return func(c *fiber.Ctx) error {
		for _, ru := range rules {
			v := c.Query(ru.name)
			if v == "" {
				continue
			}
			if ok, want := ru.check(v); !ok {
				return licensing.FieldErrorf(ru.name, "query parameter %q must be %s", ru.name, want)
			}
		}
		return c.Next()
	}
}
