// Command narcidi-bench is the benchmark harness behind `make bench`: it
// measures Narcidi side by side with the limits it runs against, in one run on
// one machine, and prints one table (also written as JSON).
//
//	narcidi-bench [flags]          run every benchmark (see -h)
//	narcidi-bench -smoke [flags]   the same at tiny scale, to check the harness
//
// It builds the real server (./cmd/narcidi) and runs it as a subprocess on a
// PostgreSQL database of its own (created with a random name, dropped at the
// end), seeds it with SQL, and drives it over loopback with a keep-alive load
// generator. Two hidden subcommands are the other processes it starts:
// "ceiling" (a bare fiber handler that only signs a lease) and
// "profile-server" (an in-process copy of the server's wiring with a CPU
// profile, used when a server target is missed).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// Settings are the knobs of one run; the defaults are the full benchmark.
// (Its int and duration fields are alike other tagged structs, such as
// storage's insight outcome rows, by shape only.)
type Settings struct {
	Root            string        `json:"-"`
	Out             string        `json:"-"`
	TableOut        string        `json:"-"`
	Tmp             string        `json:"-"`
	PostgresURL     string        `json:"-"`
	Smoke           bool          `json:"smoke"`
	Licenses        int           `json:"licenses"`
	Clients         int           `json:"clients"`
	Duration        time.Duration `json:"duration_ns"`
	Warmup          time.Duration `json:"warmup_ns"`
	ActDuration     time.Duration `json:"activation_duration_ns"`
	ActLicenses     int           `json:"activation_licenses"`
	ScanSmall       int           `json:"scan_small"`
	ScanLarge       int           `json:"scan_large"`
	ScanDue         int           `json:"scan_due"`
	ScanReps        int           `json:"scan_reps"`
	BenchRounds     int           `json:"bench_rounds"`
	BenchTime       string        `json:"bench_time"`
	Profile         bool          `json:"profile"`
	ProfileTime     time.Duration `json:"profile_duration_ns"`
	Only            string        `json:"only,omitempty"`
	InsightLicenses int           `json:"insight_licenses"`
	// LeaseCacheTTL is the servers' NARCIDI_LEASE_CACHE_TTL ("": their
	// default), so a run can compare the policy cache on and off.
	LeaseCacheTTL string `json:"lease_cache_ttl,omitempty"`
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if len(os.Args) > 1 {
		switch os.Args[1] {
		case "ceiling":
			exit(runCeiling(ctx, os.Args[2:]))
		case "profile-server":
			exit(runProfileServer(ctx, os.Args[2:]))
		}
	}
	s, err := parseFlags(os.Args[1:])
	if err != nil {
		exit(err)
	}
	exit(run(ctx, s))
}

func exit(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "narcidi-bench:", err)
		os.Exit(1)
	}
	os.Exit(0)
}

