package licensing

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"time"
)

// Browser sessions: the console's (licensing/users) and the portal's
// (licensing/portal) share these rules; each keeps its own rows.

// CheckSessionTimes is the one rule of a browser session's life:
// EUnauthorized when it was revoked, is past its absolute end, or was idle
// for idle or longer at now.
func CheckSessionTimes(now time.Time, revokedAt *time.Time, lastSeen, expires time.Time, idle time.Duration) error {
	switch {
	case revokedAt != nil:
		return Errorf(EUnauthorized, "the session has ended")
	case !now.Before(expires):
		return Errorf(EUnauthorized, "the session has expired")
	case !now.Before(lastSeen.Add(idle)):
		return Errorf(EUnauthorized, "the session was idle too long")
	}
	return nil
}

// SessionTimes are the fields of a session row CheckSessionTimes reads.
type SessionTimes struct {
	RevokedAt         *time.Time
	LastSeen, Expires time.Time
}

// LiveSession finds the session of a cookie's secret with get (by the
// secret's SecretHash) and checks it is alive at now: EUnauthorized for an
// empty or oversized secret, an unknown session or a dead one.
func LiveSession[S any](ctx context.Context, secret string, get func(ctx context.Context, hash string) (*S, error),
	times func(*S) SessionTimes, now time.Time, idle time.Duration) (*S, error) {
	if secret == "" || len(secret) > 128 {
		return nil, Errorf(EUnauthorized, "sign in first")
	}
	sess, err := get(ctx, SecretHash(secret))
	if ErrorCode(err) == ENotFound {
		return nil, Errorf(EUnauthorized, "sign in first")
	} else if err != nil {
		return nil, err
	}
	t := times(sess)
	if err := CheckSessionTimes(now, t.RevokedAt, t.LastSeen, t.Expires, idle); err != nil {
		return nil, err
	}
	return sess, nil
}

// SecretHash is the stored form of a high-entropy secret (a session, a
// link, a recovery code): SHA-256 suffices, nothing can be guessed. It is
// also the legacy, unkeyed form of license keys and API tokens written
// before SecretHasher, looked up only to rehash such rows (secrets.go).
func SecretHash(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// RandomSecret is prefix and 256 random bits, base64url.
func RandomSecret(prefix string) string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return prefix + base64.RawURLEncoding.EncodeToString(b)
}
