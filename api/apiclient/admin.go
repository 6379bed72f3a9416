package apiclient

import (
	"context"
	"net/http"
	"time"

	"github.com/nzilacode/narcidicontrole/licensing"
)

// Products and policies.

// CreateProduct creates a product.
func (c *Client) CreateProduct(ctx context.Context, in licensing.ProductInput, opts ...Option) (*licensing.Product, error) {
	return created[licensing.Product](ctx, c, "/v1/products", in, opts)
}

// ListProducts lists products.
func (c *Client) ListProducts(ctx context.Context, page licensing.Page, opts ...Option) (*List[licensing.Product], error) {
	return list[licensing.Product](ctx, c, "/v1/products"+query(page), opts)
}

// UpdateProduct changes a product.
func (c *Client) UpdateProduct(ctx context.Context, id string, in licensing.ProductPatch, opts ...Option) (*licensing.Product, error) {
	return one[licensing.Product](ctx, c, http.MethodPatch, "/v1/products/%s", id, in, opts)
}

// CreatePolicy creates a policy (plan) of a product.
func (c *Client) CreatePolicy(ctx context.Context, in licensing.PolicyInput, opts ...Option) (*licensing.Policy, error) {
	return created[licensing.Policy](ctx, c, "/v1/policies", in, opts)
}

// ListPolicies lists policies, of one product if f says so.
func (c *Client) ListPolicies(ctx context.Context, f licensing.PolicyFilter, page licensing.Page, opts ...Option) (*List[licensing.Policy], error) {
	return list[licensing.Policy](ctx, c, "/v1/policies"+query(page, "product_id", f.ProductID), opts)
}

// UpdatePolicy changes a policy.
func (c *Client) UpdatePolicy(ctx context.Context, id string, in licensing.PolicyPatch, opts ...Option) (*licensing.Policy, error) {
	return one[licensing.Policy](ctx, c, http.MethodPatch, "/v1/policies/%s", id, in, opts)
}

// Customers.

// CreateCustomer creates a customer.
func (c *Client) CreateCustomer(ctx context.Context, in licensing.CustomerInput, opts ...Option) (*licensing.Customer, error) {
	return created[licensing.Customer](ctx, c, "/v1/customers", in, opts)
}

// ListCustomers lists customers.
func (c *Client) ListCustomers(ctx context.Context, page licensing.Page, opts ...Option) (*List[licensing.Customer], error) {
	return list[licensing.Customer](ctx, c, "/v1/customers"+query(page), opts)
}

// GetCustomer returns one customer.
func (c *Client) GetCustomer(ctx context.Context, id string, opts ...Option) (*licensing.Customer, error) {
	return one[licensing.Customer](ctx, c, http.MethodGet, "/v1/customers/%s", id, nil, opts)
}

// UpdateCustomer changes a customer.
func (c *Client) UpdateCustomer(ctx context.Context, id string, in licensing.CustomerPatch, opts ...Option) (*licensing.Customer, error) {
	return one[licensing.Customer](ctx, c, http.MethodPatch, "/v1/customers/%s", id, in, opts)
}

// Licenses.

// CreateLicense creates a license; the answer holds its key, shown once.
func (c *Client) CreateLicense(ctx context.Context, in licensing.LicenseInput, opts ...Option) (*licensing.CreatedLicense, error) {
	return created[licensing.CreatedLicense](ctx, c, "/v1/licenses", in, opts)
}

// ListLicenses lists licenses matching f.
func (c *Client) ListLicenses(ctx context.Context, f licensing.LicenseFilter, page licensing.Page, opts ...Option) (*List[licensing.License], error) {
	var before string
	if f.ExpiresBefore != nil {
		before = f.ExpiresBefore.UTC().Format(time.RFC3339)
	}
	return list[licensing.License](ctx, c, "/v1/licenses"+query(page, "customer_id", f.CustomerID, "product_id", f.ProductID,
		"policy_id", f.PolicyID, "status", string(f.Status), "expires_before", before), opts)
}

