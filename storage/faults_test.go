package storage_test

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/nzilacode/narcidicontrole/licensing"
	"github.com/nzilacode/narcidicontrole/storage"
	"github.com/nzilacode/narcidicontrole/storage/storagetest"
)

func openMigrated(t *testing.T, cfg storage.Config) *storage.Store {
	t.Helper()
	s, err := storage.Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	must(t, s.Migrate(context.Background()))
	return s
}

// TestSQLiteFilesArePrivate runs under umask 0, where SQLite alone would
// create 0644 files: the database and its -wal and -shm must be 0600.
func TestSQLiteFilesArePrivate(t *testing.T) {
	t.Parallel()
	old := syscall.Umask(0)
	defer syscall.Umask(old)
	dir := filepath.Join(t.TempDir(), "data")
	s := openMigrated(t, storage.Config{DataDir: dir})
	seed(t, s) // writes, so the WAL has frames
	fi, err := os.Stat(dir)
	must(t, err)
	if m := fi.Mode().Perm(); m != 0o700 {
		t.Errorf("data folder mode = %04o, want 0700", m)
	}
	for _, f := range []string{"narcidi.db", "narcidi.db-wal", "narcidi.db-shm"} {
		fi, err := os.Stat(filepath.Join(dir, f))
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if m := fi.Mode().Perm(); m != 0o600 {
			t.Errorf("%s mode = %04o, want 0600", f, m)
		}
	}
}

// TestSQLiteLooseFilesAreTightened: files an older version left 0644.
func TestSQLiteLooseFilesAreTightened(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "data")
	s := openMigrated(t, storage.Config{DataDir: dir})
	must(t, s.Close())
	db := filepath.Join(dir, "narcidi.db")
	must(t, os.Chmod(db, 0o644))
	openMigrated(t, storage.Config{DataDir: dir})
	fi, err := os.Stat(db)
	must(t, err)
	if m := fi.Mode().Perm(); m != 0o600 {
		t.Errorf("narcidi.db mode after reopening = %04o, want 0600", m)
	}
}

func TestDataFolderOpenToOthers(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		mode      os.FileMode
		refused   bool
		warned    bool
		wantInErr string
	}{
		{0o700, false, false, ""},
		{0o711, false, false, ""},
		{0o750, false, true, ""},
		{0o755, false, true, ""},
		{0o770, true, false, "chmod 700"},
		{0o777, true, false, "chmod 700"},
		{0o1777, true, false, "written by other users"},
	} {
		t.Run(tc.mode.String(), func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "data")
			must(t, os.Mkdir(dir, 0o700))
			must(t, os.Chmod(dir, tc.mode|map[bool]os.FileMode{true: os.ModeSticky}[tc.mode&0o1000 != 0]))
			var logs bytes.Buffer
			s, err := storage.Open(context.Background(), storage.Config{DataDir: dir, Log: slog.New(slog.NewTextHandler(&logs, nil))})
			if s != nil {
				_ = s.Close()
			}
			if (err != nil) != tc.refused || (tc.refused && !strings.Contains(err.Error(), tc.wantInErr)) {
				t.Fatalf("open with mode %04o: %v, want refused=%v", tc.mode, err, tc.refused)
			}
			if got := strings.Contains(logs.String(), "level=WARN"); got != tc.warned {
				t.Errorf("warned = %v, want %v: %s", got, tc.warned, logs.String())
			}
			fi, _ := os.Stat(dir)
			if fi.Mode().Perm() != tc.mode.Perm() {
				t.Errorf("the folder's mode was changed to %04o", fi.Mode().Perm())
			}
		})
	}
}

