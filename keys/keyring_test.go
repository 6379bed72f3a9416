package keys

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	verifier "github.com/nzilacode/narcidicontrole/verifier-sdk"
)

func master(b byte) []byte {
	m := make([]byte, MasterKeySize)
	for i := range m {
		m[i] = b
	}
	return m
}

func TestLoadMasterKey(t *testing.T) {
	good := base64.StdEncoding.EncodeToString(master(7))
	dir := t.TempDir()
	writeFile := func(name, content string, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	cases := []struct {
		name    string
		cfg     MasterKeyConfig
		wantErr string
	}{
		{"value std", MasterKeyConfig{Value: good}, ""},
		{"value raw url", MasterKeyConfig{Value: base64.RawURLEncoding.EncodeToString(master(7))}, ""},
		{"value too short", MasterKeyConfig{Value: base64.StdEncoding.EncodeToString([]byte("short"))}, "must be 32 bytes"},
		{"value not base64", MasterKeyConfig{Value: "%%%not-base64%%%"}, "not valid base64"},
		{"file", MasterKeyConfig{File: writeFile("ok.key", good+"\n", 0o600)}, ""},
		{"file readable by others", MasterKeyConfig{File: writeFile("open.key", good, 0o644)}, "chmod 600"},
		{"missing file", MasterKeyConfig{File: filepath.Join(dir, "nope")}, "no such file"},
		{"nothing", MasterKeyConfig{}, "no master key"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			k, gen, err := LoadMasterKey(tc.cfg)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				if strings.Contains(err.Error(), good) || strings.Contains(err.Error(), tc.cfg.Value) && tc.cfg.Value != "" {
					t.Errorf("error quotes the key: %v", err)
				}
				return
			}
			if err != nil || gen || string(k) != string(master(7)) {
				t.Fatalf("got %x %v %v", k, gen, err)
			}
		})
	}
}

func TestMasterKeyGeneratedOnce(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	k1, gen1, err := LoadMasterKey(MasterKeyConfig{DataDir: dir})
	if err != nil || !gen1 {
		t.Fatalf("first run: %v %v", gen1, err)
	}
	st, err := os.Stat(filepath.Join(dir, "master.key"))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("master.key mode %v, %v", st.Mode().Perm(), err)
	}
	k2, gen2, err := LoadMasterKey(MasterKeyConfig{DataDir: dir})
	if err != nil || gen2 || string(k1) != string(k2) {
		t.Fatalf("second run: generated=%v same=%v err=%v", gen2, string(k1) == string(k2), err)
	}
}

func openRing(t *testing.T, dir string, m []byte) *Keyring {
	t.Helper()
	kr, err := Open(dir, m, nil)
	if err != nil {
		t.Fatal(err)
	}
	return kr
}

func verifyWithJWKS(t *testing.T, jwks []byte, token string) (string, verifier.LeaseClaims) {
	t.Helper()
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(jwks, &set); err != nil {
		t.Fatal(err)
	}
	obj, err := jose.ParseSigned(token, []jose.SignatureAlgorithm{jose.EdDSA})
	if err != nil {
		t.Fatal(err)
	}
	h := obj.Signatures[0].Protected
	if h.ExtraHeaders[jose.HeaderType] != verifier.LeaseType {
		t.Errorf("typ = %v", h.ExtraHeaders[jose.HeaderType])
	}
	keys := set.Key(h.KeyID)
	if len(keys) != 1 {
		t.Fatalf("kid %q not in the JWKS", h.KeyID)
	}
	payload, err := obj.Verify(keys[0].Key)
	if err != nil {
		t.Fatal(err)
	}
	var c verifier.LeaseClaims
	if err := json.Unmarshal(payload, &c); err != nil {
		t.Fatal(err)
	}
	return h.KeyID, c
}

func TestSignVerifyRoundTripAndFiles(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "keys")
	kr := openRing(t, dir, master(1))
	if _, err := kr.SignLease(context.Background(), verifier.LeaseClaims{}); err != ErrNoActiveKey {
		t.Fatalf("sign without a key: %v", err)
	}
	kid, created, err := kr.EnsureActive()
	if err != nil || !created {
		t.Fatal(created, err)
	}
	if again, created, _ := kr.EnsureActive(); created || again != kid {
		t.Fatal("EnsureActive generated a second key")
	}
	// Reopen from disk: same key.
	kr = openRing(t, dir, master(1))
	tok, err := kr.SignLease(context.Background(), verifier.LeaseClaims{Subject: "m1", Audience: "p1", Expiry: 42})
	if err != nil {
		t.Fatal(err)
	}
	jwks, _ := kr.JWKS()
	gotKid, c := verifyWithJWKS(t, jwks, tok)
	if gotKid != kid || c.Subject != "m1" || c.Audience != "p1" {
		t.Errorf("kid %s claims %+v", gotKid, c)
	}
	if strings.Contains(string(jwks), `"d"`) {
		t.Errorf("JWKS holds a private part: %s", jwks)
	}
	if st, _ := os.Stat(dir); st.Mode().Perm() != 0o700 {
		t.Errorf("keys dir mode %v", st.Mode().Perm())
	}
	if st, _ := os.Stat(filepath.Join(dir, kid+".json")); st.Mode().Perm() != 0o600 {
		t.Errorf("key file mode %v", st.Mode().Perm())
	}
	raw, _ := os.ReadFile(filepath.Join(dir, kid+".json"))
	if strings.Contains(string(raw), base64.RawURLEncoding.EncodeToString(kr.keys[kid].priv.k.Seed())) {
		t.Error("the key file holds the private key in clear")
	}
}

