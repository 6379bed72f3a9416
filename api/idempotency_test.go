package api

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"testing"
	"time"

	"github.com/nzilacode/narcidicontrole/keys"
	"github.com/nzilacode/narcidicontrole/keys/keystest"
	"github.com/nzilacode/narcidicontrole/licensing"
	"github.com/nzilacode/narcidicontrole/storage"
	"github.com/nzilacode/narcidicontrole/storage/storagetest"
)

// idempotencyOver is the API's idempotency store over the storage's, as cmd
// converts them.
type idempotencyOver struct{ st *storage.Store }

func (r idempotencyOver) ClaimIdempotencyKey(ctx context.Context, rec *IdempotencyRecord) (*IdempotencyRecord, error) {
	prev, err := r.st.ClaimIdempotencyKey(ctx, (*storage.IdempotencyRecord)(rec))
	return (*IdempotencyRecord)(prev), err
}

func (r idempotencyOver) CompleteIdempotencyKey(ctx context.Context, rec *IdempotencyRecord) error {
	return r.st.CompleteIdempotencyKey(ctx, (*storage.IdempotencyRecord)(rec))
}

func (r idempotencyOver) ReleaseIdempotencyKey(ctx context.Context, owner, key string) error {
	return r.st.ReleaseIdempotencyKey(ctx, owner, key)
}

// TestReplayStatusIsSealed: the status code of a stored answer is sealed
// with its body, so someone with write access to the database cannot turn
// a stored refusal into a success: the altered record is not replayed.
func TestReplayStatusIsSealed(t *testing.T) {
	storagetest.ForEach(t, func(t *testing.T, st *storage.Store) {
		signer, _ := keystest.Keyring(t, time.Now)
		svc := licensing.NewServices(storage.Stores(st), licensing.Deps{Signer: signer, Issuer: "https://narcidi.test"})
		secret := licensing.NewAPITokenSecret()
		if _, err := svc.Access.BootstrapAdminToken(context.Background(), secret); err != nil {
			t.Fatal(err)
		}
		box, err := keys.NewSecretBox(make([]byte, 32), keys.BoxIdempotency)
		if err != nil {
			t.Fatal(err)
		}
		a := &testAPI{t: t, svc: svc, admin: secret, srv: New(Config{Services: svc, Health: st, Idempotency: idempotencyOver{st}, IdempotencyBox: box,
			Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})}
		bad := map[string]any{"name": "", "email": "a@b.test"}
		res, _ := a.do("POST", "/v1/customers", bad, "Idempotency-Key", "k1")
		if res.StatusCode != http.StatusUnprocessableEntity {
			t.Fatalf("first: %d", res.StatusCode)
		}
		res, _ = a.do("POST", "/v1/customers", bad, "Idempotency-Key", "k1")
		if res.StatusCode != http.StatusUnprocessableEntity || res.Header.Get("Idempotent-Replayed") != "true" {
			t.Fatalf("replay: %d %v", res.StatusCode, res.Header)
		}
		if err := st.DB().Exec("UPDATE idempotency_keys SET status = 201").Error; err != nil {
			t.Fatal(err)
		}
		res, raw := a.do("POST", "/v1/customers", bad, "Idempotency-Key", "k1")
		if res.StatusCode < 500 {
			t.Errorf("a stored 422 altered to 201 was answered %d: %s", res.StatusCode, raw)
		}
	})
}
