package portal

import (
	"context"
	"time"

	"github.com/nzilacode/narcidicontrole/licensing"
)

// Link is a one-time sign-in link, stored by the hash of its secret: the
// shared columns of every link (licensing.LinkCore runs their life) and
// what it opens, the portal of one customer for one email.
type Link struct {
	licensing.OneTimeLink
	CustomerID string `json:"customer_id"`
	Email      string `json:"email"`
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
	// The sign-in links the core looks up and spends.
	licensing.LinkRows[*Link]

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
