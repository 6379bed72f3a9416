package workers_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"

	"github.com/nzilacode/narcidicontrole/licensing"
	"github.com/nzilacode/narcidicontrole/storage/storagetest"
	"github.com/nzilacode/narcidicontrole/workers"
)

// sample is the value of the series name{labels} ("k=v,k=v" in label name
// order) in reg: a counter's or gauge's value, a histogram's count.
func sample(t *testing.T, reg *prometheus.Registry, name, labels string) (float64, bool) {
	t.Helper()
	mfs, err := reg.Gather()
	must(t, err)
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			var kv []string
			for _, lp := range m.GetLabel() {
				kv = append(kv, lp.GetName()+"="+lp.GetValue())
			}
			if strings.Join(kv, ",") == labels {
				return metricValue(m), true
			}
		}
	}
	return 0, false
}

func metricValue(m *dto.Metric) float64 {
	switch {
	case m.Counter != nil:
		return m.Counter.GetValue()
	case m.Gauge != nil:
		return m.Gauge.GetValue()
	case m.Histogram != nil:
		return float64(m.Histogram.GetSampleCount())
	}
	return 0
}

// TestWorkerMetrics: a webhook refused once then taken counts one retry
// and one delivery; each task type is timed with its outcome; a scan run
// on demand is timed and stamped.
func TestWorkerMetrics(t *testing.T) {
	t.Parallel()
	first500 := func(n int) int {
		if n == 0 {
			return 500
		}
		return 200
	}
	var reg *prometheus.Registry
	tune := func(c *workers.Config) {
		reg = prometheus.NewRegistry()
		m, err := workers.NewMetrics(reg)
		must(t, err)
		c.Metrics = m
	}
	modes(t, []string{licensing.ActionLicenseSuspended}, first500, tune, func(t *testing.T, w *world, r runner) {
		_, err := w.svc.Licenses.SuspendLicense(ctx, w.license.ID, "unpaid")
		must(t, err)
		w.settle()
		must(t, r.Run(ctx, workers.TypeScanExpiry))
		for _, c := range []struct {
			name, labels string
			want         float64
		}{
			{"narcidi_deliveries_total", "channel=webhook,outcome=retry", 1},
			{"narcidi_deliveries_total", "channel=webhook,outcome=delivered", 1},
			{"narcidi_deliveries_total", "channel=webhook,outcome=failed", 0},
			{"narcidi_deliveries_total", "channel=webhook,outcome=dropped", 0},
			{"narcidi_task_duration_seconds", "outcome=retry,task=" + workers.TypeDeliver, 1},
		} {
			if got, ok := sample(t, reg, c.name, c.labels); !ok || got != c.want {
				t.Errorf("%s{%s} = %v (present %v), want %v", c.name, c.labels, got, ok, c.want)
			}
		}
		// Every event of the world's setup is dispatched; the schedule may
		// have run the scan too: at least the one run here.
		for _, task := range []string{workers.TypeDispatch, workers.TypeScanExpiry} {
			if got, _ := sample(t, reg, "narcidi_task_duration_seconds", "outcome=ok,task="+task); got < 1 {
				t.Errorf("%s timed %v times, want at least 1", task, got)
			}
		}
		if got, _ := sample(t, reg, "narcidi_task_last_success_timestamp_seconds", "task="+workers.TypeScanExpiry); got <= 0 {
			t.Errorf("scan:expiry last success = %v, want a time", got)
		}
	})
}

// TestQueueMetrics: asynq's own series report what is queued in Redis.
func TestQueueMetrics(t *testing.T) {
	t.Parallel()
	rdb := redisClient(t, storagetest.RedisAddr(), storagetest.RedisDB(t))
	reg := prometheus.NewRegistry()
	must(t, workers.RegisterQueueMetrics(reg, rdb))
	c := asynq.NewClientFromRedisClient(rdb)
	for range 3 {
		_, err := c.EnqueueContext(ctx, asynq.NewTask(workers.TypeScanOffline, nil))
		must(t, err)
	}
	if got, ok := sample(t, reg, "asynq_queue_size", "queue=default"); !ok || got != 3 {
		t.Fatalf("asynq_queue_size{queue=default} = %v (present %v), want 3", got, ok)
	}
}

// TestRedisMetrics: narcidi_redis_up and the worker's health check follow
// whether Redis answers, asked at scrape time.
func TestRedisMetrics(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		addr string
		up   float64
	}{
		{"redis answers", storagetest.RedisAddr(), 1},
		{"nothing listens", "127.0.0.1:1", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rdb := redisClient(t, tc.addr, 0)
			reg := prometheus.NewRegistry()
			must(t, workers.RegisterRedisMetrics(reg, rdb))
			want := "# HELP narcidi_redis_up 1 if Redis answered a PING at scrape time (2s timeout), else 0.\n" +
				"# TYPE narcidi_redis_up gauge\n" + fmt.Sprintf("narcidi_redis_up %v\n", tc.up)
			if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "narcidi_redis_up"); err != nil {
				t.Error(err)
			}
			err := workers.RedisHealth(rdb)(context.Background())
			if (err == nil) != (tc.up == 1) {
				t.Errorf("RedisHealth: %v, with Redis up = %v", err, tc.up)
			}
			if err := workers.RegisterRedisMetrics(reg, rdb); err == nil {
				t.Error("narcidi_redis_up was registered twice on one registry")
			}
		})
	}
}
