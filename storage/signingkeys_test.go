package storage_test

import (
	"context"
	"errors"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nzilacode/narcidicontrole/licensing"
	"github.com/nzilacode/narcidicontrole/storage"
	"github.com/nzilacode/narcidicontrole/storage/storagetest"
)

func signingKey(kid, status string) storage.SigningKey {
	return storage.SigningKey{KID: kid, Alg: "EdDSA", Public: "pub-" + kid, SealedPrivate: "sealed-" + kid, Nonce: "n", CreatedAt: time.Now().UTC().Truncate(time.Second), Status: status}
}

func activeKids(t *testing.T, s *storage.Store) []string {
	t.Helper()
	ks, err := s.SigningKeys(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, k := range ks {
		if k.Status == "active" {
			out = append(out, k.KID)
		}
	}
	return out
}

// Issue 23 item 1: rotations are whole and at most one key is active, even
// when processes rotate at once; a folder import never adds a second
// active key and keeps existing rows.
func TestSigningKeysOneActive(t *testing.T) {
	t.Parallel()
	storagetest.ForEach(t, func(t *testing.T, s *storage.Store) {
		ctx := context.Background()
		// Ten first starts at once: exactly one wins.
		var wg sync.WaitGroup
		errs := make([]error, 10)
		for i := range errs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs[i] = s.AddSigningKey(ctx, signingKey("k"+string(rune('a'+i)), ""), "")
			}()
		}
		wg.Wait()
		won := 0
		for _, err := range errs {
			if err == nil {
				won++
			} else if licensing.ErrorCode(err) != licensing.EConflict {
				t.Errorf("a losing first key: %v", err)
			}
		}
		active := activeKids(t, s)
		if won != 1 || len(active) != 1 {
			t.Fatalf("%d first keys stored, active %v", won, active)
		}
		// A rotation that names a key no longer active fails, changing nothing.
		if err := s.AddSigningKey(ctx, signingKey("stale", ""), "not-active"); licensing.ErrorCode(err) != licensing.EConflict {
			t.Fatalf("rotation from a stale key: %v", err)
		}
		if err := s.AddSigningKey(ctx, signingKey("next", ""), active[0]); err != nil {
			t.Fatal(err)
		}
		if got := activeKids(t, s); len(got) != 1 || got[0] != "next" {
			t.Fatalf("after rotation: %v", got)
		}
		// Imported folder: its active key stays retired (one is active), its
		// other keys are added, known kids are left alone.
		n, err := s.ImportSigningKeys(ctx, []storage.SigningKey{signingKey("folder-active", "active"), signingKey("folder-old", "retired"), signingKey("next", "retired")})
		if err != nil || n != 2 {
			t.Fatalf("import: %d %v", n, err)
		}
		if got := activeKids(t, s); len(got) != 1 || got[0] != "next" {
			t.Fatalf("after import: %v", got)
		}
		if err := s.SetSigningKeyCert(ctx, "next", "cert"); err != nil {
			t.Fatal(err)
		}
		if err := s.SetSigningKeyCert(ctx, "nope", "cert"); licensing.ErrorCode(err) != licensing.ENotFound {
			t.Fatalf("cert of an unknown key: %v", err)
		}
	})
}

// On an empty database, the imported folder's active key signs.
func TestSigningKeysImportIntoEmpty(t *testing.T) {
	t.Parallel()
	storagetest.ForEach(t, func(t *testing.T, s *storage.Store) {
		n, err := s.ImportSigningKeys(context.Background(), []storage.SigningKey{signingKey("old", "retired"), signingKey("cur", "active")})
		if err != nil || n != 2 {
			t.Fatalf("import: %d %v", n, err)
		}
		if got := activeKids(t, s); len(got) != 1 || got[0] != "cur" {
			t.Fatalf("active after import: %v", got)
		}
	})
}

// Issue 23 item 2: the schema version and range are recorded; a binary
// older than the range refuses the database and changes nothing, one
// inside it runs without lowering what is recorded.
func TestSchemaRangeRefusesOlderBinary(t *testing.T) {
	t.Parallel()
	for _, d := range storagetest.Dialects {
		t.Run(d, func(t *testing.T) {
			ctx := context.Background()
			cfg := storage.Config{DataDir: t.TempDir()}
			if err := os.Chmod(cfg.DataDir, 0o700); err != nil {
				t.Fatal(err)
			}
			if d == "postgres" {
				cfg.DatabaseURL = storagetest.PostgresURL(t)
			}
			open := func(r storage.SchemaRange) (*storage.Store, error) {
				c := cfg
				c.Schema = r
				s, err := storage.Open(ctx, c)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { _ = s.Close() })
				return s, s.Migrate(ctx)
			}
			head, err := open(storage.SchemaRange{})
			if err != nil {
				t.Fatal(err)
			}
			bin := storage.BinarySchema()
			st, err := head.Schema(ctx)
			if err != nil || st.Version != bin.Version || st.OldestBinary != bin.OldestBinary {
				t.Fatalf("recorded %+v, binary %+v (%v)", st, bin, err)
			}
			if v, ok, _ := head.GetMeta(ctx, "schema_version"); !ok || v == "" {
				t.Fatal("schema_version not recorded")
			}
			_ = head.Close()

			_, err = open(storage.SchemaRange{Version: bin.OldestBinary - 1, OldestBinary: 6})
			if !errors.Is(err, storage.ErrSchemaTooNew) || !strings.Contains(err.Error(), "Rolling back") {
				t.Fatalf("an older binary: %v", err)
			}
			// A newer binary whose migrations older ones can live with...
			newer := storage.SchemaRange{Version: bin.Version + 3, OldestBinary: bin.Version}
			s, err := open(newer)
			if err != nil {
				t.Fatal(err)
			}
			want := storage.SchemaState{Version: newer.Version, OldestBinary: newer.OldestBinary}
			if got, _ := s.Schema(ctx); got != want {
				t.Fatalf("after a newer binary: %+v", got)
			}
			// ...lets this one run (its schema is in the range), lowering nothing...
			if s, err := open(storage.SchemaRange{}); err != nil {
				t.Fatalf("a binary inside the range: %v", err)
			} else if got, _ := s.Schema(ctx); got != want {
				t.Fatalf("after a binary inside the range: %+v, want %+v", got, want)
			}
			// ...and not one below it.
			if _, err := open(storage.SchemaRange{Version: bin.Version - 1, OldestBinary: 1}); !errors.Is(err, storage.ErrSchemaTooNew) {
				t.Fatalf("a binary below the range: %v", err)
			}
		})
	}
}
