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
		{"value url padded", MasterKeyConfig{Value: base64.URLEncoding.EncodeToString(master(7))}, ""},
		{"value raw std with newline", MasterKeyConfig{Value: base64.RawStdEncoding.EncodeToString(master(7)) + "\n"}, ""},
		{"value wins over file", MasterKeyConfig{Value: good, File: filepath.Join(dir, "nope")}, ""},
		{"value too long", MasterKeyConfig{Value: base64.StdEncoding.EncodeToString(append(master(7), 7))}, "must be 32 bytes"},
		{"value too short", MasterKeyConfig{Value: base64.StdEncoding.EncodeToString([]byte("short"))}, "must be 32 bytes"},
		{"value not base64", MasterKeyConfig{Value: "%%%not-base64%%%"}, "not valid base64"},
		{"file", MasterKeyConfig{File: writeFile("ok.key", good+"\n", 0o600)}, ""},
		{"file readable by others", MasterKeyConfig{File: writeFile("open.key", good, 0o644)}, "chmod 600"},
		{"file readable by group", MasterKeyConfig{File: writeFile("group.key", good, 0o640)}, "group.key"},
		{"file bad length", MasterKeyConfig{File: writeFile("short.key", base64.StdEncoding.EncodeToString(master(7)[:16]), 0o600)}, "must be 32 bytes"},
		{"file bad base64", MasterKeyConfig{File: writeFile("bad.key", "not*base64!", 0o600)}, "not valid base64"},
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
	raw, _ := os.ReadFile(filepath.Join(dir, "master.key"))
	if strings.TrimSpace(string(raw)) != base64.StdEncoding.EncodeToString(k1) {
		t.Error("master.key does not hold the key in base64")
	}
	k2, gen2, err := LoadMasterKey(MasterKeyConfig{DataDir: dir})
	if err != nil || gen2 || string(k1) != string(k2) {
		t.Fatalf("second run: generated=%v same=%v err=%v", gen2, string(k1) == string(k2), err)
	}
}

