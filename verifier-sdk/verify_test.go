package verifier

import (
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

// A fixed key so that tokens (Ed25519 signatures are deterministic) are the
// same on every run.
var (
	testPriv = ed25519.NewKeyFromSeed([]byte("narcidi-verifier-sdk-test-seed-1"))
	testPub  = testPriv.Public().(ed25519.PublicKey)
	otherKey = ed25519.NewKeyFromSeed([]byte("narcidi-verifier-sdk-other-seed2"))
	testNow  = time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
)

const (
	testKid     = "test-kid-1"
	testProduct = "0190a8e8-0000-7000-8000-0000000000aa"
	testFP      = "f1e2d3c4b5a6978812345678abcdef00"
)

func testClaims() LeaseClaims {
	return LeaseClaims{
		Issuer: "narcidi", Subject: "machine-1", Audience: testProduct, ID: "lease-1",
		IssuedAt: testNow.Add(-time.Hour).Unix(), NotBefore: testNow.Add(-time.Hour).Unix(), Expiry: testNow.Add(time.Hour).Unix(),
		License: "license-1", Policy: "policy-1", Customer: "customer-1", Machine: "machine-1",
		Fingerprint: testFP, Entitlements: []string{"export", "sync"}, LicenseExpiry: testNow.Add(30 * 24 * time.Hour).Unix(),
	}
}

// sign builds a compact JWS by hand, so tests can make any header at all.
func sign(t testing.TB, header any, claims any, key ed25519.PrivateKey) string {
	t.Helper()
	h, err := json.Marshal(header)
	if err != nil {
		t.Fatal(err)
	}
	var p []byte
	if s, ok := claims.(string); ok {
		p = []byte(s)
	} else if p, err = json.Marshal(claims); err != nil {
		t.Fatal(err)
	}
	input := b64.EncodeToString(h) + "." + b64.EncodeToString(p)
	return input + "." + b64.EncodeToString(ed25519.Sign(key, []byte(input)))
}

func leaseHeader() map[string]any {
	return map[string]any{"alg": "EdDSA", "typ": LeaseType, "kid": testKid}
}

func with(h map[string]any, k string, v any) map[string]any {
	h[k] = v
	if v == nil {
		delete(h, k)
	}
	return h
}

func claimsWith(f func(*LeaseClaims)) LeaseClaims {
	c := testClaims()
	f(&c)
	return c
}

func testVerifier(t testing.TB) *Verifier {
	t.Helper()
	ks, err := NewKeySet(map[string]ed25519.PublicKey{testKid: testPub})
	if err != nil {
		t.Fatal(err)
	}
	v, err := New(Config{Keys: ks, Product: testProduct, Fingerprint: testFP, Clock: func() time.Time { return testNow }})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// hs256 is a token "signed" with HMAC keyed by the public key: the classic
// algorithm-confusion attack.
func hs256(t *testing.T) string {
	h, _ := json.Marshal(map[string]any{"alg": "HS256", "typ": LeaseType, "kid": testKid})
	p, _ := json.Marshal(testClaims())
	input := b64.EncodeToString(h) + "." + b64.EncodeToString(p)
	m := hmac.New(sha256.New, testPub)
	m.Write([]byte(input))
	return input + "." + b64.EncodeToString(m.Sum(nil))
}

// maliciousCases are tokens that must each be refused with a given code.
func maliciousCases(t *testing.T) []struct {
	name  string
	token string
	want  *Error
} {
	good := sign(t, leaseHeader(), testClaims(), testPriv)
	parts := strings.Split(good, ".")
	tamperedClaims := claimsWith(func(c *LeaseClaims) { c.Entitlements = append(c.Entitlements, "admin") })
	return []struct {
		name  string
		token string
		want  *Error
	}{
		{"empty", "", ErrMalformed},
		{"garbage", "not a token", ErrMalformed},
		{"two parts", parts[0] + "." + parts[1], ErrMalformed},
		{"four parts", good + ".x", ErrMalformed},
		{"truncated signature", good[:len(good)-5], ErrMalformed},
		{"header not base64", "!!!." + parts[1] + "." + parts[2], ErrMalformed},
		{"header not json", b64.EncodeToString([]byte("[1,2]")) + "." + parts[1] + "." + parts[2], ErrMalformed},
		{"oversized", sign(t, leaseHeader(), claimsWith(func(c *LeaseClaims) { c.Issuer = strings.Repeat("x", MaxTokenSize) }), testPriv), ErrMalformed},
		{"alg none", b64.EncodeToString([]byte(`{"alg":"none","typ":"`+LeaseType+`","kid":"`+testKid+`"}`)) + "." + parts[1] + ".", ErrUnsupportedAlg},
		{"alg HS256 keyed with the public key", hs256(t), ErrUnsupportedAlg},
		{"alg ES256", sign(t, with(leaseHeader(), "alg", "ES256"), testClaims(), testPriv), ErrUnsupportedAlg},
		{"alg missing", sign(t, with(leaseHeader(), "alg", nil), testClaims(), testPriv), ErrUnsupportedAlg},
		{"wrong typ", sign(t, with(leaseHeader(), "typ", "JWT"), testClaims(), testPriv), ErrWrongKind},
		{"license token typ", sign(t, with(leaseHeader(), "typ", "narcidi-license+jwt"), testClaims(), testPriv), ErrWrongKind},
		{"no typ", sign(t, with(leaseHeader(), "typ", nil), testClaims(), testPriv), ErrWrongKind},
		{"no kid", sign(t, with(leaseHeader(), "kid", nil), testClaims(), testPriv), ErrUnknownKey},
		{"unknown kid", sign(t, with(leaseHeader(), "kid", "someone-else"), testClaims(), otherKey), ErrUnknownKey},
		{"kid path trick", sign(t, with(leaseHeader(), "kid", "../../etc/passwd"), testClaims(), testPriv), ErrUnknownKey},
		{"kid not a string", sign(t, with(leaseHeader(), "kid", 1), testClaims(), testPriv), ErrUnknownKey},
		{"embedded jwk", sign(t, with(leaseHeader(), "jwk", map[string]string{"kty": "OKP", "crv": "Ed25519", "x": b64.EncodeToString(otherKey.Public().(ed25519.PublicKey))}), testClaims(), otherKey), ErrMalformed},
		{"jku", sign(t, with(leaseHeader(), "jku", "https://evil.example/jwks.json"), testClaims(), testPriv), ErrMalformed},
		{"x5u", sign(t, with(leaseHeader(), "x5u", "https://evil.example/cert.pem"), testClaims(), testPriv), ErrMalformed},
		{"x5c", sign(t, with(leaseHeader(), "x5c", []string{"MIIB"}), testClaims(), testPriv), ErrMalformed},
		{"crit", sign(t, with(leaseHeader(), "crit", []string{"exp"}), testClaims(), testPriv), ErrMalformed},
		{"signed by another key", sign(t, leaseHeader(), testClaims(), otherKey), ErrBadSignature},
		{"tampered payload", parts[0] + "." + b64.EncodeToString(mustJSON(tamperedClaims)) + "." + parts[2], ErrBadSignature},
		{"payload not an object", sign(t, leaseHeader(), `"hello"`, testPriv), ErrMalformed},
		{"claims of wrong types", sign(t, leaseHeader(), `{"exp":"tomorrow"}`, testPriv), ErrMalformed},
		{"another product", sign(t, leaseHeader(), claimsWith(func(c *LeaseClaims) { c.Audience = "other-product" }), testPriv), ErrWrongProduct},
		{"another machine", sign(t, leaseHeader(), claimsWith(func(c *LeaseClaims) { c.Fingerprint = "0000" }), testPriv), ErrFingerprintMismatch},
		{"expired", sign(t, leaseHeader(), claimsWith(func(c *LeaseClaims) { c.Expiry = testNow.Add(-time.Minute).Unix() }), testPriv), ErrExpired},
		{"no exp", sign(t, leaseHeader(), claimsWith(func(c *LeaseClaims) { c.Expiry = 0 }), testPriv), ErrMalformed},
		{"not yet valid", sign(t, leaseHeader(), claimsWith(func(c *LeaseClaims) { c.NotBefore = testNow.Add(time.Minute).Unix() }), testPriv), ErrNotYetValid},
		{"issued in the future", sign(t, leaseHeader(), claimsWith(func(c *LeaseClaims) { c.IssuedAt = testNow.Add(time.Hour).Unix() }), testPriv), ErrNotYetValid},
	}
}

func mustJSON(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}

func TestVerifyRefusesHostileTokens(t *testing.T) {
	v := testVerifier(t)
	for _, tc := range maliciousCases(t) {
		t.Run(tc.name, func(t *testing.T) {
			lease, err := v.Verify(tc.token)
			if lease != nil || !errors.Is(err, tc.want) {
				t.Fatalf("Verify = %v, %v; want %s", lease, err, tc.want.Code)
			}
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("error %T is not *Error", err)
			}
		})
	}
}

func TestVerifyValidLease(t *testing.T) {
	v := testVerifier(t)
	tok := sign(t, leaseHeader(), testClaims(), testPriv)
	lease, err := v.Verify(tok)
	if err != nil {
		t.Fatal(err)
	}
	if lease.KeyID != testKid || lease.Claims.License != "license-1" || !lease.ExpiresAt().Equal(testNow.Add(time.Hour)) {
		t.Errorf("lease = %+v", lease)
	}
	if !lease.HasEntitlement("export") || lease.HasEntitlement("admin") {
		t.Error("entitlements wrong")
	}
	if exp, ok := lease.LicenseExpiresAt(); !ok || !exp.Equal(testNow.Add(30*24*time.Hour)) {
		t.Errorf("license expiry = %v %v", exp, ok)
	}
}

func TestLeewayEdges(t *testing.T) {
	ks, _ := NewKeySet(map[string]ed25519.PublicKey{testKid: testPub})
	exp := testNow.Unix()
	tok := sign(t, leaseHeader(), claimsWith(func(c *LeaseClaims) { c.Expiry = exp }), testPriv)
	cases := []struct {
		at   time.Time
		want error
	}{
		{testNow, nil},
		{testNow.Add(DefaultLeeway), nil},
		{testNow.Add(DefaultLeeway + time.Second), ErrExpired},
	}
	for _, tc := range cases {
		_, err := Verify(tok, Config{Keys: ks, Product: testProduct, Fingerprint: testFP, Clock: func() time.Time { return tc.at }})
		if !errors.Is(err, tc.want) && !(tc.want == nil && err == nil) {
			t.Errorf("at %v: err = %v, want %v", tc.at, err, tc.want)
		}
	}
}

func TestNewValidatesConfig(t *testing.T) {
	ks, _ := NewKeySet(map[string]ed25519.PublicKey{testKid: testPub})
	for _, cfg := range []Config{
		{Product: "p", Fingerprint: "f"},
		{Keys: ks, Fingerprint: "f"},
		{Keys: ks, Product: "p"},
		{Keys: ks, Product: "p", Fingerprint: "f", Leeway: -time.Second},
	} {
		if _, err := New(cfg); err == nil {
			t.Errorf("New(%+v) accepted", cfg)
		}
	}
}

func TestEntitlementCheckDoesNotAllocate(t *testing.T) {
	lease, err := testVerifier(t).Verify(sign(t, leaseHeader(), testClaims(), testPriv))
	if err != nil {
		t.Fatal(err)
	}
	if n := testing.AllocsPerRun(1000, func() { _ = lease.HasEntitlement("sync") }); n != 0 {
		t.Errorf("HasEntitlement allocates %v times", n)
	}
}

func FuzzVerify(f *testing.F) {
	f.Add(sign(f, leaseHeader(), testClaims(), testPriv))
	f.Add("a.b.c")
	f.Add("")
	f.Add(sign(f, with(leaseHeader(), "crit", []string{"x"}), testClaims(), testPriv))
	v := testVerifier(f)
	f.Fuzz(func(t *testing.T, token string) {
		lease, err := v.Verify(token)
		if err == nil {
			if lease == nil || lease.Claims.Fingerprint != testFP || lease.Claims.Audience != testProduct {
				t.Fatalf("accepted a lease it should not: %+v", lease)
			}
			return
		}
		var e *Error
		if !errors.As(err, &e) {
			t.Fatalf("error %T is not *Error: %v", err, err)
		}
	})
}

func BenchmarkEd25519Verify(b *testing.B) {
	tok := sign(b, leaseHeader(), testClaims(), testPriv)
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

func BenchmarkVerifyLease(b *testing.B) {
	v := testVerifier(b)
	tok := sign(b, leaseHeader(), testClaims(), testPriv)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Verify(tok); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEntitlementCheck(b *testing.B) {
	lease, err := testVerifier(b).Verify(sign(b, leaseHeader(), testClaims(), testPriv))
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
