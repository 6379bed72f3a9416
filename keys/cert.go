package keys

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/go-jose/go-jose/v4"
	verifier "github.com/nzilacode/narcidicontrole/verifier-sdk"
)

// The root key and key certificates (README.md, "Key rotation"). The root
// key is what apps pin; it is made and kept offline, and it certifies each
// online signing key for a window of time. The server only ever holds
// certificates (public), never the root's private part.

// Root key file names written by GenerateRoot.
const (
	RootPrivateFile = "root.key.json"  // the private JWK: keep it offline
	RootPublicFile  = "root.jwks.json" // the public JWKS that apps pin (verifier.Config.Roots)
)

// certSuffix names a key's certificate in the keys folder: <kid>.cert.
// Not ".json", which reloadLocked reads as key files.
const certSuffix = ".cert"

// RootKey is a root private key, loaded for certifying.
type RootKey struct {
	KID  string
	priv privateKey
}

// Public is the root's public key.
func (r *RootKey) Public() ed25519.PublicKey { return r.priv.k.Public().(ed25519.PublicKey) }

// GenerateRoot writes a new root key pair into dir: RootPrivateFile (0600,
// never overwritten) and RootPublicFile. It returns the root's kid.
func GenerateRoot(dir string) (string, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return "", err
	}
	kid, err := thumbprint(pub)
	if err != nil {
		return "", err
	}
	private, err := json.MarshalIndent(jose.JSONWebKey{Key: priv, KeyID: kid, Algorithm: string(jose.EdDSA), Use: "sig"}, "", "  ")
	if err != nil {
		return "", err
	}
	public, err := json.MarshalIndent(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: pub, KeyID: kid, Algorithm: string(jose.EdDSA), Use: "sig"}}}, "", "  ")
	if err != nil {
		return "", err
	}
	if err := createFileExclusive(filepath.Join(dir, RootPrivateFile), private); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return "", fmt.Errorf("%s already exists in %s: a root key is never overwritten", RootPrivateFile, dir)
		}
		return "", err
	}
	if err := writeFileAtomic(filepath.Join(dir, RootPublicFile), public); err != nil {
		return "", err
	}
	return kid, os.Chmod(filepath.Join(dir, RootPublicFile), 0o644)
}

// LoadRootKey reads a root private key file written by GenerateRoot.
func LoadRootKey(path string) (*RootKey, error) {
	b, err := readPrivateFile(path, "root key file", 64<<10)
	if err != nil {
		return nil, err
	}
	var k jose.JSONWebKey
	if err := k.UnmarshalJSON(b); err != nil {
		return nil, fmt.Errorf("root key file %s is not a JWK", path)
	}
	priv, ok := k.Key.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("root key file %s does not hold an Ed25519 private key", path)
	}
	kid, err := thumbprint(priv.Public().(ed25519.PublicKey))
	if err != nil || kid != k.KeyID {
		return nil, fmt.Errorf("root key file %s: kid does not match the key", path)
	}
	return &RootKey{KID: kid, priv: privateKey{priv}}, nil
}

// Certify signs a certificate for the signing key pub, valid from notBefore
// to notAfter (verifier.CertClaims; a JWS of typ verifier.CertType).
func (r *RootKey) Certify(pub ed25519.PublicKey, notBefore, notAfter, now time.Time) (string, error) {
	if len(pub) != ed25519.PublicKeySize {
		return "", errors.New("not an Ed25519 public key")
	}
	if !notAfter.After(notBefore) {
		return "", errors.New("the certificate must end after it starts")
	}
	kid, err := thumbprint(pub)
	if err != nil {
		return "", err
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.EdDSA, Key: r.priv.k},
		(&jose.SignerOptions{}).WithType(verifier.CertType).WithHeader("kid", r.KID))
	if err != nil {
		return "", err
	}
	payload, err := json.Marshal(verifier.CertClaims{
		Issuer: r.KID, Subject: kid, Key: base64.RawURLEncoding.EncodeToString(pub), Use: verifier.CertUseLease,
		IssuedAt: now.Unix(), NotBefore: notBefore.Unix(), Expiry: notAfter.Unix(),
	})
	if err != nil {
		return "", err
	}
	obj, err := signer.Sign(payload)
	if err != nil {
		return "", err
	}
	return obj.CompactSerialize()
}

