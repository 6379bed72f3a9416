package main

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nzilacode/narcidicontrole/storage/storagetest"
)

// syncBuffer is a buffer that the worker's goroutines may write while the
// test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// Issue 11 item 22: a clean shutdown of `narcidi worker` (its context ends,
// as on SIGTERM) logs no ERROR and exits 0.
func TestWorkerCleanShutdownLogsNoError(t *testing.T) {
	t.Parallel()
	db := storagetest.RedisDB(t)
	env := map[string]string{
		"NARCIDI_DATA_DIR":  t.TempDir(),
		"NARCIDI_REDIS_URL": fmt.Sprintf("redis://%s/%d", storagetest.RedisAddr(), db),
		"NARCIDI_LOG_LEVEL": "debug",
	}
	ctx, cancel := context.WithCancel(context.Background())
	var out, logs syncBuffer
	done := make(chan int, 1)
	go func() { done <- run(ctx, []string{"worker"}, func(k string) string { return env[k] }, &out, &logs) }()
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(out.String(), "narcidi worker running") {
		if time.Now().After(deadline) {
			cancel()
			t.Fatalf("the worker did not start:\n%s%s", out.String(), logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(2 * time.Second) // let the scheduler, relay and servers settle
	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Errorf("exit %d:\n%s", code, logs.String())
		}
	case <-time.After(time.Minute):
		t.Fatal("the worker did not stop")
	}
	for _, l := range strings.Split(logs.String(), "\n") {
		if strings.Contains(l, "level=ERROR") {
			t.Errorf("clean shutdown logged an error: %s", l)
		}
	}
}
