package verifier

import (
	"crypto/ed25519"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"strconv"
	"time"
)

// MaxTokenSize bounds what Verify will parse: a longer token is malformed.
const MaxTokenSize = 16 << 10

// DefaultLeeway tolerates small clock differences between server and machine.
const DefaultLeeway = 30 * time.Second

// maxNumericDate (9999-12-31T23:59:59Z) bounds the time claims, so that time
// arithmetic on them cannot overflow.
const maxNumericDate = 253402300799

// b64 is base64url without padding, refusing non-canonical encodings (set
// trailing bits), so that a lease has exactly one spelling.
var b64 = base64.RawURLEncoding.Strict()

// Config is what a Verifier checks leases against.
type Config struct {
	Keys        *KeySet          // trusted signing keys, pinned directly (Keys or Roots is required)
	Roots       *KeySet          // pinned root keys: leases whose certificate (CertHeader) chains to one verify
	Product     string           // the product id leases must be issued for: their aud (required)
	Fingerprint string           // this machine's fingerprint, see Fingerprint (required)
	Clock       func() time.Time // nil: time.Now
	Leeway      time.Duration    // tolerance on every time check; 0: DefaultLeeway; negative is invalid
}

// Verifier checks leases offline. Its configuration is immutable; it is safe
// for concurrent use.
type Verifier struct {
	keys        *KeySet
	roots       *KeySet
	certs       certCache // the last certificate that verified
	product     string
	fingerprint []byte
	clock       func() time.Time
	leeway      time.Duration
}

// New checks cfg and builds a Verifier.
func New(cfg Config) (*Verifier, error) {
	switch {
	case (cfg.Keys == nil || len(cfg.Keys.keys) == 0) && (cfg.Roots == nil || len(cfg.Roots.keys) == 0):
		return nil, errors.New("verifier: Config.Keys or Config.Roots is required")
	case cfg.Product == "":
		return nil, errors.New("verifier: Config.Product is required")
	case cfg.Fingerprint == "":
		return nil, errors.New("verifier: Config.Fingerprint is required")
	case cfg.Leeway < 0:
		return nil, errors.New("verifier: Config.Leeway must not be negative")
	}
	v := &Verifier{keys: cfg.Keys, roots: cfg.Roots, product: cfg.Product, fingerprint: []byte(cfg.Fingerprint), clock: cfg.Clock, leeway: cfg.Leeway}
	if v.clock == nil {
		v.clock = time.Now
	}
	if v.leeway == 0 {
		v.leeway = DefaultLeeway
	}
	return v, nil
}

// Verify is New(cfg) then Verify(token). Apps that verify more than once
// should keep a Verifier.
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
	Token  string // the compact JWS, as verified
	KeyID  string // the kid of the key that signed it
	// Certificate is the certificate that vouched for the signing key, when
	// the lease was verified through a pinned root (nil: a pinned key).
	Certificate *CertClaims
}

// ExpiresAt is when the lease stops being valid (before leeway).
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
// not allocate, so apps may call it on hot paths. A plain scan: a lease holds
// a handful of entitlements, and it stays right even if they were unsorted.
func (l *Lease) HasEntitlement(code string) bool {
	for _, e := range l.Claims.Entitlements {
		if e == code {
			return true
		}
	}
	return false
}

