package main

import (
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/nzilacode/narcidicontrole/storage/storagetest"
	"github.com/nzilacode/narcidicontrole/workers/workerstest"
)

// Issue 23 item 6: a worker whose Redis is gone says so: /healthz answers
// 503 and narcidi_redis_up is 0; both recover with Redis.
func TestWorkerHealthFollowsRedis(t *testing.T) {
	t.Parallel()
	proxy := storagetest.NewProxy(t, storagetest.RedisAddr())
	env := map[string]string{
		"NARCIDI_DATA_DIR":      t.TempDir(),
		"NARCIDI_REDIS_URL":     fmt.Sprintf("redis://%s/%d", proxy.Addr(), storagetest.RedisDB(t)),
		"NARCIDI_METRICS_ADDR":  "127.0.0.1:0",
		"NARCIDI_METRICS_TOKEN": metricsToken,
		"NARCIDI_LOG_LEVEL":     "error",
	}
	runOK(t, env, "migrate")
	out := runWorker(t, env)
	urlRe := regexp.MustCompile(`metrics on (http://\S+/metrics)`)
	var metricsURL string
	workerstest.WaitFor(t, "the worker to start", func() bool {
		if m := urlRe.FindStringSubmatch(out.String()); m != nil {
			metricsURL = m[1]
		}
		return metricsURL != ""
	})
	health := strings.TrimSuffix(metricsURL, "/metrics") + "/healthz"
	redisUp := func() float64 {
		v, _ := scrapeMetrics(t, metricsURL, metricsToken).value("narcidi_redis_up")
		return v
	}
	if s, _, _ := getMetrics(t, health, ""); s != 200 || redisUp() != 1 {
		t.Fatalf("with Redis: /healthz %d, narcidi_redis_up %v", s, redisUp())
	}
	proxy.Cut()
	workerstest.WaitFor(t, "the worker to report Redis down", func() bool {
		s, _, _ := getMetrics(t, health, "")
		return s == 503 && redisUp() == 0
	})
	proxy.Restore()
	workerstest.WaitFor(t, "the worker to report Redis back", func() bool {
		s, _, _ := getMetrics(t, health, "")
		return s == 200 && redisUp() == 1
	})
}
