package writebehind

import (
	"context"
	"sync"
	"time"
)

// flushTimeout bounds one scheduled write.
const flushTimeout = 10 * time.Second

// Config is what a Loop calls.
type Config struct {
	// MaxDelay is how long a batch stays open after its first item.
	MaxDelay time.Duration
	// Flush writes the batch waiting now; on failure the batcher keeps it
	// for the next write.
	Flush func(context.Context) error
	// Pending counts what waits to be written (after a Flush: what failed
	// or came in meanwhile).
	Pending func() int
	// Failed is told of a scheduled Flush's error.
	Failed func(error)
}

// Loop runs the flush schedule of one batcher on its own goroutine, until
// Stop. Opened and Full may be called from any goroutine and never block.
type Loop struct {
	cfg                    Config
	wake, full, stop, done chan struct{}
}

// Start starts the schedule.
func Start(cfg Config) *Loop {
	l := &Loop{cfg: cfg, wake: make(chan struct{}, 1), full: make(chan struct{}, 1),
		stop: make(chan struct{}), done: make(chan struct{})}
	go l.run()
	return l
}

// Opened says a first item arrived in an empty batch: it is written
// MaxDelay from now.
func (l *Loop) Opened() { signal(l.wake) }

// Full says the batch reached its size: it is written at once.
func (l *Loop) Full() { signal(l.full) }

// Stop ends the schedule, after a write in progress; the caller then
// flushes what is left itself. Call it once.
func (l *Loop) Stop() {
	close(l.stop)
	<-l.done
}

// Close ends a batcher, once: under the batcher's mu it sets *closed
// (from then on the batcher writes what comes at once, under the same
// lock), then stops the schedule and flushes what is left within ctx.
// A later call returns nil at once. The batchers' Close wrap its error
// with what they failed to write.
func (l *Loop) Close(ctx context.Context, mu sync.Locker, closed *bool) error {
	mu.Lock()
	if *closed {
		mu.Unlock()
		return nil
	}
	*closed = true
	mu.Unlock()
	l.Stop()
	return l.cfg.Flush(ctx)
}

// signal wakes the loop without waiting: one pending signal is enough.
func signal(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

func (l *Loop) run() {
	defer close(l.done)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for {
		select {
		case <-l.stop:
			return
		case <-l.full: // full already: write at once
		case <-l.wake:
			// A batch is open: write it after MaxDelay, or once it is full.
			timer.Reset(l.cfg.MaxDelay)
			select {
			case <-l.stop:
				timer.Stop()
				return
			case <-timer.C:
			case <-l.full:
				timer.Stop()
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), flushTimeout)
		if err := l.cfg.Flush(ctx); err != nil {
			l.cfg.Failed(err)
		}
		cancel()
		if l.cfg.Pending() > 0 {
			signal(l.wake) // what came in meanwhile, or a failed batch
		}
	}
}