// Verify checks a lease. The checks run in this order, and the first that
// fails decides the error (an *Error; match it with errors.Is against the
// Err* sentinels):
//
//  1. size: at most MaxTokenSize bytes (else ErrMalformed);
//  2. shape: JWS compact serialization, three canonical base64url parts and
//     nothing else: no JSON serialization, no white space, no padding (else
//     ErrMalformed). A compact JWS holds exactly one signature;
//  3. header: a JSON object without duplicate members (else ErrMalformed);
//  4. alg is exactly "EdDSA" (else ErrUnsupportedAlgorithm: "none", HS256 keyed
//     with the public key, ES256... never reach a key);
//  5. typ is exactly LeaseType (else ErrWrongKind);
//  6. the header holds nothing but alg, typ, kid and CertHeader (else ErrMalformed): no
//     embedded or remote key ("jwk", "jku", "x5u", "x5c"), no "crit", no "b64";
//     a token never chooses the key it is checked with;
//  7. kid is present and names a key of Config.Keys (else ErrUnknownKey),
//     or, with Config.Roots, the lease's certificate (header CertHeader)
//     verifies against a pinned root and certifies exactly that kid (else
//     ErrBadCertificate; without a certificate, ErrUnknownKey);
//  8. the Ed25519 signature (RFC 8032, as crypto/ed25519: canonical S) over
//     the exact signing input verifies with that key (else ErrBadSignature);
//  9. the payload is a JSON object of well-typed claims, none repeated, and
//     exp is present (else ErrMalformed);
//  10. aud == Config.Product (else ErrWrongProduct);
//  11. fingerprint == Config.Fingerprint, compared in constant time (else
//     ErrFingerprintMismatch);
//  12. nbf and iat are not later than now + leeway (else ErrNotYetValid);
//  13. now is not later than exp + leeway (else ErrExpired);
//  14. through a certificate: iat lies inside its window (else
//     ErrBadCertificate) and now is not later than its exp + leeway (else
//     ErrCertificateExpired).
//
// The JWS is checked with crypto/ed25519 directly rather than through a JOSE
// library: the format admits exactly one header shape, and a general parser
// costs more than the signature itself. The tests check every lease it
// accepts against go-jose and encoding/json.
func (v *Verifier) Verify(token string) (*Lease, error) {
	if len(token) > MaxTokenSize {
		return nil, fail(CodeMalformed, "token larger than "+strconv.Itoa(MaxTokenSize)+" bytes", nil)
	}
	dot1, dot2, ok := splitCompact(token)
	if !ok {
		return nil, fail(CodeMalformed, "not a JWS in compact serialization", nil)
	}
	rawHeader, err1 := b64.DecodeString(token[:dot1])
	payload, err2 := b64.DecodeString(token[dot1+1 : dot2])
	sig, err3 := b64.DecodeString(token[dot2+1:])
	if err1 != nil || err2 != nil || err3 != nil {
		return nil, fail(CodeMalformed, "a part is not canonical base64url", nil)
	}

	h, ok := parseHeader(string(rawHeader))
	switch {
	case !ok:
		return nil, fail(CodeMalformed, "the header is not a JSON object", nil)
	case h.alg != "EdDSA":
		return nil, fail(CodeUnsupportedAlgorithm, "alg must be EdDSA, not "+quote(h.alg), nil)
	case h.typ != LeaseType:
		return nil, fail(CodeWrongKind, "typ must be "+LeaseType+", not "+quote(h.typ), nil)
	case h.hasOther:
		return nil, fail(CodeMalformed, "header member "+quote(h.other)+" is not allowed", nil)
	case h.kid == "":
		return nil, fail(CodeUnknownKey, "no kid", nil)
	}
	key, cert, err := v.signingKey(&h)
	if err != nil {
		return nil, err
	}
	if !ed25519.Verify(key, []byte(token[:dot2]), sig) {
		return nil, fail(CodeBadSignature, "", nil)
	}

	lease := &Lease{Token: token, KeyID: h.kid}
	c := &lease.Claims
	if !parseClaims(string(payload), c) {
		return nil, fail(CodeMalformed, "the claims are not a lease", nil)
	}
	if err := v.checkClaims(c); err != nil {
		return nil, err
	}
	if cert != nil {
		if err := v.checkCertWindow(cert, c); err != nil {
			return nil, err
		}
		cc := cert.claims
		lease.Certificate = &cc
	}
	return lease, nil
}

// signingKey finds the key a lease must be signed with: a key pinned in
// Config.Keys first (so leases keep verifying as they always did), else the
// key of the lease's certificate when it chains to a pinned root. A lease
// never brings a key of its own: a certificate is only a key the root vouches
// for.
func (v *Verifier) signingKey(h *joseHeader) (ed25519.PublicKey, *certificate, error) {
	if v.keys != nil {
		if key, ok := v.keys.keys[h.kid]; ok {
			return key, nil, nil
		}
	}
	if v.roots == nil {
		return nil, nil, fail(CodeUnknownKey, "kid "+quote(h.kid)+" is not trusted", nil)
	}
	if h.cert == "" {
		return nil, nil, fail(CodeUnknownKey, "kid "+quote(h.kid)+" is not pinned and the lease has no certificate", nil)
	}
	cert, err := v.certFor(h.cert)
	if err != nil {
		return nil, nil, err
	}
	if cert.claims.Subject != h.kid {
		return nil, nil, fail(CodeBadCertificate, "the certificate is for key "+quote(cert.claims.Subject)+", not "+quote(h.kid), nil)
	}
	return cert.key, cert, nil
}

// splitCompact finds the two dots of a compact JWS, checking that every other
// byte is of the base64url alphabet (encoding/base64 would skip newlines).
func splitCompact(token string) (dot1, dot2 int, ok bool) {
	dot1, dot2 = -1, -1
	for i := 0; i < len(token); i++ {
		c := token[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '-', c == '_':
		case c == '.' && dot1 < 0:
			dot1 = i
		case c == '.' && dot2 < 0:
			dot2 = i
		default:
			return 0, 0, false
		}
	}
	return dot1, dot2, dot2 > 0
}

func (v *Verifier) checkClaims(c *LeaseClaims) error {
	for _, t := range [...]int64{c.IssuedAt, c.NotBefore, c.Expiry, c.LicenseExpiry} {
		if t < 0 || t > maxNumericDate {
			return fail(CodeMalformed, "a time claim is out of range", nil)
		}
	}
	if c.Expiry == 0 {
		return fail(CodeMalformed, "no exp claim", nil)
	}
	if c.Audience != v.product {
		return fail(CodeWrongProduct, "issued for product "+quote(c.Audience), nil)
	}
	if subtle.ConstantTimeCompare([]byte(c.Fingerprint), v.fingerprint) != 1 {
		return fail(CodeFingerprintMismatch, "issued for another machine", nil)
	}
	now := v.clock()
	if start := max(c.NotBefore, c.IssuedAt); now.Add(v.leeway).Before(time.Unix(start, 0)) {
		return fail(CodeNotYetValid, "valid from "+formatTime(start), nil)
	}
	if now.After(time.Unix(c.Expiry, 0).Add(v.leeway)) {
		return fail(CodeExpired, "ended at "+formatTime(c.Expiry), nil)
	}
	return nil
}

func formatTime(unix int64) string { return time.Unix(unix, 0).UTC().Format(time.RFC3339) }

// quote bounds attacker-chosen text in error messages.
func quote(s string) string {
	if len(s) > 64 {
		s = s[:64] + "..."
	}
	return strconv.Quote(s)
}
