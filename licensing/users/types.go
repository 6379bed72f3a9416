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
	TOTPRequired  bool       `json:"totp_required"`
	RecoveryCodes []string   `json:"-"`
	LastSignInAt  *time.Time `json:"last_sign_in_at,omitempty"`
	CreatedAt     time.Time  `json:"created_at"`
	UpdatedAt     time.Time  `json:"updated_at"`
}

// Stage is how far a session has got through sign-in.
type Stage string

const (
	// StagePending: the password was right, the TOTP code is still owed
	// (or enrolment, when it is mandatory and not done).
	StagePending Stage = "pending"
	StageFull    Stage = "full"
)

// Session is a signed-in browser. The cookie holds the secret; the row
// holds its SHA-256.
type Session struct {
	ID         string     `json:"id"`
	UserID     string     `json:"user_id"`
	TokenHash  string     `json:"-"`
	CSRFToken  string     `json:"-"`
	Stage      Stage      `json:"stage"`
	IP         string     `json:"ip,omitempty"`
	UserAgent  string     `json:"user_agent,omitempty"`
	CreatedAt  time.Time  `json:"created_at"`
	LastSeenAt time.Time  `json:"last_seen_at"`
	ExpiresAt  time.Time  `json:"expires_at"` // the absolute timeout
	RevokedAt  *time.Time `json:"revoked_at,omitempty"`
}

// PasswordToken is a one-time set-password link, stored by the hash of its
// secret.
type PasswordToken struct {
	ID        string     `json:"id"`
	UserID    string     `json:"user_id"`
	TokenHash string     `json:"-"`
	ExpiresAt time.Time  `json:"expires_at"`
	UsedAt    *time.Time `json:"used_at,omitempty"`
	CreatedAt time.Time  `json:"created_at"`
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
	// UpdateUser saves every mutable field (not ID, Email, CreatedAt).
	UpdateUser(ctx context.Context, u *User) error
	ListUsers(ctx context.Context, page licensing.Page) ([]User, error)
	CountUsers(ctx context.Context) (int, error)

	CreateSession(ctx context.Context, s *Session) error
	GetSessionByHash(ctx context.Context, hash string) (*Session, error)
	// UpdateSession saves Stage, CSRFToken, LastSeenAt and RevokedAt.
	UpdateSession(ctx context.Context, s *Session) error
	// RevokeSessions revokes every live session of a user at now.
	RevokeSessions(ctx context.Context, userID string, now time.Time) error

	CreatePasswordToken(ctx context.Context, t *PasswordToken) error
	// GetPasswordTokenByHash finds a token by the hash of its secret.
	GetPasswordTokenByHash(ctx context.Context, hash string) (*PasswordToken, error)
	// UsePasswordToken marks it used at now: ENotFound when it already was
	// (a concurrent redemption won).
	UsePasswordToken(ctx context.Context, id string, now time.Time) error
}
