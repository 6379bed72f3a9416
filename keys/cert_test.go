package keys

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	verifier "github.com/nzilacode/narcidicontrole/verifier-sdk"
)

func TestRootKeyAndCertificates(t *testing.T) {
	offline := t.TempDir()
	rootKid, err := GenerateRoot(offline)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := GenerateRoot(offline); err == nil || !strings.Contains(err.Error(), "never overwritten") {
		t.Fatalf("second GenerateRoot: %v", err)
	}
	priv := filepath.Join(offline, RootPrivateFile)
	if fi, _ := os.Stat(priv); fi.Mode().Perm() != 0o600 {
		t.Fatalf("root private file mode %v", fi.Mode())
	}
	root, err := LoadRootKey(priv)
	if err != nil || root.KID != rootKid {
		t.Fatalf("LoadRootKey = %v, %v", root, err)
	}
	pubJSON, _ := os.ReadFile(filepath.Join(offline, RootPublicFile))
	if strings.Contains(string(pubJSON), `"d"`) {
		t.Fatal("the public root file holds the private key")
	}
	roots, err := verifier.ParseJWKS(pubJSON)
	if err != nil {
		t.Fatal(err)
	}

	kr, err := Open(t.TempDir(), master(1), nil)
	if err != nil {
		t.Fatal(err)
	}
	kid, err := kr.Generate()
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	cert, err := root.Certify(kr.PublicKeys()[kid], now.Add(-time.Minute), now.Add(time.Hour), now)
	if err != nil {
		t.Fatal(err)
	}
	// A certificate from another root is refused; so is one for a key the
	// keyring does not hold.
	otherDir := t.TempDir()
	if _, err := GenerateRoot(otherDir); err != nil {
		t.Fatal(err)
	}
	other, _ := LoadRootKey(filepath.Join(otherDir, RootPrivateFile))
	rogue, _ := other.Certify(kr.PublicKeys()[kid], now, now.Add(time.Hour), now)
	if _, err := kr.AttachCertificate(rogue, roots); !errors.Is(err, verifier.ErrBadCertificate) {
		t.Fatalf("rogue certificate: %v", err)
	}
	stranger, _ := root.Certify(other.Public(), now, now.Add(time.Hour), now)
	if _, err := kr.AttachCertificate(stranger, roots); err == nil {
		t.Fatal("attached a certificate of a key the keyring does not hold")
	}
	if _, ok := kr.Certificate(kid); ok {
		t.Fatal("a refused certificate was attached")
	}

	if _, err := kr.AttachCertificate(cert, roots); err != nil {
		t.Fatal(err)
	}
	tok, err := kr.SignLease(context.Background(), verifier.LeaseClaims{Audience: "p", Fingerprint: "f", IssuedAt: now.Unix(), NotBefore: now.Unix(), Expiry: now.Add(time.Hour).Unix()})
	if err != nil {
		t.Fatal(err)
	}
	v, _ := verifier.New(verifier.Config{Roots: roots, Product: "p", Fingerprint: "f"})
	lease, err := v.Verify(tok)
	if err != nil || lease.Certificate == nil || lease.KeyID != kid {
		t.Fatalf("lease through the root: %+v, %v", lease, err)
	}
	// The certificate survives a reopen of the folder (a server restart).
	kr2, err := Open(kr.dir, master(1), nil)
	if err != nil {
		t.Fatal(err)
	}
	if c, ok := kr2.Certificate(kid); !ok || c != cert {
		t.Fatal("certificate lost on reopen")
	}
	// A stray certificate file for another key makes the folder refuse to load.
	if err := os.WriteFile(filepath.Join(kr.dir, kid+".cert"), []byte(stranger), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(kr.dir, master(1), nil); err == nil {
		t.Fatal("opened a folder whose certificate names another key")
	}
}
