// Package storagetest gives tests real databases: a fresh PostgreSQL
// database per call (dropped when the test ends) and a SQLite file in a temp
// dir. A PostgreSQL server that cannot be reached fails the test with the
// command that starts one; it is never skipped.
//
// Migrating a database from nothing costs seconds on PostgreSQL, and the
// suite opens hundreds of stores, so Open migrates one template per test
// process and per dialect and hands each test a copy of it (CREATE DATABASE
// ... TEMPLATE, a copied SQLite file). Each test still runs Migrate on its
// copy, which checks the recorded schema and applies nothing.
package storagetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/nzilacode/narcidicontrole/storage"
)

// AdminURLEnv names the variable holding a PostgreSQL URL with the right to
// create databases. Default: the loopback server of ../shared/guide/SERVICES.md.
const AdminURLEnv = "NARCIDI_TEST_POSTGRES_URL"

const defaultAdminURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

const startHint = "start it with: pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start"

// PostgresURL creates an empty database with a random name and returns its
// URL; the database is dropped when the test ends.
func PostgresURL(t testing.TB) string {
	t.Helper()
	return createDatabase(t, "")
}

func adminURL() string {
	if admin := os.Getenv(AdminURLEnv); admin != "" {
		return admin
	}
	return defaultAdminURL
}

func connectAdmin(ctx context.Context) (*pgx.Conn, error) {
	admin := adminURL()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		return nil, fmt.Errorf("PostgreSQL is needed at %s (set %s to change it): %w\n%s", redactURL(admin), AdminURLEnv, err, startHint)
	}
	return conn, nil
}

func randomName(prefix string) string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

// createDatabase creates a database with a random name, a copy of template
// when one is named, and drops it when the test ends.
func createDatabase(t testing.TB, template string) string {
	t.Helper()
	admin := adminURL()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := connectAdmin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	name := randomName("narcidi_test_")
	ddl := "CREATE DATABASE " + name
	if template != "" {
		ddl += " TEMPLATE " + template
	}
	if _, err := conn.Exec(ctx, ddl); err != nil {
		t.Fatalf("create test database: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		c, err := pgx.Connect(ctx, admin)
		if err != nil {
			t.Errorf("drop test database %s: %v", name, err)
			return
		}
		defer c.Close(context.Background())
		if _, err := c.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Errorf("drop test database %s: %v", name, err)
		}
	})
	u, _ := url.Parse(admin)
	u.Path = "/" + name
	return u.String()
}

func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}

// MigratedPostgresURL returns the URL of a fresh database that already holds
// the current schema (a copy of this process's template), dropped when the
// test ends.
func MigratedPostgresURL(t testing.TB) string {
	t.Helper()
	tmpl, err := templates.postgres()
	if err != nil {
		t.Fatalf("PostgreSQL template database: %v", err)
	}
	return createDatabase(t, tmpl)
}

// CopyMigratedSQLite puts in dir a copy of this process's migrated SQLite
// database, as the embedded database of a data folder: a server started on
// dir finds the current schema and applies nothing.
func CopyMigratedSQLite(t testing.TB, dir string) {
	t.Helper()
	if err := templates.copySQLite(dir); err != nil {
		t.Fatalf("SQLite template database: %v", err)
	}
}

// Open returns a migrated store on a fresh database of the given dialect
// ("sqlite" or "postgres"), closed when the test ends.
func Open(t testing.TB, dialect string) *storage.Store {
	t.Helper()
	dir := t.TempDir()
	// t.TempDir is 0755; a private folder keeps the data-folder warning
	// out of every test's output.
	if err := os.Chmod(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	cfg := storage.Config{DataDir: dir}
	switch dialect {
	case "postgres":
		cfg.DatabaseURL = MigratedPostgresURL(t)
	case "sqlite":
		CopyMigratedSQLite(t, dir)
	default:
		t.Fatalf("unknown dialect %q", dialect)
	}
	ctx := context.Background()
	s, err := storage.Open(ctx, cfg)
	if err != nil {
		t.Fatalf("open %s store: %v", dialect, err)
	}
	t.Cleanup(func() { _ = s.Close() })
	if err := s.Migrate(ctx); err != nil {
		t.Fatalf("migrate %s: %v", dialect, err)
	}
	return s
}

// Dialects are the databases every store test runs on.
var Dialects = []string{"sqlite", "postgres"}

// ForEach runs fn as a subtest on a fresh store of each dialect.
func ForEach(t *testing.T, fn func(t *testing.T, s *storage.Store)) {
	for _, d := range Dialects {
		t.Run(d, func(t *testing.T) {
			fn(t, Open(t, d))
		})
	}
}

// OnPostgres runs fn as a subtest ("postgres") on a fresh PostgreSQL
// store, production's database: for an adapter's tests of its own layer
// (sessions, CSRF, routes and roles, headers, languages, forms). What
// they store goes through the stores, whose contract tests run on both
// dialects (ForEach); a second run of the same handlers on SQLite checked
// nothing more and, pure Go under -race, cost the most CPU.
func OnPostgres(t *testing.T, fn func(t *testing.T, s *storage.Store)) {
	t.Helper()
	t.Run("postgres", func(t *testing.T) { fn(t, Open(t, "postgres")) })
}

// Proxy is a TCP forwarder to a database server that a test can cut and
// restore, to see what happens when the database goes away.
type Proxy struct {
	t      testing.TB
	target string
	addr   string
	mu     sync.Mutex
	ln     net.Listener
	conns  []net.Conn
}

// NewProxy forwards a free loopback port to target (host:port). It is
// stopped when the test ends.
func NewProxy(t testing.TB, target string) *Proxy {
	t.Helper()
	p := &Proxy{t: t, target: target}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p.addr = ln.Addr().String()
	p.serve(ln)
	t.Cleanup(p.Cut)
	return p
}

// Addr is the proxy's host:port.
func (p *Proxy) Addr() string { return p.addr }

// URL rewrites a database URL to go through the proxy.
func (p *Proxy) URL(dbURL string) string {
	u, _ := url.Parse(dbURL)
	u.Host = p.addr
	return u.String()
}

func (p *Proxy) serve(ln net.Listener) {
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("tcp", p.target)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			if p.ln != ln {
				// Cut while this connection was being set up: it must not
				// outlive the cut.
				p.mu.Unlock()
				c.Close()
				up.Close()
				continue
			}
			p.conns = append(p.conns, c, up)
			p.mu.Unlock()
			go func() { _, _ = io.Copy(up, c); up.Close() }()
			go func() { _, _ = io.Copy(c, up); c.Close() }()
		}
	}()
}

// Cut closes the listener and every connection: the database is gone.
func (p *Proxy) Cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

// Restore listens again on the same port.
func (p *Proxy) Restore() {
	ln, err := net.Listen("tcp", p.addr)
	if err != nil {
		p.t.Fatalf("restore proxy: %v", err)
	}
	p.serve(ln)
}
