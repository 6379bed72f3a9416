package storage

import (
	"context"
	"encoding/json"
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
	TOTPLastStep  int64    `gorm:"column:totp_last_step"`
	RecoveryCodes []string `gorm:"serializer:json"`
	LastSignInAt  *time.Time
	Language      string
	TimeZone      string
	CreatedAt     time.Time
	UpdatedAt     time.Time
}

func (userRow) TableName() string { return "console_users" }

type sessionRow struct {
	Cols   sessionCols `gorm:"embedded"`
	UserID string
	Stage  string
}

func (sessionRow) TableName() string { return "console_sessions" }

type passwordTokenRow struct {
	Cols   linkCols `gorm:"embedded"`
	UserID string
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
		TOTPSecret: u.TOTPSecret, TOTPEnabled: u.TOTPEnabled, TOTPRequired: u.TOTPRequired, TOTPLastStep: u.TOTPLastStep,
		RecoveryCodes: nonNil(u.RecoveryCodes), LastSignInAt: u.LastSignInAt, Language: u.Language, TimeZone: u.TimeZone,
		CreatedAt: u.CreatedAt, UpdatedAt: u.UpdatedAt}
}

func userFromRow(r *userRow) *users.User {
	return &users.User{ID: r.ID, Email: r.Email, Role: licensing.Role(r.Role), Status: users.Status(r.Status), PasswordHash: r.PasswordHash,
		TOTPSecret: r.TOTPSecret, TOTPEnabled: r.TOTPEnabled, TOTPRequired: r.TOTPRequired, TOTPLastStep: r.TOTPLastStep,
		RecoveryCodes: nonNil(r.RecoveryCodes), LastSignInAt: utcPtr(r.LastSignInAt), Language: r.Language, TimeZone: r.TimeZone,
		CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC()}
}

func sessionToRow(s *users.Session) *sessionRow {
	return &sessionRow{Cols: sessionColsOf(&s.BrowserSession), UserID: s.UserID, Stage: string(s.Stage)}
}

