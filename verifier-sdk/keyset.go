package verifier

import (
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
)

// KeySet is the set of trusted lease-signing public keys, by kid. It is
// immutable once built and safe for concurrent use.
type KeySet struct {
	keys map[string]ed25519.PublicKey
}

// NewKeySet trusts the given Ed25519 public keys. It keeps its own copy of
// them; it refuses an empty set, an empty kid and a key of the wrong length.
func NewKeySet(keys map[string]ed25519.PublicKey) (*KeySet, error) {
	ks := &KeySet{keys: make(map[string]ed25519.PublicKey, len(keys))}
	for kid, k := range keys {
		if kid == "" {
			return nil, errors.New("verifier: a key has an empty kid")
		}
		if len(k) != ed25519.PublicKeySize {
			return nil, fmt.Errorf("verifier: key %q is not an Ed25519 public key (%d bytes)", kid, len(k))
		}
		ks.keys[kid] = slices.Clone(k)
	}
	if len(ks.keys) == 0 {
		return nil, errors.New("verifier: no trusted keys")
	}
	return ks, nil
}

// jwk holds the members of a JSON Web Key that ParseJWKS looks at. D and K
// are raw so that their mere presence, even empty, is seen.
type jwk struct {
	Kty string          `json:"kty"`
	Crv string          `json:"crv"`
	X   string          `json:"x"`
	D   json.RawMessage `json:"d"` // private part of OKP, EC and RSA keys
	K   json.RawMessage `json:"k"` // a symmetric secret
	Kid string          `json:"kid"`
	Use string          `json:"use"`
	Alg string          `json:"alg"`
}

// ParseJWKS trusts the Ed25519 public keys (kty "OKP", crv "Ed25519", RFC
// 8037) of a JSON Web Key Set, such as the server's /.well-known/jwks.json.
// Keys of another type or curve, or whose "use" is not "sig" or whose "alg"
// is not "EdDSA" (when set), are skipped. It fails when the set holds private
// or secret key material (a "d" or "k" member, in any key: such a set should
// never have been published), when a kept key has no kid, a bad "x" or a kid
// already seen, and when no key is left.
func ParseJWKS(data []byte) (*KeySet, error) {
	var doc struct {
		Keys []jwk `json:"keys"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("verifier: the JWKS is not valid JSON: %w", err)
	}
	keys := map[string]ed25519.PublicKey{}
	for _, k := range doc.Keys {
		if k.D != nil || k.K != nil {
			return nil, fmt.Errorf("verifier: the JWKS holds a private or secret key (kid %q); refusing it", k.Kid)
		}
		if k.Kty != "OKP" || k.Crv != "Ed25519" || (k.Use != "" && k.Use != "sig") || (k.Alg != "" && k.Alg != "EdDSA") {
			continue
		}
		if k.Kid == "" {
			return nil, errors.New("verifier: a JWKS key has no kid")
		}
		x, err := b64.DecodeString(k.X)
		if err != nil || len(x) != ed25519.PublicKeySize {
			return nil, fmt.Errorf("verifier: key %q has a bad x: want %d bytes of base64url", k.Kid, ed25519.PublicKeySize)
		}
		if _, dup := keys[k.Kid]; dup {
			return nil, fmt.Errorf("verifier: kid %q appears twice", k.Kid)
		}
		keys[k.Kid] = x
	}
	return NewKeySet(keys)
}

// Lookup returns a copy of the key of kid.
func (ks *KeySet) Lookup(kid string) (ed25519.PublicKey, bool) {
	if ks == nil {
		return nil, false
	}
	k, ok := ks.keys[kid]
	return slices.Clone(k), ok
}

// Kids lists the trusted kids, sorted.
func (ks *KeySet) Kids() []string {
	if ks == nil {
		return nil
	}
	out := make([]string, 0, len(ks.keys))
	for kid := range ks.keys {
		out = append(out, kid)
	}
	slices.Sort(out)
	return out
}
