// Package verifier is the Narcidi SDK that NzilaCode apps link. It verifies
// leases offline, talks to the server's client API (activate, renew,
// heartbeat, deactivate, validate, JWKS) and derives the machine fingerprint.
// It imports only the standard library and github.com/denisbrodbeck/machineid,
// so an app that links it pulls in no server code (go-jose is used by its
// tests only, as an independent check). It also keeps the lease on disk and
// renews it (Manager), detects a clock set back (ClockGuard), checks signing
// keys against a pinned root key (Config.Roots, CertClaims) and handles
// air-gapped activation files (ActivationRequest, LeaseFile).
//
// # Use
//
// Ship the server's public keys (its /.well-known/jwks.json) inside the app,
// activate once, keep the lease, verify it at start-up and whenever a feature
// is used, and renew it before it expires:
//
//	keys, err := verifier.ParseJWKS(pinnedJWKS)
//	fp, err := verifier.Fingerprint("com.nzilacode.studio") // this app on this machine
//	c := &verifier.Client{BaseURL: "https://licensing.nzilacode.com"}
//	res, err := c.Activate(ctx, verifier.MachineRequest{LicenseKey: key, Fingerprint: fp})
//	// ... store res.Lease; later, even offline:
//	v, err := verifier.New(verifier.Config{Keys: keys, Product: productID, Fingerprint: fp})
//	lease, err := v.Verify(storedLease)
//	switch {
//	case errors.Is(err, verifier.ErrExpired): // renew: c.Renew(ctx, ...)
//	case err != nil: // refuse to run
//	}
//	if lease.HasEntitlement("export") { ... }
//
// Verification failures are *Error values whose Code says which check failed
// (see Verifier.Verify for the order of the checks); server refusals are
// *APIError values carrying the server's problem document.
//
// # Lease format
//
// A lease is a JWS (RFC 7515) in compact serialization, signed with Ed25519
// (alg "EdDSA", RFC 8037). Its protected header is exactly
//
//	{"alg":"EdDSA","kid":"<key id>","typ":"narcidi-lease+jwt"}
//
// optionally with "ncert" (CertHeader): the root's certificate of the
// signing key, a compact JWS of typ CertType (see CertClaims). General JOSE
// libraries ignore that member.
//
// where kid names an OKP/Ed25519 key of the server's JWKS. The payload is the
// JSON of LeaseClaims: iss, sub (machine id), aud (product id), jti, iat, nbf,
// exp (NumericDate: Unix seconds), license, policy, customer, machine,
// fingerprint, entitlements (sorted) and license_expiry (absent or 0: never).
// Any RFC 8037 JOSE library can verify a lease; to accept it as this package
// does, also check typ, aud, fingerprint and the times.
//
// Verify is stricter than a general JOSE library, on purpose: it accepts only
// that header (any other member, such as an embedded or remote key "jwk",
// "jku", "x5u", "x5c", or "crit", makes the lease ErrMalformed: a token never
// picks the key it is checked with), only canonical base64url, and refuses
// claims given twice or spelled in another case ("AUD"), so that every JSON
// library reads the same claims out of a lease.
//
// Its wire types (wire.go, update_wire.go, claims.go) look alike one
// another and the server's own types by shape: the SDK is a separate
// module, imported by the server but importing nothing of it.
package verifier
