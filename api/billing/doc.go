// Package billing is the inbound side of billing providers: Stripe's
// webhook (POST /v1/billing/stripe/webhook) and a generic signed endpoint
// (POST /v1/billing/events) for another provider or NzilaCode's own
// billing. Both verify the request's signature with stripe-go's webhook
// package (Stripe-Signature, and the same t=...,v1=... HMAC-SHA256 scheme in
// Narcidi-Billing-Signature for the generic endpoint: one checked
// implementation, with its timestamp tolerance against replays), turn the
// event into a subscription.ProviderEvent and apply it
// (subscription.Service.Apply: idempotent by event id, safe against
// out-of-order and duplicate deliveries). Stripe's events are read from
// their raw JSON in both of Stripe's shapes (before and after API version
// 2025-03-31.basil: stripe-go v82 reads only the later one); an event that
// could not be applied is never answered 2xx, and is logged and counted
// (Metrics).
//
// stripe-go stays inside this package. It does not import package api: api
// serves these handlers through its route table (so OpenAPI and the authz
// matrix see the routes), and cmd/narcidi wires them.
package billing
