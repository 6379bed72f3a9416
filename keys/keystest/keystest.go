// Package keystest gives tests the real lease signer: a keyring in a
// temporary folder with an active key.
package keystest

import (
	"bytes"
	"crypto/ed25519"
	"testing"
	"time"

	"github.com/nzilacode/narcidicontrole/keys"
)

// Keyring opens a real keyring (the production lease signer) in a
// temporary folder with an active key, and returns it with that key's
// public half.
func Keyring(t testing.TB, clock func() time.Time) (*keys.Keyring, ed25519.PublicKey) {
	t.Helper()
	kr, err := keys.Open(t.TempDir(), bytes.Repeat([]byte{7}, keys.MasterKeySize), clock)
	if err != nil {
		t.Fatal(err)
	}
	kid, _, err := kr.EnsureActive()
	if err != nil {
		t.Fatal(err)
	}
	return kr, kr.PublicKeys()[kid]
}