func parseFlags(args []string) (*Settings, error) {
	s := &Settings{}
	fs := flag.NewFlagSet("narcidi-bench", flag.ContinueOnError)
	fs.StringVar(&s.Root, "root", ".", "the repository root (where go.mod and ./cmd/narcidi are)")
	fs.StringVar(&s.Out, "out", "bench/results.json", "where to write the results as JSON")
	fs.StringVar(&s.TableOut, "table", "bench/tmp/results.md", "where to write the table as Markdown")
	fs.StringVar(&s.Tmp, "tmp", "bench/tmp", "work folder: binaries, data dirs, profiles")
	fs.StringVar(&s.PostgresURL, "postgres", defaultPostgresURL(), "a PostgreSQL URL whose user may create databases [NARCIDI_BENCH_POSTGRES_URL]")
	fs.BoolVar(&s.Smoke, "smoke", false, "tiny scale (200 licenses, 2 s of load, small scans): checks the harness, measures nothing")
	fs.IntVar(&s.Licenses, "licenses", 100_000, "licenses (one machine each) seeded for the renewal benchmark")
	fs.IntVar(&s.Clients, "clients", 32, "concurrent clients of every load test")
	fs.DurationVar(&s.Duration, "duration", 20*time.Second, "duration of each throughput run (renewals, pgbench, ceiling)")
	fs.DurationVar(&s.Warmup, "warmup", 3*time.Second, "warm-up before each HTTP throughput run")
	fs.DurationVar(&s.ActDuration, "activation-duration", 10*time.Second, "duration of the activation run")
	fs.IntVar(&s.ActLicenses, "activation-licenses", 20_000, "5-seat licenses seeded for activations (8 attempts each at most)")
	fs.IntVar(&s.ScanSmall, "scan-small", 100_000, "licenses and machines of the small scan data set")
	fs.IntVar(&s.ScanLarge, "scan-large", 1_000_000, "licenses and machines of the large scan data set")
	fs.IntVar(&s.ScanDue, "scan-due", 1000, "licenses expiring and machines offline in both scan data sets")
	fs.IntVar(&s.ScanReps, "scan-reps", 200, "timed repetitions of each scan query")
	fs.IntVar(&s.BenchRounds, "bench-rounds", 8, "rounds of the verifier-sdk benchmarks (each runs all four; medians are reported)")
	fs.StringVar(&s.BenchTime, "benchtime", "1s", "-test.benchtime of each verifier-sdk benchmark run")
	fs.BoolVar(&s.Profile, "profile", true, "profile (pprof) what misses its target")
	fs.DurationVar(&s.ProfileTime, "profile-duration", 8*time.Second, "load duration of the server profile")
	fs.StringVar(&s.LeaseCacheTTL, "lease-cache-ttl", "", "NARCIDI_LEASE_CACHE_TTL of the servers (0: no policy cache; empty: their default)")
	fs.StringVar(&s.Only, "only", "", "comma-separated sections to run (sdk,server,scans,size,insights); empty: all")
	fs.IntVar(&s.InsightLicenses, "insight-licenses", 100_000, "licenses (90 days of roll-ups each) the insights engine scores")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if s.Smoke {
		set := map[string]bool{}
		fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
		smoke := map[string]func(){
			"licenses":            func() { s.Licenses = 200 },
			"duration":            func() { s.Duration = 2 * time.Second },
			"warmup":              func() { s.Warmup = 300 * time.Millisecond },
			"activation-duration": func() { s.ActDuration = 2 * time.Second },
			"activation-licenses": func() { s.ActLicenses = 200 },
			"scan-small":          func() { s.ScanSmall = 2000 },
			"scan-large":          func() { s.ScanLarge = 20_000 },
			"scan-due":            func() { s.ScanDue = 100 },
			"scan-reps":           func() { s.ScanReps = 10 },
			"bench-rounds":        func() { s.BenchRounds = 1 },
			"benchtime":           func() { s.BenchTime = "200x" },
			"profile-duration":    func() { s.ProfileTime = time.Second },
			"insight-licenses":    func() { s.InsightLicenses = 2000 },
		}
		for name, apply := range smoke {
			if !set[name] {
				apply()
			}
		}
	}
	switch {
	case s.Licenses < s.Clients || s.Clients < 1:
		return nil, errors.New("-licenses must be at least -clients, and -clients at least 1")
	case s.ScanDue < 1 || s.ScanSmall < 2*s.ScanDue || s.ScanLarge < s.ScanSmall:
		return nil, errors.New("scan sizes must satisfy 2 × due ≤ small ≤ large")
	case s.Duration <= 0 || s.ActDuration <= 0 || s.ScanReps < 1 || s.BenchRounds < 1 || s.ActLicenses < 1:
		return nil, errors.New("durations, repetitions, rounds and activation licenses must be positive")
	}
	for _, p := range []*string{&s.Root, &s.Out, &s.TableOut, &s.Tmp} {
		abs, err := filepath.Abs(*p)
		if err != nil {
			return nil, err
		}
		*p = abs
	}
	return s, nil
}

func defaultPostgresURL() string {
	for _, v := range []string{"NARCIDI_BENCH_POSTGRES_URL", "NARCIDI_TEST_POSTGRES_URL"} {
		if u := os.Getenv(v); u != "" {
			return u
		}
	}
	return "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
}

func (s *Settings) runs(section string) bool {
	if s.Only == "" {
		return true
	}
	for _, o := range strings.Split(s.Only, ",") {
		if strings.TrimSpace(o) == section {
			return true
		}
	}
	return false
}

// run is the whole harness. Every section records its rows; a section that
// fails records the error and the others still run, but the run fails.
func run(ctx context.Context, s *Settings) error {
	start := time.Now()
	if err := os.MkdirAll(s.Tmp, 0o755); err != nil {
		return err
	}
	r := newReport(s)
	pg, err := connectAdmin(ctx, s.PostgresURL)
	if err != nil {
		return err
	}
	defer pg.Close(context.Background())
	r.Machine.Postgres = serverVersion(ctx, pg)
	logf("machine: %s", r.Machine.String())
	pgbench, err := findPgbench()
	if err != nil && s.runs("server") {
		return err
	}

	if s.runs("sdk") {
		r.section("sdk", func() error { return benchSDK(ctx, s, r) })
	}
	if s.runs("server") {
		r.section("server", func() error { return benchServer(ctx, s, r, pg, pgbench) })
	}
	if s.runs("scans") {
		r.section("scans", func() error { return benchScans(ctx, s, r, pg) })
	}
	if s.runs("size") {
		r.section("size", func() error { return benchSize(ctx, s, r) })
	}
	if s.runs("insights") {
		r.section("insights", func() error { return benchInsights(ctx, s, r) })
	}
	r.Elapsed = time.Since(start).Round(time.Second).String()
	if err := r.write(s); err != nil {
		return err
	}
	fmt.Println()
	fmt.Print(r.table())
	fmt.Printf("\nwritten: %s, %s (%s)\n", s.Out, s.TableOut, r.Elapsed)
	if len(r.Errors) > 0 {
		return fmt.Errorf("%d section(s) failed: %s", len(r.Errors), strings.Join(r.Errors, "; "))
	}
	return nil
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "%s  %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
}
