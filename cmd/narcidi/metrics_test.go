package main

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/nzilacode/narcidicontrole/keys"
	"github.com/nzilacode/narcidicontrole/licensing"
	"github.com/nzilacode/narcidicontrole/storage/storagetest"
	verifier "github.com/nzilacode/narcidicontrole/verifier-sdk"
	"github.com/nzilacode/narcidicontrole/workers"
	"github.com/nzilacode/narcidicontrole/workers/workerstest"
)

const metricsToken = "metrics-token-0123456789"

// scrape is one parsed /metrics answer.
type scrape map[string]*dto.MetricFamily

// getMetrics GETs url with the bearer token (none if ""), returning the
// status, the Content-Type and the body.
func getMetrics(t *testing.T, url, token string) (int, string, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("Content-Type"), string(b)
}

func scrapeMetrics(t *testing.T, url, token string) scrape {
	t.Helper()
	status, _, body := getMetrics(t, url, token)
	if status != 200 {
		t.Fatalf("GET %s: %d %s", url, status, body)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		t.Fatalf("parse the scrape: %v\n%s", err, body)
	}
	return mfs
}

// value is the sample of name with exactly labels (name=value pairs, in
// any order): a counter's or gauge's value, a histogram's count.
func (s scrape) value(name string, labels ...string) (float64, bool) {
	mf := s[name]
	if mf == nil {
		return 0, false
	}
	want := map[string]string{}
	for i := 0; i+1 < len(labels); i += 2 {
		want[labels[i]] = labels[i+1]
	}
	for _, m := range mf.GetMetric() {
		got := map[string]string{}
		for _, lp := range m.GetLabel() {
			got[lp.GetName()] = lp.GetValue()
		}
		if !maps.Equal(got, want) {
			continue
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue(), true
		case m.Gauge != nil:
			return m.Gauge.GetValue(), true
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount()), true
		case m.Untyped != nil:
			return m.Untyped.GetValue(), true
		}
	}
	return 0, false
}

// names are the series names a query can use: a histogram's family gives
// _bucket, _sum and _count.
func (s scrape) names() map[string]bool {
	out := map[string]bool{}
	for name, mf := range s {
		out[name] = true
		switch mf.GetType() {
		case dto.MetricType_HISTOGRAM:
			out[name+"_bucket"], out[name+"_sum"], out[name+"_count"] = true, true, true
		case dto.MetricType_SUMMARY:
			out[name+"_sum"], out[name+"_count"] = true, true
		}
	}
	return out
}

type wantSample struct {
	name   string
	labels []string
	want   float64
}

func checkSamples(t *testing.T, s scrape, wants []wantSample) {
	t.Helper()
	for _, w := range wants {
		got, ok := s.value(w.name, w.labels...)
		if !ok || got != w.want {
			t.Errorf("%s%v = %v (present %v), want %v", w.name, w.labels, got, ok, w.want)
		}
	}
}

// scriptedRun is the client traffic both metrics tests make: two
// activations (a new seat, the same machine again), one refused for the
// seat limit, two renewals, one refused for an unknown machine, and a
// suspension (a webhook) after which a renewal is refused.
func scriptedRun(t *testing.T, base string, admin apiClient, cat catalog) {
	t.Helper()
	client := apiClient{t, base, ""}
	m1 := map[string]any{"license_key": cat.key, "fingerprint": "fp-metrics-1"}
	steps := []struct {
		path string
		body map[string]any
		want int
	}{
		{"/v1/client/activate", m1, 201},
		{"/v1/client/activate", m1, 200},
		{"/v1/client/activate", map[string]any{"license_key": cat.key, "fingerprint": "fp-metrics-2"}, 409},
		{"/v1/client/renew", m1, 200},
		{"/v1/client/renew", m1, 200},
		{"/v1/client/renew", map[string]any{"license_key": cat.key, "fingerprint": "fp-unknown"}, 404},
	}
	for _, s := range steps {
		if got, b := client.call("POST", s.path, s.body, nil); got != s.want {
			t.Fatalf("POST %s %v = %d %s, want %d", s.path, s.body["fingerprint"], got, b, s.want)
		}
	}
	if s, b := admin.call("POST", "/v1/licenses/"+cat.licenseID+"/actions/suspend", map[string]any{"reason": "unpaid"}, nil); s != 200 {
		t.Fatalf("suspend: %d %s", s, b)
	}
	if s, b := client.call("POST", "/v1/client/renew", m1, nil); s != 403 {
		t.Fatalf("renew while suspended: %d %s", s, b)
	}
}

