package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
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

// buildHarness builds this command, since the harness runs copies of itself
// (the ceiling, the profiled server) as subprocesses.
func buildHarness(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "narcidi-bench")
	cmd := exec.Command("go", "build", "-o", bin, ".")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// TestBenchSmoke runs the whole harness at tiny scale (make bench-smoke):
// every section must run and report every row. It needs the PostgreSQL of
// make test; the figures it measures mean nothing.
func TestBenchSmoke(t *testing.T) {
	start := time.Now()
	bin := buildHarness(t)
	tmp := t.TempDir()
	out := filepath.Join(tmp, "results.json")
	cmd := exec.Command(bin, "-smoke", "-root", "../..", "-tmp", tmp, "-out", out, "-table", filepath.Join(tmp, "results.md"))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.Output()
	if err != nil {
		t.Fatalf("narcidi-bench -smoke: %v\n%s\n%s", err, stdout, stderr.String())
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var rep struct {
		Machine struct {
			CPUs     int    `json:"nproc"`
			Postgres string `json:"postgres"`
		} `json:"machine"`
		Rows []struct {
			ID, Name, Display, Status string
		} `json:"rows"`
		Errors []string `json:"errors"`
	}
	if err := json.Unmarshal(data, &rep); err != nil {
		t.Fatal(err)
	}
	if len(rep.Errors) > 0 {
		t.Fatalf("errors: %v", rep.Errors)
	}
	if rep.Machine.CPUs < 1 || !strings.HasPrefix(rep.Machine.Postgres, "PostgreSQL ") {
		t.Errorf("machine = %+v", rep.Machine)
	}
	got := map[string]bool{}
	for _, r := range rep.Rows {
		got[r.ID] = true
		if r.Status == "ERROR" || r.Display == "" || r.Name == "" {
			t.Errorf("row %+v", r)
		}
		if !strings.Contains(string(stdout), r.Name) {
			t.Errorf("the printed table lacks %q", r.Name)
		}
	}
	for _, id := range rowIDs {
		if !got[id] {
			t.Errorf("no row %s", id)
		}
	}
	if len(rep.Rows) != len(rowIDs) {
		t.Errorf("%d rows, want %d", len(rep.Rows), len(rowIDs))
	}
	// Correctness holds at any scale.
	for _, r := range rep.Rows {
		if (r.ID == "renew.lost" || r.ID == "heartbeat.lost" || r.ID == "activate.over_issued") && r.Status != "met" {
			t.Errorf("%s: %s %s", r.ID, r.Display, r.Status)
		}
	}
	t.Logf("smoke run took %s", time.Since(start).Round(time.Second))
}

// TestMissingPostgres: without PostgreSQL the harness fails at once, naming
// the command that starts it.
func TestMissingPostgres(t *testing.T) {
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
