package writebehind

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

// batch is a fake batcher: items wait until a Flush takes them; a Flush
// can be told to fail, which keeps them.
type batch struct {
	mu      sync.Mutex
	items   int
	fail    int // fail this many Flush calls
	written chan int
	errs    chan error
}

func newBatch() *batch { return &batch{written: make(chan int, 10), errs: make(chan error, 10)} }

func (b *batch) Flush(context.Context) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.fail > 0 {
		b.fail--
		return errors.New("database down")
	}
	n := b.items
	b.items = 0
	b.written <- n
	return nil
}

func (b *batch) Pending() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.items
}

func (b *batch) add(n int) {
	b.mu.Lock()
	b.items += n
	b.mu.Unlock()
}

func (b *batch) start(delay time.Duration) *Loop {
	return Start(Config{MaxDelay: delay, Flush: b.Flush, Pending: b.Pending, Failed: func(err error) { b.errs <- err }})
}

// A full batch is written at once, long before MaxDelay.
func TestFullWritesAtOnce(t *testing.T) {
	b := newBatch()
	l := b.start(time.Hour)
	defer l.Stop()
	b.add(3)
	l.Opened()
	l.Full()
	if n := <-b.written; n != 3 {
		t.Fatalf("wrote %d items, want 3", n)
	}
}

// An opened batch is written after MaxDelay without being full.
func TestOpenedWritesAfterDelay(t *testing.T) {
	b := newBatch()
	l := b.start(time.Millisecond)
	defer l.Stop()
	b.add(2)
	l.Opened()
	if n := <-b.written; n != 2 {
		t.Fatalf("wrote %d items, want 2", n)
	}
}

// A failed write is reported and the kept batch is written by the next
// one, without another Opened.
func TestFailedWriteIsRetried(t *testing.T) {
	b := newBatch()
	b.fail = 1
	l := b.start(time.Millisecond)
	defer l.Stop()
	b.add(4)
	l.Opened()
	if err := <-b.errs; err == nil || err.Error() != "database down" {
		t.Fatalf("failure reported as %v", err)
	}
	if n := <-b.written; n != 4 {
		t.Fatalf("the retry wrote %d items, want 4", n)
	}
}

// Stop returns with a batch open and never writes it: the caller flushes
// what is left; signals after Stop do not block.
func TestStopLeavesTheRestToTheCaller(t *testing.T) {
	b := newBatch()
	l := b.start(time.Hour)
	b.add(1)
	l.Opened()
	l.Stop()
	l.Opened()
	l.Full()
	select {
	case n := <-b.written:
		t.Fatalf("wrote %d items after Stop", n)
	default:
	}
	if b.Pending() != 1 {
		t.Fatalf("pending %d, want 1 left to the caller", b.Pending())
	}
}

// Close sets the batcher's flag under its lock, stops the schedule and
// writes what is left, once: a second Close writes nothing and returns
// nil; a failed last write is returned.
func TestCloseWritesTheRestOnce(t *testing.T) {
	b := newBatch()
	l := b.start(time.Hour)
	var closed bool
	b.add(2)
	l.Opened()
	if err := l.Close(context.Background(), &b.mu, &closed); err != nil || !closed {
		t.Fatalf("Close = %v, closed %v", err, closed)
	}
	if n := <-b.written; n != 2 {
		t.Fatalf("Close wrote %d items, want 2", n)
	}
	b.add(1)
	if err := l.Close(context.Background(), &b.mu, &closed); err != nil || b.Pending() != 1 {
		t.Fatalf("second Close = %v, pending %d (want nil, 1 untouched)", err, b.Pending())
	}

	failing := newBatch()
	failing.fail = 1
	failing.add(1)
	var done bool
	if err := failing.start(time.Hour).Close(context.Background(), &failing.mu, &done); err == nil || failing.Pending() != 1 {
		t.Fatalf("Close of a failing write = %v, pending %d", err, failing.Pending())
	}
}
