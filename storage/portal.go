package storage

import (
	"context"
	"strings"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/nzilacode/narcidicontrole/licensing"
	"github.com/nzilacode/narcidicontrole/licensing/portal"
)

// Portal implements portal.Store (customers' sign-in links and portal
// sessions) on the same database as Store.
//
// Alike Users in users.go (a link table, a session table, thin methods
// over linkTable and sessionTable): kept apart because each audience's
// rows, columns and store interface are their own; the shared mechanics
// are the generic tables.
type Portal struct {
	s *Store
}

var _ portal.Store = (*Portal)(nil)

// Portal returns the customer portal repository of the store.
func (s *Store) Portal() *Portal { return &Portal{s: s} }

type portalLinkRow struct {
	Cols       linkCols `gorm:"embedded"`
	CustomerID string
	Email      string
}

func (portalLinkRow) TableName() string { return "portal_links" }

type portalSessionRow struct {
	Cols       sessionCols `gorm:"embedded"`
	CustomerID string
	Email      string
}

func (portalSessionRow) TableName() string { return "portal_sessions" }

// migratePortal creates the portal's sign-in tables (0011).
func migratePortal(tx *gorm.DB) error {
	type portalLink struct {
		ID         string     `gorm:"primaryKey;size:36"`
		CustomerID string     `gorm:"size:36;not null;index"`
		Email      string     `gorm:"size:254;not null"`
		TokenHash  string     `gorm:"size:64;not null;uniqueIndex"`
		ExpiresAt  time.Time  `gorm:"not null"`
		UsedAt     *time.Time ``
		CreatedAt  time.Time  `gorm:"not null"`
	}
	type portalSession struct {
		ID         string     `gorm:"primaryKey;size:36"`
		CustomerID string     `gorm:"size:36;not null;index"`
		Email      string     `gorm:"size:254;not null"`
		TokenHash  string     `gorm:"size:64;not null;uniqueIndex"`
		CSRFToken  string     `gorm:"column:csrf_token;size:64;not null"`
		IP         string     `gorm:"column:ip;size:64;not null"`
		UserAgent  string     `gorm:"size:255;not null"`
		CreatedAt  time.Time  `gorm:"not null"`
		LastSeenAt time.Time  `gorm:"not null"`
		ExpiresAt  time.Time  `gorm:"not null"`
		RevokedAt  *time.Time ``
	}
	return tx.Migrator().CreateTable(&portalLink{}, &portalSession{})
}

type portalPasswordRow struct {
	Email        string `gorm:"primaryKey"`
	PasswordHash string
	CreatedAt    time.Time
	UpdatedAt    time.Time
}

func (portalPasswordRow) TableName() string { return "portal_passwords" }

// migratePortalPasswords creates the portal's passwords, one per email
// address (0013): the customers it opens are found at sign-in.
func migratePortalPasswords(tx *gorm.DB) error {
	type portalPassword struct {
		Email        string    `gorm:"primaryKey;size:254"`
		PasswordHash string    `gorm:"size:255;not null"`
		CreatedAt    time.Time `gorm:"not null"`
		UpdatedAt    time.Time `gorm:"not null"`
	}
	return tx.Migrator().CreateTable(&portalPassword{})
}

// InTx runs fn in one transaction: Store's, so that the portal's
// transactions carry all of the store's state (as Users' do).
func (r *Portal) InTx(ctx context.Context, fn func(tx portal.Store) error) error {
	return r.s.InTx(ctx, func(tx *Store) error { return fn(&Portal{s: tx}) })
}

func (r *Portal) AppendEvent(ctx context.Context, e *licensing.Event) error {
	return r.s.AppendEvent(ctx, e)
}

func (r *Portal) GetCustomer(ctx context.Context, id string) (*licensing.Customer, error) {
	return r.s.GetCustomer(ctx, id)
}

// CustomersByEmail narrows with SQL (the email column, or the contacts'
// JSON text holding the address) and lets the caller compare exactly:
// LIKE's wildcards in an address only widen the candidates.
func (r *Portal) CustomersByEmail(ctx context.Context, email string) ([]licensing.Customer, error) {
	email = strings.ToLower(email)
	q := r.s.q(ctx).Where("LOWER(email) = ? OR LOWER(contacts) LIKE ?", email, "%"+email+"%").Limit(licensing.MaxPageLimit)
	return findRows(q.Order("id"), customerFromRow)
}

func (r *Portal) CreateLink(ctx context.Context, l *portal.Link) error {
	setID(&l.ID)
	return r.s.create(ctx, &portalLinkRow{Cols: linkColsOf(&l.OneTimeLink), CustomerID: l.CustomerID, Email: l.Email})
}

// links is the portal_links table.
func (r *Portal) links() linkTable[portalLinkRow] { return linkTable[portalLinkRow]{r.s} }

func (r *Portal) GetLinkByHash(ctx context.Context, hash string) (*portal.Link, error) {
	row, err := r.links().byHash(ctx, hash)
	if err != nil {
		return nil, err
	}
	return &portal.Link{OneTimeLink: row.Cols.link(), CustomerID: row.CustomerID, Email: row.Email}, nil
}

func (r *Portal) UseLink(ctx context.Context, id string, now time.Time) error {
	return r.links().use(ctx, id, now)
}

func (r *Portal) CreateSession(ctx context.Context, s *portal.Session) error {
	setID(&s.ID)
	return r.s.create(ctx, portalSessionToRow(s))
}

func (r *Portal) GetSessionByHash(ctx context.Context, hash string) (*portal.Session, error) {
	row, err := r.sessions().byHash(ctx, hash)
	if err != nil {
		return nil, err
	}
	return &portal.Session{BrowserSession: row.Cols.session(), CustomerID: row.CustomerID, Email: row.Email}, nil
}

// sessions is the portal_sessions table.
func (r *Portal) sessions() sessionTable[portalSessionRow] {
	return sessionTable[portalSessionRow]{r.s}
}

func (r *Portal) TouchSession(ctx context.Context, id string, now time.Time) error {
	return r.sessions().touch(ctx, id, now)
}

func (r *Portal) RevokeSession(ctx context.Context, id string, now time.Time) error {
	return r.sessions().revoke(ctx, id, now)
}

func portalSessionToRow(s *portal.Session) *portalSessionRow {
	return &portalSessionRow{Cols: sessionColsOf(&s.BrowserSession), CustomerID: s.CustomerID, Email: s.Email}
}

// PasswordHash reads email's password (emails are stored lower-case).
func (r *Portal) PasswordHash(ctx context.Context, email string) (string, error) {
	var row portalPasswordRow
	if err := r.s.q(ctx).Take(&row, "email = ?", strings.ToLower(email)).Error; err != nil {
		return "", notFound(translate(err), "password")
	}
	return row.PasswordHash, nil
}

// SetPassword upserts: two concurrent first settings end with one row (the
// last one's hash), never a conflict error.
func (r *Portal) SetPassword(ctx context.Context, email, hash string, now time.Time) error {
	row := portalPasswordRow{Email: strings.ToLower(email), PasswordHash: hash, CreatedAt: now, UpdatedAt: now}
	return translate(r.s.q(ctx).Clauses(clause.OnConflict{Columns: []clause.Column{{Name: "email"}},
		DoUpdates: clause.AssignmentColumns([]string{"password_hash", "updated_at"})}).Create(&row).Error)
}

func (r *Portal) RevokeSessions(ctx context.Context, email, keepID string, now time.Time) error {
	return r.sessions().revokeWhere(ctx, now, "LOWER(email) = ? AND id <> ?", strings.ToLower(email), keepID)
}
