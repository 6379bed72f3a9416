package licensing

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"unicode"
)

// SecretHasher turns license keys and API token secrets into what the
// database stores: HMAC-SHA256 under a server secret (derived from the
// master key by cmd/narcidi), hex. A keyed hash keeps lookups a single
// indexed equality, while a stolen database alone gives nothing to test
// guesses against, even for weak supplied keys. Safe for concurrent use.
//
// Databases from before keyed hashing hold unkeyed SHA-256 (SecretHash):
// a lookup that misses with the keyed hash tries the legacy hash and, when
// it finds the row, rewrites its hash to the keyed one, so each secret
// migrates on its first use (the clear secrets are unknown, so no migration
// at start can do it).
type SecretHasher struct{ key []byte }

// NewSecretHasher returns a hasher keyed with key (at least 32 bytes).
func NewSecretHasher(key []byte) (*SecretHasher, error) {
	if len(key) < 32 {
		return nil, fmt.Errorf("licensing: the secret hashing key must be at least 32 bytes, got %d", len(key))
	}
	return &SecretHasher{key: append([]byte(nil), key...)}, nil
}

// newEphemeralHasher is a hasher with a random key, for Services built
// without one (tests, tools): what it hashes is found only by it.
func newEphemeralHasher() *SecretHasher {
	k := make([]byte, 32)
	_, _ = rand.Read(k) // crypto/rand.Read never fails (Go 1.24+)
	return &SecretHasher{key: k}
}

// Hash is the stored form of secret.
func (h *SecretHasher) Hash(secret string) string {
	m := hmac.New(sha256.New, h.key)
	m.Write([]byte(secret))
	return hex.EncodeToString(m.Sum(nil))
}

// mustHasher refuses a service built without a hasher: secrets hashed by
// no key, or by a key other services do not share, would not be found.
func mustHasher(h *SecretHasher) *SecretHasher {
	if h == nil {
		panic("licensing: a service needs a SecretHasher (NewServices gives one)")
	}
	return h
}

// keyGroups and keyGroupLen are the shape of generated keys (NewLicenseKey):
// "NZL-" and five groups of six base32 characters.
const (
	keyPrefix   = "NZL"
	keyGroups   = 5
	keyGroupLen = 6
)

// NormalizeKey is the form a license key is hashed in. Surrounding
// whitespace is trimmed. A key in the format Narcidi generates, as pasted
// from an email (spaces, lower case, dashes missing or misplaced), is put
// back in its canonical form "NZL-XXXXXX-…": when what remains, without
// spaces and dashes and upper-cased, is "NZL" and 30 base32 characters.
// Any other (supplied) key is only trimmed, so its case and inner
// characters count.
func NormalizeKey(key string) string {
	key = strings.TrimSpace(key)
	compact := strings.ToUpper(strings.Map(func(r rune) rune {
		if r == '-' || unicode.IsSpace(r) {
			return -1
		}
		return r
	}, key))
	body, ok := strings.CutPrefix(compact, keyPrefix)
	if !ok || len(body) != keyGroups*keyGroupLen {
		return key
	}
	for _, r := range body {
		if !(r >= 'A' && r <= 'Z' || r >= '2' && r <= '7') {
			return key
		}
	}
	parts := []string{keyPrefix}
	for i := 0; i < len(body); i += keyGroupLen {
		parts = append(parts, body[i:i+keyGroupLen])
	}
	return strings.Join(parts, "-")
}

// KeyHint is what is kept of a key in clear (License.KeyHint) and what a
// person can search by: the last 4 characters of its normalized form.
func KeyHint(normalized string) string {
	return normalized[max(len(normalized)-4, 0):]
}

// Supplied license keys must be hard to guess: the rule is checked by
// checkSuppliedKey and stated in its error message.
const (
	MinKeyLength        = 16  // characters, after trimming
	MaxKeyLength        = 256 // characters
	MinKeyDistinctChars = 8   // distinct characters, not counting '-' and spaces
)

// errWeakKey states the rule for supplied keys, named after the field.
var errWeakKey = FieldErrorf("key", "key: a supplied license key must be %d to %d printable characters, with at least %d distinct characters "+
	"not counting '-' and spaces, and must not be a repeated pattern (such as abcabcabc…); leave key out to have a strong one generated",
	MinKeyLength, MaxKeyLength, MinKeyDistinctChars)

// checkSuppliedKey normalises a license key an admin supplies (as
// NormalizeKey) and checks that it is strong enough (errWeakKey).
func checkSuppliedKey(key string) (string, error) {
	key = NormalizeKey(key)
	n := len([]rune(key))
	if n < MinKeyLength || len(key) > MaxKeyLength {
		return "", errWeakKey
	}
	var core []rune // the key without separators
	distinct := map[rune]bool{}
	for _, r := range key {
		if !unicode.IsPrint(r) {
			return "", errWeakKey
		}
		if r == '-' || r == ' ' {
			continue
		}
		core = append(core, r)
		distinct[r] = true
	}
	if len(distinct) < MinKeyDistinctChars || periodic(core) {
		return "", errWeakKey
	}
	return key, nil
}

