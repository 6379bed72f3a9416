package interop

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	verifier "github.com/nzilacode/narcidicontrole/verifier-sdk"
)

var (
	priv    = ed25519.NewKeyFromSeed([]byte("narcidi-interop-test-seed-000001"))
	kid     = "interop-kid-1"
	product = "0190a8e8-0000-7000-8000-0000000000aa"
	fp      = "f1e2d3c4b5a6978812345678abcdef00"
	now     = time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
)

// lease signs a lease as the server does, optionally with a certificate
// header (a private header parameter other verifiers must ignore).
func lease(t testing.TB, claims verifier.LeaseClaims, extra map[jose.HeaderKey]any) string {
	t.Helper()
	opts := (&jose.SignerOptions{}).WithType(verifier.LeaseType).WithHeader("kid", kid)
	for k, v := range extra {
		opts = opts.WithHeader(k, v)
	}
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.EdDSA, Key: priv}, opts)
	if err != nil {
		t.Fatal(err)
	}
	payload, _ := json.Marshal(claims)
	obj, err := s.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	tok, _ := obj.CompactSerialize()
	return tok
}

func claims() verifier.LeaseClaims {
	return verifier.LeaseClaims{Issuer: "narcidi", Subject: "m1", Audience: product, ID: "l1",
		IssuedAt: now.Add(-time.Hour).Unix(), NotBefore: now.Add(-time.Hour).Unix(), Expiry: now.Add(time.Hour).Unix(),
		License: "lic", Policy: "pol", Machine: "m1", Fingerprint: fp, Entitlements: []string{"export", "sync"}}
}

func jwks() map[string]any {
	return map[string]any{"keys": []map[string]string{{"kty": "OKP", "crv": "Ed25519", "kid": kid, "use": "sig", "alg": "EdDSA",
		"x": base64.RawURLEncoding.EncodeToString(priv.Public().(ed25519.PublicKey))}}}
}

// TestNodeJose verifies leases with the npm package jose under Node.js.
// node_modules comes from `npm ci` in interop/node (make test does it).
func TestNodeJose(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatal("Node.js is required for the interop test (Debian: apt-get install nodejs npm), then run `npm ci` in verifier-sdk/interop/node")
	}
	if _, err := os.Stat(filepath.Join("node", "node_modules", "jose", "package.json")); err != nil {
		t.Fatal("the npm package jose is not installed: run `npm ci` in verifier-sdk/interop/node (make test does)")
	}
	verify := func(token string, at time.Time) map[string]any {
		in, _ := json.Marshal(map[string]any{"token": token, "jwks": jwks(), "product": product, "now": at.Unix()})
		cmd := exec.Command(node, "verify.mjs")
		cmd.Dir = "node"
		cmd.Stdin = bytes.NewReader(in)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("node verify.mjs: %v: %s", err, stderr.String())
		}
		var res map[string]any
		if err := json.Unmarshal(out, &res); err != nil {
			t.Fatalf("node output %q: %v", out, err)
		}
		return res
	}
	for name, tok := range map[string]string{
		"plain lease":                lease(t, claims(), nil),
		"lease with its certificate": lease(t, claims(), map[jose.HeaderKey]any{verifier.CertHeader: "a.b.c"}),
		"lease with meters":          lease(t, withMeters(claims()), nil),
	} {
		res := verify(tok, now)
		if res["ok"] != true || res["kid"] != kid {
			t.Fatalf("%s: jose refused it: %v", name, res)
		}
		p := res["payload"].(map[string]any)
		if p["fingerprint"] != fp || p["aud"] != product {
			t.Fatalf("%s: payload %v", name, p)
		}
		if name == "lease with meters" {
			if ms, _ := p["meters"].([]any); len(ms) != 1 || ms[0].(map[string]any)["counter"] != float64(4) {
				t.Fatalf("%s: meters %v", name, p["meters"])
			}
		}
		// And the SDK agrees.
		ks, _ := verifier.NewKeySet(map[string]ed25519.PublicKey{kid: priv.Public().(ed25519.PublicKey)})
		if _, err := verifier.Verify(tok, verifier.Config{Keys: ks, Product: product, Fingerprint: fp, Clock: func() time.Time { return now }}); err != nil {
			t.Fatalf("%s: SDK: %v", name, err)
		}
	}
	// jose must refuse what the SDK refuses, too: expiry, another product, a tampered payload.
	if res := verify(lease(t, claims(), nil), now.Add(2*time.Hour)); res["ok"] != false || res["code"] != "ERR_JWT_EXPIRED" {
		t.Fatalf("expired lease: %v", res)
	}
	other := claims()
	other.Audience = "another"
	if res := verify(lease(t, other, nil), now); res["ok"] != false {
		t.Fatalf("lease of another product: %v", res)
	}
	good := lease(t, claims(), nil)
	forged := lease(t, other, nil)
	tampered := good[:bytes.IndexByte([]byte(good), '.')] + forged[bytes.IndexByte([]byte(forged), '.'):bytes.LastIndexByte([]byte(forged), '.')] + good[bytes.LastIndexByte([]byte(good), '.'):]
	if res := verify(tampered, now); res["ok"] != false || res["code"] != "ERR_JWS_SIGNATURE_VERIFICATION_FAILED" {
		t.Fatalf("tampered lease: %v", res)
	}
}

// withMeters adds the meters claim (issue 27): additive, so jose and the
// SDK read it and older SDKs skip it.
func withMeters(c verifier.LeaseClaims) verifier.LeaseClaims {
	c.Meters = []verifier.MeterClaim{{Meter: "export", Remaining: 6, Counter: 4}}
	return c
}
