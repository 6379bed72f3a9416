package storage

import (
	"context"
	"time"

	"github.com/nzilacode/narcidicontrole/licensing"
	"github.com/nzilacode/narcidicontrole/licensing/users"
	"gorm.io/gorm"
)

// Users implements users.Store (console users, their sessions and
// set-password links) on the same database as Store.
type Users struct {
	s *Store
}

var _ users.Store = (*Users)(nil)

// Users returns the console user repository of the store.
func (s *Store) Users() *Users { return &Users{s: s} }

type userRow struct {
	ID            string `gorm:"primaryKey"`
	Email         string
	Role          string
	Status        string
	PasswordHash  string
	TOTPSecret    []byte   `gorm:"column:totp_secret"`
	TOTPEnabled   bool     `gorm:"column:totp_enabled"`
	TOTPRequired  bool     `gorm:"column:totp_required"`
	RecoveryCodes []string `gorm:"serializer:json"`
	LastSignInAt  *time.Time
	CreatedAt     time.Time
	UpdatedAt     time.Time
}

func (userRow) TableName() string { return "console_users" }

type sessionRow struct {
	ID         string `gorm:"primaryKey"`
	UserID     string
	TokenHash  string
	CSRFToken  string `gorm:"column:csrf_token"`
	Stage      string
	IP         string `gorm:"column:ip"`
	UserAgent  string
	CreatedAt  time.Time
	LastSeenAt time.Time
	ExpiresAt  time.Time
	RevokedAt  *time.Time
}

func (sessionRow) TableName() string { return "console_sessions" }

type passwordTokenRow struct {
	ID        string `gorm:"primaryKey"`
	UserID    string
	TokenHash string
	ExpiresAt time.Time
	UsedAt    *time.Time
	CreatedAt time.Time
}

func (passwordTokenRow) TableName() string { return "console_password_tokens" }

// migrateConsoleUsers creates the console user tables (0009).
func migrateConsoleUsers(tx *gorm.DB) error {
	type consoleUser struct {
		ID            string     `gorm:"primaryKey;size:36"`
		Email         string     `gorm:"size:254;not null;uniqueIndex"`
		Role          string     `gorm:"size:16;not null"`
		Status        string     `gorm:"size:16;not null"`
		PasswordHash  string     `gorm:"size:255;not null"`
		TOTPSecret    []byte     `gorm:"column:totp_secret"`
		TOTPEnabled   bool       `gorm:"column:totp_enabled;not null"`
		TOTPRequired  bool       `gorm:"column:totp_required;not null"`
		RecoveryCodes string     `gorm:"type:text;not null;default:'[]'"`
		LastSignInAt  *time.Time ``
		CreatedAt     time.Time  `gorm:"not null"`
		UpdatedAt     time.Time  `gorm:"not null"`
	}
	type consoleSession struct {
		ID         string     `gorm:"primaryKey;size:36"`
		UserID     string     `gorm:"size:36;not null;index"`
		TokenHash  string     `gorm:"size:64;not null;uniqueIndex"`
		CSRFToken  string     `gorm:"column:csrf_token;size:64;not null"`
		Stage      string     `gorm:"size:16;not null"`
		IP         string     `gorm:"column:ip;size:64;not null"`
		UserAgent  string     `gorm:"size:255;not null"`
		CreatedAt  time.Time  `gorm:"not null"`
		LastSeenAt time.Time  `gorm:"not null"`
		ExpiresAt  time.Time  `gorm:"not null"`
		RevokedAt  *time.Time ``
	}
	type consolePasswordToken struct {
		ID        string     `gorm:"primaryKey;size:36"`
		UserID    string     `gorm:"size:36;not null;index"`
		TokenHash string     `gorm:"size:64;not null;uniqueIndex"`
		ExpiresAt time.Time  `gorm:"not null"`
		UsedAt    *time.Time ``
		CreatedAt time.Time  `gorm:"not null"`
	}
	return tx.Migrator().CreateTable(&consoleUser{}, &consoleSession{}, &consolePasswordToken{})
}

func userToRow(u *users.User) *userRow {
	return &userRow{ID: u.ID, Email: u.Email, Role: string(u.Role), Status: string(u.Status), PasswordHash: u.PasswordHash,
		TOTPSecret: u.TOTPSecret, TOTPEnabled: u.TOTPEnabled, TOTPRequired: u.TOTPRequired, RecoveryCodes: nonNil(u.RecoveryCodes),
		LastSignInAt: u.LastSignInAt, CreatedAt: u.CreatedAt, UpdatedAt: u.UpdatedAt}
}

func userFromRow(r *userRow) *users.User {
	return &users.User{ID: r.ID, Email: r.Email, Role: licensing.Role(r.Role), Status: users.Status(r.Status), PasswordHash: r.PasswordHash,
		TOTPSecret: r.TOTPSecret, TOTPEnabled: r.TOTPEnabled, TOTPRequired: r.TOTPRequired, RecoveryCodes: nonNil(r.RecoveryCodes),
		LastSignInAt: utcPtr(r.LastSignInAt), CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC()}
}

