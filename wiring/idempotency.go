package wiring

import (
	"context"

	"github.com/nzilacode/narcidicontrole/api"
	"github.com/nzilacode/narcidicontrole/keys"
	"github.com/nzilacode/narcidicontrole/storage"
)

// idempotencyStore returns the API's idempotency store over st and the box
// that seals its answers.
func idempotencyStore(st *storage.Store, master []byte) (api.IdempotencyStore, *keys.SecretBox, error) {
	box, err := keys.NewSecretBox(master, keys.BoxIdempotency)
	if err != nil {
		return nil, nil, err
	}
	return idempotencyRecords{st}, box, nil
}

// idempotencyRecords presents the store's idempotency records as the API's:
// storage does not import api (adapters import licensing, never each other),
// so the two record types have the same shape and are converted here.
type idempotencyRecords struct{ st *storage.Store }

func (r idempotencyRecords) ClaimIdempotencyKey(ctx context.Context, rec *api.IdempotencyRecord) (*api.IdempotencyRecord, error) {
	prev, err := r.st.ClaimIdempotencyKey(ctx, (*storage.IdempotencyRecord)(rec))
	return (*api.IdempotencyRecord)(prev), err
}

func (r idempotencyRecords) CompleteIdempotencyKey(ctx context.Context, rec *api.IdempotencyRecord) error {
	return r.st.CompleteIdempotencyKey(ctx, (*storage.IdempotencyRecord)(rec))
}

func (r idempotencyRecords) ReleaseIdempotencyKey(ctx context.Context, owner, key string) error {
	return r.st.ReleaseIdempotencyKey(ctx, owner, key)
}
