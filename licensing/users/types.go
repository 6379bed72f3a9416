package users

import (
	"context"
	"time"

	"github.com/nzilacode/narcidicontrole/licensing"
)

// Status says whether a user may sign in.
type Status string

const (
	StatusActive   Status = "active"
	StatusDisabled Status = "disabled"
)

// User is a console user. Secrets never leave the service: PasswordHash is
// an argon2id PHC string, TOTPSecret is sealed with the service's SecretBox,
// RecoveryCodes are SHA-256 hashes of the unused codes.
type User struct {
	ID           string         `json:"id"`
	Email        string         `json:"email"` // lower-cased, unique
	Role         licensing.Role `json:"role"`
	Status       Status         `json:"status"`
	PasswordHash string         `json:"-"`
	// TOTPSecret is the sealed secret: pending until TOTPEnabled.
	TOTPSecret  []byte `json:"-"`
	TOTPEnabled bool   `json:"totp_enabled"`
	// TOTPRequired makes the second factor mandatory for this user (set by
	// an admin): a user without it is sent to enrolment after the password.
	TOTPRequired bool `json:"totp_required"`
	// TOTPLastStep is the RFC 6238 time step of the last code accepted:
	// a code of that step or an earlier one is refused.
	TOTPLastStep  int64      `json:"-"`
	RecoveryCodes []string   `json:"-"`
	LastSignInAt  *time.Time `json:"last_sign_in_at,omitempty"`
	// Language ("" for none: the browser's) and TimeZone (an IANA name,
	// "" for UTC) are the user's reading preferences (licensing/i18n).
	Language  string    `json:"language,omitempty"`
	TimeZone  string    `json:"time_zone,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Stage is how far a session has got through sign-in.
// (User's tail and this string enum are alike licensing's types by shape
// only: JSON-tagged fields, then named constants.)
type Stage string

const (
	// StagePending: the password was right, the TOTP code is still owed
	// (or enrolment, when it is mandatory and not done).
	StagePending Stage = "pending"
	StageFull    Stage = "full"
)

// Session is a signed-in console browser: the shared columns of every
// session (licensing.SessionCore runs their life) and whose it is.
type Session struct {
	licensing.BrowserSession
	UserID string `json:"user_id"`
	Stage  Stage  `json:"stage"`
}

// PasswordToken is a one-time set-password link, stored by the hash of its
// secret: the shared columns of every link (licensing.LinkCore runs their
// life) and whose password it sets.
type PasswordToken struct {
	licensing.OneTimeLink
	UserID string `json:"user_id"`
}

// Store is the data of console users. Every method returns ENotFound when
// a row is missing, EConflict when a unique rule is broken (an email taken),
// EUnavailable when the database cannot be reached, EInternal otherwise.
// Safe for concurrent use.
type Store interface {
	licensing.Tx[Store]
	licensing.EventAppender
	CreateUser(ctx context.Context, u *User) error
	GetUser(ctx context.Context, id string) (*User, error)
	GetUserByEmail(ctx context.Context, email string) (*User, error)
	// The writes below set only the columns their use case changes, each
	// conditionally on the state it depends on, so that a write committed
	// by another request in between is never undone.

	// SetUserPassword sets the password hash. ENotFound.
	SetUserPassword(ctx context.Context, id, hash string, now time.Time) error
	// RecordSignIn sets LastSignInAt of an active user: ENotFound when the
	// user is not (or no longer) active.
	RecordSignIn(ctx context.Context, id string, now time.Time) error
	// SetPendingTOTP stores a pending sealed TOTP secret: EConflict when
	// TOTP is enabled.
	SetPendingTOTP(ctx context.Context, id string, sealed []byte, now time.Time) error
	// EnableTOTP turns TOTP on with the recovery codes' hashes, spending
	// step, if the pending secret is still pending: EConflict otherwise.
	EnableTOTP(ctx context.Context, id string, pending []byte, step int64, recovery []string, now time.Time) error
	// AcceptTOTPStep spends a TOTP time step: EConflict when a step as late
	// or later was accepted already (only one of concurrent callers wins).
	AcceptTOTPStep(ctx context.Context, id string, step int64, now time.Time) error
	// SpendRecoveryCodes replaces the recovery code hashes was (as read)
	// with left: EConflict when they are no longer was.
	SpendRecoveryCodes(ctx context.Context, id string, was, left []string, now time.Time) error
	// ChangeUser sets Role, Status, TOTPRequired and UpdatedAt of to, if
	// the user's role, status and TOTPRequired are still was's: EConflict
	// otherwise.
	ChangeUser(ctx context.Context, was, to *User) error
	// SetUserLocale sets Language and TimeZone (and UpdatedAt): only
	// those columns, and of the two only those not nil. ENotFound.
	SetUserLocale(ctx context.Context, id string, language, zone *string, now time.Time) error
	ListUsers(ctx context.Context, page licensing.Page) ([]User, error)
	CountUsers(ctx context.Context) (int, error)

	// The session rows the core reads, touches and revokes.
	licensing.SessionRows[*Session]
	CreateSession(ctx context.Context, s *Session) error
	// PromoteSession makes a live pending session full with a new secret
	// hash and CSRF token: ENotFound when it is not live and pending.
	PromoteSession(ctx context.Context, id, tokenHash, csrf string, now time.Time) error
	// RevokeSessions revokes every live session of a user at now.
	RevokeSessions(ctx context.Context, userID string, now time.Time) error

	CreatePasswordToken(ctx context.Context, t *PasswordToken) error
	// The set-password links the core looks up and spends.
	licensing.LinkRows[*PasswordToken]
}
