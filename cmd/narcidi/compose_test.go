package main

import (
	"context"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/loader"
	"github.com/compose-spec/compose-go/v2/types"
)

// composeFile is deploy/compose.yaml from this package's folder.
var composeFile = filepath.Join("..", "..", "deploy", "compose.yaml")

// composeSecrets are the values compose.yaml requires from the shell. The
// master key file is the compose secret master_key; on loopback
// (TestMultiInstance) a file holding testMasterKey stands for it.
var composeSecrets = map[string]string{
	"NARCIDI_MASTER_KEY_FILE": "/etc/narcidi/master.key",
	"NARCIDI_ADMIN_TOKEN":     adminToken,
	"NARCIDI_METRICS_TOKEN":   "compose-metrics-token-0123",
	"POSTGRES_PASSWORD":       "compose-postgres-password",
	"NARCIDI_S3_SECRET_KEY":   "compose-s3-secret-key",
	"GRAFANA_ADMIN_PASSWORD":  "compose-grafana-password",
	"ALERT_WEBHOOK_URL":       "https://hooks.example.com/narcidi",
}

// loadCompose loads and validates compose.yaml with the compose-spec
// library, as `docker compose config` would.
func loadCompose(t testing.TB) *types.Project {
	t.Helper()
	abs, err := filepath.Abs(composeFile)
	if err != nil {
		t.Fatal(err)
	}
	p, err := loader.LoadWithContext(context.Background(), types.ConfigDetails{
		WorkingDir:  filepath.Dir(abs),
		ConfigFiles: []types.ConfigFile{{Filename: abs}},
		Environment: composeSecrets,
	}, func(o *loader.Options) { o.SetProjectName("narcidi", true) })
	if err != nil {
		t.Fatalf("%s does not load: %v", composeFile, err)
	}
	return p
}

// narcidiService is a compose service that runs the narcidi image.
type narcidiService struct {
	name    string
	command string            // serve, worker, migrate
	env     map[string]string // its environment, interpolated
	health  []string          // its health check command (nil: none)
}

