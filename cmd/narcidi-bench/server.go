package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	verifier "github.com/nzilacode/narcidicontrole/verifier-sdk"
)

// Seeded sets: keys and fingerprints are prefix + row number (%08d).
const (
	setRenew       = 1
	setActivate    = 2
	renewKeyPrefix = "BENCH-R-"
	renewFPPrefix  = "bench-fp-"
	actKeyPrefix   = "BENCH-A-"
	actSeats       = 5
	actAttempts    = 8 // activation attempts per license: 5 win a seat, 3 are refused
)

func numCPU() int { return runtime.NumCPU() }

// buildServer builds ./cmd/narcidi into the work folder.
func buildServer(ctx context.Context, s *Settings) (string, error) {
	bin := filepath.Join(s.Tmp, "narcidi")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/narcidi")
	cmd.Dir = s.Root
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./cmd/narcidi: %v: %s", err, out)
	}
	return bin, nil
}

// catalog is what the admin API created for the run.
type catalog struct {
	ProductID, RenewPolicyID, ActPolicyID, CustomerID string
}

func setupCatalog(a *adminClient) (*catalog, error) {
	for _, e := range []string{"export", "sync"} {
		if _, err := a.do("POST", "/v1/entitlements", map[string]string{"code": e, "name": e}, nil); err != nil {
			return nil, err
		}
	}
	var product, renewPol, actPol, cust struct {
		ID string `json:"id"`
	}
	if _, err := a.do("POST", "/v1/products", map[string]string{"code": "bench", "name": "Bench"}, &product); err != nil {
		return nil, err
	}
	policy := func(name string, seats int, out any) error {
		_, err := a.do("POST", "/v1/policies", map[string]any{
			"product_id": product.ID, "name": name, "floating": true, "max_machines": seats,
			"lease_ttl_seconds": 3600, "entitlements": []string{"export", "sync"},
		}, out)
		return err
	}
	if err := policy("Bench renewals", 1, &renewPol); err != nil {
		return nil, err
	}
	if err := policy("Bench 5 seats", actSeats, &actPol); err != nil {
		return nil, err
	}
	if _, err := a.do("POST", "/v1/customers", map[string]string{"name": "Bench Ltd"}, &cust); err != nil {
		return nil, err
	}
	return &catalog{ProductID: product.ID, RenewPolicyID: renewPol.ID, ActPolicyID: actPol.ID, CustomerID: cust.ID}, nil
}

// sanityCheck goes through the SDK once: a license made by the admin API
// activates, a seeded license renews, and both leases verify offline with the
// server's JWKS. It proves the seeded rows are what the server expects.
func sanityCheck(ctx context.Context, base string, a *adminClient, cat *catalog) error {
	var lic struct {
		Key string `json:"key"`
	}
	if _, err := a.do("POST", "/v1/licenses", map[string]string{"policy_id": cat.RenewPolicyID, "customer_id": cat.CustomerID, "key": "BENCH-API-0000000001"}, &lic); err != nil {
		return err
	}
	c := &verifier.Client{BaseURL: base}
	keys, err := c.JWKS(ctx)
	if err != nil {
		return err
	}
	check := func(key, fp string, renew bool) error {
		req := verifier.MachineRequest{LicenseKey: key, Fingerprint: fp}
		var res *verifier.LeaseResponse
		if renew {
			res, err = c.Renew(ctx, req)
		} else {
			res, err = c.Activate(ctx, req)
		}
		if err != nil {
			return fmt.Errorf("sanity check (%s): %w", key, err)
		}
		v, err := verifier.New(verifier.Config{Keys: keys, Product: cat.ProductID, Fingerprint: fp})
		if err != nil {
			return err
		}
		lease, err := v.Verify(res.Lease)
		if err != nil {
			return fmt.Errorf("sanity check: the lease does not verify: %w", err)
		}
		if !lease.HasEntitlement("sync") {
			return fmt.Errorf("sanity check: the lease lacks the policy's entitlements: %v", lease.Claims.Entitlements)
		}
		return nil
	}
	if err := check(lic.Key, "bench-api-machine-1", false); err != nil {
		return err
	}
	return check(licenseKey(renewKeyPrefix, 1), fingerprintOf(renewFPPrefix, 1), true)
}