// TestReadOnlySharedMemoryFile: a -shm file left read-only (a crash, then a
// chmod or a restore by another user) used to panic in the migrator.
func TestReadOnlySharedMemoryFile(t *testing.T) {
	t.Parallel()
	if !storagetest.Unprivileged(t) {
		return
	}
	dir := filepath.Join(t.TempDir(), "data")
	s := openMigrated(t, storage.Config{DataDir: dir})
	seed(t, s)
	// Keep what a crashed server leaves: the database, its WAL and -shm.
	files := map[string][]byte{}
	for _, f := range []string{"narcidi.db", "narcidi.db-wal", "narcidi.db-shm"} {
		b, err := os.ReadFile(filepath.Join(dir, f))
		must(t, err)
		files[f] = b
	}
	must(t, s.Close())
	for f, b := range files {
		mode := os.FileMode(0o600)
		if f == "narcidi.db-shm" {
			mode = 0o400
		}
		must(t, os.WriteFile(filepath.Join(dir, f), b, mode))
		must(t, os.Chmod(filepath.Join(dir, f), mode))
	}
	s2, err := storage.Open(context.Background(), storage.Config{DataDir: dir})
	if err == nil {
		err = s2.Migrate(context.Background())
		_ = s2.Close()
	}
	t.Logf("open: %v", err)
	if licensing.ErrorCode(err) != licensing.EUnavailable || !strings.Contains(err.Error(), "-shm") {
		t.Fatalf("opening with a read-only -shm = %v, want unavailable naming the -shm file", err)
	}
}

func TestErrorsNameTheOperation(t *testing.T) {
	t.Parallel()
	storagetest.ForEach(t, func(t *testing.T, s *storage.Store) {
		ctx := context.Background()
		const missing = "01950000-0000-7000-8000-0000000000ee"
		_, err := s.GetPolicy(ctx, missing)
		wantCode(t, err, licensing.ENotFound)
		if !strings.HasPrefix(err.Error(), "storage.GetPolicy: ") || licensing.ErrorMessage(err) != "policy not found" {
			t.Errorf("GetPolicy: %q (message %q)", err, licensing.ErrorMessage(err))
		}
		_, err = s.Releases().GetRelease(ctx, missing)
		if !strings.HasPrefix(err.Error(), "storage.Releases.GetRelease: ") {
			t.Errorf("GetRelease: %q", err)
		}
		// A fault inside a transaction names the method that failed.
		p, _, _, _ := seed(t, s)
		err = s.InTx(ctx, func(tx *storage.Store) error {
			return tx.CreateProduct(ctx, &licensing.Product{Code: p.Code, Name: "dup"})
		})
		wantCode(t, err, licensing.EConflict)
		if !strings.HasPrefix(err.Error(), "storage.CreateProduct: ") {
			t.Errorf("CreateProduct: %q", err)
		}
		// A database error: the log names the operation, the caller sees no SQL.
		must(t, s.Close())
		_, err = s.GetPolicy(ctx, missing)
		if !strings.HasPrefix(err.Error(), "storage.GetPolicy: ") || strings.Contains(licensing.ErrorMessage(err), "sql") {
			t.Errorf("GetPolicy on a closed store: %q (message %q)", err, licensing.ErrorMessage(err))
		}
	})
}

// TestPostgresReadOnly: a read-only server (a standby, or
// default_transaction_read_only) is unavailable, for writes and readiness.
func TestPostgresReadOnly(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url := storagetest.PostgresURL(t)
	s := openMigrated(t, storage.Config{DatabaseURL: url, MaxOpenConns: 1})
	must(t, s.DB().Exec("SET default_transaction_read_only = on").Error)
	err := s.CreateProduct(ctx, &licensing.Product{Code: "ro", Name: "ro"})
	wantCode(t, err, licensing.EUnavailable)
	if !strings.HasPrefix(err.Error(), "storage.CreateProduct: ") {
		t.Errorf("error = %q", err)
	}
	wantCode(t, s.Ping(ctx), licensing.EUnavailable)
	must(t, s.DB().Exec("SET default_transaction_read_only = off").Error)
	// Readiness stays failed until a write goes through (or the hold ends).
	wantCode(t, s.Ping(ctx), licensing.EUnavailable)
	must(t, s.CreateProduct(ctx, &licensing.Product{Code: "rw", Name: "rw"}))
	must(t, s.Ping(ctx))
}
