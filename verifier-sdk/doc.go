// Package verifier is the Narcidi SDK that NzilaCode apps link: it checks
// leases offline, talks to the server's client API (activate, renew,
// heartbeat, deactivate, validate) and derives the machine fingerprint.
//
// It depends only on the standard library and go-jose, so an app that links
// it pulls in no server code.
//
//	fp, _ := verifier.Fingerprint("my-app")
//	c := &verifier.Client{BaseURL: "https://licensing.nzilacode.com"}
//	res, err := c.Activate(ctx, verifier.MachineRequest{LicenseKey: key, Fingerprint: fp})
//	keys, _ := verifier.ParseJWKS(pinnedJWKS) // shipped inside the app
//	v, _ := verifier.New(verifier.Config{Keys: keys, Product: productID, Fingerprint: fp})
//	lease, err := v.Verify(res.Lease) // offline
//	switch {
//	case errors.Is(err, verifier.ErrExpired): // renew
//	case err != nil: // refuse to run
//	}
//	if lease.HasEntitlement("export") { ... }
//
// # Lease format
//
// A lease is a JWS in compact serialization (RFC 7515) signed with Ed25519
// (alg "EdDSA", RFC 8037). Its protected header holds exactly
// {"alg":"EdDSA","kid":"<key id>","typ":"narcidi-lease+jwt"}; the kid names a
// key of the server's JWKS (/.well-known/jwks.json, OKP keys). The payload is
// the JSON of LeaseClaims: iss, sub (machine id), aud (product id), jti, iat,
// nbf, exp (Unix seconds), license, policy, customer, machine, fingerprint,
// entitlements (sorted) and license_expiry (0 or absent: never). Any RFC 8037
// JOSE library can verify it; Verify additionally refuses any other header
// member, checks aud against the product, the fingerprint against this
// machine, and the times with a small leeway (DefaultLeeway).
package verifier
