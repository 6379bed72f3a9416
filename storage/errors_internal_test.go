package storage

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/glebarez/sqlite"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/nzilacode/narcidicontrole/licensing"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"
)

// sqliteErrors returns real errors of the SQLite driver: a write refused
// for a full database (max_page_count stands in for the disk) and a write
// to a database opened read-only.
func sqliteErrors(t *testing.T) (full, readOnly error) {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "x.db")
	db, err := gorm.Open(sqlite.Open("file:"+path), &gorm.Config{Logger: logger.Discard})
	if err != nil {
		t.Fatal(err)
	}
	sqlDB, _ := db.DB()
	defer sqlDB.Close()
	sqlDB.SetMaxOpenConns(1)
	if err := db.Exec("CREATE TABLE t (v TEXT)").Error; err != nil {
		t.Fatal(err)
	}
	if err := db.Exec("PRAGMA max_page_count = 2").Error; err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 100 && full == nil; i++ {
		full = db.Exec("INSERT INTO t VALUES (?)", strings.Repeat("x", 2000)).Error
	}
	ro, err := gorm.Open(sqlite.Open("file:"+path+"?mode=ro"), &gorm.Config{Logger: logger.Discard})
	if err != nil {
		t.Fatal(err)
	}
	roDB, _ := ro.DB()
	defer roDB.Close()
	readOnly = ro.Exec("INSERT INTO t VALUES ('y')").Error
	if full == nil || readOnly == nil {
		t.Fatalf("the driver did not refuse: full=%v readOnly=%v", full, readOnly)
	}
	return full, readOnly
}

func TestTranslateMapsEveryCannotWriteToUnavailable(t *testing.T) {
	t.Parallel()
	full, readOnly := sqliteErrors(t)
	for _, tc := range []struct {
		name string
		err  error
		code licensing.Code
	}{
		{"sqlite full", full, licensing.EUnavailable},
		{"sqlite read-only", readOnly, licensing.EUnavailable},
		{"sqlite full, wrapped", fmt.Errorf("insert: %w", full), licensing.EUnavailable},
		{"postgres disk_full", &pgconn.PgError{Code: "53100", Message: "could not extend file"}, licensing.EUnavailable},
		{"postgres read_only_sql_transaction", &pgconn.PgError{Code: "25006", Message: "cannot execute INSERT in a read-only transaction"}, licensing.EUnavailable},
		{"no space left on device", &fs.PathError{Op: "write", Path: "/data/narcidi.db-wal", Err: syscall.ENOSPC}, licensing.EUnavailable},
		{"read-only file system", &fs.PathError{Op: "open", Path: "/data/narcidi.db", Err: syscall.EROFS}, licensing.EUnavailable},
		// Controls: a query the server refuses stays internal.
		{"postgres syntax error", &pgconn.PgError{Code: "42601", Message: "syntax error at or near SELEC"}, licensing.EInternal},
		{"postgres check violation", &pgconn.PgError{Code: "23514"}, licensing.EInternal},
		{"plain error", errors.New("boom"), licensing.EInternal},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := translate(tc.err)
			if c := licensing.ErrorCode(got); c != tc.code {
				t.Fatalf("code = %q (%v), want %q", c, got, tc.code)
			}
			if m := licensing.ErrorMessage(got); strings.Contains(m, "INSERT") || strings.Contains(m, "SELEC") || strings.Contains(m, "/data") {
				t.Errorf("the caller's message leaks details: %q", m)
			}
			if !errors.Is(got, tc.err) {
				t.Errorf("the cause is lost: %v", got)
			}
		})
	}
}

func TestOpName(t *testing.T) {
	t.Parallel()
	for fn, want := range map[string]string{
		pkgPrefix + "(*Store).GetPolicy":                        "storage.GetPolicy",
		pkgPrefix + "(*Store).ClaimIdempotencyKey.func1":        "storage.ClaimIdempotencyKey",
		pkgPrefix + "(*Releases).CreateRelease":                 "storage.Releases.CreateRelease",
		pkgPrefix + "(*Store).create":                           "",
		pkgPrefix + "getRow[...]":                               "",
		"github.com/nzilacode/narcidicontrole/licensing.Errorf": "",
	} {
		got, _ := opName(fn)
		if got != want {
			t.Errorf("opName(%q) = %q, want %q", fn, got, want)
		}
	}
}

func TestPingAfterFullDisk(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, err := Open(ctx, Config{DataDir: filepath.Join(t.TempDir(), "data")})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	now := fakeNow()
	s.health.now = now.get
	var pages int
	if err := s.db.Raw("PRAGMA page_count").Scan(&pages).Error; err != nil {
		t.Fatal(err)
	}
	if err := s.db.Exec(fmt.Sprintf("PRAGMA max_page_count = %d", pages+1)).Error; err != nil {
		t.Fatal(err)
	}
	var werr error
	for i := 0; i < 200 && werr == nil; i++ {
		werr = s.CreateProduct(ctx, &licensing.Product{Code: fmt.Sprintf("p%d", i), Name: strings.Repeat("n", 190),
			Metadata: map[string]string{"pad": strings.Repeat("x", 3000)}})
	}
	if licensing.ErrorCode(werr) != licensing.EUnavailable {
		t.Fatalf("a write on a full database: %v, want unavailable", werr)
	}
	if !strings.Contains(werr.Error(), "storage.CreateProduct") {
		t.Errorf("the error does not name the operation: %v", werr)
	}
	if err := s.Ping(ctx); licensing.ErrorCode(err) != licensing.EUnavailable {
		t.Fatalf("Ping after a refused write = %v, want unavailable", err)
	}
	now.add(writeFailureHold)
	if err := s.Ping(ctx); err != nil {
		t.Fatalf("Ping once the hold passed = %v, want nil (the next write decides)", err)
	}
	// Room again: a write succeeds and clears the state at once.
	if err := s.db.Exec("PRAGMA max_page_count = 1000000").Error; err != nil {
		t.Fatal(err)
	}
	if err := s.CreateProduct(ctx, &licensing.Product{Code: "ok", Name: "ok"}); err != nil {
		t.Fatal(err)
	}
	if err := s.Ping(ctx); err != nil {
		t.Fatalf("Ping after a successful write = %v", err)
	}
}

// clock is a settable time for the write-health hold.
type clock struct{ t time.Time }

func fakeNow() *clock { return &clock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)} }

func (c *clock) get() time.Time      { return c.t }
func (c *clock) add(d time.Duration) { c.t = c.t.Add(d) }
