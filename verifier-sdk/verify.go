package verifier

import (
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// MaxTokenSize bounds what Verify will parse.
const MaxTokenSize = 16 << 10

// DefaultLeeway tolerates small clock differences between server and machine.
const DefaultLeeway = 30 * time.Second

var b64 = base64.RawURLEncoding

// Config is what a Verifier checks leases against.
type Config struct {
	Keys        *KeySet          // trusted public keys (required)
	Product     string           // the product id leases must be issued for (required)
	Fingerprint string           // this machine's fingerprint (required)
	Clock       func() time.Time // nil: time.Now
	Leeway      time.Duration    // 0: DefaultLeeway
}

// Verifier checks leases offline. Safe for concurrent use.
type Verifier struct {
	cfg Config
}

// New validates cfg and builds a Verifier.
func New(cfg Config) (*Verifier, error) {
	switch {
	case cfg.Keys == nil:
		return nil, errors.New("verifier: Config.Keys is required")
	case cfg.Product == "":
		return nil, errors.New("verifier: Config.Product is required")
	case cfg.Fingerprint == "":
		return nil, errors.New("verifier: Config.Fingerprint is required")
	case cfg.Leeway < 0:
		return nil, errors.New("verifier: Config.Leeway must not be negative")
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	if cfg.Leeway == 0 {
		cfg.Leeway = DefaultLeeway
	}
	return &Verifier{cfg: cfg}, nil
}

// Verify is New(cfg) then Verify(token).
func Verify(token string, cfg Config) (*Lease, error) {
	v, err := New(cfg)
	if err != nil {
		return nil, err
	}
	return v.Verify(token)
}

// Lease is a verified lease.
type Lease struct {
	Claims LeaseClaims
	Token  string
	KeyID  string
}

// ExpiresAt is when the lease stops being valid.
func (l *Lease) ExpiresAt() time.Time { return time.Unix(l.Claims.Expiry, 0) }

// IssuedAt is when the server issued the lease.
func (l *Lease) IssuedAt() time.Time { return time.Unix(l.Claims.IssuedAt, 0) }

// LicenseExpiresAt is when the license itself ends; ok is false for a
// license that never expires.
func (l *Lease) LicenseExpiresAt() (t time.Time, ok bool) {
	if l.Claims.LicenseExpiry == 0 {
		return time.Time{}, false
	}
	return time.Unix(l.Claims.LicenseExpiry, 0), true
}

// HasEntitlement reports whether the lease grants the feature code. It does
// not allocate: apps call it on hot paths.
func (l *Lease) HasEntitlement(code string) bool {
	for _, e := range l.Claims.Entitlements {
		if e == code {
			return true
		}
	}
	return false
}

// allowedHeaders is everything a lease header may hold. Anything else (an
// embedded jwk, jku, x5u, x5c, crit...) could make a verifier trust a key the
// token brings itself, so it is refused rather than ignored.
var allowedHeaders = map[string]bool{"alg": true, "kid": true, "typ": true}

// Verify checks a lease, in this order: size and shape, header (algorithm,
// kind, no unexpected members, kid), signature with the trusted key of that
// kid, then claims (product, fingerprint, validity times). Every failure is an
// *Error whose Code says which check failed.
func (v *Verifier) Verify(token string) (*Lease, error) {
	if len(token) > MaxTokenSize {
		return nil, fail(CodeMalformed, "token too large", nil)
	}
	headerPart, _, ok := strings.Cut(token, ".")
	if !ok || strings.Count(token, ".") != 2 {
		return nil, fail(CodeMalformed, "not a JWS compact token", nil)
	}
	kid, err := checkHeader(headerPart)
	if err != nil {
		return nil, err
	}
	key, ok := v.cfg.Keys.Lookup(kid)
	if !ok {
		return nil, fail(CodeUnknownKey, "kid "+quote(kid)+" is not trusted", nil)
	}
	obj, err := jose.ParseSigned(token, []jose.SignatureAlgorithm{jose.EdDSA})
	if err != nil {
		return nil, fail(CodeMalformed, "", err)
	}
	payload, err := obj.Verify(key)
	if err != nil {
		return nil, fail(CodeBadSignature, "", nil)
	}
	lease := &Lease{Token: token, KeyID: kid}
	if err := json.Unmarshal(payload, &lease.Claims); err != nil {
		return nil, fail(CodeMalformed, "claims are not a lease", nil)
	}
	if err := v.checkClaims(&lease.Claims); err != nil {
		return nil, err
	}
	return lease, nil
}

func checkHeader(part string) (kid string, err error) {
	raw, err := b64.DecodeString(part)
	if err != nil {
		return "", fail(CodeMalformed, "header is not base64url", nil)
	}
	var h map[string]json.RawMessage
	if err := json.Unmarshal(raw, &h); err != nil {
		return "", fail(CodeMalformed, "header is not a JSON object", nil)
	}
	var alg, typ string
	if json.Unmarshal(h["alg"], &alg) != nil || alg != string(jose.EdDSA) {
		return "", fail(CodeUnsupportedAlg, "alg must be EdDSA", nil)
	}
	for name := range h {
		if !allowedHeaders[name] {
			return "", fail(CodeMalformed, "header member "+quote(name)+" is not allowed", nil)
		}
	}
	if json.Unmarshal(h["typ"], &typ) != nil || typ != LeaseType {
		return "", fail(CodeWrongKind, "typ is not "+LeaseType, nil)
	}
	if json.Unmarshal(h["kid"], &kid) != nil || kid == "" {
		return "", fail(CodeUnknownKey, "no kid", nil)
	}
	return kid, nil
}

func (v *Verifier) checkClaims(c *LeaseClaims) error {
	if c.Audience != v.cfg.Product {
		return fail(CodeWrongProduct, "issued for another product", nil)
	}
	if subtle.ConstantTimeCompare([]byte(c.Fingerprint), []byte(v.cfg.Fingerprint)) != 1 {
		return fail(CodeFingerprintMismatch, "issued for another machine", nil)
	}
	now := v.cfg.Clock()
	leeway := int64(v.cfg.Leeway / time.Second)
	if c.Expiry == 0 {
		return fail(CodeMalformed, "no exp claim", nil)
	}
	if now.Unix() > c.Expiry+leeway {
		return fail(CodeExpired, "ended at "+time.Unix(c.Expiry, 0).UTC().Format(time.RFC3339), nil)
	}
	if c.NotBefore > now.Unix()+leeway || c.IssuedAt > now.Unix()+leeway {
		return fail(CodeNotYetValid, "starts at "+time.Unix(max(c.NotBefore, c.IssuedAt), 0).UTC().Format(time.RFC3339), nil)
	}
	return nil
}

// quote bounds attacker-chosen text in error messages.
func quote(s string) string {
	if len(s) > 64 {
		s = s[:64] + "..."
	}
	b, _ := json.Marshal(s)
	return string(b)
}
