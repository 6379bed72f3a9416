package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Status of a row against its target.
const (
	StatusMet    = "met"
	StatusMissed = "MISSED"
	StatusInfo   = "info"  // a reference figure, no target
	StatusError  = "ERROR" // the measurement itself failed
)

// Row is one measurement of the table.
type Row struct {
	ID      string   `json:"id"` // stable: tests and tools look rows up by it
	Name    string   `json:"name"`
	Value   float64  `json:"value"`
	Unit    string   `json:"unit"`
	Display string   `json:"display"`
	Target  string   `json:"target,omitempty"`
	Ratio   *float64 `json:"ratio,omitempty"` // the figure the target compares, when it is a ratio
	Status  string   `json:"status"`
	Note    string   `json:"note,omitempty"`
}

// Machine describes where the run happened.
type Machine struct {
	CPUs      int    `json:"nproc"`
	CPUModel  string `json:"cpu_model"`
	MemoryMiB int    `json:"memory_mib"`
	Go        string `json:"go"`
	OS        string `json:"os"`
	Postgres  string `json:"postgres,omitempty"`
}

func (m Machine) String() string {
	return fmt.Sprintf("%d × %s, %.1f GiB, %s %s, %s", m.CPUs, m.CPUModel, float64(m.MemoryMiB)/1024, m.Go, m.OS, m.Postgres)
}

// Report is the whole run, as written to results.json.
type Report struct {
	Date     time.Time         `json:"date"`
	Machine  Machine           `json:"machine"`
	Settings *Settings         `json:"settings"`
	Elapsed  string            `json:"elapsed"`
	Rows     []Row             `json:"rows"`
	Profiles map[string]string `json:"profiles,omitempty"` // pprof -top text of what missed a target
	Errors   []string          `json:"errors,omitempty"`

	mu sync.Mutex
}

func newReport(s *Settings) *Report {
	return &Report{Date: time.Now().UTC().Truncate(time.Second), Machine: machineInfo(), Settings: s, Profiles: map[string]string{}}
}

func machineInfo() Machine {
	m := Machine{CPUs: runtime.NumCPU(), Go: runtime.Version(), OS: runtime.GOOS + "/" + runtime.GOARCH}
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPUModel = strings.TrimSpace(v)
				break
			}
		}
		f.Close()
	}
	if f, err := os.Open("/proc/meminfo"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if fields := strings.Fields(sc.Text()); len(fields) >= 2 && fields[0] == "MemTotal:" {
				kb, _ := strconv.Atoi(fields[1])
				m.MemoryMiB = kb / 1024
			}
		}
		f.Close()
	}
	return m
}

func (r *Report) add(row Row) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if row.Status == "" {
		row.Status = StatusInfo
	}
	r.Rows = append(r.Rows, row)
	mark := ""
	if row.Status == StatusMissed || row.Status == StatusError {
		mark = "  <-- " + row.Status
	}
	logf("  %-38s %s%s", row.Name, row.Display, mark)
}

func (r *Report) row(id string) *Row {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i := range r.Rows {
		if r.Rows[i].ID == id {
			return &r.Rows[i]
		}
	}
	return nil
}

func (r *Report) missed(ids ...string) bool {
	for _, id := range ids {
		if row := r.row(id); row != nil && row.Status == StatusMissed {
			return true
		}
	}
	return false
}

// section runs one part of the harness, recording its failure.
func (r *Report) section(name string, fn func() error) {
	logf("== %s", name)
	start := time.Now()
	if err := fn(); err != nil {
		logf("== %s FAILED: %v", name, err)
		r.mu.Lock()
		r.Errors = append(r.Errors, name+": "+err.Error())
		r.mu.Unlock()
		return
	}
	logf("== %s done in %s", name, time.Since(start).Round(100*time.Millisecond))
}

// judge sets a row's status from a comparison.
func judge(ok bool) string {
	if ok {
		return StatusMet
	}
	return StatusMissed
}

func ptr(f float64) *float64 { return &f }

func (r *Report) table() string {
	head := []string{"measurement", "value", "target", "ratio", "status"}
	rows := [][]string{head}
	for _, row := range r.Rows {
		ratio := ""
		if row.Ratio != nil {
			ratio = fmt.Sprintf("%.2f", *row.Ratio)
		}
		rows = append(rows, []string{row.Name, row.Display, row.Target, ratio, row.Status})
	}
	width := make([]int, len(head))
	for _, cells := range rows {
		for i, c := range cells {
			width[i] = max(width[i], len([]rune(c)))
		}
	}
	var b strings.Builder
	line := func(cells []string) {
		for i, c := range cells {
			pad := width[i] - len([]rune(c))
			if i == 1 || i == 3 {
				b.WriteString(strings.Repeat(" ", pad) + c)
			} else {
				b.WriteString(c + strings.Repeat(" ", pad))
			}
			if i < len(cells)-1 {
				b.WriteString("  ")
			}
		}
		b.WriteString("\n")
	}
	line(rows[0])
	sep := make([]string, len(head))
	for i := range sep {
		sep[i] = strings.Repeat("-", width[i])
	}
	line(sep)
	for _, cells := range rows[1:] {
		line(cells)
	}
	return b.String()
}

func (r *Report) markdown() string {
	var b strings.Builder
	fmt.Fprintf(&b, "Run of %s, %s (elapsed %s)", r.Date.Format("2006-01-02 15:04 MST"), r.Machine.String(), r.Elapsed)
	if r.Settings.Smoke {
		b.WriteString(" — SMOKE scale: these figures mean nothing")
	}
	b.WriteString("\n\n| measurement | value | target | ratio | status | note |\n|---|---:|---|---:|---|---|\n")
	for _, row := range r.Rows {
		ratio := ""
		if row.Ratio != nil {
			ratio = fmt.Sprintf("%.2f", *row.Ratio)
		}
		status := row.Status
		if status == StatusMissed || status == StatusError {
			status = "**" + status + "**"
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s |\n", row.Name, row.Display, row.Target, ratio, status, strings.ReplaceAll(row.Note, "|", "\\|"))
	}
	for _, e := range r.Errors {
		fmt.Fprintf(&b, "\nERROR: %s\n", e)
	}
	return b.String()
}

func (r *Report) write(s *Settings) error {
	data, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	for path, content := range map[string][]byte{s.Out: append(data, '\n'), s.TableOut: []byte(r.markdown())} {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(path, content, 0o644); err != nil {
			return err
		}
	}
	return nil
}
