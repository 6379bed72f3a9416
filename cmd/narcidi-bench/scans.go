package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// The scans of the background workers, measured as SQL on PostgreSQL, over a
// small and a large data set holding the same rows due. They are the
// queries of storage.DueExpiryNotices (the 30-day notice) and
// storage.SilentMachines (active machines of a policy), written out for pgx;
// keep them in step with storage/automation.go. The workers read in batches
// of 200; the bench reads the 1000 due rows at once to compare with earlier
// runs.

const (
	// expiryScan: active licenses of the policy ending within 30 days that
	// have not had their 30-day notice, soonest first.
	expiryScan = `SELECT * FROM licenses
		WHERE status = 'active' AND expires_at > $1 AND expires_at <= $2 AND policy_id = $3
		AND NOT EXISTS (SELECT 1 FROM expiry_notices n WHERE n.license_id = licenses.id AND n.days = 30 AND n.expires_at = licenses.expires_at)
		ORDER BY expires_at LIMIT 1000`
	// offlineScan: active machines of the policy silent for longer than the window, oldest first.
	offlineScan = `SELECT * FROM machines
		WHERE status = 'active' AND last_heartbeat < $1 AND license_id IN (SELECT id FROM licenses WHERE policy_id = $2)
		ORDER BY last_heartbeat LIMIT 1000`
	heartbeatWindow = time.Hour
	expiryHorizon   = 30 * 24 * time.Hour
)

// partialIndexes are the candidate indexes measured beside the schema's own:
// they hold active rows only, so that what a scan reads is what is due.
var partialIndexes = []string{
	`CREATE INDEX bench_licenses_active_expires_at ON licenses (expires_at) WHERE status = 'active'`,
	`CREATE INDEX bench_machines_active_last_heartbeat ON machines (last_heartbeat) WHERE status = 'active'`,
}

const (
	scanProduct  = "00000000-0000-4000-8003-000000000001"
	scanPolicy   = "00000000-0000-4000-8003-000000000002"
	scanCustomer = "00000000-0000-4000-8003-000000000003"
)

// seedScanRows adds licenses and machines from..to. Among rows 1..small,
// every step-th (due of them) is due: an active license ending within the
// horizon, an active machine silent for longer than the window. The rest is
// what a real base holds that no scan should read: licenses that end later,
// never, or already ended (status expired), suspended ones, machines seen
// recently, and machines that went offline long ago (status offline, 20%).
func seedScanRows(ctx context.Context, conn *pgx.Conn, now time.Time, from, to, small, due int) error {
	step := small / due
	rows := fmt.Sprintf(`(SELECT i, %s AS lid, %s AS mid, (i %% $2 = 0 AND i / $2 <= $3) AS due
		FROM generate_series($4::int, $5::int) AS i)`, seedIDSQL(3, "i"), seedIDSQL(103, "i"))
	licenses := `INSERT INTO licenses (id, key_hash, key_hint, product_id, policy_id, customer_id, name, status, status_reason,
			expires_at, entitlements, metadata, created_at, updated_at)
		SELECT lid, encode(sha256(convert_to('SCAN-' || i, 'UTF8')), 'hex'), right(i::text, 4), '` + scanProduct + `', '` + scanPolicy + `', '` + scanCustomer + `', '',
			CASE WHEN due THEN 'active' WHEN i % 10 = 8 THEN 'expired' WHEN i % 10 = 9 THEN 'suspended' ELSE 'active' END, '',
			CASE WHEN due THEN $1::timestamptz + ((i / $2) % 29) * interval '1 day' + interval '12 hours'
			     WHEN i % 10 IN (6, 7) THEN NULL
			     WHEN i % 10 = 8 THEN $1::timestamptz - (1 + i % 700) * interval '1 day'
			     ELSE $1::timestamptz + interval '31 days' + (i % 1000) * interval '1 day' END,
			'[]', '{}', $1::timestamptz - interval '400 days', $1::timestamptz - interval '1 day'
		FROM ` + rows + ` AS s`
	machines := `INSERT INTO machines (id, license_id, fingerprint, name, hostname, platform, ip, status, status_reason,
			last_heartbeat, last_lease_at, created_at, updated_at)
		SELECT mid, lid, 'scan-fp-' || lpad(i::text, 10, '0'), '', 'host', 'linux', '10.0.0.1',
			CASE WHEN due THEN 'active' WHEN i % 5 = 0 THEN 'offline' ELSE 'active' END, '',
			hb, hb, $1::timestamptz - interval '300 days', hb
		FROM (SELECT *, CASE WHEN due THEN $1::timestamptz - interval '61 minutes' - ((i / $2) % 1000) * interval '1 minute'
		                     WHEN i % 5 = 0 THEN $1::timestamptz - (1 + i % 60) * interval '1 day'
		                     ELSE $1::timestamptz - (i % 50) * interval '1 minute' END AS hb
		      FROM ` + rows + ` AS r) AS s`
	for _, q := range []string{licenses, machines} {
		if _, err := conn.Exec(ctx, q, now, step, due, from, to); err != nil {
			return err
		}
	}
	return nil
}

