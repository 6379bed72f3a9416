package verifier

import (
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
)

// KeySet is the set of trusted lease-signing public keys, by kid. It is
// immutable once built and safe for concurrent use.
type KeySet struct {
	keys map[string]ed25519.PublicKey
}

// NewKeySet trusts the given Ed25519 public keys.
func NewKeySet(keys map[string]ed25519.PublicKey) (*KeySet, error) {
	ks := &KeySet{keys: make(map[string]ed25519.PublicKey, len(keys))}
	for kid, k := range keys {
		if kid == "" {
			return nil, errors.New("verifier: a key has an empty kid")
		}
		if len(k) != ed25519.PublicKeySize {
			return nil, fmt.Errorf("verifier: key %q is not an Ed25519 public key", kid)
		}
		ks.keys[kid] = append(ed25519.PublicKey(nil), k...)
	}
	if len(ks.keys) == 0 {
		return nil, errors.New("verifier: no trusted keys")
	}
	return ks, nil
}

type jwk struct {
	Kty string `json:"kty"`
	Crv string `json:"crv"`
	X   string `json:"x"`
	D   string `json:"d"`
	Kid string `json:"kid"`
	Use string `json:"use"`
	Alg string `json:"alg"`
}

// ParseJWKS trusts the Ed25519 keys (kty OKP, crv Ed25519, RFC 8037) of a
// JSON Web Key Set, such as the server's /.well-known/jwks.json. Keys for
// another use than signing, or of another type, are skipped; a set holding a
// private key is refused, since it should never have been published.
func ParseJWKS(data []byte) (*KeySet, error) {
	var doc struct {
		Keys []jwk `json:"keys"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("verifier: the JWKS is not valid JSON: %w", err)
	}
	keys := map[string]ed25519.PublicKey{}
	for _, k := range doc.Keys {
		if k.D != "" {
			return nil, fmt.Errorf("verifier: the JWKS holds a private key (kid %q); refusing it", k.Kid)
		}
		if k.Kty != "OKP" || k.Crv != "Ed25519" || (k.Use != "" && k.Use != "sig") || (k.Alg != "" && k.Alg != "EdDSA") {
			continue
		}
		if k.Kid == "" {
			return nil, errors.New("verifier: a JWKS key has no kid")
		}
		x, err := b64.DecodeString(k.X)
		if err != nil || len(x) != ed25519.PublicKeySize {
			return nil, fmt.Errorf("verifier: key %q has a bad x", k.Kid)
		}
		if _, dup := keys[k.Kid]; dup {
			return nil, fmt.Errorf("verifier: kid %q appears twice", k.Kid)
		}
		keys[k.Kid] = x
	}
	return NewKeySet(keys)
}

// Lookup returns the key of kid.
func (ks *KeySet) Lookup(kid string) (ed25519.PublicKey, bool) {
	k, ok := ks.keys[kid]
	return k, ok
}

// Kids lists the trusted kids, sorted.
func (ks *KeySet) Kids() []string {
	out := make([]string, 0, len(ks.keys))
	for kid := range ks.keys {
		out = append(out, kid)
	}
	sort.Strings(out)
	return out
}
