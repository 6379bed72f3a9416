package storage

import (
	"context"
	"database/sql/driver"
	"errors"
	"io"
	"net"
	"syscall"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/nzilacode/narcidicontrole/licensing"
	"gorm.io/gorm"
)

// translate turns a database error into the domain vocabulary. It is the
// only place storage decides what a failure means to callers.
func translate(err error) error {
	var le *licensing.Error
	switch {
	case err == nil:
		return nil
	case errors.As(err, &le):
		return err
	case errors.Is(err, gorm.ErrRecordNotFound):
		return licensing.Wrap(licensing.ENotFound, err, "not found")
	case errors.Is(err, gorm.ErrDuplicatedKey):
		return licensing.Wrap(licensing.EConflict, err, "already exists")
	case errors.Is(err, gorm.ErrForeignKeyViolated):
		return licensing.Wrap(licensing.EInvalid, err, "refers to something that does not exist")
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return licensing.Wrap(licensing.EUnavailable, err, "the request was cancelled or timed out")
	case unreachable(err):
		return licensing.Wrap(licensing.EUnavailable, err, "the database is unavailable")
	}
	return licensing.Wrap(licensing.EInternal, err, "database error")
}

// unreachable reports whether err means the database could not be reached
// (as opposed to a query it refused).
func unreachable(err error) bool {
	var netErr net.Error
	var connErr *pgconn.ConnectError
	var pgErr *pgconn.PgError
	switch {
	case errors.As(err, &pgErr):
		// 08: connection exception; 57P0x: server shutting down; 53: resources.
		c := pgErr.Code
		return len(c) >= 2 && (c[:2] == "08" || c[:2] == "53" || (len(c) == 5 && c[:4] == "57P0"))
	case errors.As(err, &connErr), errors.As(err, &netErr),
		errors.Is(err, driver.ErrBadConn), errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET),
		errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, net.ErrClosed):
		return true
	}
	return pgconn.SafeToRetry(err) || pgconn.Timeout(err)
}