// The API's series after the scripted run, the same on every process that
// served it.
func apiWants() []wantSample {
	return []wantSample{
		{"narcidi_leases_issued_total", []string{"operation", "activate"}, 2},
		{"narcidi_leases_issued_total", []string{"operation", "renew"}, 2},
		{"narcidi_leases_issued_total", []string{"operation", "offline"}, 0},
		{"narcidi_activations_total", []string{"result", "new_seat"}, 1},
		{"narcidi_activations_total", []string{"result", "same_machine"}, 1},
		{"narcidi_lease_refusals_total", []string{"operation", "activate", "code", "seat_limit"}, 1},
		{"narcidi_lease_refusals_total", []string{"operation", "renew", "code", "machine_not_activated"}, 1},
		{"narcidi_lease_refusals_total", []string{"operation", "renew", "code", "license_suspended"}, 1},
		{"narcidi_http_requests_total", []string{"method", "POST", "route", "/v1/client/activate", "status", "201"}, 1},
		{"narcidi_http_requests_total", []string{"method", "POST", "route", "/v1/client/activate", "status", "200"}, 1},
		{"narcidi_http_requests_total", []string{"method", "POST", "route", "/v1/client/activate", "status", "409"}, 1},
		{"narcidi_http_requests_total", []string{"method", "POST", "route", "/v1/client/renew", "status", "200"}, 2},
		{"narcidi_http_requests_total", []string{"method", "POST", "route", "/v1/client/renew", "status", "404"}, 1},
		{"narcidi_http_requests_total", []string{"method", "POST", "route", "/v1/client/renew", "status", "403"}, 1},
		{"narcidi_http_requests_total", []string{"method", "POST", "route", "/v1/licenses/:id/actions/suspend", "status", "200"}, 1},
		{"narcidi_http_request_duration_seconds", []string{"method", "POST", "route", "/v1/client/renew"}, 4},
		{"narcidi_lease_signing_duration_seconds", nil, 4},
		{"narcidi_seats_in_use", nil, 1},
		{"narcidi_machines", []string{"status", "active"}, 1},
		{"narcidi_licenses", []string{"status", "suspended"}, 1},
		{"narcidi_database_up", nil, 1},
		{"narcidi_signing_keys", []string{"status", "active"}, 1},
		{"narcidi_signing_root_in_use", nil, 0},
		{"narcidi_signing_active_key_certified", nil, 0},
	}
}

// TestMetricsAfterScriptedRun: the embedded default with a metrics token
// serves /metrics on the API; after a scripted run it has each expected
// series with the expected count, the webhook's retry and delivery among
// them (the server runs the jobs itself).
func TestMetricsAfterScriptedRun(t *testing.T) {
	t.Parallel()
	first500 := func(n int) int {
		if n == 0 {
			return 500
		}
		return 200
	}
	rcv := workerstest.StartReceiver(t, first500)
	app := startAppWith(t, map[string]string{
		"NARCIDI_METRICS_TOKEN":         metricsToken,
		"NARCIDI_WEBHOOK_ALLOW_PRIVATE": "true",
		"NARCIDI_RETRY_BASE":            "20ms",
	})
	admin := apiClient{t, app.URL(), adminToken}
	cat := seedCatalog(t, admin, 1)
	registerHook(t, admin, rcv, licensing.ActionLicenseSuspended)
	scriptedRun(t, app.URL(), admin, cat)
	if s, _, _ := getMetrics(t, app.URL()+"/no-such-path", ""); s != 404 {
		t.Fatalf("unknown path: %d", s)
	}

	url := app.URL() + "/metrics"
	var s scrape
	// The task's duration is observed once its handler has returned, a
	// moment after the delivery is counted: wait for both.
	workerstest.WaitFor(t, "the webhook delivered after one retry, and its task ended", func() bool {
		s = scrapeMetrics(t, url, metricsToken)
		v, _ := s.value("narcidi_deliveries_total", "channel", "webhook", "outcome", "delivered")
		done, _ := s.value("narcidi_task_duration_seconds", "task", "delivery:send", "outcome", "ok")
		return v == 1 && done == 1
	})
	checkSamples(t, s, append(apiWants(),
		wantSample{"narcidi_deliveries_total", []string{"channel", "webhook", "outcome", "retry"}, 1},
		wantSample{"narcidi_deliveries_total", []string{"channel", "webhook", "outcome", "failed"}, 0},
		wantSample{"narcidi_task_duration_seconds", []string{"task", "delivery:send", "outcome", "retry"}, 1},
		wantSample{"narcidi_task_duration_seconds", []string{"task", "delivery:send", "outcome", "ok"}, 1},
		wantSample{"narcidi_http_requests_total", []string{"method", "GET", "route", "unmatched", "status", "404"}, 1},
		wantSample{"go_sql_max_open_connections", []string{"db_name", "narcidi"}, 1}, // SQLite: one connection
	))
	for _, name := range []string{"narcidi_build_info", "narcidi_outbox_pending", "narcidi_outbox_oldest_pending_age_seconds", "go_goroutines", "process_resident_memory_bytes"} {
		if s[name] == nil {
			t.Errorf("%s is not in the scrape", name)
		}
	}
	if got := rcv.StatusCodes(); !slices.Equal(got, []int{500, 200}) {
		t.Errorf("the receiver answered %v, want [500 200]", got)
	}
}

