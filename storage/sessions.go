package storage

import (
	"context"
	"time"

	"gorm.io/gorm"

	"github.com/nzilacode/narcidicontrole/licensing"
)

// Both audiences' sessions (console_sessions, portal_sessions) go through
// one code path: the columns every session has (sessionCols, embedded in
// each table's row) and their reads and conditional writes
// (sessionTable). The tables stay apart: merging them would need a
// migration that moves live sessions, for no query that reads both.

// sessionCols are licensing.BrowserSession's columns.
type sessionCols struct {
	ID         string `gorm:"primaryKey"`
	TokenHash  string
	CSRFToken  string `gorm:"column:csrf_token"`
	IP         string `gorm:"column:ip"`
	UserAgent  string
	CreatedAt  time.Time
	LastSeenAt time.Time
	ExpiresAt  time.Time
	RevokedAt  *time.Time
}

func sessionColsOf(b *licensing.BrowserSession) sessionCols {
	return sessionCols{ID: b.ID, TokenHash: b.TokenHash, CSRFToken: b.CSRFToken, IP: b.IP, UserAgent: b.UserAgent,
		CreatedAt: b.CreatedAt, LastSeenAt: b.LastSeenAt, ExpiresAt: b.ExpiresAt, RevokedAt: b.RevokedAt}
}

func (c *sessionCols) session() licensing.BrowserSession {
	return licensing.BrowserSession{ID: c.ID, TokenHash: c.TokenHash, CSRFToken: c.CSRFToken, IP: c.IP, UserAgent: c.UserAgent,
		CreatedAt: c.CreatedAt.UTC(), LastSeenAt: c.LastSeenAt.UTC(), ExpiresAt: c.ExpiresAt.UTC(), RevokedAt: utcPtr(c.RevokedAt)}
}

// sessionTable is one audience's session table, R its row type.
type sessionTable[R any] struct{ s *Store }

// rows is the table, in ctx.
func (t sessionTable[R]) rows(ctx context.Context) *gorm.DB { return t.s.q(ctx).Model(new(R)) }

func (t sessionTable[R]) byHash(ctx context.Context, hash string) (*R, error) {
	return byTokenHash[R](ctx, t.s, hash, "session")
}

// touch and revoke write one column, conditionally: never the session row
// read earlier (storage/doc.go), and never over a revocation.
func (t sessionTable[R]) touch(ctx context.Context, id string, now time.Time) error {
	return affected(t.rows(ctx).Where("id = ? AND revoked_at IS NULL", id).UpdateColumn("last_seen_at", now),
		errorf(licensing.ENotFound, "live session not found"))
}

func (t sessionTable[R]) revoke(ctx context.Context, id string, now time.Time) error {
	return translate(t.rows(ctx).Where("id = ? AND revoked_at IS NULL", id).UpdateColumn("revoked_at", now).Error)
}

// revokeWhere revokes every live session that query (with args) selects.
func (t sessionTable[R]) revokeWhere(ctx context.Context, now time.Time, query string, args ...any) error {
	return translate(t.rows(ctx).Where(query+" AND revoked_at IS NULL", args...).UpdateColumn("revoked_at", now).Error)
}
