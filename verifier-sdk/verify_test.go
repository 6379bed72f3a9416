package verifier

import (
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
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

func claimsWith(f func(*LeaseClaims)) LeaseClaims {
	c := testClaims()
	f(&c)
	return c
}

func mustB64(s string) []byte {
	b, err := b64.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// signLease signs claims the way the server does: with go-jose, alg EdDSA,
// typ LeaseType and the kid header.
func signLease(t testing.TB, claims LeaseClaims) string {
	t.Helper()
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.EdDSA, Key: testPriv},
		(&jose.SignerOptions{}).WithType(LeaseType).WithHeader("kid", testKid))
	if err != nil {
		t.Fatal(err)
	}
	obj, err := signer.Sign(mustJSON(claims))
	if err != nil {
		t.Fatal(err)
	}
	tok, err := obj.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// sign builds a compact JWS by hand, so tests can make any header at all.
// claims is marshalled, unless it is a string: then it is the payload as is.
func sign(t testing.TB, header any, claims any, key ed25519.PrivateKey) string {
	t.Helper()
	h := mustJSON(header)
	if s, ok := header.(string); ok {
		h = []byte(s)
	}
	p, ok := claims.(string)
	if !ok {
		p = string(mustJSON(claims))
	}
	input := b64.EncodeToString(h) + "." + b64.EncodeToString([]byte(p))
	return input + "." + b64.EncodeToString(ed25519.Sign(key, []byte(input)))
}

// signPayload signs a raw payload under the lease header.
func signPayload(t testing.TB, payload string) string {
	t.Helper()
	return sign(t, leaseHeader(), payload, testPriv)
}

// signRawHeader signs a raw header and payload with the test key.
func signRawHeader(t testing.TB, header, payload string) string {
	t.Helper()
	return sign(t, header, payload, testPriv)
}

func leaseHeader() map[string]any {
	return map[string]any{"alg": "EdDSA", "typ": LeaseType, "kid": testKid}
}

// with sets (or, for nil, removes) a header member.
func with(h map[string]any, k string, v any) map[string]any {
	h[k] = v
	if v == nil {
		delete(h, k)
	}
	return h
}

func testKeySet(t testing.TB) *KeySet {
	t.Helper()
	ks, err := NewKeySet(map[string]ed25519.PublicKey{testKid: testPub})
	if err != nil {
		t.Fatal(err)
	}
	return ks
}

func testConfig(t testing.TB, now time.Time) Config {
	return Config{Keys: testKeySet(t), Product: testProduct, Fingerprint: testFP, Clock: func() time.Time { return now }}
}

func testVerifier(t testing.TB) *Verifier {
	t.Helper()
	v, err := New(testConfig(t, testNow))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// hs256 is a token "signed" with HMAC keyed by the public key: the classic
// algorithm-confusion attack.
func hs256(t testing.TB) string {
	h := mustJSON(map[string]any{"alg": "HS256", "typ": LeaseType, "kid": testKid})
	input := b64.EncodeToString(h) + "." + b64.EncodeToString(mustJSON(testClaims()))
	m := hmac.New(sha256.New, testPub)
	m.Write([]byte(input))
	return input + "." + b64.EncodeToString(m.Sum(nil))
}

// leaseCase is a token and the error Verify must give it (nil: valid).
type leaseCase struct {
	name  string
	token string
	want  *Error
}

// leaseCases are the tokens every version must judge the same way. They are
// also the golden vectors (testdata/leases.json): only ever append.
func leaseCases(t testing.TB) []leaseCase {
	good := signLease(t, testClaims())
	parts := strings.Split(good, ".")
	tamperedClaims := claimsWith(func(c *LeaseClaims) { c.Entitlements = append(c.Entitlements, "admin") })
	lastSig := parts[2][len(parts[2])-1:]
	nonCanonicalSig := parts[2][:len(parts[2])-1] + string(lastSig[0]^1) // same bytes, other trailing bits
	return []leaseCase{
		{"valid", good, nil},
		{"empty", "", ErrMalformed},
		{"garbage", "not a token", ErrMalformed},
		{"two parts", parts[0] + "." + parts[1], ErrMalformed},
		{"four parts", good + ".x", ErrMalformed},
		{"truncated signature", good[:len(good)-5], ErrMalformed},
		{"header not base64", "!!!." + parts[1] + "." + parts[2], ErrMalformed},
		{"header not json", b64.EncodeToString([]byte("[1,2]")) + "." + parts[1] + "." + parts[2], ErrMalformed},
		{"oversized", signLease(t, claimsWith(func(c *LeaseClaims) { c.Issuer = strings.Repeat("x", MaxTokenSize) })), ErrMalformed},
		{"alg none", b64.EncodeToString([]byte(`{"alg":"none","typ":"`+LeaseType+`","kid":"`+testKid+`"}`)) + "." + parts[1] + ".", ErrUnsupportedAlgorithm},
		{"alg HS256 keyed with the public key", hs256(t), ErrUnsupportedAlgorithm},
		{"alg ES256", sign(t, with(leaseHeader(), "alg", "ES256"), testClaims(), testPriv), ErrUnsupportedAlgorithm},
		{"alg missing", sign(t, with(leaseHeader(), "alg", nil), testClaims(), testPriv), ErrUnsupportedAlgorithm},
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
		{"another product", signLease(t, claimsWith(func(c *LeaseClaims) { c.Audience = "other-product" })), ErrWrongProduct},
		{"another machine", signLease(t, claimsWith(func(c *LeaseClaims) { c.Fingerprint = "0000" })), ErrFingerprintMismatch},
		{"expired", signLease(t, claimsWith(func(c *LeaseClaims) { c.Expiry = testNow.Add(-time.Minute).Unix() })), ErrExpired},
		{"no exp", signLease(t, claimsWith(func(c *LeaseClaims) { c.Expiry = 0 })), ErrMalformed},
		{"not yet valid", signLease(t, claimsWith(func(c *LeaseClaims) { c.NotBefore = testNow.Add(time.Minute).Unix() })), ErrNotYetValid},
		{"issued in the future", signLease(t, claimsWith(func(c *LeaseClaims) { c.IssuedAt = testNow.Add(time.Hour).Unix() })), ErrNotYetValid},
		// Added with the strict parser.
		{"json serialization", `{"protected":"` + parts[0] + `","payload":"` + parts[1] + `","signature":"` + parts[2] + `"}`, ErrMalformed},
		{"newline inside", parts[0] + ".\n" + parts[1] + "." + parts[2], ErrMalformed},
		{"space around", " " + good + " ", ErrMalformed},
		{"padded signature", good + "==", ErrMalformed},
		{"non-canonical base64 signature", parts[0] + "." + parts[1] + "." + nonCanonicalSig, ErrMalformed},
		{"signature of wrong length", parts[0] + "." + parts[1] + "." + b64.EncodeToString(mustB64(parts[2])[:63]), ErrBadSignature},
		{"duplicate alg", signRawHeader(t, `{"alg":"none","alg":"EdDSA","kid":"`+testKid+`","typ":"`+LeaseType+`"}`, string(mustJSON(testClaims()))), ErrMalformed},
		{"duplicate kid", signRawHeader(t, `{"alg":"EdDSA","kid":"`+testKid+`","kid":"other","typ":"`+LeaseType+`"}`, string(mustJSON(testClaims()))), ErrMalformed},
		{"header member in other case", signRawHeader(t, `{"alg":"EdDSA","kid":"`+testKid+`","typ":"`+LeaseType+`","ALG":"none"}`, string(mustJSON(testClaims()))), ErrMalformed},
		{"b64 false", sign(t, with(leaseHeader(), "b64", false), testClaims(), testPriv), ErrMalformed},
		{"typ in other case", sign(t, with(leaseHeader(), "typ", strings.ToUpper(LeaseType)), testClaims(), testPriv), ErrWrongKind},
		{"empty kid", sign(t, with(leaseHeader(), "kid", ""), testClaims(), testPriv), ErrUnknownKey},
		{"payload null", signPayload(t, `null`), ErrMalformed},
		{"payload array", signPayload(t, `[]`), ErrMalformed},
		{"payload with trailing data", signPayload(t, string(mustJSON(testClaims()))+` {}`), ErrMalformed},
		{"duplicate aud", signPayload(t, `{"aud":"other-product",`+string(mustJSON(testClaims()))[1:]), ErrMalformed},
		{"claim in other case", signPayload(t, `{"AUD":"other-product",`+string(mustJSON(testClaims()))[1:]), ErrMalformed},
		{"claim folded by unicode", signPayload(t, `{"\u017fub":"x",`+string(mustJSON(testClaims()))[1:]), ErrMalformed},
		{"exp as a float", signPayload(t, strings.Replace(string(mustJSON(testClaims())), `"exp":1795870800`, `"exp":1795870800.5`, 1)), ErrMalformed},
		{"exp out of range", signLease(t, claimsWith(func(c *LeaseClaims) { c.Expiry = 1 << 62 })), ErrMalformed},
		{"negative iat", signLease(t, claimsWith(func(c *LeaseClaims) { c.IssuedAt = -1 })), ErrMalformed},
		{"invalid utf-8 in a claim", signPayload(t, strings.Replace(string(mustJSON(testClaims())), `"iss":"narcidi"`, "\"iss\":\"narc\xffidi\"", 1)), ErrMalformed},
		{"lone surrogate in a claim", signPayload(t, strings.Replace(string(mustJSON(testClaims())), `"iss":"narcidi"`, `"iss":"\ud800"`, 1)), ErrMalformed},
		{"entitlements not strings", signPayload(t, strings.Replace(string(mustJSON(testClaims())), `["export","sync"]`, `["export",1]`, 1)), ErrMalformed},
		{"deeply nested unknown claim", signPayload(t, `{"x":`+strings.Repeat("[", 100)+strings.Repeat("]", 100)+`,`+string(mustJSON(testClaims()))[1:]), ErrMalformed},
		{"fingerprint prefix", signLease(t, claimsWith(func(c *LeaseClaims) { c.Fingerprint = testFP[:len(testFP)-1] })), ErrFingerprintMismatch},
		{"empty aud", signLease(t, claimsWith(func(c *LeaseClaims) { c.Audience = "" })), ErrWrongProduct},
		{"valid: unknown claims are ignored", signPayload(t, `{"future":{"a":[1,2.5e3,true,null,"\u00e9"]},`+string(mustJSON(testClaims()))[1:]), nil},
		{"valid: escaped strings and white space", signPayload(t, " {\n\t"+strings.Replace(string(mustJSON(testClaims()))[1:], `"iss":"narcidi"`, `"iss" : "narc\u0069di"`, 1)+" \n"), nil},
		{"valid: no entitlements, no license expiry", signLease(t, claimsWith(func(c *LeaseClaims) { c.Entitlements, c.LicenseExpiry = nil, 0 })), nil},
		{"valid: within leeway of exp", signLease(t, claimsWith(func(c *LeaseClaims) { c.Expiry = testNow.Add(-DefaultLeeway).Unix() })), nil},
		{"valid: within leeway of nbf", signLease(t, claimsWith(func(c *LeaseClaims) { c.NotBefore = testNow.Add(DefaultLeeway).Unix() })), nil},
		{"valid: non-ascii claims", signLease(t, claimsWith(func(c *LeaseClaims) { c.Customer = "société ✓ 𝄞" })), nil},
		// Added with key certificates (issue 6): the malicious-token corpus.
		{"certificate header ignored by a key-pinned verifier", sign(t, with(leaseHeader(), CertHeader, "a.b.c"), testClaims(), testPriv), nil},
		{"certificate header with a forged key, key-pinned verifier", sign(t, with(with(leaseHeader(), "kid", "forged"), CertHeader, "a.b.c"), testClaims(), otherKey), ErrUnknownKey},
		{"duplicate certificate header", signRawHeader(t, `{"alg":"EdDSA","kid":"`+testKid+`","typ":"`+LeaseType+`","ncert":"a","ncert":"b"}`, string(mustJSON(testClaims()))), ErrMalformed},
		{"alg EdDSA in lower case", sign(t, with(leaseHeader(), "alg", "eddsa"), testClaims(), testPriv), ErrUnsupportedAlgorithm},
		{"alg Ed25519 (not a JWS alg)", sign(t, with(leaseHeader(), "alg", "Ed25519"), testClaims(), testPriv), ErrUnsupportedAlgorithm},
		{"alg RS256 (another key type)", sign(t, with(leaseHeader(), "alg", "RS256"), testClaims(), testPriv), ErrUnsupportedAlgorithm},
		{"kid of a non-Ed25519 key", sign(t, with(leaseHeader(), "kid", "rsa-key-1"), testClaims(), testPriv), ErrUnknownKey},
		{"kid with a NUL byte", sign(t, with(leaseHeader(), "kid", testKid+"\x00"), testClaims(), testPriv), ErrUnknownKey},
		{"kid with trailing space", sign(t, with(leaseHeader(), "kid", testKid+" "), testClaims(), testPriv), ErrUnknownKey},
		// Added with usage meters (issue 27): the additive meters claim.
		{"valid: meters", signLease(t, claimsWith(func(c *LeaseClaims) {
			c.Meters = []MeterClaim{{Meter: "export", Remaining: 6, Counter: 4}, {Meter: "", Remaining: -1, Counter: 0}}
		})), nil},
		{"meter member in other case", signPayload(t, `{"meters":[{"METER":"x"}],`+string(mustJSON(testClaims()))[1:]), ErrMalformed},
		{"kid in other case", sign(t, with(leaseHeader(), "kid", strings.ToUpper(testKid)), testClaims(), testPriv), ErrUnknownKey},
		{"x5t header", sign(t, with(leaseHeader(), "x5t", "abc"), testClaims(), testPriv), ErrMalformed},
		{"zip header", sign(t, with(leaseHeader(), "zip", "DEF"), testClaims(), testPriv), ErrMalformed},
		{"duplicate exp", signPayload(t, `{"exp":9999999999,`+string(mustJSON(testClaims()))[1:]), ErrMalformed},
		{"duplicate fingerprint", signPayload(t, `{"fingerprint":"`+testFP+`",`+string(mustJSON(testClaims()))[1:]), ErrMalformed},
		{"duplicate entitlements", signPayload(t, `{"entitlements":["admin"],`+string(mustJSON(testClaims()))[1:]), ErrMalformed},
		{"another product and machine", signLease(t, claimsWith(func(c *LeaseClaims) { c.Audience, c.Fingerprint = "other-product", "0000" })), ErrWrongProduct},
		{"license token signed by the lease key", sign(t, with(leaseHeader(), "typ", "narcidi-license+jwt"), map[string]any{"license": "x", "exp": testNow.Add(time.Hour).Unix()}, testPriv), ErrWrongKind},
		{"key certificate presented as a lease", sign(t, with(leaseHeader(), "typ", CertType), testClaims(), testPriv), ErrWrongKind},
		// Added with overage (issue 27): an additive claim; older SDKs skip it.
		{"valid: overage claim", signLease(t, claimsWith(func(c *LeaseClaims) { c.Overage = 2 })), nil},
		{"overage as a string", signPayload(t, `{"overage":"2",`+string(mustJSON(testClaims()))[1:]), ErrMalformed},
		{"duplicate overage", signPayload(t, `{"overage":1,`+string(mustJSON(claimsWith(func(c *LeaseClaims) { c.Overage = 2 })))[1:]), ErrMalformed},
	}
}

// checkVerdict asserts Verify's answer to tc.
func checkVerdict(t *testing.T, lease *Lease, err error, want *Error) {
	t.Helper()
	if want == nil {
		if err != nil || lease == nil {
			t.Fatalf("Verify = %v, %v; want a lease", lease, err)
		}
		return
	}
	if lease != nil || !errors.Is(err, want) {
		t.Fatalf("Verify = %v, %v; want %s", lease, err, want.Code)
	}
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("error %T is not *Error", err)
	}
}

func TestVerify(t *testing.T) {
	v := testVerifier(t)
	for _, tc := range leaseCases(t) {
		t.Run(tc.name, func(t *testing.T) {
			lease, err := v.Verify(tc.token)
			checkVerdict(t, lease, err, tc.want)
			if lease != nil {
				agreeWithGoJose(t, tc.token, lease)
			}
		})
	}
}

// agreeWithGoJose checks an accepted lease against independent
// implementations: go-jose must verify the token with the same key, and
// encoding/json must read the same claims out of its payload.
func agreeWithGoJose(t testing.TB, token string, lease *Lease) {
	t.Helper()
	obj, err := jose.ParseSignedCompact(token, []jose.SignatureAlgorithm{jose.EdDSA})
	if err != nil {
		t.Fatalf("go-jose cannot parse an accepted lease: %v", err)
	}
	if h := obj.Signatures[0].Protected; h.KeyID != lease.KeyID || h.ExtraHeaders[jose.HeaderType] != LeaseType {
		t.Fatalf("go-jose reads header %+v", h)
	}
	key, _ := testKeySet(t).Lookup(lease.KeyID)
	payload, err := obj.Verify(key)
	if err != nil {
		t.Fatalf("go-jose refuses an accepted lease: %v", err)
	}
	var want LeaseClaims
	if err := json.Unmarshal(payload, &want); err != nil {
		t.Fatalf("encoding/json refuses accepted claims: %v", err)
	}
	if !reflect.DeepEqual(lease.Claims, want) {
		t.Fatalf("claims differ:\n got  %+v\n want %+v", lease.Claims, want)
	}
}

func TestGoJoseAndHandSignedLeasesAreTheSame(t *testing.T) {
	// The golden vectors are made by both helpers: they must agree.
	if a, b := signLease(t, testClaims()), sign(t, leaseHeader(), testClaims(), testPriv); a != b {
		t.Fatalf("go-jose: %s\nby hand: %s", a, b)
	}
}

func TestVerifyValidLease(t *testing.T) {
	tok := signLease(t, testClaims())
	lease, err := testVerifier(t).Verify(tok)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(lease.Claims, testClaims()) || lease.KeyID != testKid || lease.Token != tok {
		t.Errorf("lease = %+v", lease)
	}
	if !lease.ExpiresAt().Equal(testNow.Add(time.Hour)) || !lease.IssuedAt().Equal(testNow.Add(-time.Hour)) {
		t.Errorf("times = %v %v", lease.IssuedAt(), lease.ExpiresAt())
	}
	if !lease.HasEntitlement("export") || !lease.HasEntitlement("sync") || lease.HasEntitlement("admin") || lease.HasEntitlement("") {
		t.Error("entitlements wrong")
	}
	if exp, ok := lease.LicenseExpiresAt(); !ok || !exp.Equal(testNow.Add(30*24*time.Hour)) {
		t.Errorf("license expiry = %v %v", exp, ok)
	}
	lease.Claims.LicenseExpiry = 0
	if _, ok := lease.LicenseExpiresAt(); ok {
		t.Error("a perpetual license has an expiry")
	}
}

func TestLeewayEdges(t *testing.T) {
	exp := signLease(t, claimsWith(func(c *LeaseClaims) { c.Expiry = testNow.Unix() }))
	nbf := signLease(t, claimsWith(func(c *LeaseClaims) { c.NotBefore = testNow.Unix() }))
	iat := signLease(t, claimsWith(func(c *LeaseClaims) { c.IssuedAt = testNow.Unix() }))
	cases := []struct {
		name   string
		token  string
		at     time.Duration // from testNow
		leeway time.Duration
		want   *Error
	}{
		{"at exp", exp, 0, 0, nil},
		{"at exp + leeway", exp, DefaultLeeway, 0, nil},
		{"1ns past exp + leeway", exp, DefaultLeeway + time.Nanosecond, 0, ErrExpired},
		{"1s past exp + leeway", exp, DefaultLeeway + time.Second, 0, ErrExpired},
		{"custom leeway, at exp + leeway", exp, 5 * time.Second, 5 * time.Second, nil},
		{"custom leeway, past it", exp, 5*time.Second + time.Millisecond, 5 * time.Second, ErrExpired},
		{"long leeway", exp, time.Hour, 2 * time.Hour, nil},
		{"at nbf", nbf, 0, 0, nil},
		{"at nbf - leeway", nbf, -DefaultLeeway, 0, nil},
		{"1ns before nbf - leeway", nbf, -DefaultLeeway - time.Nanosecond, 0, ErrNotYetValid},
		{"custom leeway, before nbf - leeway", nbf, -2 * time.Second, time.Second, ErrNotYetValid},
		{"at iat - leeway", iat, -DefaultLeeway, 0, nil},
		{"1s before iat - leeway", iat, -DefaultLeeway - time.Second, 0, ErrNotYetValid},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig(t, testNow.Add(tc.at))
			cfg.Leeway = tc.leeway
			lease, err := Verify(tc.token, cfg)
			checkVerdict(t, lease, err, tc.want)
		})
	}
}