// AttachCertificate verifies cert against the pinned roots and stores it
// beside the key it certifies: from then on (after a Reload, or at the next
// start) every lease that key signs carries it. Attaching a newer
// certificate replaces the older one.
func (kr *Keyring) AttachCertificate(cert string, roots *verifier.KeySet) (verifier.CertClaims, error) {
	cert = strings.TrimSpace(cert)
	c, err := verifier.ParseCertificate(cert, roots)
	if err != nil {
		return c, err
	}
	unlock, err := kr.lockDir(lockEx)
	if err != nil {
		return c, err
	}
	defer unlock()
	if err := kr.reloadLocked(); err != nil {
		return c, err
	}
	kr.mu.RLock()
	k := kr.keys[c.Subject]
	kr.mu.RUnlock()
	if k == nil {
		return c, fmt.Errorf("the certificate is for key %s, which this keyring does not hold", c.Subject)
	}
	if c.Key != base64.RawURLEncoding.EncodeToString(k.public) {
		return c, errors.New("the certificate's public key is not the key of its kid")
	}
	if kr.store != nil {
		ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
		err := kr.store.SetSigningKeyCert(ctx, c.Subject, cert)
		cancel()
		if err != nil {
			return c, err
		}
	} else if err := writeFileAtomic(filepath.Join(kr.dir, c.Subject+certSuffix), []byte(cert+"\n")); err != nil {
		return c, err
	}
	return c, kr.reloadLocked()
}

// readCert returns the certificate file of key kid in dir, "" when there is
// none.
func readCert(dir, kid string) (string, error) {
	b, err := os.ReadFile(filepath.Join(dir, kid+certSuffix))
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(string(b)), nil
}

// setCert gives k a lease header that carries cert (verifier.CertHeader).
// The certificate was verified when attached; here it is only matched to its
// key, so a stray file or row cannot make the server sign with a wrong header.
func (k *key) setCert(cert string) error {
	if sub, ok := unverifiedCertSubject(cert); !ok || sub != k.info.KID {
		return fmt.Errorf("the certificate stored for key %s is not a certificate of that key", k.info.KID)
	}
	header, err := leaseHeader(k.info.KID, cert)
	if err != nil {
		return err
	}
	k.header, k.cert = header, cert
	return nil
}

func unverifiedCertSubject(cert string) (string, bool) {
	c, ok := unverifiedCertClaims(cert)
	return c.Subject, ok
}

// unverifiedCertClaims reads a certificate's claims without checking its
// signature: for certificates that were verified when attached.
func unverifiedCertClaims(cert string) (verifier.CertClaims, bool) {
	var c verifier.CertClaims
	parts := strings.Split(cert, ".")
	if len(parts) != 3 {
		return c, false
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return c, false
	}
	return c, json.Unmarshal(payload, &c) == nil
}

// CertificateWindow returns when the certificate attached to key kid starts
// and ends; ok is false when the key has none.
func (kr *Keyring) CertificateWindow(kid string) (notBefore, expiry time.Time, ok bool) {
	cert, ok := kr.Certificate(kid)
	if !ok {
		return time.Time{}, time.Time{}, false
	}
	c, ok := unverifiedCertClaims(cert)
	if !ok {
		return time.Time{}, time.Time{}, false
	}
	return time.Unix(c.NotBefore, 0).UTC(), time.Unix(c.Expiry, 0).UTC(), true
}

// Certificate returns the certificate attached to key kid, if any.
func (kr *Keyring) Certificate(kid string) (string, bool) {
	kr.mu.RLock()
	defer kr.mu.RUnlock()
	k := kr.keys[kid]
	if k == nil || k.cert == "" {
		return "", false
	}
	return k.cert, true
}

// lockEx is the exclusive folder lock (see lockDir).
const lockEx = syscall.LOCK_EX