func seedScanCatalog(ctx context.Context, conn *pgx.Conn) error {
	_, err := conn.Exec(ctx, `
		INSERT INTO products (id, code, name, metadata, created_at, updated_at) VALUES ('`+scanProduct+`', 'scan', 'Scan', '{}', now(), now());
		INSERT INTO policies (id, product_id, name, duration_seconds, max_machines, floating, lease_ttl_seconds,
			heartbeat_window_seconds, grace_seconds, expiry_action, entitlements, metadata, created_at, updated_at)
			VALUES ('`+scanPolicy+`', '`+scanProduct+`', 'Scan', 31536000, 1, false, 86400, 3600, 0, 'restrict', '[]', '{}', now(), now());
		INSERT INTO customers (id, name, email, status, metadata, created_at, updated_at)
			VALUES ('`+scanCustomer+`', 'Scan Ltd', '', 'active', '{}', now(), now())`)
	return err
}

// scanTiming is one query measured on one data set.
type scanTiming struct {
	Median  time.Duration
	Reps    int
	Rows    int
	Plan    string
	Buffers int64
	ExecMS  float64
	// Ratio is the median, over repetitions, of this query's time on the
	// large set divided by its time on the small set in the same repetition.
	Ratio float64
}

// scanQuery is one scan on one data set.
type scanQuery struct {
	conn *pgx.Conn
	sql  string
	args []any
	lat  []float64
	out  *scanTiming
}

// timeScans runs the queries in turn, repetition after repetition, so that
// a slower moment of the machine hits all of them, and takes medians. The
// queries come in (small, large) pairs of the same scan. It stops after reps
// repetitions, or after 15 s once 10 are done.
func timeScans(ctx context.Context, qs []*scanQuery, reps int) error {
	start := time.Now()
	for rep := -5; rep < reps && (rep < 10 || time.Since(start) < 15*time.Second); rep++ { // 5 untimed repetitions warm the caches
		for _, x := range qs {
			t := time.Now()
			rows, err := x.conn.Query(ctx, x.sql, x.args...)
			if err != nil {
				return err
			}
			n := 0
			for rows.Next() {
				n++
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return err
			}
			if rep >= 0 {
				x.lat = append(x.lat, float64(time.Since(t)))
			}
			x.out.Rows = n
		}
	}
	for i, x := range qs {
		x.out.Median, x.out.Reps = time.Duration(median(x.lat)), len(x.lat)
		var err error
		if x.out.Plan, x.out.Buffers, x.out.ExecMS, err = explain(ctx, x.conn, x.sql, x.args...); err != nil {
			return err
		}
		if i%2 == 1 {
			small := qs[i-1]
			ratios := make([]float64, len(x.lat))
			for j := range x.lat {
				ratios[j] = x.lat[j] / small.lat[j]
			}
			x.out.Ratio = median(ratios)
		}
	}
	return nil
}