// GetLicense returns one license.
func (c *Client) GetLicense(ctx context.Context, id string, opts ...Option) (*licensing.License, error) {
	return one[licensing.License](ctx, c, http.MethodGet, "/v1/licenses/%s", id, nil, opts)
}

// UpdateLicense changes a license's name or metadata.
func (c *Client) UpdateLicense(ctx context.Context, id string, in licensing.LicensePatch, opts ...Option) (*licensing.License, error) {
	return one[licensing.License](ctx, c, http.MethodPatch, "/v1/licenses/%s", id, in, opts)
}

// SuspendLicense suspends a license: no new lease until reinstated.
func (c *Client) SuspendLicense(ctx context.Context, id, reason string, opts ...Option) (*licensing.License, error) {
	return one[licensing.License](ctx, c, http.MethodPost, "/v1/licenses/%s/actions/suspend", id, licensing.ReasonInput{Reason: reason}, opts)
}

// ReinstateLicense lifts a suspension.
func (c *Client) ReinstateLicense(ctx context.Context, id, reason string, opts ...Option) (*licensing.License, error) {
	return one[licensing.License](ctx, c, http.MethodPost, "/v1/licenses/%s/actions/reinstate", id, licensing.ReasonInput{Reason: reason}, opts)
}

// RevokeLicense revokes a license for good.
func (c *Client) RevokeLicense(ctx context.Context, id, reason string, opts ...Option) (*licensing.License, error) {
	return one[licensing.License](ctx, c, http.MethodPost, "/v1/licenses/%s/actions/revoke", id, licensing.ReasonInput{Reason: reason}, opts)
}

// ExtendLicense moves a license's expiry later.
func (c *Client) ExtendLicense(ctx context.Context, id string, in licensing.ExtendInput, opts ...Option) (*licensing.License, error) {
	return one[licensing.License](ctx, c, http.MethodPost, "/v1/licenses/%s/actions/extend", id, in, opts)
}

// TransferLicense gives a license to another customer.
func (c *Client) TransferLicense(ctx context.Context, id, customerID, reason string, opts ...Option) (*licensing.License, error) {
	return one[licensing.License](ctx, c, http.MethodPost, "/v1/licenses/%s/actions/transfer", id, licensing.TransferInput{CustomerID: customerID, Reason: reason}, opts)
}

// ChangePolicy moves a license to another policy of the same product.
func (c *Client) ChangePolicy(ctx context.Context, id, policyID, reason string, opts ...Option) (*licensing.License, error) {
	return one[licensing.License](ctx, c, http.MethodPost, "/v1/licenses/%s/actions/change-policy", id, licensing.ChangePolicyInput{PolicyID: policyID, Reason: reason}, opts)
}

// Machines.

// ListMachines lists machines matching f.
func (c *Client) ListMachines(ctx context.Context, f licensing.MachineFilter, page licensing.Page, opts ...Option) (*List[licensing.Machine], error) {
	return list[licensing.Machine](ctx, c, "/v1/machines"+query(page, "license_id", f.LicenseID, "customer_id", f.CustomerID, "status", string(f.Status)), opts)
}

// GetMachine returns one machine.
func (c *Client) GetMachine(ctx context.Context, id string, opts ...Option) (*licensing.Machine, error) {
	return one[licensing.Machine](ctx, c, http.MethodGet, "/v1/machines/%s", id, nil, opts)
}

// DeactivateMachine deactivates a machine, freeing its seat.
func (c *Client) DeactivateMachine(ctx context.Context, id string, opts ...Option) error {
	return none(ctx, c, http.MethodDelete, "/v1/machines/%s", id, nil, opts)
}

// BlockMachine blocks a machine's fingerprint on its license.
func (c *Client) BlockMachine(ctx context.Context, id, reason string, opts ...Option) (*licensing.Machine, error) {
	return one[licensing.Machine](ctx, c, http.MethodPost, "/v1/machines/%s/actions/block", id, licensing.ReasonInput{Reason: reason}, opts)
}

// UnblockMachine lifts a block: the machine may activate again.
func (c *Client) UnblockMachine(ctx context.Context, id, reason string, opts ...Option) error {
	return none(ctx, c, http.MethodPost, "/v1/machines/%s/actions/unblock", id, licensing.ReasonInput{Reason: reason}, opts)
}

