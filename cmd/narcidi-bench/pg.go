package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"github.com/nzilacode/narcidicontrole/keys"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"time"

	"github.com/jackc/pgx/v5"
)

// pgStartCommand starts the project's PostgreSQL when it is down (see
// shared/guide/SERVICES.md).
const pgStartCommand = "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start"

// connectAdmin connects to the maintenance database, failing with the start
// command when PostgreSQL is not there.
func connectAdmin(ctx context.Context, rawURL string) (*pgx.Conn, error) {
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	conn, err := pgx.Connect(cctx, rawURL)
	if err == nil {
		err = conn.Ping(cctx)
	}
	if err != nil {
		return nil, fmt.Errorf("PostgreSQL is not reachable at %s (%v): start it with `%s`", redact(rawURL), err, pgStartCommand)
	}
	return conn, nil
}

func redact(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		return "the configured URL"
	}
	return u.Redacted()
}

func serverVersion(ctx context.Context, conn *pgx.Conn) string {
	var v string
	if err := conn.QueryRow(ctx, "SHOW server_version").Scan(&v); err != nil {
		return ""
	}
	return "PostgreSQL " + v
}

// benchDB is a database made for this run, dropped by drop.
type benchDB struct {
	Name string
	URL  string
}

func randomName(prefix string) string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

func createDB(ctx context.Context, admin *pgx.Conn, baseURL, name string) (*benchDB, error) {
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		return nil, fmt.Errorf("create database %s: %w", name, err)
	}
	u, err := url.Parse(baseURL)
	if err != nil {
		return nil, err
	}
	u.Path = "/" + name
	return &benchDB{Name: name, URL: u.String()}, nil
}

// drop removes the database, ending sessions left on it.
func (d *benchDB) drop(admin *pgx.Conn) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err := admin.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{d.Name}.Sanitize()+" WITH (FORCE)")
	if err != nil {
		logf("could not drop database %s: %v", d.Name, err)
		return
	}
	logf("dropped database %s", d.Name)
}

func (d *benchDB) connect(ctx context.Context) (*pgx.Conn, error) {
	return pgx.Connect(ctx, d.URL)
}

// findPgbench looks for pgbench: the newest /usr/lib/postgresql/*/bin, then PATH.
func findPgbench() (string, error) {
	matches, _ := filepath.Glob("/usr/lib/postgresql/*/bin/pgbench")
	sort.Strings(matches)
	if len(matches) > 0 {
		return matches[len(matches)-1], nil
	}
	if p, err := exec.LookPath("pgbench"); err == nil {
		return p, nil
	}
	return "", errors.New("pgbench is not installed: `make bench` installs it (bench/ensure-tools.sh: apt-get install postgresql-contrib)")
}

// tuneSession makes bulk seeding fast without changing durability of the
// measured runs: only this session skips waiting for WAL flushes.
func tuneSession(ctx context.Context, conn *pgx.Conn) error {
	_, err := conn.Exec(ctx, "SET synchronous_commit = off; SET maintenance_work_mem = '256MB'")
	return err
}

// settle vacuums, analyzes and checkpoints, so that one run's leftovers
// (dead tuples, dirty buffers) do not land on the next run's clock.
func settle(ctx context.Context, conn *pgx.Conn, tables ...string) error {
	for _, t := range tables {
		if _, err := conn.Exec(ctx, "VACUUM ANALYZE "+t); err != nil {
			return fmt.Errorf("vacuum %s: %w", t, err)
		}
	}
	if _, err := conn.Exec(ctx, "CHECKPOINT"); err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	return nil
}

// The seeded rows are made by SQL alone (generate_series), so that a million
// of them take seconds. Keys, fingerprints and ids are functions of the row
// number, so the load generator knows them without reading them back.

// seedID is a valid, time-ordered-looking UUID string for row i of a set.
func seedIDSQL(set int, expr string) string {
	return fmt.Sprintf("('00000000-0000-4000-%04x-' || lpad(to_hex(%s), 12, '0'))", 0x8000+set, expr)
}

func licenseKey(prefix string, i int) string    { return fmt.Sprintf("%s%08d", prefix, i) }
func fingerprintOf(prefix string, i int) string { return fmt.Sprintf("%s%08d", prefix, i) }

