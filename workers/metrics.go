package workers

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hibiken/asynq"
	asynqmetrics "github.com/hibiken/asynq/x/metrics"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/nzilacode/narcidicontrole/licensing"
)

// Metrics are the background jobs' series: how long each task type takes
// (the scans among them) and how it ended, when each last succeeded, and
// the outcome of every delivery attempt. Set Config.Metrics to count them;
// a nil *Metrics counts nothing.
type Metrics struct {
	taskDuration *prometheus.HistogramVec
	lastSuccess  *prometheus.GaugeVec
	deliveries   *prometheus.CounterVec
}

// Delivery outcomes (the outcome label of narcidi_deliveries_total).
const (
	OutcomeDelivered = "delivered" // the receiver took it
	OutcomeRetry     = "retry"     // the attempt failed; another is scheduled
	OutcomeFailed    = "failed"    // the last allowed attempt failed: given up
	OutcomeDropped   = "dropped"   // not sent: the endpoint is disabled or gone
)

// NewMetrics registers the workers' series on reg.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		taskDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "narcidi_task_duration_seconds",
			Help:    "Time a background task took, by task type (scan:expiry, scan:offline, delivery:send, ...) and outcome (ok, retry, error, dropped).",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 120, 300},
		}, []string{"task", "outcome"}),
		lastSuccess: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "narcidi_task_last_success_timestamp_seconds",
			Help: "Unix time at which a task of this type last ended well in this process.",
		}, []string{"task"}),
		deliveries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "narcidi_deliveries_total",
			Help: "Delivery attempts by channel (webhook, email) and outcome (delivered, retry, failed, dropped).",
		}, []string{"channel", "outcome"}),
	}
	for _, c := range []prometheus.Collector{m.taskDuration, m.lastSuccess, m.deliveries} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	// The series that alerts divide by exist from the start, at 0.
	for _, ch := range []licensing.DeliveryChannel{licensing.ChannelWebhook, licensing.ChannelEmail} {
		for _, o := range []string{OutcomeDelivered, OutcomeRetry, OutcomeFailed, OutcomeDropped} {
			m.deliveries.WithLabelValues(string(ch), o)
		}
	}
	return m, nil
}

// middleware times every task the mux runs, in both modes (asynq and
// in-process).
func (m *Metrics) middleware(next asynq.Handler) asynq.Handler {
	return asynq.HandlerFunc(func(ctx context.Context, t *asynq.Task) error {
		start := time.Now()
		err := next.ProcessTask(ctx, t)
		outcome := "ok"
		switch {
		case err == nil:
			m.lastSuccess.WithLabelValues(t.Type()).SetToCurrentTime()
		case errors.Is(err, errRetry):
			outcome = "retry"
		case errors.Is(err, asynq.SkipRetry):
			outcome = "dropped"
		default:
			outcome = "error"
		}
		m.taskDuration.WithLabelValues(t.Type(), outcome).Observe(time.Since(start).Seconds())
		return err
	})
}

// use adds the middleware to mux when m is set.
func (m *Metrics) use(mux *asynq.ServeMux) {
	if m != nil {
		mux.Use(m.middleware)
	}
}

// delivery counts one delivery's outcome.
func (m *Metrics) delivery(ch licensing.DeliveryChannel, outcome string) {
	if m != nil {
		m.deliveries.WithLabelValues(string(ch), outcome).Inc()
	}
}

// attempt counts the outcome of an attempt: sendErr is the send's error
// and after the delivery once the attempt is recorded.
func (m *Metrics) attempt(ch licensing.DeliveryChannel, sendErr error, after licensing.DeliveryStatus) {
	switch {
	case sendErr == nil:
		m.delivery(ch, OutcomeDelivered)
	case after == licensing.DeliveryFailed:
		m.delivery(ch, OutcomeFailed)
	default:
		m.delivery(ch, OutcomeRetry)
	}
}

// RegisterQueueMetrics registers asynq's own queue series (asynq_queue_size,
// asynq_queue_latency_seconds, asynq_tasks_processed_total, ...: see
// github.com/hibiken/asynq/x/metrics) on reg, read from rdb at scrape time.
// Every worker reports the same queues: take their max.
func RegisterQueueMetrics(reg prometheus.Registerer, rdb redis.UniversalClient) error {
	return reg.Register(asynqmetrics.NewQueueMetricsCollector(asynq.NewInspectorFromRedisClient(rdb)))
}

// descRedisUp is Redis's reachability, pinged at scrape time: the job queue,
// the shared rate limits and the cache messages all need it.
var descRedisUp = prometheus.NewDesc("narcidi_redis_up",
	"1 if Redis answered a PING at scrape time (2s timeout), else 0.", nil, nil)

type redisCollector struct{ rdb redis.UniversalClient }

// RegisterRedisMetrics registers narcidi_redis_up, Redis pinged at scrape
// time (serve and worker both use Redis).
func RegisterRedisMetrics(reg prometheus.Registerer, rdb redis.UniversalClient) error {
	return reg.Register(redisCollector{rdb})
}

func (c redisCollector) Describe(ch chan<- *prometheus.Desc) { ch <- descRedisUp }

func (c redisCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	up := 0.0
	if c.rdb.Ping(ctx).Err() == nil {
		up = 1
	}
	ch <- prometheus.MustNewConstMetric(descRedisUp, prometheus.GaugeValue, up)
}

// RedisHealth is a worker's /healthz check: Redis answers.
func RedisHealth(rdb redis.UniversalClient) func(context.Context) error {
	return func(ctx context.Context) error {
		if err := rdb.Ping(ctx).Err(); err != nil {
			return fmt.Errorf("redis: %w", err)
		}
		return nil
	}
}
