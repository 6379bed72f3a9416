package storage

import (
	"context"

	"github.com/nzilacode/narcidicontrole/licensing"
)

// NewLastSeenBatcherUnbounded is NewLastSeenBatcher without the bound on
// MaxDelay, so tests can tell a write on size or on Close from one on delay.
var NewLastSeenBatcherUnbounded = newLastSeenBatcher

// ReadLeaseWithoutPolicy is ReadLease without the policy (the read a
// PolicyCache makes), for its benchmark.
func (s *Store) ReadLeaseWithoutPolicy(ctx context.Context, keyHash, fingerprint string) (*licensing.LeaseView, error) {
	return s.readLease(ctx, keyHash, fingerprint, false)
}

// ExecForTest runs a statement on the store's database (tests that set up
// rows as an older version wrote them).
func (s *Store) ExecForTest(query string, args ...any) error {
	return s.db.Exec(query, args...).Error
}

// MigrateTelemetryOneRowPerUse is migration 0014, run again by its test
// on rows written the old way.
func (s *Store) MigrateTelemetryOneRowPerUse() error {
	return migrateTelemetryOneRowPerUse(s.db)
}
