package main

import (
	"testing"

	"github.com/nzilacode/narcidicontrole/licensing"
)

func init() {
	// The subscription routes in the authorization spec of admin_test.go
	// (the billing webhooks under /v1/billing/ are public: signed, not
	// authenticated by token).
	for route, perm := range map[string]licensing.Permission{
		"POST /v1/subscriptions": "subscriptions:write", "GET /v1/subscriptions": "subscriptions:read", "GET /v1/subscriptions/:id": "subscriptions:read",
		"POST /v1/subscriptions/:id/actions/change-plan": "subscriptions:write",
		"POST /v1/subscriptions/:id/actions/cancel":      "subscriptions:write",
		"POST /v1/subscriptions/:id/actions/resume":      "subscriptions:write",
	} {
		expectedPerm[route] = perm
	}
	rolePerms["admin"] = append(rolePerms["admin"], "subscriptions:read", "subscriptions:write")
	rolePerms["support"] = append(rolePerms["support"], "subscriptions:read")
	rolePerms["read-only"] = append(rolePerms["read-only"], "subscriptions:read")
}

func TestParsePrices(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   string
		want int
		bad  bool
	}{
		{"", 0, false},
		{"price_1=pol-a, price_2=pol-b", 2, false},
		{"price_1", 0, true},
		{"price_1=a,price_1=b", 0, true},
		{"=pol", 0, true},
	} {
		got, err := parsePrices(tc.in)
		if (err != nil) != tc.bad || (!tc.bad && len(got) != tc.want) {
			t.Errorf("parsePrices(%q) = %v, %v", tc.in, got, err)
		}
	}
}
