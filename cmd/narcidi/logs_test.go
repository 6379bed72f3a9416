package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"
)

// Issue 23 item 7: with NARCIDI_LOG_FORMAT=json every line serve writes to
// its log is JSON, the start and stop lines carry the version, revision and
// schema, durations are text, and the address is a log line, not text on
// stdout.
func TestServeLogsAreJSON(t *testing.T) {
	t.Parallel()
	env := withTestDefaults(map[string]string{"NARCIDI_DATA_DIR": t.TempDir(), "NARCIDI_LOG_FORMAT": "json", "NARCIDI_LOG_LEVEL": "info", "NARCIDI_SHUTDOWN_GRACE": "1500ms"})
	ctx, cancel := context.WithCancel(context.Background())
	var out, logs syncBuffer
	done := make(chan int, 1)
	go func() { done <- run(ctx, []string{"serve"}, func(k string) string { return env[k] }, &out, &logs) }()
	deadline := time.Now().Add(60 * time.Second)
	for !strings.Contains(logs.String(), "narcidi serve started") {
		if time.Now().After(deadline) {
			cancel()
			t.Fatalf("serve did not start:\n%s%s", out.String(), logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	cancel()
	if code := <-done; code != 0 {
		t.Fatalf("serve exited %d: %s", code, logs.String())
	}
	if strings.Contains(out.String(), "listening") {
		t.Errorf("the address went to stdout as text: %s", out.String())
	}
	seen := map[string]map[string]any{}
	for _, line := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("a log line is not JSON: %q", line)
		}
		seen[rec["msg"].(string)] = rec
	}
	for _, msg := range []string{"narcidi serve started", "narcidi serve stopped"} {
		rec := seen[msg]
		if rec == nil || rec["version"] == nil || rec["revision"] == nil || rec["schema"] == nil {
			t.Errorf("%q: %v", msg, rec)
		}
	}
	if rec := seen["narcidi listening"]; rec == nil || !strings.HasPrefix(rec["url"].(string), "http://127.0.0.1:") {
		t.Errorf("no listening line: %v", rec)
	}
	var grace any
	for msg, rec := range seen {
		if strings.HasPrefix(msg, "shutting down") {
			grace = rec["grace"]
		}
	}
	if grace != "1.5s" {
		t.Errorf("the grace period is logged as %v (%T), want \"1.5s\"", grace, grace)
	}
}

// go-redis's own lines go through the process's logger.
func TestRedisLogsGoThroughSlog(t *testing.T) {
	t.Parallel()
	var buf syncBuffer // other tests' go-redis lines may come here too
	cfg := &Config{LogFormat: "json"}
	if _, err := cfg.Logger(&buf); err != nil {
		t.Fatal(err)
	}
	defer func() { _, _ = (&Config{}).Logger(io.Discard) }() // later go-redis lines go nowhere, not into buf
	redisLogger{}.Printf(context.Background(), "redis: discarding bad PubSub connection: %s", "EOF")
	// Other tests running beside this one may add their own go-redis
	// lines: look for this one among them.
	for _, line := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("not a JSON line: %v %s", err, line)
		}
		if rec["from"] == "go-redis" && strings.Contains(fmt.Sprint(rec["msg"]), "discarding bad PubSub") {
			return
		}
	}
	t.Fatalf("no go-redis line among: %s", buf.String())
}
