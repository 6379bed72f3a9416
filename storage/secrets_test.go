package storage_test

import (
	"context"
	"testing"

	"github.com/nzilacode/narcidicontrole/licensing"
	"github.com/nzilacode/narcidicontrole/storage"
	"github.com/nzilacode/narcidicontrole/storage/storagetest"
)

// The rehash is conditional: it rewrites a row that still holds the old
// hash, and a second call (a concurrent first use that lost) changes
// nothing and is no error.
func TestRehashIsConditional(t *testing.T) {
	t.Parallel()
	storagetest.ForEach(t, func(t *testing.T, s *storage.Store) {
		ctx := context.Background()
		_, _, _, l := seed(t, s)
		const keyed = "1111111111111111111111111111111111111111111111111111111111111111"
		for range 2 {
			must(t, s.RehashLicenseKey(ctx, l.KeyHash, keyed))
		}
		got, err := s.GetLicenseByKeyHash(ctx, keyed, false)
		must(t, err)
		if got.ID != l.ID {
			t.Errorf("rehashed %s, want %s", got.ID, l.ID)
		}
		_, err = s.GetLicenseByKeyHash(ctx, l.KeyHash, false)
		wantCode(t, err, licensing.ENotFound)

		tok := &licensing.APIToken{Name: "ci", Role: licensing.RoleAdmin, Hash: licensing.SecretHash("tok"), CreatedAt: t0}
		must(t, s.CreateAPIToken(ctx, tok))
		for range 2 {
			must(t, s.RehashAPIToken(ctx, tok.Hash, keyed))
		}
		if got, err := s.GetAPITokenByHash(ctx, keyed); err != nil || got.ID != tok.ID {
			t.Errorf("token after rehash: %+v %v", got, err)
		}
	})
}

// ActiveBootstrapTokens lists the marked tokens not revoked; the migration
// marks the bootstrap tokens made before the mark existed.
func TestBootstrapTokens(t *testing.T) {
	t.Parallel()
	storagetest.ForEach(t, func(t *testing.T, s *storage.Store) {
		ctx := context.Background()
		mk := func(name, hash string, bootstrap bool) *licensing.APIToken {
			tok := &licensing.APIToken{Name: name, Role: licensing.RoleAdmin, Hash: hash, Bootstrap: bootstrap, CreatedAt: t0}
			must(t, s.CreateAPIToken(ctx, tok))
			return tok
		}
		b1, b2 := mk("bootstrap admin", "h1", true), mk("bootstrap admin", "h2", true)
		mk("ci", "h3", false)
		must(t, s.RevokeAPIToken(ctx, b1.ID, t0))
		got, err := s.ActiveBootstrapTokens(ctx)
		must(t, err)
		if len(got) != 1 || got[0].ID != b2.ID || !got[0].Bootstrap {
			t.Fatalf("active bootstrap tokens: %+v", got)
		}

		// A database from before the mark: the column is new, the
		// bootstrap-made token is recognised by its name and role.
		old := mk("bootstrap admin", "h4", false)
		readOnly := &licensing.APIToken{Name: "bootstrap admin", Role: licensing.RoleReadOnly, Hash: "h5", CreatedAt: t0}
		must(t, s.CreateAPIToken(ctx, readOnly))
		// (0015 came later: its column goes too, so the columns come back
		// in their order and statements cached on the pool stay valid.)
		must(t, s.DB().Exec("DELETE FROM schema_migrations WHERE id IN (?, ?)", "0007_token_bootstrap", "0015_token_last_used").Error)
		must(t, s.DB().Exec("ALTER TABLE api_tokens DROP COLUMN last_used_at").Error)
		must(t, s.DB().Exec("ALTER TABLE api_tokens DROP COLUMN bootstrap").Error)
		must(t, s.Migrate(ctx))
		got, err = s.ActiveBootstrapTokens(ctx)
		must(t, err)
		ids := map[string]bool{}
		for _, tok := range got {
			ids[tok.ID] = true
		}
		if len(got) != 2 || !ids[b2.ID] || !ids[old.ID] {
			t.Errorf("after the migration: %+v", got)
		}
	})
}
