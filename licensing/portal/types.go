package portal

import (
	"context"
	"time"

	"github.com/nzilacode/narcidicontrole/licensing"
)

// Link is a one-time sign-in link, stored by the hash of its secret. It
// opens the portal of one customer for one email.
type Link struct {
	ID         string     `json:"id"`
	CustomerID string     `json:"customer_id"`
	Email      string     `json:"email"`
	TokenHash  string     `json:"-"`
	ExpiresAt  time.Time  `json:"expires_at"`
	UsedAt     *time.Time `json:"used_at,omitempty"`
	CreatedAt  time.Time  `json:"created_at"`
}

// Session is a signed-in customer's browser. The cookie holds the secret;
// the row holds its SHA-256.
type Session struct {
	ID         string     `json:"id"`
	CustomerID string     `json:"customer_id"`
	Email      string     `json:"email"` // who signed in
	TokenHash  string     `json:"-"`
	CSRFToken  string     `json:"-"`
	IP         string     `json:"ip,omitempty"`
	UserAgent  string     `json:"user_agent,omitempty"`
	CreatedAt  time.Time  `json:"created_at"`
	LastSeenAt time.Time  `json:"last_seen_at"`
	ExpiresAt  time.Time  `json:"expires_at"` // the absolute timeout
	RevokedAt  *time.Time `json:"revoked_at,omitempty"`
}

// Store is the data of portal sign-in. Every method returns ENotFound when
// a row is missing, EUnavailable when the database cannot be reached,
// EInternal otherwise. Safe for concurrent use.
type Store interface {
	licensing.Tx[Store]
	licensing.EventAppender
	GetCustomer(ctx context.Context, id string) (*licensing.Customer, error)
	// CustomersByEmail lists the customers whose email or one of whose
	// contacts' emails is email, compared without case.
	CustomersByEmail(ctx context.Context, email string) ([]licensing.Customer, error)

	CreateLink(ctx context.Context, l *Link) error
	GetLinkByHash(ctx context.Context, hash string) (*Link, error)
	// UseLink marks a link used at now: ENotFound when it already was (a
	// concurrent redemption won).
	UseLink(ctx context.Context, id string, now time.Time) error

	CreateSession(ctx context.Context, s *Session) error
	GetSessionByHash(ctx context.Context, hash string) (*Session, error)
	// TouchSession moves a live session's LastSeenAt: ENotFound when it is
	// revoked (a revocation committed meanwhile is never undone).
	TouchSession(ctx context.Context, id string, now time.Time) error
	// RevokeSession ends one session at now (nothing when it has ended).
	RevokeSession(ctx context.Context, id string, now time.Time) error

	// PasswordHash is the PHC string of email's password: ENotFound when
	// the email has none.
	PasswordHash(ctx context.Context, email string) (string, error)
	// SetPassword creates or replaces email's password.
	SetPassword(ctx context.Context, email, hash string, now time.Time) error
	// RevokeSessions ends, at now, every live session of email (of any
	// customer) but keepID's.
	RevokeSessions(ctx context.Context, email, keepID string, now time.Time) error
}

// Mailer sends one message with a text part and an HTML alternative
// (workers.Mailer, the alerts' SMTP).
type Mailer interface {
	SendMail(ctx context.Context, messageID string, to []string, subject, text, html string) error
}
