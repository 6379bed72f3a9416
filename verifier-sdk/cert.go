package verifier

import (
	"crypto/ed25519"
	"strconv"
	"sync/atomic"
	"time"
)

// Key certificates: how apps keep trusting leases across key rotations
// without a new build. An app pins the root public key (Config.Roots); the
// root, kept offline, certifies each online signing key for a window of
// time; each lease carries the certificate of the key that signed it in its
// protected header member CertHeader. The chain is root -> certificate ->
// lease, and nothing else: the certificate names exactly one signing key,
// for exactly one use.

// CertType is the JWS "typ" header of a key certificate.
const CertType = "narcidi-key-cert+jwt"

// CertHeader is the lease header member that holds the certificate of the
// signing key, as a compact JWS. It is a private header parameter (RFC 7515
// section 4.3): general JOSE libraries ignore it and verify the lease with
// the key of its kid from the server's JWKS, as before.
const CertHeader = "ncert"

// CertUseLease is the only "use" a lease-signing key certificate may have.
const CertUseLease = "lease"

// CertClaims is the payload of a key certificate. Times are Unix seconds.
//
//	{"iss":"<root kid>","sub":"<signing kid>","x":"<base64url Ed25519 public key>",
//	 "use":"lease","iat":...,"nbf":...,"exp":...}
type CertClaims struct {
	Issuer    string `json:"iss"` // the root's kid (RFC 7638 thumbprint), as the header kid
	Subject   string `json:"sub"` // the kid of the certified signing key
	Key       string `json:"x"`   // the certified Ed25519 public key, base64url (RFC 8037 "x")
	Use       string `json:"use"` // CertUseLease
	IssuedAt  int64  `json:"iat"`
	NotBefore int64  `json:"nbf"` // the key may sign leases from...
	Expiry    int64  `json:"exp"` // ...until; its leases stop verifying after it
}

// certificate is a verified certificate.
type certificate struct {
	token  string
	claims CertClaims
	key    ed25519.PublicKey
}

// certCache remembers the last certificate that verified, so that checking a
// lease costs one signature check, not two: the certificate of a key is the
// same in every lease it signs.
type certCache struct{ last atomic.Pointer[certificate] }

// verifyCert checks a certificate against the pinned roots. Its window is
// checked by the caller, against the lease.
func verifyCert(token string, roots *KeySet) (*certificate, error) {
	if len(token) > MaxTokenSize {
		return nil, fail(CodeBadCertificate, "certificate larger than "+strconv.Itoa(MaxTokenSize)+" bytes", nil)
	}
	dot1, dot2, ok := splitCompact(token)
	if !ok {
		return nil, fail(CodeBadCertificate, "not a JWS in compact serialization", nil)
	}
	rawHeader, err1 := b64.DecodeString(token[:dot1])
	payload, err2 := b64.DecodeString(token[dot1+1 : dot2])
	sig, err3 := b64.DecodeString(token[dot2+1:])
	if err1 != nil || err2 != nil || err3 != nil {
		return nil, fail(CodeBadCertificate, "a part is not canonical base64url", nil)
	}
	h, ok := parseHeader(string(rawHeader))
	switch {
	case !ok:
		return nil, fail(CodeBadCertificate, "the header is not a JSON object", nil)
	case h.alg != "EdDSA":
		return nil, fail(CodeBadCertificate, "alg must be EdDSA, not "+quote(h.alg), nil)
	case h.typ != CertType:
		return nil, fail(CodeBadCertificate, "typ must be "+CertType+", not "+quote(h.typ), nil)
	case h.hasOther || h.cert != "":
		return nil, fail(CodeBadCertificate, "a certificate header holds only alg, typ and kid", nil)
	}
	root, ok := roots.keys[h.kid]
	if !ok {
		return nil, fail(CodeBadCertificate, "not signed by a pinned root (kid "+quote(h.kid)+")", nil)
	}
	if !ed25519.Verify(root, []byte(token[:dot2]), sig) {
		return nil, fail(CodeBadCertificate, "the root's signature does not verify", nil)
	}
	var c CertClaims
	if !parseCertClaims(string(payload), &c) {
		return nil, fail(CodeBadCertificate, "the claims are not a key certificate", nil)
	}
	key, err := b64.DecodeString(c.Key)
	switch {
	case err != nil || len(key) != ed25519.PublicKeySize:
		return nil, fail(CodeBadCertificate, "x is not an Ed25519 public key", nil)
	case c.Use != CertUseLease:
		return nil, fail(CodeBadCertificate, "use must be "+CertUseLease+", not "+quote(c.Use), nil)
	case c.Subject == "":
		return nil, fail(CodeBadCertificate, "no sub", nil)
	case c.Issuer != h.kid:
		return nil, fail(CodeBadCertificate, "iss does not name the root that signed it", nil)
	case c.NotBefore < 0 || c.Expiry <= c.NotBefore || c.Expiry > maxNumericDate || c.IssuedAt < 0 || c.IssuedAt > maxNumericDate:
		return nil, fail(CodeBadCertificate, "bad validity window", nil)
	}
	return &certificate{token: token, claims: c, key: key}, nil
}

