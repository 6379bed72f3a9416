package licensing

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"net/mail"
	"strings"
	"time"
)

// Browser sessions: the console's (licensing/users) and the portal's
// (licensing/portal) are one core. Each audience's session type embeds
// BrowserSession and adds who signed in; each keeps its own table, and
// SessionCore runs what both share: opening, looking up by the cookie's
// hash, the idle and absolute timeouts, the throttled touch, renewing the
// secret when privilege changes, revoking and the CSRF token. Sign-in
// attempts are limited in the web layer (api/webui.Try), the same for both.

// BrowserSession is what every signed-in browser's row holds, whoever
// signed in. The cookie holds the secret; the row holds its SecretHash.
type BrowserSession struct {
	ID         string     `json:"id"`
	TokenHash  string     `json:"-"`
	CSRFToken  string     `json:"-"`
	IP         string     `json:"ip,omitempty"`
	UserAgent  string     `json:"user_agent,omitempty"`
	CreatedAt  time.Time  `json:"created_at"`
	LastSeenAt time.Time  `json:"last_seen_at"`
	ExpiresAt  time.Time  `json:"expires_at"` // the absolute timeout
	RevokedAt  *time.Time `json:"revoked_at,omitempty"`
}

// Browser is the shared part of a session: promoted to the types that embed
// BrowserSession, it is how SessionCore reaches them.
func (b *BrowserSession) Browser() *BrowserSession { return b }

// Sessioned is an audience's session type (a pointer to a struct that
// embeds BrowserSession).
type Sessioned interface{ Browser() *BrowserSession }

// SessionRows are one audience's session rows as its store keeps them
// (the store itself, or its transaction). GetSessionByHash: ENotFound
// when there is none. TouchSession moves a live session's LastSeenAt:
// ENotFound when it is revoked (a revocation is never undone).
// RevokeSession ends one session at now (nothing when it has ended).
type SessionRows[S Sessioned] interface {
	GetSessionByHash(ctx context.Context, hash string) (S, error)
	TouchSession(ctx context.Context, id string, now time.Time) error
	RevokeSession(ctx context.Context, id string, now time.Time) error
}

// SessionCore is the life of one audience's browser sessions. The zero
// timeouts are 30 minutes idle and 12 hours absolute.
type SessionCore[S Sessioned] struct {
	Clock Clock
	// Prefix starts the cookie secrets ("nzs_" console, "nzc_" portal),
	// so a leaked one says where it opens.
	Prefix string
	// Idle ends a session unused for that long; Absolute any session that
	// old.
	Idle, Absolute time.Duration
}

// NewSessionCore is a SessionCore with the defaults filled in.
func NewSessionCore[S Sessioned](clock Clock, prefix string, idle, absolute time.Duration) SessionCore[S] {
	if clock == nil {
		clock = time.Now
	}
	if idle <= 0 {
		idle = 30 * time.Minute
	}
	if absolute <= 0 {
		absolute = 12 * time.Hour
	}
	return SessionCore[S]{Clock: clock, Prefix: prefix, Idle: idle, Absolute: absolute}
}

// Now is the core's clock as the databases keep it (UTC, microseconds).
func (c SessionCore[S]) Now() time.Time { return c.Clock().UTC().Truncate(time.Microsecond) }

// Open is a new session's shared columns, started now, and the secret of
// its cookie (given once; only its hash is kept).
func (c SessionCore[S]) Open(ip, userAgent string) (BrowserSession, string) {
	now := c.Now()
	secret := RandomSecret(c.Prefix)
	return BrowserSession{ID: NewID(), TokenHash: SecretHash(secret), CSRFToken: RandomSecret(""),
		IP: Clip(ip, 64), UserAgent: Clip(userAgent, 255), CreatedAt: now, LastSeenAt: now, ExpiresAt: now.Add(c.Absolute)}, secret
}

// Rotate is a new cookie secret (and the hash to store) and CSRF token for
// a session whose privilege changed: what was sent before opens nothing.
func (c SessionCore[S]) Rotate() (secret, tokenHash, csrf string) {
	secret = RandomSecret(c.Prefix)
	return secret, SecretHash(secret), RandomSecret("")
}