// TestWorkerMetricsAndDashboardNames is production's shape: serve on
// PostgreSQL and Redis with metrics on a separate loopback listener, and a
// narcidi worker with its own listener and a token. The worker counts the
// delivery and asynq's queues; every metric name that the Grafana
// dashboard and the alert rules use is in one of the two scrapes.
func TestWorkerMetricsAndDashboardNames(t *testing.T) {
	t.Parallel()
	rcv := workerstest.StartReceiver(t, nil)
	env := map[string]string{
		"NARCIDI_DATABASE_URL": storagetest.MigratedPostgresURL(t), "NARCIDI_MASTER_KEY": testMasterKey,
		"NARCIDI_REDIS_URL":             fmt.Sprintf("redis://%s/%d", storagetest.RedisAddr(), storagetest.RedisDB(t)),
		"NARCIDI_DATA_DIR":              t.TempDir(),
		"NARCIDI_WEBHOOK_ALLOW_PRIVATE": "true",
		"NARCIDI_METRICS_ADDR":          "127.0.0.1:0",
	}
	app := startAppWith(t, env)
	if app.tel.apiScrape() != nil {
		t.Fatal("with NARCIDI_METRICS_ADDR the API serves /metrics too")
	}
	admin := apiClient{t, app.URL(), adminToken}
	cat := seedCatalog(t, admin, 1)
	registerHook(t, admin, rcv, licensing.ActionLicenseSuspended)

	workerEnv := maps.Clone(env)
	workerEnv["NARCIDI_METRICS_TOKEN"] = metricsToken
	out := runWorker(t, workerEnv)
	urlRe := regexp.MustCompile(`metrics on (http://\S+/metrics)`)
	var workerURL string
	workerstest.WaitFor(t, "the worker to start", func() bool {
		if m := urlRe.FindStringSubmatch(out.String()); m != nil {
			workerURL = m[1]
		}
		return workerURL != ""
	})

	scriptedRun(t, app.URL(), admin, cat)
	workerstest.WaitFor(t, "the webhook through the worker", func() bool { return len(rcv.Received()) == 1 })

	// The worker's listener wants its token; the server's loopback one
	// wants none.
	if s, _, _ := getMetrics(t, workerURL, ""); s != 401 {
		t.Errorf("worker metrics without the token: %d, want 401", s)
	}
	var ws scrape
	// The delivery is counted inside the task and its duration after it
	// returns: wait for both.
	workerstest.WaitFor(t, "the worker to count the delivery and its task", func() bool {
		ws = scrapeMetrics(t, workerURL, metricsToken)
		v, _ := ws.value("narcidi_deliveries_total", "channel", "webhook", "outcome", "delivered")
		d, _ := ws.value("narcidi_task_duration_seconds", "task", "delivery:send", "outcome", "ok")
		return v == 1 && d == 1
	})
	ss := scrapeMetrics(t, app.tel.metricsURL(), "")
	checkSamples(t, ss, apiWants())

	// Under a root, the active key's certificate shows.
	exp := certifyActiveKey(t, app)
	ss = scrapeMetrics(t, app.tel.metricsURL(), "")
	checkSamples(t, ss, []wantSample{
		{"narcidi_signing_root_in_use", nil, 1},
		{"narcidi_signing_active_key_certified", nil, 1},
		{"narcidi_signing_active_key_certificate_expiry_timestamp_seconds", nil, float64(exp.Unix())},
	})
	checkSamples(t, ws, []wantSample{
		{"narcidi_task_duration_seconds", []string{"task", "delivery:send", "outcome", "ok"}, 1},
		{"narcidi_database_up", nil, 1},
		{"narcidi_seats_in_use", nil, 1},
	})
	// The worker's queue is named after NARCIDI_REDIS_PREFIX (default "narcidi:").
	if q := workers.QueueName("narcidi:"); !has(ws.value("asynq_queue_size", "queue", q)) {
		t.Errorf("asynq_queue_size{queue=%q} is not in the worker's scrape", q)
	}
	if ws["narcidi_http_requests_total"] != nil {
		t.Error("the worker reports HTTP series")
	}

	have := ss.names()
	maps.Copy(have, ws.names())
	used := dashboardAndRuleNames(t)
	if len(used) < 15 {
		t.Fatalf("only %d metric names found in the dashboard and rules: %v", len(used), used)
	}
	for _, name := range used {
		if !have[name] {
			t.Errorf("%s is used by the dashboard or the alert rules but is in no scrape", name)
		}
	}
	t.Logf("%d metric names of the dashboard and the rules, all in the scrapes", len(used))
}