// periodic reports whether s is a shorter pattern repeated (at least
// twice, the last time possibly cut short), e.g. "abcdefghabcdefghab".
func periodic(s []rune) bool {
	for p := 1; p <= len(s)/2; p++ {
		rep := true
		for i := p; i < len(s); i++ {
			if s[i] != s[i-p] {
				rep = false
				break
			}
		}
		if rep {
			return true
		}
	}
	return false
}

// licenseKeyStore is what a license lookup by key needs of a store.
type licenseKeyStore interface {
	GetLicenseByKeyHash(ctx context.Context, keyHash string, forUpdate bool) (*License, error)
	// RehashLicenseKey replaces the key hash from by to, if a row still
	// has from (nil when none does: a concurrent lookup migrated it).
	RehashLicenseKey(ctx context.Context, from, to string) error
}

// licenseByKey finds the license of a clear key (normalised here), locked
// as GetLicenseByKeyHash with forUpdate. A row still holding the legacy
// hash is found and migrated to the keyed hash (in r's transaction, if
// any). ENotFound.
func (h *SecretHasher) licenseByKey(ctx context.Context, r licenseKeyStore, key string, forUpdate bool) (*License, error) {
	key = NormalizeKey(key)
	keyed := h.Hash(key)
	lic, err := r.GetLicenseByKeyHash(ctx, keyed, forUpdate)
	if ErrorCode(err) != ENotFound {
		return lic, err
	}
	if _, err := r.GetLicenseByKeyHash(ctx, SecretHash(key), false); ErrorCode(err) == ENotFound {
		// A concurrent first use may have migrated the row since the
		// keyed lookup: look again before answering not found.
		return r.GetLicenseByKeyHash(ctx, keyed, forUpdate)
	} else if err != nil {
		return nil, err
	}
	// The conditional update makes concurrent first uses safe: one rewrites
	// the row, the others change nothing, and all find it by the keyed hash.
	if err := r.RehashLicenseKey(ctx, SecretHash(key), keyed); err != nil {
		return nil, err
	}
	return r.GetLicenseByKeyHash(ctx, keyed, forUpdate)
}

// licenseKey is the key of a new license: supplied (normalised, checked
// strong and not taken) or, when none is, generated.
func (s *Licenses) licenseKey(ctx context.Context, supplied string) (string, error) {
	if supplied == "" {
		return NewLicenseKey(), nil
	}
	key, err := checkSuppliedKey(supplied)
	if err != nil {
		return "", err
	}
	return key, s.secrets.keyTaken(ctx, s.store, key)
}

// keyTaken reports whether a license already has key (keyed or legacy
// hash), so that a supplied key cannot be given twice across the upgrade.
func (h *SecretHasher) keyTaken(ctx context.Context, r interface {
	GetLicenseByKeyHash(ctx context.Context, keyHash string, forUpdate bool) (*License, error)
}, key string) error {
	for _, hash := range []string{h.Hash(key), SecretHash(key)} {
		_, err := r.GetLicenseByKeyHash(ctx, hash, false)
		if err == nil {
			return Errorf(EConflict, "key: a license with this key already exists").WithField("key")
		}
		if ErrorCode(err) != ENotFound {
			return err
		}
	}
	return nil
}

// tokenStore is what a token lookup by secret needs of a store.
type tokenStore interface {
	GetAPITokenByHash(ctx context.Context, hash string) (*APIToken, error)
	// RehashAPIToken replaces the token hash from by to, if a row still
	// has from (nil when none does).
	RehashAPIToken(ctx context.Context, from, to string) error
}

// tokenBySecret finds the API token of secret, migrating a row that still
// holds the legacy hash. ENotFound.
func (h *SecretHasher) tokenBySecret(ctx context.Context, r tokenStore, secret string) (*APIToken, error) {
	keyed := h.Hash(secret)
	t, err := r.GetAPITokenByHash(ctx, keyed)
	if ErrorCode(err) != ENotFound {
		return t, err
	}
	if _, err := r.GetAPITokenByHash(ctx, SecretHash(secret)); ErrorCode(err) == ENotFound {
		return r.GetAPITokenByHash(ctx, keyed) // migrated meanwhile?
	} else if err != nil {
		return nil, err
	}
	if err := r.RehashAPIToken(ctx, SecretHash(secret), keyed); err != nil {
		return nil, err
	}
	return r.GetAPITokenByHash(ctx, keyed)
}
