package storage

import (
	"context"
	"errors"
	"time"

	"gorm.io/gorm"

	"github.com/nzilacode/narcidicontrole/licensing"
)

// IdempotencyRecord is one stored answer to a request sent with an
// Idempotency-Key. The api package owns the idempotency rules and its own
// record type of the same shape; cmd converts between the two, so storage
// does not import api (adapters import licensing, never each other).
// Body is stored as given: the caller seals anything secret in it.
type IdempotencyRecord struct {
	Owner       string // who sent it: the API token id
	Key         string
	RequestHash string
	Status      int // 0 while the first request is still running
	Body        []byte
	CreatedAt   time.Time
}

// idempotencyTakeover is how long a claim may stay unfinished before a retry
// may take it over (its first request presumably died).
const idempotencyTakeover = time.Minute

// idempotencyTTL is how long answers are kept for replay.
const idempotencyTTL = 24 * time.Hour

// ClaimIdempotencyKey records r as in progress and returns nil, or returns
// the existing record of the same owner and key: finished (replay it), or
// still running (Status 0: the caller answers conflict). Records older than
// idempotencyTTL, and claims unfinished for idempotencyTakeover, are
// replaced. Errors: EUnavailable, EInternal.
func (s *Store) ClaimIdempotencyKey(ctx context.Context, r *IdempotencyRecord) (*IdempotencyRecord, error) {
	var existing *IdempotencyRecord
	err := s.InTx(ctx, func(t *Store) error {
		var row idempotencyRow
		err := t.q(ctx).Take(&row, "owner = ? AND idem_key = ?", r.Owner, r.Key).Error
		switch {
		case err == nil:
			stale := r.CreatedAt.Sub(row.CreatedAt) > idempotencyTTL ||
				(row.Status == 0 && r.CreatedAt.Sub(row.CreatedAt) > idempotencyTakeover)
			if !stale {
				existing = &IdempotencyRecord{Owner: row.Owner, Key: row.Key, RequestHash: row.RequestHash, Status: row.Status, Body: row.Body, CreatedAt: utc(row.CreatedAt)}
				return nil
			}
			if err := t.q(ctx).Delete(&idempotencyRow{}, "owner = ? AND idem_key = ?", r.Owner, r.Key).Error; err != nil {
				return translate(err)
			}
		case !errors.Is(err, gorm.ErrRecordNotFound):
			return translate(err)
		}
		return t.create(ctx, &idempotencyRow{Owner: r.Owner, Key: r.Key, RequestHash: r.RequestHash, Body: []byte{}, CreatedAt: r.CreatedAt})
	})
	if licensing.ErrorCode(err) == licensing.EConflict {
		// Another request claimed the key between our read and insert.
		return &IdempotencyRecord{Owner: r.Owner, Key: r.Key, RequestHash: r.RequestHash}, nil
	}
	return existing, err
}

// CompleteIdempotencyKey stores the answer (Status, Body) of a claimed
// record, if the claim is still the caller's: unfinished and made at
// r.CreatedAt. A claim taken over by a retry (the first request ran past
// idempotencyTakeover) belongs to the retry, whose answer is the one kept;
// the late one is dropped without error.
func (s *Store) CompleteIdempotencyKey(ctx context.Context, r *IdempotencyRecord) error {
	return translate(s.q(ctx).Model(&idempotencyRow{}).Where("owner = ? AND idem_key = ? AND status = 0 AND created_at = ?", r.Owner, r.Key, r.CreatedAt).
		Updates(map[string]any{"status": r.Status, "body": r.Body}).Error)
}

// ReleaseIdempotencyKey forgets a record, claimed or finished.
func (s *Store) ReleaseIdempotencyKey(ctx context.Context, owner, key string) error {
	return translate(s.q(ctx).Delete(&idempotencyRow{}, "owner = ? AND idem_key = ?", owner, key).Error)
}