// ErrSessionEnded is a session revoked (or renewed) by another request
// between this one's read and its write.
var ErrSessionEnded = Errorf(EUnauthorized, "the session has ended: sign in again")

// Authenticate resolves a cookie's secret to a live session of rows:
// EUnauthorized when it is unknown, revoked, idle too long or past its
// absolute timeout, or when owner (the audience's check of who it stands
// for: a disabled account) refuses it. The session's last use moves to now,
// at most once a minute to spare the database, and only after owner's
// check.
func (c SessionCore[S]) Authenticate(ctx context.Context, rows SessionRows[S], secret string, owner func(S) error) (S, error) {
	var none S
	now := c.Now()
	if secret == "" || len(secret) > 128 {
		return none, Errorf(EUnauthorized, "sign in first")
	}
	sess, err := rows.GetSessionByHash(ctx, SecretHash(secret))
	if ErrorCode(err) == ENotFound {
		return none, Errorf(EUnauthorized, "sign in first")
	} else if err != nil {
		return none, err
	}
	b := sess.Browser()
	if err := CheckSessionTimes(now, b.RevokedAt, b.LastSeenAt, b.ExpiresAt, c.Idle); err != nil {
		return none, err
	}
	if err := owner(sess); err != nil {
		return none, err
	}
	if now.Sub(b.LastSeenAt) >= time.Minute {
		// Only last_seen_at, only while live: a revocation committed since
		// the read above stands.
		if err := rows.TouchSession(ctx, b.ID, now); ErrorCode(err) == ENotFound {
			return none, ErrSessionEnded
		} else if err != nil {
			return none, err
		}
		b.LastSeenAt = now
	}
	return sess, nil
}

// Revoke ends sess in rows now (rows is usually a transaction that also
// records the sign-out).
func (c SessionCore[S]) Revoke(ctx context.Context, rows SessionRows[S], sess S) error {
	now := c.Now()
	if err := rows.RevokeSession(ctx, sess.Browser().ID, now); err != nil {
		return err
	}
	sess.Browser().RevokedAt = &now
	return nil
}

// CheckCSRF compares a submitted token with the session's (its
// CSRFToken) in constant time: EForbidden when they differ. area names
// where forms come from. The one check of both areas (api/webui).
func CheckCSRF(want, token, area string) error {
	if token == "" || subtle.ConstantTimeCompare([]byte(want), []byte(token)) != 1 {
		return Errorf(EForbidden, "the form has expired or did not come from this %s: reload it", area)
	}
	return nil
}

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

// One-time links: the console's set-password links (licensing/users) and
// the portal's sign-in links (licensing/portal) are one core, as sessions
// are. Each audience's link type embeds OneTimeLink and adds what the link
// opens; each keeps its own table, and LinkCore runs what both share:
// issuing a secret (only its hash is kept), the expiry, looking a secret
// up without spending it, and spending it once, by a conditional update
// that only one of concurrent redemptions wins.

// OneTimeLink is what every one-time link's row holds, whatever it opens.
type OneTimeLink struct {
	ID        string     `json:"id"`
	TokenHash string     `json:"-"`
	ExpiresAt time.Time  `json:"expires_at"`
	UsedAt    *time.Time `json:"used_at,omitempty"`
	CreatedAt time.Time  `json:"created_at"`
}

// OneTime is the shared part of a link: promoted to the types that embed
// OneTimeLink, it is how LinkCore reaches them.
func (l *OneTimeLink) OneTime() *OneTimeLink { return l }

// Linked is an audience's link type (a pointer to a struct that embeds
// OneTimeLink).
type Linked interface{ OneTime() *OneTimeLink }

// LinkRows are one audience's link rows as its store keeps them (the
// store itself, or its transaction). GetLinkByHash: ENotFound when there
// is none. UseLink marks a link used at now, only if it is unused:
// ENotFound when it already was (a concurrent redemption won).
type LinkRows[L Linked] interface {
	GetLinkByHash(ctx context.Context, hash string) (L, error)
	UseLink(ctx context.Context, id string, now time.Time) error
}

