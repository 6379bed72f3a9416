package verifier

import (
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"strings"
	"testing"
	"time"
)

var updateCerts = flag.Bool("update-certs", false, "rewrite testdata/certs.json (only when the format changes on purpose)")

var (
	rootPriv  = ed25519.NewKeyFromSeed([]byte("narcidi-verifier-sdk-root-seed-1"))
	rootPub   = rootPriv.Public().(ed25519.PublicKey)
	rogueRoot = ed25519.NewKeyFromSeed([]byte("narcidi-verifier-sdk-rogue-root1"))
)

const testRootKid = "test-root-1"

func certClaims() CertClaims {
	return CertClaims{
		Issuer: testRootKid, Subject: testKid, Key: b64.EncodeToString(testPub), Use: CertUseLease,
		IssuedAt: testNow.Add(-48 * time.Hour).Unix(), NotBefore: testNow.Add(-48 * time.Hour).Unix(), Expiry: testNow.Add(30 * 24 * time.Hour).Unix(),
	}
}

func certWith(f func(*CertClaims)) CertClaims {
	c := certClaims()
	f(&c)
	return c
}

func certHeader() map[string]any {
	return map[string]any{"alg": "EdDSA", "typ": CertType, "kid": testRootKid}
}

func makeCert(t testing.TB, claims any) string {
	return sign(t, certHeader(), claims, rootPriv)
}

// certLease is a lease signed by the test key, carrying cert in its header.
func certLease(t testing.TB, cert string, claims LeaseClaims) string {
	return sign(t, with(leaseHeader(), CertHeader, cert), claims, testPriv)
}

func rootSet(t testing.TB) *KeySet {
	t.Helper()
	ks, err := NewKeySet(map[string]ed25519.PublicKey{testRootKid: rootPub})
	if err != nil {
		t.Fatal(err)
	}
	return ks
}