// certifyActiveKey makes a root, certifies the app's active key with it
// for 90 days and attaches the certificate; it returns the end.
func certifyActiveKey(t *testing.T, app *App) time.Time {
	t.Helper()
	dir := t.TempDir()
	if _, err := keys.GenerateRoot(dir); err != nil {
		t.Fatal(err)
	}
	root, err := keys.LoadRootKey(filepath.Join(dir, keys.RootPrivateFile))
	if err != nil {
		t.Fatal(err)
	}
	kid, _ := app.keys.Active()
	now := time.Now()
	exp := now.Add(90 * 24 * time.Hour)
	cert, err := root.Certify(app.keys.PublicKeys()[kid], now.Add(-time.Minute), exp, now)
	if err != nil {
		t.Fatal(err)
	}
	roots, err := verifier.NewKeySet(map[string]ed25519.PublicKey{root.KID: root.Public()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := app.keys.AttachCertificate(cert, roots); err != nil {
		t.Fatal(err)
	}
	return exp
}

// metricNameRe finds the metric names in PromQL: Narcidi's own and the
// library collectors' (Go runtime, process, sql.DBStats, asynq).
var metricNameRe = regexp.MustCompile(`\b(?:narcidi|go|process|asynq)_[a-zA-Z0-9_]+`)

// dashboardAndRuleNames lists the metric names of every expression of the
// Grafana dashboard and the Prometheus alert rules.
func dashboardAndRuleNames(t *testing.T) []string {
	t.Helper()
	root := filepath.Join("..", "..", "deploy")
	raw, err := os.ReadFile(filepath.Join(root, "grafana", "dashboards", "narcidi.json"))
	if err != nil {
		t.Fatal(err)
	}
	var board any
	if err := json.Unmarshal(raw, &board); err != nil {
		t.Fatalf("the dashboard is not JSON: %v", err)
	}
	var exprs []string
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, x := range v {
				if s, ok := x.(string); ok && (k == "expr" || k == "query") {
					exprs = append(exprs, s)
				}
				walk(x)
			}
		case []any:
			for _, x := range v {
				walk(x)
			}
		}
	}
	walk(board)
	if len(exprs) == 0 {
		t.Fatal("no expression in the dashboard")
	}
	rules, err := os.ReadFile(filepath.Join(root, "prometheus", "alerts.yml"))
	if err != nil {
		t.Fatal(err)
	}
	exprs = append(exprs, string(rules))
	set := map[string]bool{}
	for _, e := range exprs {
		for _, n := range metricNameRe.FindAllString(e, -1) {
			set[n] = true
		}
	}
	names := slices.Collect(maps.Keys(set))
	sort.Strings(names)
	return names
}