// LinkState is what a link's secret can still do.
type LinkState string

const (
	LinkUsable  LinkState = "usable"
	LinkUsed    LinkState = "used"
	LinkExpired LinkState = "expired"
	LinkUnknown LinkState = "unknown"
)

// LinkCore is the life of one audience's one-time links.
type LinkCore[L Linked] struct {
	Clock Clock
	// Prefix starts the secrets ("nzp_" set-password, "nzm_" portal
	// sign-in), so a leaked one says what it opens.
	Prefix string
	// TTL is how long a link works.
	TTL time.Duration
	// Refused is the error (EUnauthorized) of a link that is unknown,
	// used or expired, in the audience's words.
	Refused error
}

// NewLinkCore is a LinkCore, time.Now when clock is nil.
func NewLinkCore[L Linked](clock Clock, prefix string, ttl time.Duration, refused error) LinkCore[L] {
	if clock == nil {
		clock = time.Now
	}
	return LinkCore[L]{Clock: clock, Prefix: prefix, TTL: ttl, Refused: refused}
}

// Now is the core's clock as the databases keep it (UTC, microseconds).
func (c LinkCore[L]) Now() time.Time { return c.Clock().UTC().Truncate(time.Microsecond) }

// Issue is a new link's shared columns, working for TTL from now, and its
// secret (given once; only its hash is kept).
func (c LinkCore[L]) Issue() (OneTimeLink, string) {
	now := c.Now()
	secret := RandomSecret(c.Prefix)
	return OneTimeLink{ID: NewID(), TokenHash: SecretHash(secret), ExpiresAt: now.Add(c.TTL), CreatedAt: now}, secret
}

// State is the link of secret in rows and what it can still do, spending
// nothing: a page shows a used or expired link's message, not a form that
// can only fail. The link is nil when it is LinkUnknown.
func (c LinkCore[L]) State(ctx context.Context, rows LinkRows[L], secret string) (L, LinkState, error) {
	var none L
	if secret == "" || len(secret) > 128 {
		return none, LinkUnknown, nil
	}
	l, err := rows.GetLinkByHash(ctx, SecretHash(secret))
	switch {
	case ErrorCode(err) == ENotFound:
		return none, LinkUnknown, nil
	case err != nil:
		return none, "", err
	case l.OneTime().UsedAt != nil:
		return l, LinkUsed, nil
	case !c.Now().Before(l.OneTime().ExpiresAt):
		return l, LinkExpired, nil
	}
	return l, LinkUsable, nil
}

// Spend redeems secret's link in rows (usually the transaction that then
// acts on what it opens): Refused when it is unknown, used, expired, or
// spent by a concurrent redemption between the read and the write. On
// Refused the link is still returned when it exists, for the audit of who
// it was for.
func (c LinkCore[L]) Spend(ctx context.Context, rows LinkRows[L], secret string) (L, error) {
	l, state, err := c.State(ctx, rows, secret)
	if err != nil {
		return l, err
	}
	if state != LinkUsable {
		return l, c.Refused
	}
	now := c.Now()
	// Only used_at, only while unused: of two redemptions that both read
	// the link unused, one writes and the other is refused.
	if err := rows.UseLink(ctx, l.OneTime().ID, now); ErrorCode(err) == ENotFound {
		return l, c.Refused
	} else if err != nil {
		return l, err
	}
	l.OneTime().UsedAt = &now
	return l, nil
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

// Clip cuts s to n bytes: what a column of that size holds (a session's
// user agent, an audit reason).
func Clip(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// PlainEmail is s as a sign-in email address (console user, portal
// customer): trimmed, lower-case, a bare address of at most 254 bytes.
// EInvalid about field "email" otherwise (every sign-in form and body
// names it so), with example in the message.
func PlainEmail(s, example string) (string, error) {
	s = strings.ToLower(strings.TrimSpace(s))
	a, err := mail.ParseAddress(s)
	if err != nil || a.Address != s || len(s) > 254 {
		return "", FieldErrorf("email", "email must be a plain address like %s", example)
	}
	return s, nil
}