func TestNewValidatesConfig(t *testing.T) {
	ks := testKeySet(t)
	for _, cfg := range []Config{
		{Product: "p", Fingerprint: "f"},
		{Keys: &KeySet{}, Product: "p", Fingerprint: "f"},
		{Keys: ks, Fingerprint: "f"},
		{Keys: ks, Product: "p"},
		{Keys: ks, Product: "p", Fingerprint: "f", Leeway: -time.Second},
	} {
		if _, err := New(cfg); err == nil {
			t.Errorf("New(%+v) accepted", cfg)
		}
		if _, err := Verify(signLease(t, testClaims()), cfg); err == nil {
			t.Errorf("Verify with %+v accepted", cfg)
		}
	}
	v, err := New(Config{Keys: ks, Product: "p", Fingerprint: "f"})
	if err != nil || v.leeway != DefaultLeeway || v.clock == nil {
		t.Fatalf("defaults: %+v, %v", v, err)
	}
}

func TestErrorMatching(t *testing.T) {
	sentinels := []*Error{ErrMalformed, ErrUnsupportedAlgorithm, ErrBadSignature, ErrUnknownKey, ErrWrongKind,
		ErrWrongProduct, ErrExpired, ErrNotYetValid, ErrFingerprintMismatch}
	cause := errors.New("cause")
	for i, s := range sentinels {
		err := error(fail(s.Code, "detail", cause))
		for j, other := range sentinels {
			if got := errors.Is(err, other); got != (i == j) {
				t.Errorf("errors.Is(%v, %s) = %v", err, other.Code, got)
			}
		}
		if !errors.Is(err, cause) || !strings.Contains(err.Error(), string(s.Code)) || !strings.Contains(err.Error(), "detail") {
			t.Errorf("error %q does not carry its code, detail and cause", err)
		}
	}
	if errors.Is(ErrExpired, (*Error)(nil)) {
		t.Error("matches a nil *Error")
	}
}

