package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// proc is a server subprocess: the real narcidi, the ceiling or the
// profiled copy. Each prints "... listening on http://ADDR ..." when ready.
type proc struct {
	cmd  *exec.Cmd
	Addr string
	done chan error
}

func startProc(ctx context.Context, bin string, args, env []string, logPath string) (*proc, error) {
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = env
	cmd.Stderr = logFile
	// The child dies with the harness, so that an interrupted run leaves no server behind.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		logFile.Close()
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, err
	}
	p := &proc{cmd: cmd, done: make(chan error, 1)}
	ready := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			line := sc.Text()
			if _, rest, ok := strings.Cut(line, "listening on http://"); ok {
				select {
				case ready <- strings.Fields(rest + " ")[0]:
				default:
				}
			}
		}
		_, _ = io.Copy(io.Discard, stdout)
	}()
	go func() {
		err := cmd.Wait()
		logFile.Close()
		p.done <- err
	}()
	select {
	case p.Addr = <-ready:
		return p, nil
	case err := <-p.done:
		log, _ := os.ReadFile(logPath)
		return nil, fmt.Errorf("%s exited before listening (%v): %s", filepath.Base(bin), err, tail(log, 2000))
	case <-time.After(60 * time.Second):
		_ = cmd.Process.Kill()
		return nil, fmt.Errorf("%s did not listen within 60 s", filepath.Base(bin))
	case <-ctx.Done():
		_ = cmd.Process.Kill()
		return nil, ctx.Err()
	}
}

// stop asks the process to end (SIGTERM), killing it after 15 s.
func (p *proc) stop() {
	if p == nil || p.cmd.Process == nil {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(15 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
	p.cmd.Process = nil
}

func (p *proc) pid() int { return p.cmd.Process.Pid }

func tail(b []byte, n int) string {
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return strings.TrimSpace(string(b))
}

// procStatusKB reads a "VmHWM:  1234 kB" line of /proc/PID/status.
func procStatusKB(pid int, field string) (int, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(data), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == field+":" {
			return strconv.Atoi(f[1])
		}
	}
	return 0, fmt.Errorf("no %s in /proc/%d/status", field, pid)
}

// CPU accounting, in clock ticks (USER_HZ, 100 on Linux), from /proc.

const ticksPerSecond = 100

type cpuSample struct {
	at       time.Time
	server   uint64 // the server process
	postgres uint64 // every process named postgres
	self     uint64 // this harness (the load generator)
	busy     uint64 // the whole machine, not idle
}

func procTicks(pid string) (uint64, string) {
	data, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		return 0, ""
	}
	s := string(data)
	open, end := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
	if open < 0 || end < open {
		return 0, ""
	}
	f := strings.Fields(s[end+1:])
	if len(f) < 13 {
		return 0, ""
	}
	u, _ := strconv.ParseUint(f[11], 10, 64)
	st, _ := strconv.ParseUint(f[12], 10, 64)
	return u + st, s[open+1 : end]
}

func sampleCPU(serverPid int) cpuSample {
	c := cpuSample{at: time.Now()}
	if serverPid > 0 {
		c.server, _ = procTicks(strconv.Itoa(serverPid))
	}
	c.self, _ = procTicks("self")
	if entries, err := os.ReadDir("/proc"); err == nil {
		for _, e := range entries {
			if n := e.Name(); n[0] >= '0' && n[0] <= '9' {
				if t, comm := procTicks(n); comm == "postgres" {
					c.postgres += t
				}
			}
		}
	}
	if data, err := os.ReadFile("/proc/stat"); err == nil {
		line, _, _ := strings.Cut(string(data), "\n")
		f := strings.Fields(line)
		for i, v := range f[1:] {
			n, _ := strconv.ParseUint(v, 10, 64)
			if i != 3 && i != 4 && i < 8 { // not idle, not iowait, not guest (already in user)
				c.busy += n
			}
		}
	}
	return c
}

// cpuUse is what a phase cost: CPU seconds per process group and how busy
// the machine was (1.0 = every core all the time).
type cpuUse struct {
	Server, Postgres, Self float64 // CPU seconds
	MachineBusy            float64
}

func cpuBetween(a, b cpuSample) cpuUse {
	wall := b.at.Sub(a.at).Seconds()
	sec := func(x, y uint64) float64 { return float64(y-x) / ticksPerSecond }
	return cpuUse{
		Server: sec(a.server, b.server), Postgres: sec(a.postgres, b.postgres), Self: sec(a.self, b.self),
		MachineBusy: sec(a.busy, b.busy) / wall / float64(max(1, numCPU())),
	}
}

// perOp is CPU microseconds per operation.
func (u cpuUse) perOp(ops int64) (server, postgres, self float64) {
	if ops == 0 {
		return 0, 0, 0
	}
	n := float64(ops)
	return u.Server * 1e6 / n, u.Postgres * 1e6 / n, u.Self * 1e6 / n
}

// adminClient calls the admin API with the bootstrap token.
type adminClient struct {
	base, token string
	hc          *http.Client
}

func (a *adminClient) do(method, path string, in, out any) (int, error) {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return 0, err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, a.base+path, body)
	if err != nil {
		return 0, err
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if a.token != "" {
		req.Header.Set("Authorization", "Bearer "+a.token)
	}
	resp, err := a.hc.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp.StatusCode, err
	}
	if resp.StatusCode >= 300 {
		return resp.StatusCode, fmt.Errorf("%s %s: %d %s", method, path, resp.StatusCode, tail(data, 500))
	}
	if out != nil {
		return resp.StatusCode, json.Unmarshal(data, out)
	}
	return resp.StatusCode, nil
}
