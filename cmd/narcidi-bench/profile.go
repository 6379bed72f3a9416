package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strings"
	"sync/atomic"
	"time"

	"github.com/nzilacode/narcidicontrole/wiring"
)

// runProfileServer runs `narcidi serve` in-process, built by the same
// wiring (package wiring) from the same NARCIDI_* variables, and writes a
// CPU profile and an allocation profile when it is stopped.
func runProfileServer(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("profile-server", flag.ContinueOnError)
	cpuOut := fs.String("cpuprofile", "server.cpu.pprof", "CPU profile output")
	memOut := fs.String("memprofile", "server.mem.pprof", "allocation profile output")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg, _, err := wiring.LoadConfig("serve", nil, os.Getenv)
	if err != nil {
		return err
	}
	cfg.ShutdownGrace = 0 // no balancer to drain: stop at once, write the profiles
	log, err := cfg.Logger(os.Stderr)
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
	app := &wiring.App{Config: cfg, Out: io.Discard, Log: log}
	if err := app.Start(ctx); err != nil {
		pprof.StopCPUProfile()
		return err
	}
	fmt.Printf("narcidi-bench profile-server listening on %s\n", app.URL())
	err = app.Wait(ctx)
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