// TestMetricsProtection: metrics are not served by default, need the token
// when one is set, and a listener that is not loopback-only needs one.
func TestMetricsProtection(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		env  map[string]string
		// API /metrics and the separate listener, without and with the token.
		apiNo, apiYes, sepNo, sepYes int
	}{
		{"default: not served", nil, 404, 404, 0, 0},
		{"token: on the API", map[string]string{"NARCIDI_METRICS_TOKEN": metricsToken}, 401, 200, 0, 0},
		{"loopback address", map[string]string{"NARCIDI_METRICS_ADDR": "127.0.0.1:0"}, 404, 404, 200, 200},
		{"address and token", map[string]string{"NARCIDI_METRICS_ADDR": "127.0.0.1:0", "NARCIDI_METRICS_TOKEN": metricsToken}, 404, 404, 401, 200},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			app := startAppWith(t, c.env)
			check := func(where, url string, wantNo, wantYes int) {
				s, ct, body := getMetrics(t, url, "")
				if s != wantNo {
					t.Errorf("%s without the token: %d, want %d", where, s, wantNo)
				}
				if s >= 400 && ct != "application/problem+json" {
					t.Errorf("%s without the token: Content-Type %q: %s", where, ct, body)
				}
				if s, _, _ := getMetrics(t, url, "wrong-token-0123456789"); wantNo == 401 && s != 401 {
					t.Errorf("%s with a wrong token: %d, want 401", where, s)
				}
				s, ct, body = getMetrics(t, url, metricsToken)
				if s != wantYes {
					t.Errorf("%s with the token: %d, want %d", where, s, wantYes)
				}
				if s == 200 && (!strings.HasPrefix(ct, "text/plain") || !strings.Contains(body, "narcidi_build_info")) {
					t.Errorf("%s: %q %.200s", where, ct, body)
				}
			}
			check("API", app.URL()+"/metrics", c.apiNo, c.apiYes)
			if u := app.tel.metricsURL(); c.sepNo != 0 {
				check("listener", u, c.sepNo, c.sepYes)
				if s, _, _ := getMetrics(t, strings.TrimSuffix(u, "/metrics")+"/healthz", ""); s != 200 {
					t.Errorf("listener /healthz: %d", s)
				}
			} else if u != "" {
				t.Errorf("a metrics listener at %s", u)
			}
		})
	}

	refused := []struct {
		name, command string
		env           map[string]string
		want          string
	}{
		{"public address without token", "serve", map[string]string{"NARCIDI_METRICS_ADDR": "0.0.0.0:0"}, "NARCIDI_METRICS_TOKEN"},
		{"all interfaces without token", "serve", map[string]string{"NARCIDI_METRICS_ADDR": ":0"}, "NARCIDI_METRICS_TOKEN"},
		{"short token", "serve", map[string]string{"NARCIDI_METRICS_TOKEN": "short"}, "at least 16"},
		{"bad address", "serve", map[string]string{"NARCIDI_METRICS_ADDR": "9090"}, "host:port"},
		{"worker token without address", "worker", map[string]string{"NARCIDI_METRICS_TOKEN": metricsToken, "NARCIDI_REDIS_URL": "redis://127.0.0.1:1/0"}, "NARCIDI_METRICS_ADDR"},
	}
	for _, c := range refused {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			env := map[string]string{"NARCIDI_DATA_DIR": t.TempDir(), "NARCIDI_ADDR": "127.0.0.1:0", "NARCIDI_ADMIN_TOKEN": adminToken}
			maps.Copy(env, c.env)
			var out, errs strings.Builder
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			code := run(ctx, []string{c.command}, func(k string) string { return env[k] }, &out, &errs)
			if code == 0 || !strings.Contains(errs.String(), c.want) {
				t.Errorf("exit %d, stderr %q; want an error naming %q", code, errs.String(), c.want)
			}
			if strings.Contains(errs.String(), metricsToken) {
				t.Error("the error shows the token")
			}
		})
	}
}

// The metrics token is a secret: help says it is set, never what it is;
// both commands that serve metrics list the two settings.
func TestMetricsSettingsHelp(t *testing.T) {
	t.Parallel()
	env := map[string]string{"NARCIDI_METRICS_TOKEN": metricsToken}
	for _, command := range []string{"serve", "worker"} {
		var help strings.Builder
		_, _, err := parseConfig(command, []string{"-h"}, func(k string) string { return env[k] }, &help)
		if !errHelp(err) {
			t.Fatalf("%s -h: %v", command, err)
		}
		out := help.String()
		if strings.Contains(out, metricsToken) {
			t.Errorf("%s -h shows the metrics token:\n%s", command, out)
		}
		if !strings.Contains(out, "  -metrics-addr host:port") || !regexp.MustCompile(`-metrics-token token\n.*\(secret, set\)`).MatchString(out) {
			t.Errorf("%s -h lacks the metrics settings, or does not mark the token as a secret that is set:\n%s", command, out)
		}
	}
}

// has is the found flag of scrape.value.
func has(_ float64, ok bool) bool { return ok }
