package storage

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/nzilacode/narcidicontrole/licensing"
	"github.com/nzilacode/narcidicontrole/licensing/writebehind"
)

// LastSeenConfig tunes a LastSeenBatcher.
type LastSeenConfig struct {
	// MaxDelay is the longest a stamp waits before its batch is written
	// (default and maximum licensing.LastSeenMaxDelay, which the offline
	// scan's margin counts on).
	MaxDelay time.Duration
	// MaxBatch writes a batch early once it holds that many machines
	// (default 1000).
	MaxBatch int
	// Log receives write failures (default slog.Default()).
	Log *slog.Logger
}

// LastSeenBatcher is the write-behind licensing.LastSeenRecorder of a
// server: renewals and heartbeats hand it their stamps and answer at once;
// it keeps the latest stamp of each machine and writes them all in one
// statement per batch, MaxDelay after the first stamp of the batch or as
// soon as MaxBatch machines are waiting. Close writes what is left, so a
// clean stop loses nothing; a crash loses at most the stamps of the last
// MaxDelay. A batch that fails to be written is kept and tried again with
// the next one (the stamps merge), and reported to the log. Safe for
// concurrent use.
type LastSeenBatcher struct {
	st       *Store
	maxDelay time.Duration
	maxBatch int
	log      *slog.Logger

	mu      sync.Mutex
	pending map[string]seen
	closed  bool

	loop *writebehind.Loop // when the batch is written
	// flushMu serializes writes (the loop's and Flush's), so batches are
	// written in the order they were taken.
	flushMu sync.Mutex
}

// seen is the merged stamps of one machine in a batch.
type seen struct {
	heartbeat time.Time
	lease     time.Time // zero: no lease in the batch
	ip        string
}

func (a seen) merge(b seen) seen {
	if b.heartbeat.After(a.heartbeat) {
		a.heartbeat = b.heartbeat
		if b.ip != "" {
			a.ip = b.ip
		}
	} else if a.ip == "" {
		a.ip = b.ip
	}
	if b.lease.After(a.lease) {
		a.lease = b.lease
	}
	return a
}

// NewLastSeenBatcher starts a batcher writing to s. Call Close on stop.
func NewLastSeenBatcher(s *Store, cfg LastSeenConfig) *LastSeenBatcher {
	if cfg.MaxDelay <= 0 || cfg.MaxDelay > licensing.LastSeenMaxDelay {
		cfg.MaxDelay = licensing.LastSeenMaxDelay
	}
	return newLastSeenBatcher(s, cfg)
}

// newLastSeenBatcher starts a batcher with cfg as it is (tests use delays
// beyond the bound).
func newLastSeenBatcher(s *Store, cfg LastSeenConfig) *LastSeenBatcher {
	if cfg.MaxBatch <= 0 {
		cfg.MaxBatch = 1000
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	b := &LastSeenBatcher{
		st: s, maxDelay: cfg.MaxDelay, maxBatch: cfg.MaxBatch, log: cfg.Log,
		pending: map[string]seen{},
	}
	b.loop = writebehind.Start(writebehind.Config{MaxDelay: b.maxDelay, Flush: b.Flush, Pending: b.Pending, Failed: func(err error) {
		b.log.Warn("could not write the last-seen stamps of renewals and heartbeats; trying again with the next batch", "error", err)
	}})
	return b
}

// RecordSeen implements licensing.LastSeenRecorder. After Close it writes
// at once, so a stamp is never dropped.
func (b *LastSeenBatcher) RecordSeen(ctx context.Context, s licensing.Sighting) error {
	in := seen{heartbeat: s.At.UTC(), ip: s.IP}
	if s.Lease {
		in.lease = in.heartbeat
	}
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return b.st.writeSeen(ctx, map[string]seen{s.MachineID: in})
	}
	n := len(b.pending)
	if cur, ok := b.pending[s.MachineID]; ok {
		in = cur.merge(in)
	}
	b.pending[s.MachineID] = in
	size := len(b.pending)
	b.mu.Unlock()
	switch {
	case n == 0:
		b.loop.Opened()
	case size >= b.maxBatch:
		b.loop.Full()
	}
	return nil
}

// Pending counts the machines whose stamps wait to be written.
func (b *LastSeenBatcher) Pending() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.pending)
}