// narcidiServices are compose.yaml's narcidi services, sorted by name.
func narcidiServices(t testing.TB, p *types.Project) []narcidiService {
	t.Helper()
	var out []narcidiService
	for name, s := range p.Services {
		if s.Image != "narcidi:latest" {
			continue
		}
		ns := narcidiService{name: name, env: map[string]string{}}
		if len(s.Command) != 1 {
			t.Fatalf("service %s: command %q, want one narcidi command", name, s.Command)
		}
		ns.command = s.Command[0]
		for k, v := range s.Environment {
			if v == nil {
				t.Fatalf("service %s: %s has no value", name, k)
			}
			ns.env[k] = *v
		}
		if s.HealthCheck != nil && !s.HealthCheck.Disable {
			ns.health = s.HealthCheck.Test
		}
		out = append(out, ns)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out
}

// The compose file is valid for the compose spec, starts the whole
// topology, and every narcidi service's environment is one its command
// reads and accepts; health checks use the binary on the port it listens on.
func TestComposeFile(t *testing.T) {
	t.Parallel()
	p := loadCompose(t)
	var names []string
	for name := range p.Services {
		names = append(names, name)
	}
	sort.Strings(names)
	want := []string{"alertmanager", "grafana", "migrate", "narcidi-1", "narcidi-2", "postgres", "prometheus", "redis", "s3", "s3-bucket", "worker"}
	if !slices.Equal(names, want) {
		t.Fatalf("services %v, want %v", names, want)
	}
	commands := map[string]int{}
	for _, s := range narcidiServices(t, p) {
		commands[s.command]++
		// Each variable is a setting of that command (a typo or a setting
		// the command ignores would silently do nothing).
		c := &Config{}
		list, err := commandSettings(s.command, c)
		if err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		for k := range s.env {
			if !slices.ContainsFunc(list, func(st setting) bool { return st.env == k }) {
				t.Errorf("%s sets %s, which narcidi %s does not read", s.name, k, s.command)
			}
		}
		cfg, _, err := parseConfig(s.command, nil, func(k string) string { return s.env[k] }, io.Discard)
		if err != nil {
			t.Errorf("%s: its environment does not load: %v", s.name, err)
			continue
		}
		if s.command == "serve" {
			_, port, _ := net.SplitHostPort(cfg.Addr)
			wantHealth := []string{"CMD", "/narcidi", "healthcheck", "-url", "http://127.0.0.1:" + port + "/readyz"}
			if !slices.Equal(s.health, wantHealth) {
				t.Errorf("%s: health check %q, want %q", s.name, s.health, wantHealth)
			}
			if cfg.ShutdownGrace <= 0 || cfg.RedisURL == "" || cfg.Releases.Backend != "s3" {
				t.Errorf("%s: grace %v, redis %q, blobs %q", s.name, cfg.ShutdownGrace, cfg.RedisURL, cfg.Releases.Backend)
			}
			if p.Services[s.name].StopGracePeriod == nil {
				t.Errorf("%s: no stop_grace_period (Docker's 10s default would kill a draining instance)", s.name)
			}
		}
	}
	// Issue 23 items 4 and 8: no SQLite fallback, the master key as a file
	// secret, no fixed password, ports on loopback, resource limits.
	for _, s := range narcidiServices(t, p) {
		if s.env["NARCIDI_REQUIRE_POSTGRES"] != "true" {
			t.Errorf("%s: NARCIDI_REQUIRE_POSTGRES is %q, want true", s.name, s.env["NARCIDI_REQUIRE_POSTGRES"])
		}
		if _, ok := s.env["NARCIDI_MASTER_KEY"]; ok {
			t.Errorf("%s: the master key is in the environment", s.name)
		}
		if s.command != "migrate" {
			if s.env["NARCIDI_MASTER_KEY_FILE"] != "/run/secrets/master_key" || !slices.ContainsFunc(p.Services[s.name].Secrets, func(r types.ServiceSecretConfig) bool { return r.Source == "master_key" }) {
				t.Errorf("%s: the master key is not the file secret master_key", s.name)
			}
		}
	}
	if sec, ok := p.Secrets["master_key"]; !ok || sec.File == "" {
		t.Errorf("the master_key secret is not a file: %+v", sec)
	}
	raw, err := os.ReadFile(composeFile)
	if err != nil {
		t.Fatal(err)
	}
	for _, weak := range []string{"change-me", "POSTGRES_PASSWORD: narcidi", ":narcidi@"} {
		if strings.Contains(string(raw), weak) {
			t.Errorf("compose.yaml holds a fixed password (%q)", weak)
		}
	}
	for name, svc := range p.Services {
		for _, port := range svc.Ports {
			if port.HostIP != "127.0.0.1" {
				t.Errorf("%s publishes %s on %q, want 127.0.0.1", name, port.Published, port.HostIP)
			}
		}
		if name == "s3-bucket" {
			continue // a one-shot
		}
		if svc.Deploy == nil || svc.Deploy.Resources.Limits == nil || svc.Deploy.Resources.Limits.MemoryBytes == 0 || svc.Deploy.Resources.Limits.NanoCPUs == 0 {
			t.Errorf("%s has no CPU and memory limits", name)
		}
	}
	if sec := p.Services["alertmanager"].Secrets; len(sec) != 1 || sec[0].Source != "alert_webhook_url" {
		t.Errorf("alertmanager is not given its receiver: %v", sec)
	}
	for _, f := range []string{"alertmanager/alertmanager.yml"} {
		b, err := os.ReadFile(filepath.Join(p.WorkingDir, f))
		if err != nil || !strings.Contains(string(b), "/run/secrets/alert_webhook_url") {
			t.Errorf("%s: %v", f, err)
		}
	}
	di, err := os.ReadFile(filepath.Join("..", "..", ".dockerignore"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{".git", "bin/", "data/", "*.key", "narcidi-bench"} {
		if !slices.Contains(strings.Fields(string(di)), want) {
			t.Errorf(".dockerignore does not exclude %s", want)
		}
	}
	if commands["serve"] != 2 || commands["worker"] != 1 || commands["migrate"] != 1 {
		t.Errorf("narcidi commands %v, want 2 serve, 1 worker, 1 migrate", commands)
	}
	// The image's own health check is the one compose uses.
	df, err := os.ReadFile(filepath.Join("..", "..", "deploy", "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(df), `CMD ["/narcidi", "healthcheck", "-url", "http://127.0.0.1:8080/readyz"]`) ||
		!strings.Contains(string(df), "CGO_ENABLED=0") || !strings.Contains(string(df), "USER 65532") || !strings.Contains(string(df), "NARCIDI_REQUIRE_POSTGRES=true") {
		t.Error("the Dockerfile lacks the health check, the static build or the non-root user")
	}
	// Prometheus and Grafana are given the committed rules and dashboards.
	mounts := map[string]string{}
	for _, name := range []string{"prometheus", "grafana"} {
		for _, v := range p.Services[name].Volumes {
			if v.Type == types.VolumeTypeBind {
				rel, _ := filepath.Rel(p.WorkingDir, v.Source)
				mounts[rel] = v.Target
			}
		}
	}
	for src, dst := range map[string]string{"prometheus": "/etc/prometheus", "grafana/provisioning": "/etc/grafana/provisioning", "grafana/dashboards": "/var/lib/grafana/dashboards"} {
		if mounts[src] != dst {
			t.Errorf("deploy/%s is not mounted at %s: %v", src, dst, mounts)
		}
	}
	// Prometheus scrapes every narcidi process where it serves /metrics, with
	// the token compose hands it as a secret; Grafana loads the dashboard.
	prom, err := os.ReadFile(filepath.Join(p.WorkingDir, "prometheus", "prometheus.yml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"narcidi-1:8080", "narcidi-2:8080", "worker:9100", "/run/secrets/metrics_token", "alerts.yml", "alertmanager:9093"} {
		if !strings.Contains(string(prom), want) {
			t.Errorf("prometheus.yml lacks %q", want)
		}
	}
	if got := p.Services["worker"].Environment["NARCIDI_METRICS_ADDR"]; got == nil || !strings.HasSuffix(*got, ":9100") {
		t.Errorf("the worker's metrics address is %v, want :9100 as scraped", got)
	}
	if len(p.Services["prometheus"].Secrets) != 1 || p.Services["prometheus"].Secrets[0].Source != "metrics_token" {
		t.Errorf("prometheus is not given the metrics token: %v", p.Services["prometheus"].Secrets)
	}
	for _, f := range []string{"dashboards/narcidi.json", "provisioning/dashboards/narcidi.yml", "provisioning/datasources/prometheus.yml"} {
		if _, err := os.Stat(filepath.Join(p.WorkingDir, "grafana", f)); err != nil {
			t.Error(err)
		}
	}
}