// explain returns the plan's shape (node types and indexes), the buffers it
// touched and its execution time.
func explain(ctx context.Context, conn *pgx.Conn, sql string, args ...any) (string, int64, float64, error) {
	var raw []byte
	if err := conn.QueryRow(ctx, "EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) "+sql, args...).Scan(&raw); err != nil {
		return "", 0, 0, fmt.Errorf("explain: %w", err)
	}
	type node struct {
		NodeType  string `json:"Node Type"`
		IndexName string `json:"Index Name"`
		Relation  string `json:"Relation Name"`
		Hit       int64  `json:"Shared Hit Blocks"`
		Read      int64  `json:"Shared Read Blocks"`
		Plans     []node `json:"Plans"`
	}
	var doc []struct {
		Plan          node    `json:"Plan"`
		ExecutionTime float64 `json:"Execution Time"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil || len(doc) == 0 {
		return "", 0, 0, fmt.Errorf("explain output: %v", err)
	}
	var parts []string
	var walk func(n node)
	walk = func(n node) {
		s := n.NodeType
		if n.IndexName != "" {
			s += " using " + n.IndexName
		} else if n.Relation != "" {
			s += " on " + n.Relation
		}
		parts = append(parts, s)
		for _, c := range n.Plans {
			walk(c)
		}
	}
	walk(doc[0].Plan)
	return strings.Join(parts, " → "), doc[0].Plan.Hit + doc[0].Plan.Read, doc[0].ExecutionTime, nil
}

// scanDB is one data set in a database of its own.
type scanDB struct {
	size int
	db   *benchDB
	conn *pgx.Conn
}

// newScanDB creates, migrates and seeds a data set of size rows.
func newScanDB(ctx context.Context, s *Settings, admin *pgx.Conn, bin string, now time.Time, size int) (*scanDB, error) {
	db, err := createDB(ctx, admin, s.PostgresURL, randomName("narcidi_bench_scan_"))
	if err != nil {
		return nil, err
	}
	sd := &scanDB{size: size, db: db}
	dataDir, err := os.MkdirTemp(s.Tmp, "scan-data-")
	if err != nil {
		return sd, err
	}
	defer os.RemoveAll(dataDir)
	env, err := serverEnv(db, dataDir, "")
	if err != nil {
		return sd, err
	}
	if err := migrate(ctx, bin, env); err != nil {
		return sd, err
	}
	if sd.conn, err = db.connect(ctx); err != nil {
		return sd, err
	}
	if err := tuneSession(ctx, sd.conn); err != nil {
		return sd, err
	}
	if err := seedScanCatalog(ctx, sd.conn); err != nil {
		return sd, err
	}
	t := time.Now()
	if err := seedScanRows(ctx, sd.conn, now, 1, size, s.ScanSmall, s.ScanDue); err != nil {
		return sd, fmt.Errorf("seed %d scan rows: %w", size, err)
	}
	logf("scan data: %d licenses and machines seeded in %s", size, time.Since(t).Round(time.Millisecond))
	return sd, settle(ctx, sd.conn, "licenses", "machines")
}

func (sd *scanDB) close(admin *pgx.Conn) {
	if sd.conn != nil {
		sd.conn.Close(context.Background())
	}
	sd.db.drop(admin)
}

// benchScans measures both scans on a small and a large data set that hold
// the same rows due, side by side (two databases, queried in turn), first
// with the schema's indexes, then with the candidate partial indexes added.
func benchScans(ctx context.Context, s *Settings, r *Report, admin *pgx.Conn) error {
	bin := filepath.Join(s.Tmp, "narcidi")
	if _, err := os.Stat(bin); err != nil {
		if bin, err = buildServer(ctx, s); err != nil {
			return err
		}
	}
	now := time.Now().UTC().Truncate(time.Second)
	var sets [2]*scanDB
	for i, size := range []int{s.ScanSmall, s.ScanLarge} {
		sd, err := newScanDB(ctx, s, admin, bin, now, size)
		if sd != nil {
			defer sd.close(admin)
		}
		if err != nil {
			return err
		}
		sets[i] = sd
	}
	small, large := sets[0], sets[1]
	measure := func() (expiry, offline [2]*scanTiming, err error) {
		// Each scan is timed on its own (its small and large sets in turn), so
		// that a slow scan does not weigh on the other's figures.
		for _, scan := range []struct {
			sql  string
			args []any
			out  *[2]*scanTiming
		}{
			{expiryScan, []any{now, now.Add(expiryHorizon), scanPolicy}, &expiry},
			{offlineScan, []any{now.Add(-heartbeatWindow), scanPolicy}, &offline},
		} {
			var qs []*scanQuery
			for i, sd := range sets {
				scan.out[i] = &scanTiming{}
				qs = append(qs, &scanQuery{conn: sd.conn, sql: scan.sql, args: scan.args, out: scan.out[i]})
			}
			if err := timeScans(ctx, qs, s.ScanReps); err != nil {
				return expiry, offline, err
			}
		}
		return expiry, offline, nil
	}
	expiry, offline, err := measure()
	if err != nil {
		return err
	}
	for _, sd := range sets {
		for _, ddl := range partialIndexes {
			if _, err := sd.conn.Exec(ctx, ddl); err != nil {
				return err
			}
		}
		if _, err := sd.conn.Exec(ctx, "ANALYZE licenses; ANALYZE machines"); err != nil {
			return err
		}
	}
	expiryP, offlineP, err := measure()
	if err != nil {
		return err
	}
	add := func(id, what string, t [2]*scanTiming, partial bool) {
		note := func(t *scanTiming) string {
			return fmt.Sprintf("median of %d; %d rows, %d buffers, server %.2f ms; %s", t.Reps, t.Rows, t.Buffers, t.ExecMS, t.Plan)
		}
		label := ""
		if partial {
			label = " [candidate partial index]"
		}
		r.add(Row{ID: id + ".small", Name: fmt.Sprintf("%s scan, %s%s", what, count(small.size), label), Value: msF(t[0].Median), Unit: "ms",
			Display: fmt.Sprintf("%.3f ms", msF(t[0].Median)), Note: note(t[0])})
		row := Row{ID: id + ".large", Name: fmt.Sprintf("%s scan, %s%s", what, count(large.size), label), Value: msF(t[1].Median), Unit: "ms",
			Display: fmt.Sprintf("%.3f ms", msF(t[1].Median)), Ratio: ptr(t[1].Ratio), Note: note(t[1]) + "; ratio: median of per-repetition ratios"}
		if partial {
			row.Note = "not in the schema; " + row.Note
		} else {
			row.Target, row.Status = fmt.Sprintf("≤ 1.3 × %s", count(small.size)), judge(t[1].Ratio <= 1.3)
		}
		r.add(row)
		if t[0].Rows != s.ScanDue || t[1].Rows != s.ScanDue {
			r.add(Row{ID: id + ".due", Name: what + " scan rows due", Value: float64(t[1].Rows), Display: fmt.Sprintf("%d and %d", t[0].Rows, t[1].Rows),
				Target: fmt.Sprint(s.ScanDue), Status: StatusError, Note: "the data sets do not hold the same rows due"})
		}
	}
	add("scan.expiry", "expiry", expiry, false)
	add("scan.offline", "offline", offline, false)
	add("scan.expiry_partial", "expiry", expiryP, true)
	add("scan.offline_partial", "offline", offlineP, true)
	return nil
}

func msF(d time.Duration) float64 { return float64(d) / 1e6 }

func count(n int) string {
	switch {
	case n >= 1_000_000 && n%1_000_000 == 0:
		return fmt.Sprintf("%dM", n/1_000_000)
	case n >= 1000 && n%1000 == 0:
		return fmt.Sprintf("%dk", n/1000)
	}
	return fmt.Sprint(n)
}