// benchServer runs items 2 and 3 of the issue: renewals (with pgbench and
// the ceiling beside them) and activations under contention.
func benchServer(ctx context.Context, s *Settings, r *Report, admin *pgx.Conn, pgbench string) error {
	bin, err := buildServer(ctx, s)
	if err != nil {
		return err
	}
	db, err := createDB(ctx, admin, s.PostgresURL, randomName("narcidi_bench_"))
	if err != nil {
		return err
	}
	defer db.drop(admin)
	dataDir, err := os.MkdirTemp(s.Tmp, "server-data-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dataDir)
	tokenBytes := make([]byte, 18)
	_, _ = rand.Read(tokenBytes)
	token := "bench-admin-" + hex.EncodeToString(tokenBytes)
	env, err := serverEnv(db, dataDir, token)
	if err != nil {
		return err
	}
	if s.LeaseCacheTTL != "" {
		env = append(env, "NARCIDI_LEASE_CACHE_TTL="+s.LeaseCacheTTL)
	}
	if err := migrate(ctx, bin, env); err != nil {
		return err
	}
	srv, err := startProc(ctx, bin, []string{"serve"}, env, filepath.Join(s.Tmp, "server.log"))
	if err != nil {
		return err
	}
	defer srv.stop()
	base := "http://" + srv.Addr
	a := &adminClient{base: base, token: token, hc: &http.Client{Timeout: 30 * time.Second}}
	cat, err := setupCatalog(a)
	if err != nil {
		return err
	}

	conn, err := db.connect(ctx)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	if err := tuneSession(ctx, conn); err != nil {
		return err
	}
	hashKey, err := serverHashKey(dataDir)
	if err != nil {
		return err
	}
	if err := seedServer(ctx, s, conn, cat, hashKey); err != nil {
		return err
	}
	if err := sanityCheck(ctx, base, a, cat); err != nil {
		return err
	}

	// Renewals.
	if err := settle(ctx, conn, "licenses", "machines"); err != nil {
		return err
	}
	ren, err := touchRun(ctx, s, srv, conn, "/v1/client/renew", "last_lease_at", s.Warmup, s.Duration)
	if err != nil {
		return err
	}
	rssKB, err := procStatusKB(srv.pid(), "VmHWM")
	if err != nil {
		return err
	}
	// Heartbeats: the other last-seen update, checked the same way.
	hb, err := touchRun(ctx, s, srv, conn, "/v1/client/heartbeat", "last_heartbeat", s.Warmup/3, s.ActDuration/2)
	if err != nil {
		return err
	}

	// Activations, on the same server.
	act, err := activations(ctx, s, srv, conn, cat)
	if err != nil {
		return err
	}
	srv.stop()

	// The same renewals with telemetry on, off, then on again (issue 14:
	// its cost, see reportTelemetry).
	var tel [3]*renewResult
	for i, mode := range []string{"on", "off", "on"} {
		if tel[i], err = telemetryRenewals(ctx, s, bin, env, conn, mode, i+1); err != nil {
			return fmt.Errorf("renewals with telemetry %s (run %d of 3): %w", mode, i+1, err)
		}
	}

	pgb, read, ceil, err := baselines(ctx, s, pgbench, db, conn, hashKey)
	if err != nil {
		return err
	}
	ren.report(r, pgb, ceil, rssKB)
	ren.reportReach(r, read, ceil)
	reportTelemetry(r, tel[0], tel[1], tel[2])
	hb.reportHeartbeats(r, pgb)
	act.report(r)
	pgb.report(r)
	ceil.report(r)

	if s.Profile && r.missed("renew.throughput", "renew.p99", "renew.rss") {
		if err := profileServer(ctx, s, r, env); err != nil {
			logf("server profile failed: %v", err)
			r.Profiles["server_error"] = err.Error()
		}
	}
	return nil
}

// seedServer writes the renewal licenses with their machines and the
// activation licenses straight into the server's database.
func seedServer(ctx context.Context, s *Settings, conn *pgx.Conn, cat *catalog, hashKey []byte) error {
	t := time.Now()
	if err := seedLicenses(ctx, conn, setRenew, 1, s.Licenses, renewKeyPrefix, cat.ProductID, cat.RenewPolicyID, cat.CustomerID, hashKey); err != nil {
		return fmt.Errorf("seed licenses: %w", err)
	}
	if err := seedMachines(ctx, conn, setRenew, 1, s.Licenses, renewFPPrefix); err != nil {
		return fmt.Errorf("seed machines: %w", err)
	}
	if err := seedLicenses(ctx, conn, setActivate, 1, s.ActLicenses, actKeyPrefix, cat.ProductID, cat.ActPolicyID, cat.CustomerID, hashKey); err != nil {
		return fmt.Errorf("seed activation licenses: %w", err)
	}
	logf("seeded %d licenses and machines, %d 5-seat licenses in %s", s.Licenses, s.ActLicenses, time.Since(t).Round(time.Millisecond))
	return nil
}

// baselines are what renewals are compared with, run after the server
// stopped: pgbench doing the same transaction the plain way on the same
// database, the one-row indexed read a renewal cannot do without, and the
// ceiling (HTTP and a signature, no database).
func baselines(ctx context.Context, s *Settings, pgbench string, db *benchDB, conn *pgx.Conn, hashKey []byte) (pgb, read *pgbenchResult, ceil *ceilingResult, err error) {
	if err := settle(ctx, conn, "licenses", "machines"); err != nil {
		return nil, nil, nil, err
	}
	if pgb, err = runPgbench(ctx, s, pgbench, db, hashKey, "renew", pgbenchScript); err != nil {
		return nil, nil, nil, err
	}
	if read, err = runPgbench(ctx, s, pgbench, db, hashKey, "read", pgbenchReadScript); err != nil {
		return nil, nil, nil, err
	}
	if ceil, err = runCeilingLoad(ctx, s); err != nil {
		return nil, nil, nil, err
	}
	return pgb, read, ceil, nil
}

// renewResult is the renewal run.
type renewResult struct {
	load        *loadResult
	cpu         cpuUse
	distinctOK  int
	lost        int
	extra       int
	settledIn   time.Duration
	checkedRows int
}

// touchRun drives path (renew or heartbeat) over the seeded machines, then
// checks that every machine answered 200 shows it in column (last_lease_at
// or last_heartbeat) within 5 s of the end of the run.
func touchRun(ctx context.Context, s *Settings, srv *proc, conn *pgx.Conn, path, column string, warmup, duration time.Duration) (*renewResult, error) {
	n := s.Licenses
	ok := make([]atomic.Bool, n+1)
	var counter atomic.Int64
	spec := machineLoad(srv.Addr, path, s.Clients, warmup, n)
	spec.OnResponse = func(tag, status int, _ []byte) {
		if status == http.StatusOK {
			ok[tag].Store(true)
		}
	}
	warm := runLoad(ctx, spec, &counter)
	if warm.Statuses[http.StatusOK] == 0 {
		return nil, fmt.Errorf("warm-up of %s: no request succeeded:%s", path, warm.statusText())
	}
	for i := range ok {
		ok[i].Store(false)
	}
	// Every request of the measured run starts after t0, and the server
	// stamps the machine from the same clock, truncated to microseconds.
	t0 := time.Now().Truncate(time.Microsecond)
	spec.Duration = duration
	spec.MaxReqs = counter.Load() + 50_000_000
	before := sampleCPU(srv.pid())
	load := runLoad(ctx, spec, &counter)
	after := sampleCPU(srv.pid())
	end := time.Now()
	res := &renewResult{load: load, cpu: cpuBetween(before, after)}
	for i := 1; i <= n; i++ {
		if ok[i].Load() {
			res.distinctOK++
		}
	}
	logf("%s: %d requests in %s:%s", path, load.Requests, load.Elapsed.Round(time.Millisecond), load.statusText())

	// No lost update: every machine answered OK must show column >= t0,
	// within 5 s of the end of the run.
	for {
		inDB := make([]bool, n+1)
		rows, err := conn.Query(ctx, `SELECT fingerprint FROM machines WHERE `+column+` >= $1 AND fingerprint LIKE 'bench-fp-%'`, t0)
		if err != nil {
			return nil, err
		}
		count := 0
		for rows.Next() {
			var fp string
			if err := rows.Scan(&fp); err != nil {
				rows.Close()
				return nil, err
			}
			if i, err := strconv.Atoi(strings.TrimPrefix(fp, renewFPPrefix)); err == nil && i >= 1 && i <= n {
				inDB[i] = true
				count++
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
		res.lost, res.extra, res.checkedRows = 0, 0, count
		for i := 1; i <= n; i++ {
			switch {
			case ok[i].Load() && !inDB[i]:
				res.lost++
			case !ok[i].Load() && inDB[i]:
				res.extra++
			}
		}
		res.settledIn = time.Since(end)
		if res.lost == 0 || res.settledIn > 5*time.Second {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	return res, nil
}

func (x *renewResult) report(r *Report, pgb *pgbenchResult, ceil *ceilingResult, rssKB int) {
	l := x.load
	rate := l.rate(http.StatusOK)
	ratio := rate / pgb.TPS
	non200 := l.Requests - l.Statuses[http.StatusOK]
	srvUS, pgUS, selfUS := x.cpu.perOp(l.Statuses[http.StatusOK])
	r.add(Row{ID: "renew.throughput", Name: "renewals/s (real server, PostgreSQL)", Value: rate, Unit: "renewals/s",
		Display: fmt.Sprintf("%.0f/s", rate), Target: fmt.Sprintf("≥ 2 × pgbench (≥ %.0f/s)", 2*pgb.TPS), Ratio: ptr(ratio), Status: judge(ratio >= 2),
		Note: fmt.Sprintf("%d clients, %s, %d licenses; %d renewed OK, %d other answers:%s; %.0f%% of the ceiling",
			r.Settings.Clients, l.Elapsed.Round(time.Millisecond), r.Settings.Licenses, l.Statuses[http.StatusOK], non200, l.statusText(), 100*rate/ceil.load.rate(http.StatusOK))})
	r.add(Row{ID: "renew.p50", Name: "renewal latency p50", Value: ms(l.percentile(50)), Unit: "ms", Display: fmt.Sprintf("%.2f ms", ms(l.percentile(50)))})
	p99 := ms(l.percentile(99))
	r.add(Row{ID: "renew.p99", Name: "renewal latency p99", Value: p99, Unit: "ms", Display: fmt.Sprintf("%.2f ms", p99),
		Target: "≤ 25 ms", Status: judge(p99 <= 25), Note: fmt.Sprintf("max %.1f ms", ms(l.percentile(100)))})
	mb := float64(rssKB) / 1024
	r.add(Row{ID: "renew.rss", Name: "server peak RSS (VmHWM)", Value: mb, Unit: "MiB", Display: fmt.Sprintf("%.1f MiB", mb),
		Target: "≤ 150 MB", Status: judge(float64(rssKB)*1024 <= 150e6), Note: "read from /proc/PID/status after the renewal run"})
	r.add(Row{ID: "renew.lost", Name: "last-seen updates lost", Value: float64(x.lost), Unit: "updates",
		Display: fmt.Sprintf("%d of %d", x.lost, x.distinctOK), Target: "0 within 5 s", Status: judge(x.lost == 0),
		Note: fmt.Sprintf("machines renewed OK vs machines with last_lease_at ≥ run start, checked %s after the end; %d updated without a 200 (answer cut by the end of the run)",
			x.settledIn.Round(time.Millisecond), x.extra)})
	r.add(Row{ID: "renew.cpu", Name: "CPU per renewal (server/postgres/loadgen)", Value: srvUS + pgUS, Unit: "µs",
		Display: fmt.Sprintf("%.0f/%.0f/%.0f µs", srvUS, pgUS, selfUS),
		Note:    fmt.Sprintf("machine %.0f%% busy over %d cores during the run", 100*x.cpu.MachineBusy, numCPU())})
}

// reportReach compares renewals with the most they can reach here: a
// renewal is at least the bare HTTP + signature work (the ceiling) and one
// indexed read, so on the same cores its rate is at most
// 1/(1/ceiling + 1/read). Unlike pgbench's transaction, which swings with
// the machine's I/O, both parts are CPU-bound and steady.
func (x *renewResult) reportReach(r *Report, read *pgbenchResult, ceil *ceilingResult) {
	rate := x.load.rate(http.StatusOK)
	c := ceil.load.rate(http.StatusOK)
	if c <= 0 || read.TPS <= 0 {
		return
	}
	reach := 1 / (1/c + 1/read.TPS)
	frac := rate / reach
	r.add(Row{ID: "renew.reach", Name: "renewals / reachable rate", Value: frac, Unit: "fraction",
		Display: fmt.Sprintf("%.2f of %.0f/s", frac, reach), Target: "≥ 0.8", Ratio: ptr(frac), Status: judge(frac >= 0.8),
		Note: fmt.Sprintf("reachable = 1/(1/ceiling + 1/read): ceiling %.0f/s (HTTP + signature), one-row indexed read %.0f/s (pgbench, -M prepared, %d transactions)",
			c, read.TPS, read.Txns)})
}

func (x *renewResult) reportHeartbeats(r *Report, pgb *pgbenchResult) {
	l := x.load
	rate := l.rate(http.StatusOK)
	ratio := rate / pgb.TPS
	r.add(Row{ID: "heartbeat.throughput", Name: "heartbeats/s (real server, PostgreSQL)", Value: rate, Unit: "heartbeats/s",
		Display: fmt.Sprintf("%.0f/s", rate), Target: fmt.Sprintf("≥ 2 × pgbench (≥ %.0f/s)", 2*pgb.TPS), Ratio: ptr(ratio), Status: judge(ratio >= 2),
		Note: fmt.Sprintf("%d clients, %s; p50 %.2f ms; answers:%s",
			r.Settings.Clients, l.Elapsed.Round(time.Millisecond), ms(l.percentile(50)), l.statusText())})
	p99 := ms(l.percentile(99))
	r.add(Row{ID: "heartbeat.p99", Name: "heartbeat latency p99", Value: p99, Unit: "ms", Display: fmt.Sprintf("%.2f ms", p99),
		Target: "≤ 25 ms", Status: judge(p99 <= 25), Note: fmt.Sprintf("max %.1f ms", ms(l.percentile(100)))})
	r.add(Row{ID: "heartbeat.lost", Name: "heartbeat updates lost", Value: float64(x.lost), Unit: "updates",
		Display: fmt.Sprintf("%d of %d", x.lost, x.distinctOK), Target: "0 within 5 s", Status: judge(x.lost == 0),
		Note: fmt.Sprintf("machines answered 200 vs machines with last_heartbeat ≥ run start, checked %s after the end", x.settledIn.Round(time.Millisecond))})
}

// actResult is the activation run.
type actResult struct {
	load       *loadResult
	overIssued int
	machines   int
	full       int
	licenses   int
}

func activations(ctx context.Context, s *Settings, srv *proc, conn *pgx.Conn, cat *catalog) (*actResult, error) {
	var counter atomic.Int64
	spec := loadSpec{
		Addr: srv.Addr, Path: "/v1/client/activate", Clients: s.Clients, Duration: s.ActDuration,
		MaxReqs: int64(s.ActLicenses) * actAttempts,
		Body: func(k int64, buf []byte) ([]byte, int) {
			lic := int(k/actAttempts) + 1
			buf = append(buf, `{"license_key":"`...)
			buf = fmt.Appendf(buf, "%s%08d", actKeyPrefix, lic)
			buf = fmt.Appendf(buf, `","fingerprint":"bench-act-fp-%010d","hostname":"bench-host"}`, k)
			return buf, lic
		},
	}
	load := runLoad(ctx, spec, &counter)
	logf("activations: %d requests in %s:%s", load.Requests, load.Elapsed.Round(time.Millisecond), load.statusText())
	res := &actResult{load: load, licenses: s.ActLicenses}
	err := conn.QueryRow(ctx, `
		SELECT count(*) FILTER (WHERE n > $2), coalesce(sum(n), 0), count(*) FILTER (WHERE n = $2)
		FROM (SELECT m.license_id, count(*) AS n FROM machines m JOIN licenses l ON l.id = m.license_id
		      WHERE l.policy_id = $1 GROUP BY m.license_id) AS x`, cat.ActPolicyID, actSeats).Scan(&res.overIssued, &res.machines, &res.full)
	return res, err
}

func (x *actResult) report(r *Report) {
	l := x.load
	created := l.Statuses[http.StatusCreated]
	rate := l.rate(http.StatusCreated)
	r.add(Row{ID: "activate.throughput", Name: "activations/s (5-seat licenses)", Value: rate, Unit: "activations/s",
		Display: fmt.Sprintf("%.0f/s", rate),
		Note: fmt.Sprintf("%d clients, %s, %d attempts per license (fresh fingerprints), %.0f answers/s:%s",
			r.Settings.Clients, l.Elapsed.Round(time.Millisecond), actAttempts, l.rate(), l.statusText())})
	consistent := int64(x.machines) == created
	r.add(Row{ID: "activate.over_issued", Name: "over-issued seats", Value: float64(x.overIssued), Unit: "licenses",
		Display: strconv.Itoa(x.overIssued), Target: "0", Status: judge(x.overIssued == 0 && consistent),
		Note: fmt.Sprintf("licenses with more than %d machines; %d machines in the database for %d answers 201 (equal: %v); %d licenses full",
			actSeats, x.machines, created, consistent, x.full)})
}

// pgbenchResult is pgbench's run of the plain transaction.
type pgbenchResult struct {
	TPS       float64
	LatencyMS float64
	Txns      int64
	Failed    int64
	cpu       cpuUse
	pgbCPU    float64
	Elapsed   time.Duration
}

// pgbenchScript is the renewal done the plain way: find the license by the
// keyed hash of its key (as the server does), then stamp its machine, in
// one transaction.
const pgbenchScript = `\set i random(1, %[1]d)
BEGIN;
SELECT id, status, policy_id, expires_at FROM licenses WHERE key_hash = encode(hmac(convert_to('%s' || lpad(:i::text, 8, '0'), 'UTF8'), '\x%x'::bytea, 'sha256'), 'hex') \gset l_
UPDATE machines SET last_lease_at = now(), updated_at = now() WHERE license_id = :l_id AND fingerprint = '%[4]s' || lpad(:i::text, 8, '0');
END;
`

// pgbenchReadScript is the one-row indexed read alone (what `pgbench -S`
// does, on the renewal's own table and key).
const pgbenchReadScript = `\set i random(1, %[1]d)
SELECT id, status, policy_id, expires_at FROM licenses WHERE key_hash = encode(hmac(convert_to('%[2]s' || lpad(:i::text, 8, '0'), 'UTF8'), '\x%[3]x'::bytea, 'sha256'), 'hex');
`

var (
	tpsRe     = regexp.MustCompile(`tps = ([0-9.]+) \(without initial connection time\)`)
	latencyRe = regexp.MustCompile(`latency average = ([0-9.]+) ms`)
	txnsRe    = regexp.MustCompile(`number of transactions actually processed: ([0-9]+)`)
	failedRe  = regexp.MustCompile(`number of failed transactions: ([0-9]+)`)
)

func runPgbench(ctx context.Context, s *Settings, pgbench string, db *benchDB, hashKey []byte, name, text string) (*pgbenchResult, error) {
	script := filepath.Join(s.Tmp, name+".pgbench.sql")
	if err := os.WriteFile(script, fmt.Appendf(nil, text, s.Licenses, renewKeyPrefix, hashKey, renewFPPrefix), 0o644); err != nil {
		return nil, err
	}
	secs := max(1, int(s.Duration.Round(time.Second)/time.Second))
	cmd := exec.CommandContext(ctx, pgbench, "-n", "-M", "prepared", "-c", strconv.Itoa(s.Clients), "-j", strconv.Itoa(min(s.Clients, numCPU())),
		"-T", strconv.Itoa(secs), "-f", script, db.URL)
	before := sampleCPU(0)
	out, err := cmd.CombinedOutput()
	after := sampleCPU(0)
	if err != nil {
		return nil, fmt.Errorf("pgbench: %v: %s", err, tail(out, 2000))
	}
	res := &pgbenchResult{cpu: cpuBetween(before, after), Elapsed: after.at.Sub(before.at)}
	if st := cmd.ProcessState; st != nil {
		res.pgbCPU = (st.UserTime() + st.SystemTime()).Seconds()
	}
	m := tpsRe.FindSubmatch(out)
	if m == nil {
		return nil, fmt.Errorf("pgbench: no tps in its output: %s", tail(out, 2000))
	}
	res.TPS, _ = strconv.ParseFloat(string(m[1]), 64)
	if m := latencyRe.FindSubmatch(out); m != nil {
		res.LatencyMS, _ = strconv.ParseFloat(string(m[1]), 64)
	}
	if m := txnsRe.FindSubmatch(out); m != nil {
		res.Txns, _ = strconv.ParseInt(string(m[1]), 10, 64)
	}
	if m := failedRe.FindSubmatch(out); m != nil {
		res.Failed, _ = strconv.ParseInt(string(m[1]), 10, 64)
	}
	logf("pgbench %s: %.0f tps, %d transactions, %d failed", name, res.TPS, res.Txns, res.Failed)
	return res, nil
}

func (x *pgbenchResult) report(r *Report) {
	_, pgUS, _ := x.cpu.perOp(x.Txns)
	r.add(Row{ID: "pgbench.tps", Name: "pgbench plain transaction TPS", Value: x.TPS, Unit: "tps", Display: fmt.Sprintf("%.0f/s", x.TPS),
		Note: fmt.Sprintf("BEGIN; SELECT license by key_hash; UPDATE machine last_lease_at; END — %d clients, -M prepared, %d transactions, %d failed, latency avg %.2f ms; CPU per transaction: postgres %.0f µs, pgbench %.0f µs; machine %.0f%% busy",
			r.Settings.Clients, x.Txns, x.Failed, x.LatencyMS, pgUS, x.pgbCPU*1e6/float64(max(1, x.Txns)), 100*x.cpu.MachineBusy)})
}
