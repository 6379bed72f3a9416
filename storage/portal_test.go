package storage_test

import (
	"context"
	"sync"
	"testing"

	"github.com/nzilacode/narcidicontrole/licensing"
	"github.com/nzilacode/narcidicontrole/licensing/portal"
	"github.com/nzilacode/narcidicontrole/storage"
	"github.com/nzilacode/narcidicontrole/storage/storagetest"
)

// TestPortalPasswords: one password per email, any case, replaced in
// place, including by concurrent first settings.
func TestPortalPasswords(t *testing.T) {
	storagetest.ForEach(t, func(t *testing.T, s *storage.Store) {
		ctx := context.Background()
		r := s.Portal()
		if _, err := r.PasswordHash(ctx, "bo@acme.test"); licensing.ErrorCode(err) != licensing.ENotFound {
			t.Fatalf("no password yet: %v", err)
		}
		var wg sync.WaitGroup
		errs := make([]error, 4)
		for i := range errs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs[i] = r.SetPassword(ctx, "Bo@Acme.test", "$argon2id$first", t0)
			}()
		}
		wg.Wait()
		for _, err := range errs {
			must(t, err)
		}
		must(t, r.InTx(ctx, func(tx portal.Store) error { return tx.SetPassword(ctx, "bo@acme.test", "$argon2id$second", t0.Add(1)) }))
		if h, err := r.PasswordHash(ctx, "BO@acme.test"); err != nil || h != "$argon2id$second" {
			t.Fatalf("after the change: %q %v", h, err)
		}
		if _, err := r.PasswordHash(ctx, "it@acme.test"); licensing.ErrorCode(err) != licensing.ENotFound {
			t.Fatalf("another email: %v", err)
		}
	})
}
