package keys

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/golang-jwt/jwt/v5"
	verifier "github.com/nzilacode/narcidicontrole/verifier-sdk"
)

// goJoseLease signs claims the way SignLease did before it built tokens by
// hand: a go-jose Signer with typ, kid and (with a certificate) ncert.
func goJoseLease(t *testing.T, k *key, claims verifier.LeaseClaims) string {
	t.Helper()
	opts := (&jose.SignerOptions{}).WithType(verifier.LeaseType).WithHeader("kid", k.info.KID)
	if k.cert != "" {
		opts = opts.WithHeader(verifier.CertHeader, k.cert)
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.EdDSA, Key: k.priv.k}, opts)
	if err != nil {
		t.Fatal(err)
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	obj, err := signer.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := obj.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// The hand-built token must be the very bytes go-jose's signer produced
// (Ed25519 is deterministic), with and without the ncert header member, for
// claims that need JSON escaping too; and go-jose (EdDSA only) and
// golang-jwt must parse and verify it with the same headers and claims.
func TestSignLeaseMatchesGoJose(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	claimCases := []struct {
		name   string
		claims verifier.LeaseClaims
	}{
		{"empty", verifier.LeaseClaims{}},
		{"typical", verifier.LeaseClaims{Issuer: "narcidi", Subject: "0190a8e8-0000-7000-8000-000000000001",
			Audience: "0190a8e8-0000-7000-8000-000000000002", ID: "0190a8e8-0000-7000-8000-000000000003",
			IssuedAt: now.Unix(), NotBefore: now.Unix() - 60, Expiry: now.Unix() + 86400,
			License: "l", Policy: "p", Customer: "c", Machine: "0190a8e8-0000-7000-8000-000000000001",
			Fingerprint: strings.Repeat("f", 64), Entitlements: []string{"export", "sync"}, LicenseExpiry: now.Unix() + 1e7}},
		{"escaping", verifier.LeaseClaims{Subject: `a"b\c`, Audience: "<p&q>", Fingerprint: "é\u2028\x01\tx",
			Customer: "\xff invalid utf-8", Entitlements: []string{"", "ü"}, Expiry: -1}},
		{"negative and large numbers", verifier.LeaseClaims{IssuedAt: -9_223_372_036_854_775_808, Expiry: 9_223_372_036_854_775_807}},
	}

	kr := openRing(t, filepath.Join(t.TempDir(), "keys"), master(3))
	kid, err := kr.Generate()
	if err != nil {
		t.Fatal(err)
	}
	check := func(t *testing.T, wantCert string) {
		k := kr.keys[kid]
		if k.cert != wantCert {
			t.Fatalf("key cert = %q, want %q", k.cert, wantCert)
		}
		for _, tc := range claimCases {
			t.Run(tc.name, func(t *testing.T) {
				got, err := kr.SignLease(context.Background(), tc.claims)
				if err != nil {
					t.Fatal(err)
				}
				if want := goJoseLease(t, k, tc.claims); got != want {
					t.Fatalf("token differs from go-jose's:\n got  %s\n want %s", got, want)
				}
				// go-jose with the EdDSA allowlist.
				obj, err := jose.ParseSigned(got, []jose.SignatureAlgorithm{jose.EdDSA})
				if err != nil {
					t.Fatal(err)
				}
				h := obj.Signatures[0].Protected
				if h.KeyID != kid || h.Algorithm != string(jose.EdDSA) || h.ExtraHeaders[jose.HeaderType] != verifier.LeaseType {
					t.Errorf("header %+v", h)
				}
				if c, _ := h.ExtraHeaders[verifier.CertHeader].(string); c != wantCert {
					t.Errorf("ncert = %q, want %q", c, wantCert)
				}
				payload, err := obj.Verify(k.public)
				if err != nil {
					t.Fatal(err)
				}
				want, _ := json.Marshal(tc.claims)
				if string(payload) != string(want) {
					t.Errorf("payload %s, want %s", payload, want)
				}
				// golang-jwt, EdDSA only, on the same signing input.
				parts := strings.Split(got, ".")
				sig, err := base64.RawURLEncoding.DecodeString(parts[2])
				if err != nil {
					t.Fatal(err)
				}
				if err := jwt.SigningMethodEdDSA.Verify(parts[0]+"."+parts[1], sig, ed25519.PublicKey(k.public)); err != nil {
					t.Errorf("golang-jwt: %v", err)
				}
			})
		}
	}
	t.Run("without certificate", func(t *testing.T) { check(t, "") })

	root, roots := newRoot(t)
	wall := time.Now()
	cert, err := root.Certify(kr.PublicKeys()[kid], wall.Add(-time.Minute), wall.Add(time.Hour), wall)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kr.AttachCertificate(cert, roots); err != nil {
		t.Fatal(err)
	}
	t.Run("with certificate", func(t *testing.T) { check(t, cert) })
}

// BenchmarkSignLeaseSerial is BenchmarkSignLease on one goroutine: ns/op is
// the cost of one signature, unskewed by the other cores' load.
func BenchmarkSignLeaseSerial(b *testing.B) {
	kr, err := Open(b.TempDir(), master(6), nil)
	if err != nil {
		b.Fatal(err)
	}
	if _, _, err := kr.EnsureActive(); err != nil {
		b.Fatal(err)
	}
	c := verifier.LeaseClaims{Issuer: "narcidi", Subject: "0190a8e8-0000-7000-8000-000000000001", Audience: "0190a8e8-0000-7000-8000-000000000002",
		Expiry: 1_800_000_000, Fingerprint: strings.Repeat("f", 64), Entitlements: []string{"export", "sync"}}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := kr.SignLease(context.Background(), c); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEd25519Sign is the floor SignLease cannot go below: the bare
// signature over a lease-sized input.
func BenchmarkEd25519Sign(b *testing.B) {
	priv := ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize))
	msg := []byte(strings.Repeat("x", 480))
	b.ReportAllocs()
	for b.Loop() {
		_ = ed25519.Sign(priv, msg)
	}
}
