package storage

import (
	"context"
	"time"

	"github.com/nzilacode/narcidicontrole/licensing"
)

// Both audiences' one-time links (console_password_tokens, portal_links)
// go through one code path, as their sessions do (sessions.go): the
// columns every link has (linkCols, embedded in each table's row) and
// their read and conditional spend (linkTable). The tables stay apart.

// linkCols are licensing.OneTimeLink's columns.
type linkCols struct {
	ID        string `gorm:"primaryKey"`
	TokenHash string
	ExpiresAt time.Time
	UsedAt    *time.Time
	CreatedAt time.Time
}

func linkColsOf(l *licensing.OneTimeLink) linkCols {
	return linkCols{ID: l.ID, TokenHash: l.TokenHash, ExpiresAt: l.ExpiresAt, UsedAt: l.UsedAt, CreatedAt: l.CreatedAt}
}

func (c *linkCols) link() licensing.OneTimeLink {
	return licensing.OneTimeLink{ID: c.ID, TokenHash: c.TokenHash, ExpiresAt: c.ExpiresAt.UTC(), UsedAt: utcPtr(c.UsedAt), CreatedAt: c.CreatedAt.UTC()}
}

// linkTable is one audience's link table, R its row type.
type linkTable[R any] struct{ s *Store }

func (t linkTable[R]) byHash(ctx context.Context, hash string) (*R, error) {
	return byTokenHash[R](ctx, t.s, hash, "link")
}

// use spends a link: only used_at, only while it is unused, so that of
// concurrent redemptions exactly one writes.
func (t linkTable[R]) use(ctx context.Context, id string, now time.Time) error {
	return affected(t.s.q(ctx).Model(new(R)).Where("id = ? AND used_at IS NULL", id).UpdateColumn("used_at", now),
		errorf(licensing.ENotFound, "link not found or used"))
}

// byTokenHash reads the row of R whose token_hash is hash (a session's or
// a link's): ENotFound naming what.
func byTokenHash[R any](ctx context.Context, s *Store, hash, what string) (*R, error) {
	row := new(R)
	if err := s.q(ctx).Take(row, "token_hash = ?", hash).Error; err != nil {
		return nil, notFound(translate(err), what)
	}
	return row, nil
}
