package storagetest

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/nzilacode/narcidicontrole/storage"
)

// templates holds this process's migrated template databases, made on first
// use. A template belongs to one test process (its binary's migrations), so
// a package built from changed code never copies a stale schema.
var templates templateSet

type templateSet struct {
	pgOnce  sync.Once
	pgName  string
	pgErr   error
	sqlOnce sync.Once
	sqlDir  string
	sqlErr  error
}

// Templates outlive their process (nothing runs when a test binary exits),
// so making one first removes those older than staleAfter, which no test
// process of this suite lives to be; their names carry their birth.
const (
	staleAfter     = 6 * time.Hour
	templatePrefix = "narcidi_tmpl_"
)

func templateName() string {
	return randomName(fmt.Sprintf("%s%d_", templatePrefix, time.Now().Unix()))
}

// born reads the birth time from a template's name.
func born(name string) (time.Time, bool) {
	rest, ok := strings.CutPrefix(name, templatePrefix)
	if !ok {
		return time.Time{}, false
	}
	secs, _, _ := strings.Cut(rest, "_")
	n, err := strconv.ParseInt(secs, 10, 64)
	if err != nil {
		return time.Time{}, false
	}
	return time.Unix(n, 0), true
}

func stale(name string) bool {
	t, ok := born(name)
	return ok && time.Since(t) > staleAfter
}

// postgres returns the name of this process's migrated PostgreSQL template.
func (ts *templateSet) postgres() (string, error) {
	ts.pgOnce.Do(func() { ts.pgName, ts.pgErr = makePostgresTemplate() })
	return ts.pgName, ts.pgErr
}

func makePostgresTemplate() (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	conn, err := connectAdmin(ctx)
	if err != nil {
		return "", err
	}
	defer conn.Close(context.Background())
	dropStalePostgresTemplates(ctx, conn)
	name := templateName()
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		return "", fmt.Errorf("create %s: %w", name, err)
	}
	u, err := url.Parse(adminURL())
	if err != nil {
		return "", err
	}
	u.Path = "/" + name
	if err := migrateAndClose(ctx, storage.Config{DatabaseURL: u.String()}); err != nil {
		return "", err
	}
	return name, nil
}

func dropStalePostgresTemplates(ctx context.Context, conn *pgx.Conn) {
	rows, err := conn.Query(ctx, "SELECT datname FROM pg_database WHERE datname LIKE $1", templatePrefix+"%")
	if err != nil {
		return
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return
	}
	for _, n := range names {
		if stale(n) {
			// Best effort: another run may be dropping it too.
			_, _ = conn.Exec(ctx, "DROP DATABASE IF EXISTS "+n+" WITH (FORCE)")
		}
	}
}

// copySQLite puts a copy of this process's migrated SQLite database in dir.
func (ts *templateSet) copySQLite(dir string) error {
	ts.sqlOnce.Do(func() { ts.sqlDir, ts.sqlErr = makeSQLiteTemplate() })
	if ts.sqlErr != nil {
		return ts.sqlErr
	}
	return copyFile(filepath.Join(ts.sqlDir, storage.SQLiteFile), filepath.Join(dir, storage.SQLiteFile), 0o600)
}

func makeSQLiteTemplate() (string, error) {
	if old, err := filepath.Glob(filepath.Join(os.TempDir(), templatePrefix+"*")); err == nil {
		for _, o := range old {
			if stale(filepath.Base(o)) {
				_ = os.RemoveAll(o)
			}
		}
	}
	dir, err := os.MkdirTemp("", templateName()+"_")
	if err != nil {
		return "", err
	}
	if err := migrateAndClose(context.Background(), storage.Config{DataDir: dir}); err != nil {
		return "", err
	}
	return dir, nil
}

// migrateAndClose migrates the store of cfg and closes it: a template must
// have no open connection (PostgreSQL refuses to copy it) and no pending
// write-ahead log (the SQLite copy is of the main file alone; closing the
// last connection checkpoints it).
func migrateAndClose(ctx context.Context, cfg storage.Config) error {
	s, err := storage.Open(ctx, cfg)
	if err != nil {
		return fmt.Errorf("open the template: %w", err)
	}
	if err := s.Migrate(ctx); err != nil {
		_ = s.Close()
		return fmt.Errorf("migrate the template: %w", err)
	}
	return s.Close()
}
