package storage

import (
	"context"
	"database/sql/driver"
	"errors"
	"io"
	"net"
	"reflect"
	"runtime"
	"strings"
	"syscall"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/nzilacode/narcidicontrole/licensing"
	"gorm.io/gorm"
)

// translate turns a database error into the domain vocabulary. It is the
// only place storage decides what a failure means to callers. The message is
// safe to show (no SQL); the cause and the operation go to the logs.
func translate(err error) error {
	var le *licensing.Error
	switch {
	case err == nil:
		return nil
	case errors.As(err, &le):
		return err
	case errors.Is(err, gorm.ErrRecordNotFound):
		return wrap(licensing.ENotFound, err, "not found")
	case errors.Is(err, gorm.ErrDuplicatedKey):
		return wrap(licensing.EConflict, err, "already exists")
	case errors.Is(err, gorm.ErrForeignKeyViolated):
		return wrap(licensing.EInvalid, err, "refers to something that does not exist")
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return wrap(licensing.EUnavailable, err, "the request was cancelled or timed out")
	case cannotWrite(err):
		return wrap(licensing.EUnavailable, err, msgCannotWrite)
	case unreachable(err):
		return wrap(licensing.EUnavailable, err, "the database is unavailable")
	}
	return wrap(licensing.EInternal, err, "database error")
}

const msgCannotWrite = "the database cannot take writes (disk full or read-only)"

// errorf and wrap build domain errors that name the storage operation
// running (see operation), so that every error storage returns says in the
// log what failed, without each method spelling its own name.
func errorf(code licensing.Code, format string, args ...any) error {
	e := licensing.Errorf(code, format, args...)
	e.Op = operation()
	return e
}

// fieldErrorf is errorf about one input field (licensing.Error.Field): a
// duplicate code or key is the request's mistake in that field.
func fieldErrorf(field string, code licensing.Code, format string, args ...any) error {
	e := licensing.Errorf(code, format, args...).WithField(field)
	e.Op = operation()
	return e
}

func wrap(code licensing.Code, err error, message string) error {
	e := licensing.Wrap(code, err, message)
	e.Op = operation()
	return e
}

var pkgPrefix = reflect.TypeFor[Store]().PkgPath() + "."

// operation names the innermost exported method of Store or Releases on the
// caller's stack ("storage.GetPolicy", "storage.Releases.CreateRelease"),
// or "storage" when there is none. It reads the stack only when an error is
// built, which is off the fast path.
func operation() string {
	var pcs [24]uintptr
	n := runtime.Callers(3, pcs[:])
	frames := runtime.CallersFrames(pcs[:n])
	for {
		f, more := frames.Next()
		if name, ok := opName(f.Function); ok {
			return name
		}
		if !more {
			return "storage"
		}
	}
}

// opName turns a function name of this package into an operation name, for
// exported methods of Store and Releases (and closures inside them).
func opName(fn string) (string, bool) {
	rest, ok := strings.CutPrefix(fn, pkgPrefix)
	if !ok {
		return "", false
	}
	typ := ""
	switch {
	case strings.HasPrefix(rest, "(*Store)."):
		rest = rest[len("(*Store)."):]
	case strings.HasPrefix(rest, "(*Releases)."):
		rest, typ = rest[len("(*Releases)."):], "Releases."
	default:
		return "", false
	}
	name, _, _ := strings.Cut(rest, ".") // drop ".func1" of a closure
	if name == "" || name[0] < 'A' || name[0] > 'Z' {
		return "", false
	}
	return "storage." + typ + name, true
}

// SQLite primary result codes (https://sqlite.org/rescode.html); extended
// codes carry them in their low byte.
const (
	sqliteReadOnly = 8
	sqliteFull     = 13
)

// PostgreSQL error codes of a server that cannot take writes.
const (
	pgDiskFull          = "53100" // disk_full
	pgReadOnlyStatement = "25006" // read_only_sql_transaction (hot standby, default_transaction_read_only)
)

// cannotWrite reports whether err means the database refused a write
// because its disk is full or it is read-only: a state of the server, not a
// fault of the request, so callers get "unavailable" and readiness fails.
func cannotWrite(err error) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code == pgDiskFull || pgErr.Code == pgReadOnlyStatement
	}
	// The SQLite driver's *Error has Code() int; matching the method keeps
	// the driver's internals out of this package.
	var coded interface{ Code() int }
	if errors.As(err, &coded) {
		c := coded.Code() & 0xff
		return c == sqliteFull || c == sqliteReadOnly
	}
	return errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EROFS)
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