// Processes starting at once on an empty data dir agree on one master key.
func TestMasterKeyConcurrentFirstRun(t *testing.T) {
	dir := t.TempDir()
	const n = 8
	keys := make([][]byte, n)
	gens := make([]bool, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			k, gen, err := LoadMasterKey(MasterKeyConfig{DataDir: dir})
			if err != nil {
				t.Error(err)
			}
			keys[i], gens[i] = k, gen
		}()
	}
	wg.Wait()
	generated := 0
	for i := range n {
		if gens[i] {
			generated++
		}
		if string(keys[i]) != string(keys[0]) {
			t.Fatalf("run %d got another master key", i)
		}
	}
	if generated != 1 {
		t.Errorf("%d runs generated the key, want 1", generated)
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

// checkJWKS asserts the set holds exactly kids, in order, as RFC 8037 public
// keys, and no private member.
func checkJWKS(t *testing.T, jwks []byte, kids ...string) {
	t.Helper()
	if strings.Contains(string(jwks), `"d"`) {
		t.Errorf("JWKS holds a private part: %s", jwks)
	}
	var set struct {
		Keys []map[string]any `json:"keys"`
	}
	if err := json.Unmarshal(jwks, &set); err != nil {
		t.Fatal(err)
	}
	if len(set.Keys) != len(kids) {
		t.Fatalf("JWKS has %d keys, want %d: %s", len(set.Keys), len(kids), jwks)
	}
	for i, k := range set.Keys {
		if _, ok := k["d"]; ok {
			t.Errorf("key %d has a d member", i)
		}
		want := map[string]string{"kty": "OKP", "crv": "Ed25519", "use": "sig", "alg": "EdDSA", "kid": kids[i]}
		for m, v := range want {
			if k[m] != v {
				t.Errorf("key %d: %s = %v, want %s", i, m, k[m], v)
			}
		}
		if x, _ := k["x"].(string); len(x) != 43 {
			t.Errorf("key %d: x = %v", i, k["x"])
		}
		if len(k) != 6 {
			t.Errorf("key %d has members beyond kty crv x kid use alg: %v", i, k)
		}
	}
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
	if gotKid != kid || c.Subject != "m1" || c.Audience != "p1" || c.Expiry != 42 {
		t.Errorf("kid %s claims %+v", gotKid, c)
	}
	if pk := kr.PublicKeys(); len(pk) != 1 || pk[kid] == nil {
		t.Errorf("PublicKeys = %v", pk)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := kr.SignLease(ctx, verifier.LeaseClaims{}); err != context.Canceled {
		t.Errorf("sign with a canceled context: %v", err)
	}
	checkJWKS(t, jwks, kid)
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
	seed := kr.keys[kid].priv.k.Seed()
	_, err = Open(dir, master(2), nil)
	if err == nil || !strings.Contains(err.Error(), "cannot decrypt key") || !strings.Contains(err.Error(), "wrong master key?") || !strings.Contains(err.Error(), kid) {
		t.Fatalf("wrong master key: %v", err)
	}
	for _, secret := range [][]byte{seed, master(1), master(2)} {
		for _, enc := range []string{fmt.Sprintf("%x", secret), base64.StdEncoding.EncodeToString(secret), base64.RawURLEncoding.EncodeToString(secret)} {
			if strings.Contains(err.Error(), enc) {
				t.Fatalf("the error holds key material: %v", err)
			}
		}
	}
	path := filepath.Join(dir, kid+".json")
	orig, _ := os.ReadFile(path)
	var f Record
	_ = json.Unmarshal(orig, &f)

	// A flipped bit in the sealed key.
	sealed, _ := base64.RawURLEncoding.DecodeString(f.SealedPrivate)
	sealed[0] ^= 1
	tampered := f
	tampered.SealedPrivate = base64.RawURLEncoding.EncodeToString(sealed)
	b, _ := json.Marshal(tampered)
	_ = os.WriteFile(path, b, 0o600)
	if _, err := Open(dir, master(1), nil); err == nil || !strings.Contains(err.Error(), "cannot decrypt key") {
		t.Errorf("a tampered key file: %v", err)
	}

	// The sealed key of another key (same master key) moved under this kid:
	// the kid is the AEAD's additional data, so decryption itself fails
	// (before the public-key and thumbprint checks could).
	otherDir := t.TempDir()
	other := openRing(t, otherDir, master(1))
	otherKid, _, _ := other.EnsureActive()
	var of Record
	ob, _ := os.ReadFile(filepath.Join(otherDir, otherKid+".json"))
	_ = json.Unmarshal(ob, &of)
	swapped := f
	swapped.SealedPrivate, swapped.Nonce = of.SealedPrivate, of.Nonce
	b, _ = json.Marshal(swapped)
	_ = os.WriteFile(path, b, 0o600)
	if _, err := Open(dir, master(1), nil); err == nil || !strings.Contains(err.Error(), "cannot decrypt key") {
		t.Errorf("a sealed key moved under another kid: %v", err)
	}
	// And this key's sealed bytes relabelled with the other kid.
	relabelled := f
	relabelled.KID = otherKid
	b, _ = json.Marshal(relabelled)
	_ = os.WriteFile(path, b, 0o600)
	if _, err := Open(dir, master(1), nil); err == nil || !strings.Contains(err.Error(), "cannot decrypt key") {
		t.Errorf("a key relabelled with another kid: %v", err)
	}

	// A valid key file under the wrong name.
	_ = os.WriteFile(path, orig, 0o600)
	_ = os.Rename(path, filepath.Join(dir, otherKid+".json"))
	if _, err := Open(dir, master(1), nil); err == nil || !strings.Contains(err.Error(), "<kid>.json") {
		t.Errorf("a key file under another name: %v", err)
	}
	_ = os.Rename(filepath.Join(dir, otherKid+".json"), path)

	// A key file others may read.
	_ = os.Chmod(path, 0o644)
	if _, err := Open(dir, master(1), nil); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Errorf("a key file readable by others: %v", err)
	}
	_ = os.Chmod(path, 0o600)
	if _, err := Open(dir, master(1), nil); err != nil {
		t.Errorf("the restored key file: %v", err)
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
	checkJWKS(t, jwks, k2, k1)
	for kid, want := range map[string]string{k1: StatusRetired, k2: StatusActive} {
		var f Record
		b, _ := os.ReadFile(filepath.Join(kr.dir, kid+".json"))
		if err := json.Unmarshal(b, &f); err != nil || f.Status != want {
			t.Errorf("key file %s: status %q, want %q (%v)", kid, f.Status, want, err)
		}
	}
	// Another process sees the rotation.
	if again := openRing(t, kr.dir, master(3)); len(again.List()) != 2 {
		t.Errorf("reopened: %+v", again.List())
	} else if a, _ := again.Active(); a != k2 {
		t.Errorf("reopened: active %s, want %s", a, k2)
	}
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
	out := fmt.Sprintf("%v %+v %#v %s", kr, kr, kr, kr)
	out += fmt.Sprintf("%v %+v %#v %s %x", kr.keys[kid], kr.keys[kid], *kr.keys[kid], kr.keys[kid].priv, kr.keys[kid].priv)
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