func rootVerifier(t testing.TB, now time.Time) *Verifier {
	t.Helper()
	v, err := New(Config{Roots: rootSet(t), Product: testProduct, Fingerprint: testFP, Clock: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// certCases are judged by a Verifier that pins only the root: the golden
// vectors of testdata/certs.json. Only ever append.
func certCases(t testing.TB) []leaseCase {
	good := makeCert(t, certClaims())
	return []leaseCase{
		{"valid through the root", certLease(t, good, testClaims()), nil},
		{"no certificate", signLease(t, testClaims()), ErrUnknownKey},
		{"certificate not a string", sign(t, with(leaseHeader(), CertHeader, 1), testClaims(), testPriv), ErrUnknownKey},
		{"certificate garbage", certLease(t, "garbage", testClaims()), ErrBadCertificate},
		{"certificate signed by another root", certLease(t, sign(t, certHeader(), certClaims(), rogueRoot), testClaims()), ErrBadCertificate},
		{"certificate from an unknown root kid", certLease(t, sign(t, with(certHeader(), "kid", "rogue"), certClaims(), rogueRoot), testClaims()), ErrBadCertificate},
		{"certificate of wrong typ", certLease(t, sign(t, with(certHeader(), "typ", LeaseType), certClaims(), rootPriv), testClaims()), ErrBadCertificate},
		{"certificate alg none", certLease(t, b64.EncodeToString(mustJSON(with(certHeader(), "alg", "none")))+"."+b64.EncodeToString(mustJSON(certClaims()))+".", testClaims()), ErrBadCertificate},
		{"certificate with embedded jwk", certLease(t, sign(t, with(certHeader(), "jwk", map[string]string{"kty": "OKP"}), certClaims(), rootPriv), testClaims()), ErrBadCertificate},
		{"certificate for another kid", certLease(t, makeCert(t, certWith(func(c *CertClaims) { c.Subject = "other-kid" })), testClaims()), ErrBadCertificate},
		{"certificate of another key", certLease(t, makeCert(t, certWith(func(c *CertClaims) { c.Key = b64.EncodeToString(otherKey.Public().(ed25519.PublicKey)) })), testClaims()), ErrBadSignature},
		{"certificate for another use", certLease(t, makeCert(t, certWith(func(c *CertClaims) { c.Use = "release" })), testClaims()), ErrBadCertificate},
		{"certificate with unknown member", certLease(t, makeCert(t, `{"extra":1,`+string(mustJSON(certClaims()))[1:]), testClaims()), ErrBadCertificate},
		{"certificate with duplicate x", certLease(t, makeCert(t, `{"x":"`+b64.EncodeToString(otherKey.Public().(ed25519.PublicKey))+`",`+string(mustJSON(certClaims()))[1:]), testClaims()), ErrBadCertificate},
		{"certificate missing exp", certLease(t, makeCert(t, strings.Replace(string(mustJSON(certClaims())), `,"exp":`, `,"zzz":`, 1)), testClaims()), ErrBadCertificate},
		{"certificate iss not its signer", certLease(t, makeCert(t, certWith(func(c *CertClaims) { c.Issuer = "someone" })), testClaims()), ErrBadCertificate},
		{"certificate window ended", certLease(t, makeCert(t, certWith(func(c *CertClaims) { c.Expiry = testNow.Add(-time.Hour).Unix() })), claimsWith(func(c *LeaseClaims) { c.IssuedAt = testNow.Add(-2 * time.Hour).Unix() })), ErrCertificateExpired},
		{"lease issued before the window", certLease(t, makeCert(t, certWith(func(c *CertClaims) { c.NotBefore = testNow.Add(-time.Minute).Unix() })), testClaims()), ErrBadCertificate},
		{"lease issued after the window", certLease(t, makeCert(t, certWith(func(c *CertClaims) { c.Expiry = testNow.Add(-30 * time.Minute).Unix() })), claimsWith(func(c *LeaseClaims) { c.IssuedAt = testNow.Add(-10 * time.Minute).Unix() })), ErrBadCertificate},
		{"tampered certificate", certLease(t, good[:len(good)-2]+"AA", testClaims()), ErrBadCertificate},
		{"lease of another product through the root", certLease(t, good, claimsWith(func(c *LeaseClaims) { c.Audience = "other" })), ErrWrongProduct},
		{"lease signed by a key the certificate does not name", sign(t, with(leaseHeader(), CertHeader, good), testClaims(), otherKey), ErrBadSignature},
	}
}

func TestCertificateChain(t *testing.T) {
	v := rootVerifier(t, testNow)
	for _, tc := range certCases(t) {
		t.Run(tc.name, func(t *testing.T) {
			lease, err := v.Verify(tc.token)
			checkVerdict(t, lease, err, tc.want)
			if tc.want == nil {
				if lease.Certificate == nil || lease.Certificate.Subject != testKid {
					t.Fatalf("lease.Certificate = %+v", lease.Certificate)
				}
				agreeWithGoJose(t, tc.token, lease) // standard verifiers still accept it with the JWKS
			}
		})
	}
}

// A pinned key set alone accepts a lease that carries a certificate (old apps
// keep working when the server starts attaching certificates), and a
// Verifier with both prefers the pinned key.
func TestCertificateIgnoredWithPinnedKey(t *testing.T) {
	tok := certLease(t, makeCert(t, certClaims()), testClaims())
	lease, err := testVerifier(t).Verify(tok)
	if err != nil || lease.Certificate != nil {
		t.Fatalf("Verify = %+v, %v", lease, err)
	}
	v, err := New(Config{Keys: testKeySet(t), Roots: rootSet(t), Product: testProduct, Fingerprint: testFP, Clock: func() time.Time { return testNow }})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(signLease(t, testClaims())); err != nil {
		t.Fatal(err)
	}
}

// The cache of the last certificate must not let a second, bad certificate
// through, nor keep a good one from being checked against the lease's kid.
func TestCertificateCache(t *testing.T) {
	v := rootVerifier(t, testNow)
	good := certLease(t, makeCert(t, certClaims()), testClaims())
	bad := certLease(t, sign(t, certHeader(), certClaims(), rogueRoot), testClaims())
	for range 3 {
		if _, err := v.Verify(good); err != nil {
			t.Fatal(err)
		}
		if _, err := v.Verify(bad); !errors.Is(err, ErrBadCertificate) {
			t.Fatalf("bad cert: %v", err)
		}
	}
}

func TestParseCertificate(t *testing.T) {
	c, err := ParseCertificate(makeCert(t, certClaims()), rootSet(t))
	if err != nil || c != certClaims() {
		t.Fatalf("ParseCertificate = %+v, %v", c, err)
	}
	if _, err := ParseCertificate(makeCert(t, certClaims()), nil); !errors.Is(err, ErrBadCertificate) {
		t.Fatalf("no roots: %v", err)
	}
}

const certGoldenPath = "testdata/certs.json"

type certGoldenFile struct {
	Comment     string          `json:"comment"`
	Roots       json.RawMessage `json:"roots"`
	Now         time.Time       `json:"now"`
	Product     string          `json:"product"`
	Fingerprint string          `json:"fingerprint"`
	Cases       []goldenCase    `json:"cases"`
}

func TestGoldenCertLeases(t *testing.T) {
	if *updateCerts {
		roots, _ := json.Marshal(map[string]any{"keys": []map[string]string{{
			"kty": "OKP", "crv": "Ed25519", "x": b64.EncodeToString(rootPub), "kid": testRootKid, "use": "sig", "alg": "EdDSA",
		}}})
		g := certGoldenFile{
			Comment: "Leases verified through a pinned root key only. Never edit: add new cases instead. Regenerate only with go test -run TestGoldenCertLeases -update-certs.",
			Roots:   roots, Now: testNow, Product: testProduct, Fingerprint: testFP,
		}
		for _, c := range certCases(t) {
			gc := goldenCase{Name: c.name, Token: c.token}
			if c.want != nil {
				gc.Want = string(c.want.Code)
			}
			g.Cases = append(g.Cases, gc)
		}
		b, _ := json.MarshalIndent(g, "", "  ")
		if err := os.WriteFile(certGoldenPath, append(b, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	b, err := os.ReadFile(certGoldenPath)
	if err != nil {
		t.Fatal(err)
	}
	var g certGoldenFile
	if err := json.Unmarshal(b, &g); err != nil {
		t.Fatal(err)
	}
	roots, err := ParseJWKS(g.Roots)
	if err != nil {
		t.Fatal(err)
	}
	v, err := New(Config{Roots: roots, Product: g.Product, Fingerprint: g.Fingerprint, Clock: func() time.Time { return g.Now }})
	if err != nil {
		t.Fatal(err)
	}
	if len(g.Cases) < 10 {
		t.Fatalf("only %d golden cases", len(g.Cases))
	}
	for _, c := range g.Cases {
		t.Run(c.Name, func(t *testing.T) {
			_, err := v.Verify(c.Token)
			if c.Want == "" {
				if err != nil {
					t.Fatalf("golden lease no longer verifies: %v", err)
				}
				return
			}
			if !errors.Is(err, &Error{Code: Code(c.Want)}) {
				t.Fatalf("err = %v, want code %s", err, c.Want)
			}
		})
	}
}

// Verifying through the root costs one signature check, like a pinned key:
// the certificate is verified once and then found in the cache.
func BenchmarkVerifyLeaseThroughRoot(b *testing.B) {
	v := rootVerifier(b, testNow)
	tok := certLease(b, makeCert(b, certClaims()), testClaims())
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Verify(tok); err != nil {
			b.Fatal(err)
		}
	}
}