// ResetHeartbeat forgets a machine's last heartbeat.
func (c *Client) ResetHeartbeat(ctx context.Context, id string, opts ...Option) (*licensing.Machine, error) {
	return one[licensing.Machine](ctx, c, http.MethodPost, "/v1/machines/%s/actions/reset-heartbeat", id, nil, opts)
}

// API tokens.

// CreateToken creates an API token; the answer holds its secret, shown once.
func (c *Client) CreateToken(ctx context.Context, in licensing.TokenInput, opts ...Option) (*licensing.CreatedToken, error) {
	return created[licensing.CreatedToken](ctx, c, "/v1/tokens", in, opts)
}

// ListTokens lists API tokens (never their secrets).
func (c *Client) ListTokens(ctx context.Context, page licensing.Page, opts ...Option) (*List[licensing.APIToken], error) {
	return list[licensing.APIToken](ctx, c, "/v1/tokens"+query(page), opts)
}

// RevokeToken revokes an API token.
func (c *Client) RevokeToken(ctx context.Context, id string, opts ...Option) error {
	return none(ctx, c, http.MethodDelete, "/v1/tokens/%s", id, nil, opts)
}

// Entitlements after issue and meters.

// ChangeLicenseEntitlements attaches and detaches entitlements of a
// license (on top of its policy's).
func (c *Client) ChangeLicenseEntitlements(ctx context.Context, id string, in licensing.EntitlementChange, opts ...Option) (*licensing.License, error) {
	return one[licensing.License](ctx, c, http.MethodPost, "/v1/licenses/%s/entitlements", id, in, opts)
}

// ChangePolicyEntitlements attaches and detaches entitlements of a policy.
func (c *Client) ChangePolicyEntitlements(ctx context.Context, id string, in licensing.EntitlementChange, opts ...Option) (*licensing.Policy, error) {
	return one[licensing.Policy](ctx, c, http.MethodPost, "/v1/policies/%s/entitlements", id, in, opts)
}

// RetireEntitlement retires an entitlement: no policy or license grants
// it any more.
func (c *Client) RetireEntitlement(ctx context.Context, id, reason string, opts ...Option) (*licensing.Entitlement, error) {
	return one[licensing.Entitlement](ctx, c, http.MethodPost, "/v1/entitlements/%s/actions/retire", id, licensing.ReasonInput{Reason: reason}, opts)
}

// ListMeters lists a license's meters.
func (c *Client) ListMeters(ctx context.Context, licenseID string, opts ...Option) (*List[licensing.Meter], error) {
	path, err := idPath("/v1/licenses/%s/meters", licenseID)
	if err != nil {
		return nil, err
	}
	return list[licensing.Meter](ctx, c, path, opts)
}

// CreateMeter adds a meter to a license.
func (c *Client) CreateMeter(ctx context.Context, licenseID string, in licensing.MeterInput, opts ...Option) (*licensing.Meter, error) {
	return one[licensing.Meter](ctx, c, http.MethodPost, "/v1/licenses/%s/meters", licenseID, in, opts)
}

// GetMeter returns one meter.
func (c *Client) GetMeter(ctx context.Context, id string, opts ...Option) (*licensing.Meter, error) {
	return one[licensing.Meter](ctx, c, http.MethodGet, "/v1/meters/%s", id, nil, opts)
}

// UpdateMeter changes a meter's bound.
func (c *Client) UpdateMeter(ctx context.Context, id string, in licensing.MeterPatch, opts ...Option) (*licensing.Meter, error) {
	return one[licensing.Meter](ctx, c, http.MethodPatch, "/v1/meters/%s", id, in, opts)
}

// ResetMeter starts a new period of a meter.
func (c *Client) ResetMeter(ctx context.Context, id, reason string, opts ...Option) (*licensing.Meter, error) {
	return one[licensing.Meter](ctx, c, http.MethodPost, "/v1/meters/%s/actions/reset", id, licensing.ReasonInput{Reason: reason}, opts)
}
