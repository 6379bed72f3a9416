package main

import (
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	verifier "github.com/nzilacode/narcidicontrole/verifier-sdk"
)

var (
	priv    = ed25519.NewKeyFromSeed([]byte("narcidi-cabi-test-seed-000000001"))
	kid     = "cabi-kid-1"
	product = "0190a8e8-0000-7000-8000-0000000000aa"
	fp      = "f1e2d3c4b5a6978812345678abcdef00"
	now     = time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
)

func sign(t *testing.T, typ string, c verifier.LeaseClaims) string {
	t.Helper()
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.EdDSA, Key: priv}, (&jose.SignerOptions{}).WithType(jose.ContentType(typ)).WithHeader("kid", kid))
	if err != nil {
		t.Fatal(err)
	}
	p, _ := json.Marshal(c)
	obj, _ := s.Sign(p)
	tok, _ := obj.CompactSerialize()
	return tok
}

func claims() verifier.LeaseClaims {
	return verifier.LeaseClaims{Issuer: "narcidi", Subject: "m1", Audience: product, ID: "l1",
		IssuedAt: now.Add(-time.Hour).Unix(), NotBefore: now.Add(-time.Hour).Unix(), Expiry: now.Add(time.Hour).Unix(),
		License: "lic", Policy: "pol", Machine: "m1", Fingerprint: fp, Entitlements: []string{"export", "sync"}}
}

func jwks() string {
	b, _ := json.Marshal(map[string]any{"keys": []map[string]string{{"kty": "OKP", "crv": "Ed25519", "kid": kid, "use": "sig", "alg": "EdDSA",
		"x": base64.RawURLEncoding.EncodeToString(priv.Public().(ed25519.PublicKey))}}})
	return string(b)
}

// buildLib builds libnarcidi.so with the go command that runs the test.
func buildLib(t *testing.T, dir string) string {
	t.Helper()
	lib := filepath.Join(dir, "libnarcidi.so")
	goCmd := filepath.Join(runtime.GOROOT(), "bin", "go")
	cmd := exec.Command(goCmd, "build", "-buildmode=c-shared", "-o", lib, ".")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=1")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build -buildmode=c-shared: %v\n%s", err, out)
	}
	return lib
}

// TestCABI builds the C library, compiles and runs the C example against it
// with the system's C compiler, and runs the Python module's tests with the
// system's python3.
func TestCABI(t *testing.T) {
	gcc, err := exec.LookPath("gcc")
	if err != nil {
		t.Fatal("gcc is required to test the C ABI (Debian: apt-get install gcc)")
	}
	python, err := exec.LookPath("python3")
	if err != nil {
		t.Fatal("python3 is required to test the Python module (Debian: apt-get install python3)")
	}
	dir := t.TempDir()
	lib := buildLib(t, dir)

	valid := sign(t, verifier.LeaseType, claims())
	expired := claims()
	expired.Expiry = now.Add(-time.Hour).Unix()
	other := claims()
	other.Audience = "another-product"
	refused := [][2]string{
		{sign(t, verifier.LeaseType, expired), "expired"},
		{sign(t, "JWT", claims()), "wrong_kind"},
		{sign(t, verifier.LeaseType, other), "wrong_product"},
		{valid[:len(valid)-4] + "AAAA", "bad_signature"},
		{"garbage", "malformed"},
		{base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"narcidi-lease+jwt","kid":"cabi-kid-1"}`)) + "." + strings.Split(valid, ".")[1] + ".", "unsupported_algorithm"},
	}

	// The C example.
	exe := filepath.Join(dir, "example")
	if out, err := exec.Command(gcc, "-Wall", "-Werror", "-o", exe, "example/example.c", "-L"+dir, "-lnarcidi", "-Wl,-rpath,"+dir).CombinedOutput(); err != nil {
		t.Fatalf("gcc: %v\n%s", err, out)
	}
	write := func(name, s string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(s+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	jwksPath := write("jwks.json", jwks())
	runC := func(token string) (string, int) {
		cmd := exec.Command(exe, write("token", token), jwksPath, product, fp, strconv.FormatInt(now.Unix(), 10))
		out, err := cmd.Output()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return string(out), code
	}
	out, code := runC(valid)
	var res struct {
		OK     bool   `json:"ok"`
		Code   string `json:"code"`
		KID    string `json:"kid"`
		Claims struct {
			Entitlements []string `json:"entitlements"`
		} `json:"claims"`
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil || code != 0 || !res.OK || res.KID != kid || len(res.Claims.Entitlements) != 2 {
		t.Fatalf("C example on a valid lease: exit %d, %s (%v)", code, out, err)
	}
	for _, r := range refused {
		out, code := runC(r[0])
		res.Code = ""
		if err := json.Unmarshal([]byte(out), &res); err != nil || code != 1 || res.OK || res.Code != r[1] {
			t.Fatalf("C example on a %s lease: exit %d, %s", r[1], code, out)
		}
	}

	// The Python module.
	vectors, _ := json.Marshal(map[string]any{"valid": valid, "refused": refused, "jwks": jwks(), "product": product,
		"fingerprint": fp, "now": now.Unix(), "kid": kid})
	cmd := exec.Command(python, "-m", "unittest", "-v", "test_narcidi")
	cmd.Dir = "python"
	cmd.Env = append(os.Environ(), "NARCIDI_LIB="+lib, "NARCIDI_VECTORS="+write("vectors.json", string(vectors)), "PYTHONDONTWRITEBYTECODE=1", "NARCIDI_MACHINE_ID=machine-abc")
	pyOut, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("python3 tests: %v\n%s", err, pyOut)
	}
	if !strings.Contains(string(pyOut), "OK") || !strings.Contains(string(pyOut), "Ran 7 tests") {
		t.Fatalf("python3 tests did not all run:\n%s", pyOut)
	}
}

// The exported functions, called from Go: the JSON they return.
func TestVerifyFromGo(t *testing.T) {
	r := verify(sign(t, verifier.LeaseType, claims()), jwks(), false, product, fp, now.Unix())
	if !r.OK || r.Claims.Fingerprint != fp {
		t.Fatalf("%+v", r)
	}
	if r := verify("x", "{", false, product, fp, 0); r.OK || r.Code != "bad_config" {
		t.Fatalf("%+v", r)
	}
	if r := verify(sign(t, verifier.LeaseType, claims()), jwks(), true, product, fp, now.Unix()); r.OK || r.Code != "unknown_key" {
		t.Fatalf("signing keys given as roots: %+v", r)
	}
}
