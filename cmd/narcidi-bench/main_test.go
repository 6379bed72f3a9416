package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// rowIDs are the rows every run reports, in this order.
var rowIDs = []string{
	"sdk.ed25519_verify", "sdk.verify_lease", "sdk.verify_overhead", "sdk.golang_jwt_verify", "sdk.entitlement_check",
	"renew.throughput", "renew.p50", "renew.p99", "renew.rss", "renew.lost", "renew.cpu", "renew.reach", "renew.telemetry_off", "renew.telemetry_cost", "heartbeat.throughput", "heartbeat.p99", "heartbeat.lost",
	"activate.throughput", "activate.over_issued", "pgbench.tps", "ceiling.throughput",
	"scan.expiry.small", "scan.expiry.large", "scan.offline.small", "scan.offline.large",
	"scan.expiry_partial.small", "scan.expiry_partial.large", "scan.offline_partial.small", "scan.offline_partial.large",
	"size.hello", "size.hello_sdk", "size.hello_sdk_client", "size.hello_http",
	"size.hello_stripped", "size.hello_stripped_sdk", "size.hello_stripped_sdk_client", "size.hello_stripped_http",
	"insights.score", "insights.peak_heap",
}

// harness is this command, built once per test run: the harness runs
// copies of itself (the ceiling, the profiled server) as subprocesses, and
// several tests run it.
var harness struct {
	once     sync.Once
	dir, bin string
	out      []byte
	err      error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if harness.dir != "" {
		_ = os.RemoveAll(harness.dir)
	}
	os.Exit(code)
}

func buildHarness(t *testing.T) string {
	t.Helper()
	harness.once.Do(func() {
		if harness.dir, harness.err = os.MkdirTemp("", "narcidi-bench-test-"); harness.err != nil {
			return
		}
		harness.bin = filepath.Join(harness.dir, "narcidi-bench")
		harness.out, harness.err = exec.Command("go", "build", "-o", harness.bin, ".").CombinedOutput()
	})
	if harness.err != nil {
		t.Fatalf("go build: %v\n%s", harness.err, harness.out)
	}
	return harness.bin
}

// smokeReport is what a smoke run writes to -out.
type smokeReport struct {
	Machine struct {
		CPUs     int    `json:"nproc"`
		Postgres string `json:"postgres"`
	} `json:"machine"`
	Rows []struct {
		ID, Name, Display, Status string
	} `json:"rows"`
	Errors []string `json:"errors"`
}

// smokeSections are the harness's sections (run in main.go) in two
// groups, run at once by two harness processes: the server section takes
// as long as all the others together. A section missing here leaves its
// rows out, which TestBenchSmoke reports.
var smokeSections = []string{"server", "sdk,scans,size,insights"}

// runSmoke runs the harness at tiny scale on the sections only, with the
// load runs shorter than -smoke's own (every row is still measured, and
// the figures mean nothing either way); it returns the report and what
// the harness printed.
func runSmoke(bin, tmp, only string) (smokeReport, string, error) {
	var rep smokeReport
	out := filepath.Join(tmp, "results.json")
	cmd := exec.Command(bin, "-smoke", "-only", only, "-duration", "1s", "-activation-duration", "1s", "-warmup", "100ms", "-profile-duration", "500ms",
		"-root", "../..", "-tmp", tmp, "-out", out, "-table", filepath.Join(tmp, "results.md"))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.Output()
	if err != nil {
		return rep, "", fmt.Errorf("narcidi-bench -smoke -only %s: %v\n%s\n%s", only, err, stdout, stderr.String())
	}
	data, err := os.ReadFile(out)
	if err != nil {
		return rep, "", err
	}
	return rep, string(stdout), json.Unmarshal(data, &rep)
}

// TestBenchSmoke runs the whole harness at tiny scale (make bench-smoke):
// every section must run and report every row. It needs the PostgreSQL of
// make test; the figures it measures mean nothing.
func TestBenchSmoke(t *testing.T) {
	t.Parallel()
	start := time.Now()
	bin := buildHarness(t)
	reps := make([]smokeReport, len(smokeSections))
	stdouts := make([]string, len(smokeSections))
	var wg sync.WaitGroup
	for i, only := range smokeSections {
		tmp := t.TempDir()
		wg.Go(func() {
			var err error
			if reps[i], stdouts[i], err = runSmoke(bin, tmp, only); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	got := map[string]bool{}
	rows := 0
	for i, rep := range reps {
		if len(rep.Errors) > 0 {
			t.Fatalf("errors: %v", rep.Errors)
		}
		if rep.Machine.CPUs < 1 || !strings.HasPrefix(rep.Machine.Postgres, "PostgreSQL ") {
			t.Errorf("machine = %+v", rep.Machine)
		}
		rows += len(rep.Rows)
		for _, r := range rep.Rows {
			got[r.ID] = true
			if r.Status == "ERROR" || r.Display == "" || r.Name == "" {
				t.Errorf("row %+v", r)
			}
			if !strings.Contains(stdouts[i], r.Name) {
				t.Errorf("the printed table lacks %q", r.Name)
			}
			// Correctness holds at any scale.
			if (r.ID == "renew.lost" || r.ID == "heartbeat.lost" || r.ID == "activate.over_issued") && r.Status != "met" {
				t.Errorf("%s: %s %s", r.ID, r.Display, r.Status)
			}
		}
	}
	for _, id := range rowIDs {
		if !got[id] {
			t.Errorf("no row %s", id)
		}
	}
	if rows != len(rowIDs) {
		t.Errorf("%d rows, want %d", rows, len(rowIDs))
	}
	t.Logf("smoke run took %s", time.Since(start).Round(time.Second))
}

// TestMissingPostgres: without PostgreSQL the harness fails at once, naming
// the command that starts it.
func TestMissingPostgres(t *testing.T) {
	t.Parallel()
	bin := buildHarness(t)
	tmp := t.TempDir()
	cmd := exec.Command(bin, "-smoke", "-root", "../..", "-tmp", tmp, "-out", filepath.Join(tmp, "r.json"),
		"-postgres", "postgres://postgres@127.0.0.1:1/postgres?sslmode=disable&connect_timeout=2")
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("the harness succeeded without PostgreSQL:\n%s", out)
	}
	if !strings.Contains(string(out), "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start") {
		t.Fatalf("the error does not name the start command:\n%s", out)
	}
}

func TestParseBench(t *testing.T) {
	t.Parallel()
	out := []byte("goos: linux\nBenchmarkVerifyLease-2   \t   10000\t    125271 ns/op\t    1840 B/op\t       8 allocs/op\n" +
		"BenchmarkEntitlementCheck-2 \t225094808\t         5.221 ns/op\t       0 B/op\t       0 allocs/op\nPASS\n")
	got := parseBench(out)
	if b := got["VerifyLease"]; b.NsPerOp != 125271 || b.AllocsPerOp != 8 || b.BytesPerOp != 1840 {
		t.Errorf("VerifyLease = %+v", b)
	}
	if b := got["EntitlementCheck"]; b.NsPerOp != 5.221 || b.AllocsPerOp != 0 {
		t.Errorf("EntitlementCheck = %+v", b)
	}
	if m := median([]float64{3, 1, 2, 10}); m != 2.5 {
		t.Errorf("median = %v", m)
	}
}
