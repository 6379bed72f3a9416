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

// Session is a signed-in customer's browser: the shared columns of every
// session (licensing.SessionCore runs their life) and whose it is.
type Session struct {
	licensing.BrowserSession
	CustomerID string `json:"customer_id"`
	Email      string `json:"email"` // who signed in
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

	// The session rows the core reads, touches and revokes.
	licensing.SessionRows[*Session]
	CreateSession(ctx context.Context, s *Session) error

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