func sessionFromRow(r *sessionRow) *users.Session {
	return &users.Session{BrowserSession: r.Cols.session(), UserID: r.UserID, Stage: users.Stage(r.Stage)}
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
	err := r.s.createWithLocale(ctx, userToRow(u))
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

// The user's writes below each set only the columns their use case
// changes, conditionally on the state it read (storage/doc.go): a request
// never writes back a user it read earlier.

// users is the console_users table, in ctx.
func (r *Users) users(ctx context.Context) *gorm.DB { return r.s.q(ctx).Model(&userRow{}) }

func (r *Users) SetUserLocale(ctx context.Context, id string, language, zone *string, now time.Time) error {
	cols := map[string]any{"updated_at": now}
	if language != nil {
		cols["language"] = *language
	}
	if zone != nil {
		cols["time_zone"] = *zone
	}
	return affected(r.users(ctx).Where("id = ?", id).UpdateColumns(cols), errorf(licensing.ENotFound, "user not found"))
}

func (r *Users) SetUserPassword(ctx context.Context, id, hash string, now time.Time) error {
	return affected(r.users(ctx).Where("id = ?", id).UpdateColumns(map[string]any{"password_hash": hash, "updated_at": now}),
		errorf(licensing.ENotFound, "user not found"))
}

func (r *Users) RecordSignIn(ctx context.Context, id string, now time.Time) error {
	return affected(r.users(ctx).Where("id = ? AND status = ?", id, string(users.StatusActive)).
		UpdateColumns(map[string]any{"last_sign_in_at": now, "updated_at": now}),
		errorf(licensing.ENotFound, "active user not found"))
}

func (r *Users) SetPendingTOTP(ctx context.Context, id string, sealed []byte, now time.Time) error {
	return affected(r.users(ctx).Where("id = ? AND totp_enabled = ?", id, false).
		UpdateColumns(map[string]any{"totp_secret": sealed, "updated_at": now}),
		errorf(licensing.EConflict, "two-factor sign-in is already enabled"))
}

func (r *Users) EnableTOTP(ctx context.Context, id string, pending []byte, step int64, recovery []string, now time.Time) error {
	codes, err := json.Marshal(nonNil(recovery))
	if err != nil {
		return errorf(licensing.EInternal, "encode recovery codes: %v", err)
	}
	return affected(r.users(ctx).Where("id = ? AND totp_enabled = ? AND totp_secret = ?", id, false, pending).
		UpdateColumns(map[string]any{"totp_enabled": true, "totp_last_step": step, "recovery_codes": string(codes), "updated_at": now}),
		errorf(licensing.EConflict, "the enrolment changed meanwhile: start again"))
}

func (r *Users) AcceptTOTPStep(ctx context.Context, id string, step int64, now time.Time) error {
	return affected(r.users(ctx).Where("id = ? AND totp_enabled = ? AND totp_last_step < ?", id, true, step).
		UpdateColumns(map[string]any{"totp_last_step": step, "updated_at": now}),
		errorf(licensing.EConflict, "the code was used already"))
}

func (r *Users) SpendRecoveryCodes(ctx context.Context, id string, was, left []string, now time.Time) error {
	// The column holds the JSON text the serializer wrote, so the list
	// read compares equal as text on both databases.
	old, err := json.Marshal(nonNil(was))
	if err != nil {
		return errorf(licensing.EInternal, "encode recovery codes: %v", err)
	}
	next, err := json.Marshal(nonNil(left))
	if err != nil {
		return errorf(licensing.EInternal, "encode recovery codes: %v", err)
	}
	return affected(r.users(ctx).Where("id = ? AND recovery_codes = ?", id, string(old)).
		UpdateColumns(map[string]any{"recovery_codes": string(next), "updated_at": now}),
		errorf(licensing.EConflict, "the recovery codes changed meanwhile"))
}

func (r *Users) ChangeUser(ctx context.Context, was, to *users.User) error {
	return affected(r.users(ctx).Where("id = ? AND role = ? AND status = ? AND totp_required = ?", was.ID, string(was.Role), string(was.Status), was.TOTPRequired).
		UpdateColumns(map[string]any{"role": string(to.Role), "status": string(to.Status), "totp_required": to.TOTPRequired, "updated_at": to.UpdatedAt}),
		errorf(licensing.EConflict, "the user was changed meanwhile: reload and try again"))
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
	row, err := r.sessions().byHash(ctx, hash)
	if err != nil {
		return nil, err
	}
	return sessionFromRow(row), nil
}

// sessions is the console_sessions table.
func (r *Users) sessions() sessionTable[sessionRow] { return sessionTable[sessionRow]{r.s} }

func (r *Users) TouchSession(ctx context.Context, id string, now time.Time) error {
	return r.sessions().touch(ctx, id, now)
}

func (r *Users) PromoteSession(ctx context.Context, id, tokenHash, csrf string, now time.Time) error {
	return affected(r.sessions().rows(ctx).Where("id = ? AND stage = ? AND revoked_at IS NULL", id, string(users.StagePending)).
		UpdateColumns(map[string]any{"stage": string(users.StageFull), "token_hash": tokenHash, "csrf_token": csrf, "last_seen_at": now}),
		errorf(licensing.ENotFound, "pending session not found"))
}

func (r *Users) RevokeSession(ctx context.Context, id string, now time.Time) error {
	return r.sessions().revoke(ctx, id, now)
}

func (r *Users) RevokeSessions(ctx context.Context, userID string, now time.Time) error {
	return r.sessions().revokeWhere(ctx, now, "user_id = ?", userID)
}

func (r *Users) CreatePasswordToken(ctx context.Context, t *users.PasswordToken) error {
	setID(&t.ID)
	return r.s.create(ctx, &passwordTokenRow{Cols: linkColsOf(&t.OneTimeLink), UserID: t.UserID})
}

// links is the console_password_tokens table.
func (r *Users) links() linkTable[passwordTokenRow] { return linkTable[passwordTokenRow]{r.s} }

func (r *Users) GetLinkByHash(ctx context.Context, hash string) (*users.PasswordToken, error) {
	row, err := r.links().byHash(ctx, hash)
	if err != nil {
		return nil, err
	}
	return &users.PasswordToken{OneTimeLink: row.Cols.link(), UserID: row.UserID}, nil
}

func (r *Users) UseLink(ctx context.Context, id string, now time.Time) error {
	return r.links().use(ctx, id, now)
}
