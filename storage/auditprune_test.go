package storage_test

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/nzilacode/narcidicontrole/licensing"
	"github.com/nzilacode/narcidicontrole/storage"
	"github.com/nzilacode/narcidicontrole/storage/storagetest"
)

// TestAuditRetention: events past the retention are written to the
// archive (JSON lines, one file per month) and then deleted, in batches;
// recent ones and those the outbox has not relayed yet stay.
func TestAuditRetention(t *testing.T) {
	t.Parallel()
	storagetest.ForEach(t, func(t *testing.T, s *storage.Store) {
		ctx := context.Background()
		now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
		add := func(age time.Duration, dispatched bool) string {
			e := &licensing.Event{Time: now.Add(-age), Action: licensing.ActionUserSignInFailed, TargetType: "user", Actor: "anonymous", Reason: "x"}
			must(t, s.AppendEvent(ctx, e))
			if dispatched {
				must(t, s.MarkEventDispatched(ctx, e.ID, now))
			}
			return e.ID
		}
		old := []string{add(400*24*time.Hour, true), add(399*24*time.Hour, true), add(370*24*time.Hour, true)}
		pending := add(380*24*time.Hour, false)
		recent := add(10*24*time.Hour, true)

		dir := t.TempDir()
		auto := licensing.NewServices(storage.Stores(s), licensing.Deps{Clock: func() time.Time { return now }}).Automation
		n, err := auto.PruneAudit(ctx, 365*24*time.Hour, storage.AuditArchive{Dir: dir})
		must(t, err)
		if n != 3 {
			t.Errorf("%d events pruned, want 3", n)
		}
		left, err := s.ListEvents(ctx, licensing.EventFilter{}, licensing.Page{Limit: 100})
		must(t, err)
		if len(left) != 2 || left[0].ID != pending || left[1].ID != recent {
			t.Errorf("events left: %+v, want the unrelayed one and the recent one", left)
		}
		var archived []string
		files, _ := filepath.Glob(filepath.Join(dir, "audit-*.jsonl"))
		for _, f := range files {
			fh, err := os.Open(f)
			must(t, err)
			sc := bufio.NewScanner(fh)
			for sc.Scan() {
				var e licensing.Event
				must(t, json.Unmarshal(sc.Bytes(), &e))
				archived = append(archived, e.ID)
			}
			fh.Close()
		}
		if len(files) != 2 || len(archived) != 3 {
			t.Fatalf("archive: %d files (%v), %d events; want 2 files (2025-04 and 2025-05), 3 events", len(files), files, len(archived))
		}
		for _, id := range old {
			found := false
			for _, a := range archived {
				found = found || a == id
			}
			if !found {
				t.Errorf("event %s deleted without being archived", id)
			}
		}
		if n, err := auto.PruneAudit(ctx, 0, storage.AuditArchive{Dir: dir}); n != 0 || err != nil {
			t.Errorf("a retention of 0 pruned %d, %v", n, err)
		}
	})
}
