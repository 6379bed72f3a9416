package apiclient

import (
	"context"
	"net/http"

	"github.com/nzilacode/narcidicontrole/licensing"
	"github.com/nzilacode/narcidicontrole/licensing/subscription"
)

// Subscriptions.

// CreateSubscription starts a manual subscription; when it creates its
// license, the answer holds the key, shown once.
func (c *Client) CreateSubscription(ctx context.Context, in subscription.CreateInput, opts ...Option) (*subscription.Created, error) {
	return created[subscription.Created](ctx, c, "/v1/subscriptions", in, opts)
}

// ListSubscriptions lists subscriptions matching f.
func (c *Client) ListSubscriptions(ctx context.Context, f subscription.Filter, page licensing.Page, opts ...Option) (*List[subscription.Subscription], error) {
	return list[subscription.Subscription](ctx, c, "/v1/subscriptions"+query(page, "customer_id", f.CustomerID, "status", string(f.Status), "provider", f.Provider), opts)
}

// GetSubscription returns one subscription.
func (c *Client) GetSubscription(ctx context.Context, id string, opts ...Option) (*subscription.Subscription, error) {
	return one[subscription.Subscription](ctx, c, http.MethodGet, "/v1/subscriptions/%s", id, nil, opts)
}

// ChangeSubscriptionPlan moves a manual subscription and its licenses to
// another policy.
func (c *Client) ChangeSubscriptionPlan(ctx context.Context, id string, in subscription.ChangePlanInput, opts ...Option) (*subscription.Subscription, error) {
	return one[subscription.Subscription](ctx, c, http.MethodPost, "/v1/subscriptions/%s/actions/change-plan", id, in, opts)
}

// CancelSubscription cancels a manual subscription, at period end or at once.
func (c *Client) CancelSubscription(ctx context.Context, id string, in subscription.CancelInput, opts ...Option) (*subscription.Subscription, error) {
	return one[subscription.Subscription](ctx, c, http.MethodPost, "/v1/subscriptions/%s/actions/cancel", id, in, opts)
}

// ResumeSubscription undoes a cancellation at period end.
func (c *Client) ResumeSubscription(ctx context.Context, id, reason string, opts ...Option) (*subscription.Subscription, error) {
	return one[subscription.Subscription](ctx, c, http.MethodPost, "/v1/subscriptions/%s/actions/resume", id, licensing.ReasonInput{Reason: reason}, opts)
}

// RotateLicenseKey gives a license a new generated key; the answer holds
// it, shown once (the old key stops working). It is sent with a random
// Idempotency-Key unless opts give one: retrying with the same key replays
// the same answer instead of rotating again.
func (c *Client) RotateLicenseKey(ctx context.Context, id, reason string, opts ...Option) (*licensing.CreatedLicense, error) {
	opts = append([]Option{IdempotencyKey(RandomKey())}, opts...)
	return one[licensing.CreatedLicense](ctx, c, http.MethodPost, "/v1/licenses/%s/actions/rotate-key", id, licensing.ReasonInput{Reason: reason}, opts)
}
