package keys

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"errors"
)

// SecretBox encrypts secrets that Narcidi must read back later (webhook
// signing secrets) with AES-256-GCM under a key derived from the master key
// for one purpose, so it never shares a key with the signing-key files. The
// aad binds a sealed secret to what it belongs to: a secret copied onto
// another row does not open.
type SecretBox struct{ aead cipher.AEAD }

// NewSecretBox derives the box of purpose (one of the Box constants) from master.
func NewSecretBox(master []byte, purpose string) (*SecretBox, error) {
	if len(master) < 32 {
		return nil, errors.New("secret box: the master key is too short")
	}
	aead, err := derivedGCM(master, secretBoxPurpose+purpose)
	if err != nil {
		return nil, err
	}
	return &SecretBox{aead: aead}, nil
}

// DeriveKey derives the 32-byte key of one purpose from the master key
// (HKDF-SHA256, info "narcidi <purpose>"), so that no two uses of the master
// key share a key.
func DeriveKey(master []byte, purpose string) ([]byte, error) {
	return hkdf.Key(sha256.New, master, nil, "narcidi "+purpose, 32)
}

// derivedGCM is AES-256-GCM under the key of purpose.
func derivedGCM(master []byte, purpose string) (cipher.AEAD, error) {
	k, err := DeriveKey(master, purpose)
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(k)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// Seal encrypts plaintext: a random nonce followed by the ciphertext.
func (b *SecretBox) Seal(plaintext, aad []byte) ([]byte, error) {
	nonce := make([]byte, b.aead.NonceSize(), b.aead.NonceSize()+len(plaintext)+b.aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	return b.aead.Seal(nonce, nonce, plaintext, aad), nil
}

// Open decrypts what Seal made with the same aad.
func (b *SecretBox) Open(sealed, aad []byte) ([]byte, error) {
	n := b.aead.NonceSize()
	if len(sealed) < n+b.aead.Overhead() {
		return nil, errors.New("secret box: sealed value too short")
	}
	out, err := b.aead.Open(nil, sealed[:n], sealed[n:], aad)
	if err != nil {
		return nil, errors.New("secret box: cannot open (wrong master key or aad)")
	}
	return out, nil
}
