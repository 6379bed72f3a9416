package workers

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
)

// Worker runs the handlers on asynq: the task server, the scheduler of the
// periodic tasks and the relay. Several can run against the same Redis and
// database at once.
type Worker struct {
	h         *handlers
	client    *asynq.Client
	server    *asynq.Server
	scheduler *asynq.Scheduler
	cancel    context.CancelFunc
	wg        sync.WaitGroup
	queue     string
}

// asynqQueue adapts asynq's client to Queue; every task goes to queue.
type asynqQueue struct {
	c     *asynq.Client
	queue string
}

func (q asynqQueue) Enqueue(ctx context.Context, t *asynq.Task, opts ...asynq.Option) error {
	// Keep finished tasks' ids for a day, so that a late duplicate hand-off
	// of the same id is refused by Redis too.
	opts = append(opts, asynq.Retention(24*time.Hour), asynq.Queue(q.queue))
	_, err := q.c.EnqueueContext(ctx, t, opts...)
	if errors.Is(err, asynq.ErrTaskIDConflict) || errors.Is(err, asynq.ErrDuplicateTask) {
		return nil
	}
	return err
}

// NewWorker builds a worker on rdb; its tasks live in the queue
// QueueName(cfg.QueuePrefix), so installations with different prefixes can
// share a Redis. concurrency is the number of tasks run at once.
func NewWorker(cfg Config, rdb redis.UniversalClient, concurrency int) *Worker {
	client := asynq.NewClientFromRedisClient(rdb)
	queue := QueueName(cfg.QueuePrefix)
	h := newHandlers(cfg, asynqQueue{client, queue})
	w := &Worker{h: h, client: client, queue: queue}
	w.server = asynq.NewServerFromRedisClient(rdb, asynq.Config{
		Concurrency: concurrency,
		Queues:      map[string]int{queue: 1},
		// No IsFailure filter: asynq counts retries only for failures, and the
		// backoff grows with that count.
		RetryDelayFunc:  h.retryDelay,
		ErrorHandler:    asynq.ErrorHandlerFunc(h.taskFailed),
		Logger:          asynqLogger{h.log},
		LogLevel:        asynq.WarnLevel,
		ShutdownTimeout: 20 * time.Second,
		// Retries of webhooks are due at their backoff, not up to 5s later
		// (asynq's default).
		DelayedTaskCheckInterval: h.cfg.PollEvery,
		TaskCheckInterval:        h.cfg.PollEvery,
	})
	w.scheduler = asynq.NewSchedulerFromRedisClient(rdb, &asynq.SchedulerOpts{
		Location: time.UTC, Logger: asynqLogger{h.log}, LogLevel: asynq.WarnLevel,
		EnqueueErrorHandler: func(t *asynq.Task, _ []asynq.Option, err error) {
			if !errors.Is(err, asynq.ErrDuplicateTask) {
				h.log.Warn("scheduler: cannot queue a periodic task", "type", t.Type(), "err", err)
			}
		},
	})
	return w
}

// taskFailed logs a failed task; one that will not be retried (bad payload,
// SkipRetry) is said to be archived, with its type and payload.
func (h *handlers) taskFailed(ctx context.Context, t *asynq.Task, err error) {
	if errors.Is(err, asynq.SkipRetry) {
		h.log.Error("task archived without retry", "type", t.Type(), "payload", truncateBytes(t.Payload(), 200), "err", err)
		return
	}
	if !errors.Is(err, errRetry) {
		h.log.Warn("task failed; asynq retries it", "type", t.Type(), "err", err)
	}
}

func truncateBytes(b []byte, n int) string {
	if len(b) > n {
		return string(b[:n]) + "..."
	}
	return string(b)
}

// Start begins processing, scheduling and relaying.
func (w *Worker) Start(ctx context.Context) error {
	for _, p := range w.h.periodic() {
		// Unique: every worker's scheduler fires at the same minute, and only
		// the first of them queues the task.
		if _, err := w.scheduler.Register(p.spec, asynq.NewTask(p.typ, nil), asynq.Queue(w.queue), asynq.Unique(30*time.Second), asynq.MaxRetry(1)); err != nil {
			return fmt.Errorf("schedule %s (%q): %w", p.typ, p.spec, err)
		}
	}
	if err := w.server.Start(w.h.mux()); err != nil {
		return err
	}
	if err := w.scheduler.Start(); err != nil {
		w.server.Shutdown()
		return err
	}
	ctx, w.cancel = context.WithCancel(ctx)
	w.wg.Add(1)
	go func() { defer w.wg.Done(); w.h.runRelay(ctx, false) }()
	return nil
}

// Shutdown stops the relay and the scheduler and lets running tasks end.
func (w *Worker) Shutdown() {
	if w.cancel != nil {
		w.cancel()
	}
	w.wg.Wait()
	w.scheduler.Shutdown()
	w.server.Shutdown()
	_ = w.client.Close()
}

// Run runs one task in this process now and waits for it (tests, and
// scans on demand).
func (w *Worker) Run(ctx context.Context, typ string) error {
	return w.h.mux().ProcessTask(ctx, asynq.NewTask(typ, nil))
}

// RelayOnce hands what is pending to the queue now (tests, CLI).
func (w *Worker) RelayOnce(ctx context.Context) (int, error) {
	return w.h.relayOnce(ctx, w.h.now().Add(-w.h.cfg.StaleAfter))
}

// asynqLogger sends asynq's logs to slog.
type asynqLogger struct{ l *slog.Logger }

func (a asynqLogger) Debug(args ...any) { a.l.Debug(fmt.Sprint(args...), "from", "asynq") }
func (a asynqLogger) Info(args ...any)  { a.l.Info(fmt.Sprint(args...), "from", "asynq") }
func (a asynqLogger) Warn(args ...any)  { a.l.Warn(fmt.Sprint(args...), "from", "asynq") }
func (a asynqLogger) Error(args ...any) {
	msg := fmt.Sprint(args...)
	// asynq says this on every clean shutdown of a server or scheduler built
	// on a shared Redis client (ours: the worker closes that client itself).
	// It is not an error, and an ERROR each shutdown would hide real ones.
	if strings.Contains(msg, "redis connection is shared so the Client can't be closed") {
		a.l.Debug(msg, "from", "asynq")
		return
	}
	a.l.Error(msg, "from", "asynq")
}
func (a asynqLogger) Fatal(args ...any) {
	a.l.Error(fmt.Sprint(args...), "from", "asynq", "fatal", true)
}