func TestWrongMasterKeyAndTampering(t *testing.T) {
	dir := t.TempDir()
	kr := openRing(t, dir, master(1))
	kid, _, err := kr.EnsureActive()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Open(dir, master(2), nil); err == nil || !strings.Contains(err.Error(), "wrong master key") {
		t.Fatalf("wrong master key: %v", err)
	}
	path := filepath.Join(dir, kid+".json")
	orig, _ := os.ReadFile(path)
	var f keyFile
	_ = json.Unmarshal(orig, &f)

	// A flipped bit in the sealed key.
	sealed, _ := base64.RawURLEncoding.DecodeString(f.SealedPrivate)
	sealed[0] ^= 1
	tampered := f
	tampered.SealedPrivate = base64.RawURLEncoding.EncodeToString(sealed)
	b, _ := json.Marshal(tampered)
	_ = os.WriteFile(path, b, 0o600)
	if _, err := Open(dir, master(1), nil); err == nil {
		t.Error("a tampered key file opened")
	}

	// The same sealed key filed under another kid (AAD mismatch).
	other := openRing(t, t.TempDir(), master(1))
	otherKid, _, _ := other.EnsureActive()
	swapped := f
	swapped.KID = otherKid
	b, _ = json.Marshal(swapped)
	_ = os.WriteFile(path, b, 0o600)
	if _, err := Open(dir, master(1), nil); err == nil {
		t.Error("a key filed under another kid opened")
	}
}

func TestRotation(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	kr, err := Open(t.TempDir(), master(3), func() time.Time { now = now.Add(time.Hour); return now })
	if err != nil {
		t.Fatal(err)
	}
	k1, _, _ := kr.EnsureActive()
	old, _ := kr.SignLease(context.Background(), verifier.LeaseClaims{Subject: "old"})
	k2, err := kr.Generate()
	if err != nil || k2 == k1 {
		t.Fatal(k2, err)
	}
	if a, _ := kr.Active(); a != k2 {
		t.Errorf("active = %s, want %s", a, k2)
	}
	list := kr.List()
	if len(list) != 2 || list[0].KID != k2 || list[0].Status != StatusActive || list[1].Status != StatusRetired {
		t.Errorf("list = %+v", list)
	}
	jwks, _ := kr.JWKS()
	if kid, _ := verifyWithJWKS(t, jwks, old); kid != k1 {
		t.Errorf("old lease kid %s", kid)
	}
	fresh, _ := kr.SignLease(context.Background(), verifier.LeaseClaims{Subject: "new"})
	if kid, _ := verifyWithJWKS(t, jwks, fresh); kid != k2 {
		t.Errorf("new lease kid %s", kid)
	}
}

func TestConcurrentEnsureAndSign(t *testing.T) {
	dir := t.TempDir()
	var wg sync.WaitGroup
	kids := make(chan string, 8)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			kr, err := Open(dir, master(4), nil) // each like its own process
			if err != nil {
				t.Error(err)
				return
			}
			kid, _, err := kr.EnsureActive()
			if err != nil {
				t.Error(err)
				return
			}
			for range 20 {
				if _, err := kr.SignLease(context.Background(), verifier.LeaseClaims{Subject: "m"}); err != nil {
					t.Error(err)
				}
			}
			kids <- kid
		}()
	}
	wg.Wait()
	close(kids)
	first := ""
	for k := range kids {
		if first == "" {
			first = k
		} else if k != first {
			t.Errorf("two active keys: %s and %s", first, k)
		}
	}
	if n := len(openRing(t, dir, master(4)).List()); n != 1 {
		t.Errorf("%d keys on disk, want 1", n)
	}
}

func TestPrivateKeyNeverPrinted(t *testing.T) {
	kr := openRing(t, t.TempDir(), master(5))
	kid, _, _ := kr.EnsureActive()
	seed := kr.keys[kid].priv.k.Seed()
	out := fmt.Sprintf("%v %+v %#v %s", kr, kr.keys[kid], *kr.keys[kid], kr.keys[kid].priv)
	b, _ := json.Marshal(kr.keys[kid].priv)
	out += string(b)
	for _, enc := range []string{fmt.Sprintf("%x", seed), fmt.Sprintf("%v", []byte(seed)), base64.StdEncoding.EncodeToString(seed), base64.RawURLEncoding.EncodeToString(seed)} {
		if strings.Contains(out, enc) {
			t.Fatalf("private key printed: %s", out)
		}
	}
	if !strings.Contains(out, "[redacted]") {
		t.Error("expected [redacted] in the output")
	}
}

func BenchmarkSignLease(b *testing.B) {
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
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := kr.SignLease(context.Background(), c); err != nil {
				b.Fatal(err)
			}
		}
	})
}