func TestEntitlementCheckDoesNotAllocate(t *testing.T) {
	lease, err := testVerifier(t).Verify(signLease(t, testClaims()))
	if err != nil {
		t.Fatal(err)
	}
	for _, code := range []string{"sync", "export", "missing"} {
		if n := testing.AllocsPerRun(1000, func() { _ = lease.HasEntitlement(code) }); n != 0 {
			t.Errorf("HasEntitlement(%q) allocates %v times", code, n)
		}
	}
}

func TestVerifyIsSafeForConcurrentUse(t *testing.T) {
	v := testVerifier(t)
	cases := leaseCases(t)
	done := make(chan struct{})
	for range 4 {
		go func() {
			defer func() { done <- struct{}{} }()
			for _, tc := range cases {
				lease, err := v.Verify(tc.token)
				if (tc.want == nil) != (err == nil) || (lease == nil) != (err != nil) {
					t.Errorf("%s: %v %v", tc.name, lease, err)
				}
			}
		}()
	}
	for range 4 {
		<-done
	}
}

// FuzzVerify feeds arbitrary tokens to Verify: it must never panic, every
// error must be an *Error, and whatever it accepts, go-jose and encoding/json
// must accept too.
func FuzzVerify(f *testing.F) {
	for _, tc := range leaseCases(f) {
		f.Add(tc.token)
	}
	v := testVerifier(f)
	f.Fuzz(func(t *testing.T, token string) {
		lease, err := v.Verify(token)
		if err != nil {
			var e *Error
			if lease != nil || !errors.As(err, &e) {
				t.Fatalf("Verify = %v, %T %v", lease, err, err)
			}
			return
		}
		if lease.Claims.Fingerprint != testFP || lease.Claims.Audience != testProduct {
			t.Fatalf("accepted a lease it should not: %+v", lease)
		}
		agreeWithGoJose(t, token, lease)
	})
}
