package verifier

import (
	"crypto/ed25519"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// The offline-verification benchmarks of `make bench` (see bench/ in the
// server repository). All of them work on the same lease, signed the way the
// server signs it. BenchmarkEd25519Verify is the floor: the bare signature
// check of the lease's signing input, which every verification must do.

func BenchmarkEd25519Verify(b *testing.B) {
	tok := signLease(b, testClaims())
	i := strings.LastIndexByte(tok, '.')
	input := []byte(tok[:i])
	sig, _ := b64.DecodeString(tok[i+1:])
	b.ReportAllocs()
	for b.Loop() {
		if !ed25519.Verify(testPub, input, sig) {
			b.Fatal("bad signature")
		}
	}
}

// BenchmarkVerifyLease is the SDK's full verification of a lease string:
// parsing, header and claim checks and the signature, with no cache.
func BenchmarkVerifyLease(b *testing.B) {
	v := testVerifier(b)
	tok := signLease(b, testClaims())
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Verify(tok); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerifyLeaseWithoutSignature does what Verify does besides the
// signature check (split, decode, header, claims, checks): the SDK's own cost
// over the floor, measured directly, since the ratio of two ~100 µs figures
// on a shared machine is noisier than this difference.
func BenchmarkVerifyLeaseWithoutSignature(b *testing.B) {
	v := testVerifier(b)
	tok := signLease(b, testClaims())
	b.ReportAllocs()
	for b.Loop() {
		dot1, dot2, ok := splitCompact(tok)
		if !ok {
			b.Fatal("split")
		}
		rawHeader, err1 := b64.DecodeString(tok[:dot1])
		payload, err2 := b64.DecodeString(tok[dot1+1 : dot2])
		_, err3 := b64.DecodeString(tok[dot2+1:])
		if err1 != nil || err2 != nil || err3 != nil {
			b.Fatal("base64")
		}
		h, ok := parseHeader(string(rawHeader))
		if !ok || h.alg != "EdDSA" || h.typ != LeaseType || h.hasOther {
			b.Fatal("header")
		}
		if _, ok := v.keys.keys[h.kid]; !ok {
			b.Fatal("kid")
		}
		lease := &Lease{Token: tok, KeyID: h.kid}
		if !parseClaims(string(payload), &lease.Claims) {
			b.Fatal("claims")
		}
		if err := v.checkClaims(&lease.Claims); err != nil {
			b.Fatal(err)
		}
	}
}

// jwtLease is the lease as a Go developer would declare it for golang-jwt.
type jwtLease struct {
	jwt.RegisteredClaims
	License       string   `json:"license"`
	Policy        string   `json:"policy"`
	Customer      string   `json:"customer,omitempty"`
	Machine       string   `json:"machine"`
	Fingerprint   string   `json:"fingerprint"`
	Entitlements  []string `json:"entitlements,omitempty"`
	LicenseExpiry int64    `json:"license_expiry,omitempty"`
}

// BenchmarkGolangJWTVerify checks the same lease with golang-jwt/jwt v5, with
// the checks the SDK makes: alg EdDSA only, typ, kid, audience, expiry (with
// the same leeway) and fingerprint. It is what an app would otherwise use.
func BenchmarkGolangJWTVerify(b *testing.B) {
	tok := signLease(b, testClaims())
	parser := jwt.NewParser(jwt.WithValidMethods([]string{"EdDSA"}), jwt.WithAudience(testProduct),
		jwt.WithExpirationRequired(), jwt.WithIssuedAt(), jwt.WithLeeway(DefaultLeeway),
		jwt.WithTimeFunc(func() time.Time { return testNow }))
	keyFunc := func(t *jwt.Token) (any, error) {
		if t.Header["typ"] != LeaseType {
			return nil, errors.New("not a lease")
		}
		if kid, _ := t.Header["kid"].(string); kid != testKid {
			return nil, errors.New("unknown kid")
		}
		return testPub, nil
	}
	verify := func() error {
		var c jwtLease
		if _, err := parser.ParseWithClaims(tok, &c, keyFunc); err != nil {
			return err
		}
		if c.Fingerprint != testFP {
			return errors.New("wrong fingerprint")
		}
		return nil
	}
	if err := verify(); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := verify(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEntitlementCheck is a feature check on an already verified lease:
// what apps call on hot paths.
func BenchmarkEntitlementCheck(b *testing.B) {
	lease, err := testVerifier(b).Verify(signLease(b, testClaims()))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if !lease.HasEntitlement("sync") {
			b.Fatal("missing")
		}
	}
}
