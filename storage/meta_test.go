package storage_test

import (
	"context"
	"testing"

	"github.com/nzilacode/narcidicontrole/storage"
	"github.com/nzilacode/narcidicontrole/storage/storagetest"
)

// A meta value is written once: the second write keeps and returns the
// first value.
func TestMetaWrittenOnce(t *testing.T) {
	t.Parallel()
	storagetest.ForEach(t, func(t *testing.T, s *storage.Store) {
		ctx := context.Background()
		if _, ok, err := s.GetMeta(ctx, "k"); ok || err != nil {
			t.Fatalf("empty: %v %v", ok, err)
		}
		if used, err := s.HasHistory(ctx); used || err != nil {
			t.Fatalf("a new database has history: %v %v", used, err)
		}
		if v, err := s.PutMetaOnce(ctx, "k", "first"); v != "first" || err != nil {
			t.Fatalf("first put: %q %v", v, err)
		}
		if v, err := s.PutMetaOnce(ctx, "k", "second"); v != "first" || err != nil {
			t.Fatalf("second put: %q %v", v, err)
		}
		if v, ok, err := s.GetMeta(ctx, "k"); v != "first" || !ok || err != nil {
			t.Fatalf("get: %q %v %v", v, ok, err)
		}
	})
}