// Flush writes the stamps waiting now, in one statement. On failure they
// are kept for the next write.
func (b *LastSeenBatcher) Flush(ctx context.Context) error {
	b.flushMu.Lock()
	defer b.flushMu.Unlock()
	b.mu.Lock()
	batch := b.pending
	if len(batch) == 0 {
		b.mu.Unlock()
		return nil
	}
	b.pending = make(map[string]seen, len(batch))
	b.mu.Unlock()
	err := b.st.writeSeen(ctx, batch)
	if err != nil {
		b.mu.Lock()
		for id, s := range batch {
			if cur, ok := b.pending[id]; ok {
				s = s.merge(cur)
			}
			b.pending[id] = s
		}
		b.mu.Unlock()
	}
	return err
}

// Close stops the batcher and writes what is left (within ctx). Stamps
// recorded after Close are written at once. An error means some stamps
// could not be written.
func (b *LastSeenBatcher) Close(ctx context.Context) error {
	if err := b.loop.Close(ctx, &b.mu, &b.closed); err != nil {
		return fmt.Errorf("last-seen stamps of %d machines not written: %w", b.Pending(), err)
	}
	return nil
}

// writeSeen writes a batch of stamps in one statement, conditional as
// TouchMachine: a blocked machine stays blocked, a deleted one is skipped.
// A stamp never moves back, so batches may land in any order (several
// instances, or requests whose stamps reach the batcher out of order).
func (s *Store) writeSeen(ctx context.Context, batch map[string]seen) error {
	if len(batch) == 0 {
		return nil
	}
	var (
		query string
		args  []any
	)
	if s.postgres {
		ids, hb, lease, hasLease, ips := make([]string, 0, len(batch)), make([]time.Time, 0, len(batch)),
			make([]time.Time, 0, len(batch)), make([]bool, 0, len(batch)), make([]string, 0, len(batch))
		for id, x := range batch {
			ids, hb, lease, hasLease, ips = append(ids, id), append(hb, x.heartbeat), append(lease, x.heartbeat),
				append(hasLease, !x.lease.IsZero()), append(ips, x.ip)
			if !x.lease.IsZero() {
				lease[len(lease)-1] = x.lease
			}
		}
		query = `UPDATE machines AS m SET
  last_heartbeat = GREATEST(m.last_heartbeat, v.hb),
  last_lease_at = CASE WHEN v.has_lease THEN GREATEST(m.last_lease_at, v.lease) ELSE m.last_lease_at END,
  ip = CASE WHEN v.ip <> '' AND (m.last_heartbeat IS NULL OR m.last_heartbeat <= v.hb) THEN v.ip ELSE m.ip END,
  status = 'active',
  updated_at = GREATEST(m.updated_at, v.hb)
FROM unnest($1::text[], $2::timestamptz[], $3::timestamptz[], $4::bool[], $5::text[]) AS v(id, hb, lease, has_lease, ip)
WHERE m.id = v.id AND m.status <> 'blocked'`
		args = []any{ids, hb, lease, hasLease, ips}
	} else {
		args = make([]any, 0, 5*len(batch))
		for id, x := range batch {
			lease := x.lease
			if lease.IsZero() {
				lease = x.heartbeat
			}
			args = append(args, id, x.heartbeat, lease, !x.lease.IsZero(), x.ip)
		}
		// julianday compares instants whatever offset a time was stored
		// with (the driver keeps the caller's).
		query = `WITH v(id, hb, lease, has_lease, ip) AS (VALUES ` + valueRows(len(batch), 5) + `)
UPDATE machines SET
  last_heartbeat = CASE WHEN machines.last_heartbeat IS NULL OR julianday(machines.last_heartbeat) < julianday(v.hb) THEN v.hb ELSE machines.last_heartbeat END,
  last_lease_at = CASE WHEN v.has_lease AND (machines.last_lease_at IS NULL OR julianday(machines.last_lease_at) < julianday(v.lease)) THEN v.lease ELSE machines.last_lease_at END,
  ip = CASE WHEN v.ip <> '' AND (machines.last_heartbeat IS NULL OR julianday(machines.last_heartbeat) <= julianday(v.hb)) THEN v.ip ELSE machines.ip END,
  status = 'active',
  updated_at = CASE WHEN julianday(machines.updated_at) < julianday(v.hb) THEN v.hb ELSE machines.updated_at END
FROM v WHERE machines.id = v.id AND machines.status <> 'blocked'`
	}
	_, err := s.db.Statement.ConnPool.ExecContext(ctx, query, args...)
	s.health.noteWrite(err)
	return translate(err)
}

// noteWrite is writeHealth.observe for a statement run outside gorm.
func (h *writeHealth) noteWrite(err error) {
	if h == nil {
		return
	}
	switch {
	case err != nil && cannotWrite(err):
		h.failedAt.Store(h.now().UnixNano())
	case err == nil:
		h.failedAt.Store(0)
	}
}

var _ licensing.LastSeenRecorder = (*LastSeenBatcher)(nil)
