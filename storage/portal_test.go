package storage_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/nzilacode/narcidicontrole/licensing"
	"github.com/nzilacode/narcidicontrole/licensing/portal"
	"github.com/nzilacode/narcidicontrole/storage"
	"github.com/nzilacode/narcidicontrole/storage/storagetest"
)

// TestPortalPasswords: one password per email, any case, replaced in
// place, including by concurrent first settings.
func TestPortalPasswords(t *testing.T) {
	t.Parallel()
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
		// RevokeSessions ends the email's live sessions but one.
		for _, id := range []string{"s-keep", "s-other", "s-else"} {
			email := "Bo@acme.test"
			if id == "s-else" {
				email = "it@acme.test"
			}
			must(t, r.CreateSession(ctx, &portal.Session{CustomerID: "c1", Email: email, BrowserSession: licensing.BrowserSession{ID: id, TokenHash: "h-" + id, CSRFToken: "x",
				CreatedAt: t0, LastSeenAt: t0, ExpiresAt: t0.Add(time.Hour)}}))
		}
		must(t, r.RevokeSessions(ctx, "bo@acme.test", "s-keep", t0.Add(time.Minute)))
		for id, revoked := range map[string]bool{"s-keep": false, "s-other": true, "s-else": false} {
			sess, err := r.GetSessionByHash(ctx, "h-"+id)
			must(t, err)
			if (sess.RevokedAt != nil) != revoked {
				t.Errorf("%s revoked at %v, want revoked %v", id, sess.RevokedAt, revoked)
			}
		}
	})
}
