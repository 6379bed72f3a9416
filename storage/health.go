package storage

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/nzilacode/narcidicontrole/licensing"
	"gorm.io/gorm"
)

// writeFailureHold is how long readiness stays failed after a write was
// refused for a full disk or a read-only database, unless a write succeeds
// meanwhile. Once it passes, traffic comes back and the next write decides
// again: a cheap circuit breaker, with no probe write on every /readyz.
const writeFailureHold = 15 * time.Second

// writeHealth remembers whether the database took the last write. It is
// shared by a store and its transactions.
type writeHealth struct {
	failedAt atomic.Int64 // unix nanoseconds of the last refused write; 0 once a write succeeds
	now      func() time.Time
}

// observe is a gorm callback run after every statement.
func (h *writeHealth) observe(write bool) func(*gorm.DB) {
	return func(db *gorm.DB) {
		switch {
		case db.Error != nil && cannotWrite(db.Error):
			h.failedAt.Store(h.now().UnixNano())
		case db.Error == nil && write:
			h.failedAt.Store(0)
		}
	}
}

// refused reports the refused write still held against readiness.
func (h *writeHealth) refused() bool {
	at := h.failedAt.Load()
	return at != 0 && h.now().Sub(time.Unix(0, at)) < writeFailureHold
}

// watchWrites registers h on every statement processor of db.
func watchWrites(db *gorm.DB, h *writeHealth) error {
	cb := db.Callback()
	for _, r := range []struct {
		name  string
		after string
		reg   func(string, func(*gorm.DB)) error
		write bool
	}{
		{"narcidi:health_create", "gorm:create", cb.Create().After("gorm:create").Register, true},
		{"narcidi:health_update", "gorm:update", cb.Update().After("gorm:update").Register, true},
		{"narcidi:health_delete", "gorm:delete", cb.Delete().After("gorm:delete").Register, true},
		{"narcidi:health_query", "gorm:query", cb.Query().After("gorm:query").Register, false},
		{"narcidi:health_raw", "gorm:raw", cb.Raw().After("gorm:raw").Register, false},
	} {
		if err := r.reg(r.name, h.observe(r.write)); err != nil {
			return err
		}
	}
	return nil
}

// Ping checks that the database is reachable and can take writes, which is
// what readiness means for a service whose every client call writes. It
// stays cheap because /readyz is called often: no row is written. SQLite
// takes and drops the write lock (BEGIN IMMEDIATE fails on a read-only
// database); PostgreSQL is asked whether its transactions are read-only
// (a standby, default_transaction_read_only). A full disk shows only when
// a write fails, so a write refused for that reason in the last
// writeFailureHold fails readiness too.
func (s *Store) Ping(ctx context.Context) error {
	sqlDB, err := s.db.DB()
	if err != nil {
		return translate(err)
	}
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	if err := sqlDB.PingContext(ctx); err != nil {
		return wrap(licensing.EUnavailable, err, "the database is unavailable")
	}
	if s.postgres {
		var ro string
		if err := sqlDB.QueryRowContext(ctx, "SHOW transaction_read_only").Scan(&ro); err != nil {
			return translate(err)
		}
		if ro == "on" {
			return errorf(licensing.EUnavailable, "the database is read-only")
		}
	} else {
		// The DSN's _txlock=immediate makes this BEGIN IMMEDIATE.
		tx, err := sqlDB.BeginTx(ctx, nil)
		if err != nil {
			return translate(err)
		}
		if err := tx.Rollback(); err != nil {
			return translate(err)
		}
	}
	if s.health != nil && s.health.refused() {
		return errorf(licensing.EUnavailable, "%s", msgCannotWrite)
	}
	return nil
}
