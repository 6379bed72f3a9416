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