// certFor returns the verified certificate of a lease header, from the cache
// when it is the one seen last.
func (v *Verifier) certFor(token string) (*certificate, error) {
	if c := v.certs.last.Load(); c != nil && c.token == token {
		return c, nil
	}
	c, err := verifyCert(token, v.roots)
	if err != nil {
		return nil, err
	}
	v.certs.last.Store(c)
	return c, nil
}

// checkCertWindow checks that the lease was issued while its key was
// certified, and that the certificate has not ended: a retired or
// compromised key stops counting at the end of its window, whatever the
// leases it signed say.
func (v *Verifier) checkCertWindow(c *certificate, claims *LeaseClaims) error {
	if claims.IssuedAt+int64(v.leeway/time.Second) < c.claims.NotBefore || claims.IssuedAt > c.claims.Expiry {
		return fail(CodeBadCertificate, "the lease was issued outside its key's certificate window", nil)
	}
	if v.clock().After(time.Unix(c.claims.Expiry, 0).Add(v.leeway)) {
		return fail(CodeCertificateExpired, "the signing key's certificate ended at "+formatTime(c.claims.Expiry), nil)
	}
	return nil
}

// ParseCertificate verifies a key certificate against pinned roots and
// returns its claims, without checking its window. For tools (`narcidi keys
// certify`, the server when it attaches one) and tests.
func ParseCertificate(token string, roots *KeySet) (CertClaims, error) {
	if roots == nil || len(roots.keys) == 0 {
		return CertClaims{}, fail(CodeBadCertificate, "no root keys", nil)
	}
	c, err := verifyCert(token, roots)
	if err != nil {
		return CertClaims{}, err
	}
	return c.claims, nil
}

const (
	certIss uint8 = 1 << iota
	certSub
	certX
	certUse
	certIat
	certNbf
	certExp
)

// parseCertClaims reads certificate claims strictly: every member once, no
// unknown member (a certificate is signed offline by tools of the same
// version; an unknown member means a format this SDK does not understand).
//
// Alike parseClaims (strictjson.go) by shape: kept apart because a
// certificate refuses unknown members and a lease skips them, and each
// fills its own claims with its own bit set.
func parseCertClaims(s string, c *CertClaims) bool {
	d := scanner{s: s}
	if !d.consume('{') {
		return false
	}
	var seen uint8
	for {
		key, ok := d.str()
		if !ok || !d.consume(':') {
			return false
		}
		var bit uint8
		switch key {
		case "iss":
			bit, ok = certIss, d.stringField(&c.Issuer)
		case "sub":
			bit, ok = certSub, d.stringField(&c.Subject)
		case "x":
			bit, ok = certX, d.stringField(&c.Key)
		case "use":
			bit, ok = certUse, d.stringField(&c.Use)
		case "iat":
			bit, ok = certIat, d.intField(&c.IssuedAt)
		case "nbf":
			bit, ok = certNbf, d.intField(&c.NotBefore)
		case "exp":
			bit, ok = certExp, d.intField(&c.Expiry)
		default:
			return false
		}
		if !ok || seen&bit != 0 {
			return false
		}
		seen |= bit
		if d.consume(',') {
			continue
		}
		return d.consume('}') && d.end() && seen == 1<<7-1
	}
}