// seedLicenses inserts licenses 1..n of a set under a policy, each with key
// keyPrefix+%08d, active, expiring in a year, with no entitlements of its own.
// Key hashes are the server's keyed hash (HMAC-SHA256 under hashKey, see
// serverHashKey), computed by pgcrypto, as every license holds once used:
// the legacy SHA-256 path would migrate each row on its first renewal and
// measure that instead.
func seedLicenses(ctx context.Context, conn *pgx.Conn, set, from, to int, keyPrefix, productID, policyID, customerID string, hashKey []byte) error {
	if _, err := conn.Exec(ctx, "CREATE EXTENSION IF NOT EXISTS pgcrypto"); err != nil {
		return fmt.Errorf("pgcrypto (in postgresql-contrib, as pgbench): %w", err)
	}
	q := fmt.Sprintf(`INSERT INTO licenses (id, key_hash, key_hint, product_id, policy_id, customer_id, name, status, status_reason,
			expires_at, entitlements, metadata, created_at, updated_at)
		SELECT %s, encode(hmac(convert_to(k, 'UTF8'), $7::bytea, 'sha256'), 'hex'), right(k, 4), $1, $2, $3, '', 'active', '',
			now() + interval '365 days', '[]', '{}', now(), now()
		FROM (SELECT i, $4 || lpad(i::text, 8, '0') AS k FROM generate_series($5::int, $6::int) AS i) AS s`, seedIDSQL(set, "i"))
	_, err := conn.Exec(ctx, q, productID, policyID, customerID, keyPrefix, from, to, hashKey)
	return err
}

// serverHashKey is the key the server in dataDir hashes license keys with:
// derived from the master key it generated there.
func serverHashKey(dataDir string) ([]byte, error) {
	master, _, err := keys.LoadMasterKey(keys.MasterKeyConfig{DataDir: dataDir, NoGenerate: true})
	if err != nil {
		return nil, fmt.Errorf("the server's master key: %w", err)
	}
	return keys.DeriveKey(master, keys.PurposeSecretHash)
}

// seedMachines gives license i of a set one machine, fingerprint fpPrefix+%08d,
// last seen an hour ago.
func seedMachines(ctx context.Context, conn *pgx.Conn, set, from, to int, fpPrefix string) error {
	q := fmt.Sprintf(`INSERT INTO machines (id, license_id, fingerprint, name, hostname, platform, ip, status, status_reason,
			last_heartbeat, last_lease_at, created_at, updated_at)
		SELECT %s, %s, $1 || lpad(i::text, 8, '0'), '', 'bench-host', 'linux', '127.0.0.1', 'active', '',
			now() - interval '1 hour', now() - interval '1 hour', now() - interval '1 day', now() - interval '1 hour'
		FROM generate_series($2::int, $3::int) AS i`, seedIDSQL(set+100, "i"), seedIDSQL(set, "i"))
	_, err := conn.Exec(ctx, q, fpPrefix, from, to)
	return err
}

// migrate runs `narcidi migrate` against a database.
func migrate(ctx context.Context, bin string, env []string) error {
	cmd := exec.CommandContext(ctx, bin, "migrate")
	cmd.Env = env
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("narcidi migrate: %v: %s", err, out)
	}
	return nil
}

// serverEnv is the environment of a narcidi process on db: the caller's,
// without any NARCIDI_* variable, plus these. It makes the master key in
// dataDir when there is none.
func serverEnv(db *benchDB, dataDir, adminToken string) ([]string, error) {
	if _, _, err := keys.LoadMasterKey(keys.MasterKeyConfig{DataDir: dataDir}); err != nil {
		return nil, fmt.Errorf("the server's master key: %w", err)
	}
	var env []string
	for _, kv := range os.Environ() {
		if len(kv) < 8 || kv[:8] != "NARCIDI_" {
			env = append(env, kv)
		}
	}
	return append(env,
		"NARCIDI_ADDR=127.0.0.1:0",
		"NARCIDI_DATA_DIR="+dataDir,
		"NARCIDI_DATABASE_URL="+db.URL,
		// PostgreSQL wants a configured master key: the one made above,
		// which serverHashKey reads too.
		"NARCIDI_MASTER_KEY_FILE="+filepath.Join(dataDir, "master.key"),
		"NARCIDI_ADMIN_TOKEN="+adminToken,
		"NARCIDI_LOG_LEVEL=warn",
		// The per-IP limit (120/m by default) would refuse a load test from
		// one address; the limiter still runs on every request.
		"NARCIDI_CLIENT_RATE=1000000/s",
	), nil
}
