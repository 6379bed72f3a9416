package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strings"
	"sync/atomic"
	"time"

	"github.com/nzilacode/narcidicontrole/api"
	"github.com/nzilacode/narcidicontrole/keys"
	"github.com/nzilacode/narcidicontrole/licensing"
	"github.com/nzilacode/narcidicontrole/storage"
)

// runProfileServer is an in-process copy of `narcidi serve`'s wiring (see
// cmd/narcidi/app.go: package main cannot be imported) that writes a CPU
// profile and an allocation profile when it is stopped. It reads the same
// NARCIDI_* variables as the real server, for the subset the benchmark sets.
func runProfileServer(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("profile-server", flag.ContinueOnError)
	cpuOut := fs.String("cpuprofile", "server.cpu.pprof", "CPU profile output")
	memOut := fs.String("memprofile", "server.mem.pprof", "allocation profile output")
	if err := fs.Parse(args); err != nil {
		return err
	}
	dataDir := os.Getenv("NARCIDI_DATA_DIR")
	st, err := storage.Open(ctx, storage.Config{DatabaseURL: os.Getenv("NARCIDI_DATABASE_URL"), DataDir: dataDir})
	if err != nil {
		return err
	}
	defer st.Close()
	master, _, err := keys.LoadMasterKey(keys.MasterKeyConfig{DataDir: dataDir})
	if err != nil {
		return err
	}
	kr, err := keys.Open(filepath.Join(dataDir, "keys"), master, time.Now)
	if err != nil {
		return err
	}
	if _, _, err := kr.EnsureActive(); err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	seen := storage.NewLastSeenBatcher(st, storage.LastSeenConfig{Log: log})
	defer seen.Close(context.Background())
	hashKey, err := keys.DeriveKey(master, keys.PurposeSecretHash)
	if err != nil {
		return err
	}
	hasher, err := licensing.NewSecretHasher(hashKey)
	if err != nil {
		return err
	}
	// The policy cache as serve has it (NARCIDI_LEASE_CACHE_TTL, same default).
	cacheTTL := storage.DefaultPolicyCacheTTL
	if v := os.Getenv("NARCIDI_LEASE_CACHE_TTL"); v != "" {
		if cacheTTL, err = time.ParseDuration(v); err != nil {
			return fmt.Errorf("NARCIDI_LEASE_CACHE_TTL: %w", err)
		}
	}
	policies := storage.NewPolicyCache(st, storage.PolicyCacheConfig{TTL: cacheTTL})
	svc := licensing.NewServices(storage.StoresWith(st, seen, policies), licensing.Deps{Signer: kr, Clock: time.Now, Issuer: "narcidi", Secrets: hasher})
	srv := api.New(api.Config{
		Services: svc, Health: st, Keys: kr, Logger: log, Limiter: api.NewRateLimiter(nil, "", log),
		ClientRate: api.RateRule{Name: "client_rate", Rate: 1_000_000, Period: time.Second, Burst: 500_000},
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	cpuFile, err := os.Create(*cpuOut)
	if err != nil {
		return err
	}
	defer cpuFile.Close()
	runtime.MemProfileRate = 64 << 10
	if err := pprof.StartCPUProfile(cpuFile); err != nil {
		return err
	}
	done := make(chan error, 1)
	go func() { done <- srv.App().Listener(ln) }()
	fmt.Printf("narcidi-bench profile-server listening on http://%s\n", ln.Addr())
	select {
	case err = <-done:
	case <-ctx.Done():
		err = srv.App().ShutdownWithTimeout(5 * time.Second)
	}
	pprof.StopCPUProfile()
	memFile, merr := os.Create(*memOut)
	if merr != nil {
		return merr
	}
	defer memFile.Close()
	if merr := pprof.Lookup("allocs").WriteTo(memFile, 0); merr != nil {
		return merr
	}
	return err
}

// profileServer runs the profiled copy under the renewal load and keeps
// pprof's summary in the report.
func profileServer(ctx context.Context, s *Settings, r *Report, env []string) error {
	self, err := os.Executable()
	if err != nil {
		return err
	}
	cpuOut, memOut := filepath.Join(s.Tmp, "server.cpu.pprof"), filepath.Join(s.Tmp, "server.mem.pprof")
	p, err := startProc(ctx, self, []string{"profile-server", "-cpuprofile", cpuOut, "-memprofile", memOut}, env, filepath.Join(s.Tmp, "profile-server.log"))
	if err != nil {
		return err
	}
	var counter atomic.Int64
	spec := renewSpec(p.Addr, s.Clients, s.ProfileTime, s.Licenses)
	load := runLoad(ctx, spec, &counter)
	p.stop()
	logf("server profile: %d requests in %s:%s", load.Requests, load.Elapsed.Round(time.Millisecond), load.statusText())
	cum, err := pprofTop(ctx, self, cpuOut, "-cum", "-nodecount=45")
	if err != nil {
		return err
	}
	r.Profiles["server_cpu_cum"] = fmt.Sprintf("profiled copy of the server, %d clients, %s, %.0f renewals/s (profiling on)\n%s",
		s.Clients, load.Elapsed.Round(time.Millisecond), load.rate(200), cum)
	if flat, err := pprofTop(ctx, self, cpuOut, "-nodecount=25"); err == nil {
		r.Profiles["server_cpu_flat"] = flat
	}
	if alloc, err := pprofTop(ctx, self, memOut, "-sample_index=alloc_space", "-cum", "-nodecount=30"); err == nil {
		r.Profiles["server_alloc_space"] = alloc
	}
	return nil
}

// pprofTop runs `go tool pprof -top` and returns its table.
func pprofTop(ctx context.Context, bin, profile string, args ...string) (string, error) {
	a := append([]string{"tool", "pprof", "-top"}, args...)
	a = append(a, bin, profile)
	out, err := exec.CommandContext(ctx, "go", a...).Output()
	if err != nil {
		return "", fmt.Errorf("go tool pprof %s: %w", profile, err)
	}
	// Drop pprof's header lines about the file and build.
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	for i, l := range lines {
		if strings.Contains(l, "flat%") {
			return strings.Join(lines[max(0, i-1):], "\n"), nil
		}
	}
	return string(out), nil
}

// renewSpec is an open-ended renewal load over the seeded licenses.
func renewSpec(addr string, clients int, d time.Duration, licenses int) loadSpec {
	return machineLoad(addr, "/v1/client/renew", clients, d, licenses)
}

// machineLoad sends client calls to path over the seeded licenses, each
// request naming the next machine in turn (tagged with its index).
func machineLoad(addr, path string, clients int, d time.Duration, licenses int) loadSpec {
	n := int64(licenses)
	return loadSpec{Addr: addr, Path: path, Clients: clients, Duration: d, MaxReqs: 1 << 40,
		Body: func(k int64, buf []byte) ([]byte, int) {
			i := int(k%n) + 1
			return machineBody(buf, renewKeyPrefix, renewFPPrefix, i), i
		}}
}
