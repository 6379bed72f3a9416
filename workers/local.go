package workers

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/hibiken/asynq"
	"github.com/robfig/cron/v3"
)

// Local runs the handlers in-process, without Redis: an in-memory queue
// with the same task ids, retries and backoff as the asynq worker, the
// relay, and the periodic tasks on a cron. It is for one process (make
// run); the outbox in the database makes it lose nothing across restarts.
type Local struct {
	h       *handlers
	q       *memQueue
	cron    *cron.Cron
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	started bool
}

// NewLocal builds the in-process runner; concurrency tasks run at once.
func NewLocal(cfg Config, concurrency int) *Local {
	q := &memQueue{seen: map[string]time.Time{}, slots: make(chan struct{}, max(concurrency, 1))}
	q.cond = sync.NewCond(&q.mu)
	l := &Local{q: q}
	l.h = newHandlers(cfg, q)
	q.handler, q.delay, q.onFail = l.h.mux(), l.h.retryDelay, l.h.taskFailed
	return l
}

// Start begins relaying, running tasks and the schedules.
func (l *Local) Start(ctx context.Context) error {
	l.cron = cron.New(cron.WithLocation(time.UTC))
	for _, p := range l.h.periodic() {
		typ := p.typ
		if _, err := l.cron.AddFunc(p.spec, func() { _ = l.q.Enqueue(ctx, asynq.NewTask(typ, nil), asynq.MaxRetry(1)) }); err != nil {
			return err
		}
	}
	ctx, l.cancel = context.WithCancel(ctx)
	l.started = true
	l.wg.Add(2)
	go func() { defer l.wg.Done(); l.q.run(ctx) }()
	go func() { defer l.wg.Done(); l.h.runRelay(ctx, true) }()
	l.cron.Start()
	return nil
}

// Shutdown stops the schedules and the relay and waits for running tasks.
func (l *Local) Shutdown() {
	if !l.started {
		return
	}
	<-l.cron.Stop().Done()
	l.cancel()
	l.q.close()
	l.wg.Wait()
}

// Run runs one task now and waits for it (tests and the CLI: a scan on
// demand). Its follow-up work goes through the queue as usual.
func (l *Local) Run(ctx context.Context, typ string) error {
	return l.h.mux().ProcessTask(ctx, asynq.NewTask(typ, nil))
}

// RelayOnce hands what is pending to the queue now.
func (l *Local) RelayOnce(ctx context.Context) (int, error) {
	return l.h.relayOnce(ctx, l.h.now().Add(-l.h.cfg.StaleAfter))
}

// Sizes tells how many tasks wait in the in-process queue and how many run
// now (the console's overview shows them); retries waiting for their
// backoff are in neither.
func (l *Local) Sizes() (pending, running int) {
	l.q.mu.Lock()
	defer l.q.mu.Unlock()
	return len(l.q.jobs), len(l.q.slots)
}

// memQueue is the in-process Queue: unbounded (the relay never blocks on
// it while holding the database), de-duplicated by task id for a day like
// the asynq one, retried with the handlers' backoff.
type memQueue struct {
	handler asynq.Handler
	delay   func(int, error, *asynq.Task) time.Duration
	onFail  func(context.Context, *asynq.Task, error)

	mu     sync.Mutex
	cond   *sync.Cond
	jobs   []*memJob
	seen   map[string]time.Time
	closed bool
	slots  chan struct{}
	wg     sync.WaitGroup
}

type memJob struct {
	task     *asynq.Task
	id       string
	retried  int
	maxRetry int
}

func (q *memQueue) Enqueue(_ context.Context, t *asynq.Task, opts ...asynq.Option) error {
	j := &memJob{task: t, maxRetry: 25}
	for _, o := range opts {
		switch o.Type() {
		case asynq.TaskIDOpt:
			j.id = o.Value().(string)
		case asynq.MaxRetryOpt:
			j.maxRetry = o.Value().(int)
		}
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return errors.New("the in-process queue is stopped")
	}
	if j.id != "" {
		if _, dup := q.seen[j.id]; dup {
			return nil
		}
		q.seen[j.id] = time.Now()
	}
	q.jobs = append(q.jobs, j)
	q.cond.Signal()
	return nil
}

func (q *memQueue) push(j *memJob) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if !q.closed {
		q.jobs = append(q.jobs, j)
		q.cond.Signal()
	}
}

func (q *memQueue) close() {
	q.mu.Lock()
	q.closed = true
	q.cond.Broadcast()
	q.mu.Unlock()
}

// run takes jobs until the queue is closed, then waits for those running.
func (q *memQueue) run(ctx context.Context) {
	defer q.wg.Wait()
	lastPrune := time.Now()
	for {
		q.mu.Lock()
		for len(q.jobs) == 0 && !q.closed {
			q.cond.Wait()
		}
		if q.closed {
			q.mu.Unlock()
			return
		}
		j := q.jobs[0]
		q.jobs = q.jobs[1:]
		if time.Since(lastPrune) > time.Hour {
			for id, at := range q.seen {
				if time.Since(at) > 24*time.Hour {
					delete(q.seen, id)
				}
			}
			lastPrune = time.Now()
		}
		q.mu.Unlock()
		q.slots <- struct{}{}
		q.wg.Add(1)
		go func() {
			defer q.wg.Done()
			defer func() { <-q.slots }()
			q.process(ctx, j)
		}()
	}
}

func (q *memQueue) process(ctx context.Context, j *memJob) {
	err := q.handler.ProcessTask(ctx, j.task)
	if err == nil || ctx.Err() != nil {
		return
	}
	q.onFail(ctx, j.task, err)
	if errors.Is(err, asynq.SkipRetry) || j.retried >= j.maxRetry {
		return
	}
	j.retried++
	time.AfterFunc(q.delay(j.retried, err, j.task), func() { q.push(j) })
}
