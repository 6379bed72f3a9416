// Package licensing is Narcidi's domain: products, policies (plans),
// customers, licenses and the machines they run on, and the rules that tie
// them together (activation within the seat limit, lease issuing, suspension,
// expiry).
//
// It holds the one error vocabulary (errors.go) and the interfaces it needs
// from the outside (Store, LeaseSigner, Clock). It imports only the standard
// library and the verifier SDK, whose LeaseClaims type is the wire contract of
// a lease. Adapters (storage, keys, api, workers) implement or call it; only
// cmd/narcidi wires them together.
package licensing