func sessionToRow(s *users.Session) *sessionRow {
	return &sessionRow{ID: s.ID, UserID: s.UserID, TokenHash: s.TokenHash, CSRFToken: s.CSRFToken, Stage: string(s.Stage), IP: s.IP,
		UserAgent: s.UserAgent, CreatedAt: s.CreatedAt, LastSeenAt: s.LastSeenAt, ExpiresAt: s.ExpiresAt, RevokedAt: s.RevokedAt}
}

func sessionFromRow(r *sessionRow) *users.Session {
	return &users.Session{ID: r.ID, UserID: r.UserID, TokenHash: r.TokenHash, CSRFToken: r.CSRFToken, Stage: users.Stage(r.Stage), IP: r.IP,
		UserAgent: r.UserAgent, CreatedAt: r.CreatedAt.UTC(), LastSeenAt: r.LastSeenAt.UTC(), ExpiresAt: r.ExpiresAt.UTC(), RevokedAt: utcPtr(r.RevokedAt)}
}

func passwordTokenFromRow(r *passwordTokenRow) *users.PasswordToken {
	return &users.PasswordToken{ID: r.ID, UserID: r.UserID, TokenHash: r.TokenHash, ExpiresAt: r.ExpiresAt.UTC(), UsedAt: utcPtr(r.UsedAt), CreatedAt: r.CreatedAt.UTC()}
}

// InTx runs fn in one transaction.
func (r *Users) InTx(ctx context.Context, fn func(tx users.Store) error) error {
	return r.s.InTx(ctx, func(tx *Store) error { return fn(&Users{s: tx}) })
}

func (r *Users) AppendEvent(ctx context.Context, e *licensing.Event) error {
	return r.s.AppendEvent(ctx, e)
}

func (r *Users) CreateUser(ctx context.Context, u *users.User) error {
	setID(&u.ID)
	err := r.s.create(ctx, userToRow(u))
	if licensing.ErrorCode(err) == licensing.EConflict {
		return errorf(licensing.EConflict, "a console user with email %s already exists", u.Email)
	}
	return err
}

func (r *Users) GetUser(ctx context.Context, id string) (*users.User, error) {
	return getRow[userRow](r.s, ctx, id, "user", userFromRow)
}

func (r *Users) GetUserByEmail(ctx context.Context, email string) (*users.User, error) {
	var row userRow
	if err := r.s.q(ctx).Take(&row, "email = ?", email).Error; err != nil {
		return nil, notFound(translate(err), "user")
	}
	return userFromRow(&row), nil
}

func (r *Users) UpdateUser(ctx context.Context, u *users.User) error {
	return notFound(r.s.save(ctx, userToRow(u), "role", "status", "password_hash", "totp_secret", "totp_enabled", "totp_required",
		"recovery_codes", "last_sign_in_at", "updated_at"), "user")
}

func (r *Users) ListUsers(ctx context.Context, page licensing.Page) ([]users.User, error) {
	return listRows(r.s.q(ctx).Model(&userRow{}), page, userFromRow)
}

func (r *Users) CountUsers(ctx context.Context) (int, error) {
	var n int64
	if err := r.s.q(ctx).Model(&userRow{}).Count(&n).Error; err != nil {
		return 0, translate(err)
	}
	return int(n), nil
}

func (r *Users) CreateSession(ctx context.Context, s *users.Session) error {
	setID(&s.ID)
	return r.s.create(ctx, sessionToRow(s))
}

func (r *Users) GetSessionByHash(ctx context.Context, hash string) (*users.Session, error) {
	var row sessionRow
	if err := r.s.q(ctx).Take(&row, "token_hash = ?", hash).Error; err != nil {
		return nil, notFound(translate(err), "session")
	}
	return sessionFromRow(&row), nil
}

func (r *Users) UpdateSession(ctx context.Context, s *users.Session) error {
	return notFound(r.s.save(ctx, sessionToRow(s), "stage", "csrf_token", "last_seen_at", "revoked_at"), "session")
}

func (r *Users) RevokeSessions(ctx context.Context, userID string, now time.Time) error {
	return translate(r.s.q(ctx).Model(&sessionRow{}).Where("user_id = ? AND revoked_at IS NULL", userID).Update("revoked_at", now).Error)
}

func (r *Users) CreatePasswordToken(ctx context.Context, t *users.PasswordToken) error {
	setID(&t.ID)
	return r.s.create(ctx, &passwordTokenRow{ID: t.ID, UserID: t.UserID, TokenHash: t.TokenHash, ExpiresAt: t.ExpiresAt, UsedAt: t.UsedAt, CreatedAt: t.CreatedAt})
}

func (r *Users) GetPasswordTokenByHash(ctx context.Context, hash string) (*users.PasswordToken, error) {
	var row passwordTokenRow
	if err := r.s.q(ctx).Take(&row, "token_hash = ?", hash).Error; err != nil {
		return nil, notFound(translate(err), "link")
	}
	return passwordTokenFromRow(&row), nil
}

func (r *Users) UsePasswordToken(ctx context.Context, id string, now time.Time) error {
	return affected(r.s.q(ctx).Model(&passwordTokenRow{}).Where("id = ? AND used_at IS NULL", id).Update("used_at", now),
		errorf(licensing.ENotFound, "link not found or used"))
}
