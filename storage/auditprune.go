package storage

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/nzilacode/narcidicontrole/licensing"
)

// PruneEvents archives and deletes the audit events older than before, a
// batch per transaction. The events an undispatched outbox entry or a
// pending delivery still reads stay until those are done.
func (s *Store) PruneEvents(ctx context.Context, before time.Time, limit int, archive func(context.Context, []licensing.Event) error) (int, error) {
	total := 0
	for {
		n := 0
		err := s.InTx(ctx, func(tx *Store) error {
			q := tx.q(ctx)
			var rows []eventRow
			err := q.Where("time < ?", before.UTC()).
				Where("id NOT IN (?)", q.Model(&outboxRow{}).Select("event_id").Where("dispatched_at IS NULL")).
				Where("id NOT IN (?)", q.Model(&deliveryRow{}).Select("event_id").Where("status = ?", string(licensing.DeliveryPending))).
				Order("id").Limit(limit).Find(&rows).Error
			if err != nil || len(rows) == 0 {
				return translate(err)
			}
			events := make([]licensing.Event, len(rows))
			ids := make([]string, len(rows))
			for i := range rows {
				events[i], ids[i] = *eventFromRow(&rows[i]), rows[i].ID
			}
			if err := archive(ctx, events); err != nil {
				return err
			}
			if err := q.Where("event_id IN ?", ids).Delete(&outboxRow{}).Error; err != nil {
				return translate(err)
			}
			res := q.Where("id IN ?", ids).Delete(&eventRow{})
			n = int(res.RowsAffected)
			return translate(res.Error)
		})
		total += n
		if err != nil || n < limit {
			return total, err
		}
	}
}

// AuditArchive appends pruned audit events to JSON-lines files in Dir, one
// file per month of the events' time (audit-2026-05.jsonl), each line an
// event as the API shows it. A file is synced before Archive returns, so
// the events are on disk before the database forgets them.
type AuditArchive struct {
	Dir string
}

var _ licensing.AuditArchive = AuditArchive{}

func (a AuditArchive) Archive(_ context.Context, events []licensing.Event) error {
	if err := os.MkdirAll(a.Dir, 0o700); err != nil {
		return wrap(licensing.EUnavailable, err, "the audit archive folder cannot be made")
	}
	byMonth := map[string][]licensing.Event{}
	var months []string
	for _, e := range events {
		m := e.Time.UTC().Format("2006-01")
		if byMonth[m] == nil {
			months = append(months, m)
		}
		byMonth[m] = append(byMonth[m], e)
	}
	for _, m := range months {
		if err := appendLines(filepath.Join(a.Dir, "audit-"+m+".jsonl"), byMonth[m]); err != nil {
			return wrap(licensing.EUnavailable, err, "the audit archive cannot be written")
		}
	}
	return nil
}

func appendLines(path string, events []licensing.Event) error {
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	enc := json.NewEncoder(f)
	for _, e := range events {
		if err := enc.Encode(e); err != nil {
			_ = f.Close()
			return fmt.Errorf("encode event %s: %w", e.ID, err)
		}
	}
	if err := f.Sync(); err != nil {
		_ = f.Close()
		return err
	}
	return f.Close()
}
