package verifier

// LeaseType is the JWS "typ" header of a lease. Token kinds are told apart by
// this header so that a token of another kind is never accepted as a lease.
const LeaseType = "narcidi-lease+jwt"

// LeaseClaims is the payload of a lease: the wire contract between the server
// that issues leases and the apps that verify them offline. Times are Unix
// seconds (NumericDate, RFC 7519). Field names only ever get added.
type LeaseClaims struct {
	Issuer    string `json:"iss"`
	Subject   string `json:"sub"` // the machine id
	Audience  string `json:"aud"` // the product id: a lease is only good for its product
	ID        string `json:"jti"`
	IssuedAt  int64  `json:"iat"`
	NotBefore int64  `json:"nbf"`
	Expiry    int64  `json:"exp"`

	License     string `json:"license"`            // license id
	Policy      string `json:"policy"`             // policy id
	Customer    string `json:"customer,omitempty"` // customer id
	Machine     string `json:"machine"`            // machine id (same as sub)
	Fingerprint string `json:"fingerprint"`        // the machine fingerprint the lease is bound to
	// Entitlements are the feature codes the license grants, sorted.
	Entitlements []string `json:"entitlements,omitempty"`
	// LicenseExpiry is when the license itself ends (0: never).
	LicenseExpiry int64 `json:"license_expiry,omitempty"`
	// Overage is how many machines the license has beyond its seats,
	// within the overage its policy allows (0, omitted: not over), so the
	// app can warn. Added later: older SDKs skip it and keep verifying.
	Overage int64 `json:"overage,omitempty"`
	// Meters are the license's usage meters as the lease was issued: what
	// an app offline may still spend (MeterBudget). SDKs before it skip
	// the member.
	Meters []MeterClaim `json:"meters,omitempty"`
}

// MeterClaim is one meter in a lease: Meter is the entitlement code it
// counts ("" for the license's own), Remaining the uses it still allows in
// its period (-1: no bound), and Counter the server's count of every use
// ever accepted, which never goes down, so an app can tell a newer lease's
// figure from an older one's.
type MeterClaim struct {
	Meter     string `json:"meter"`
	Remaining int64  `json:"remaining"`
	Counter   int64  `json:"counter"`
}
