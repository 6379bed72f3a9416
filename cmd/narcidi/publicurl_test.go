package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/nzilacode/narcidicontrole/storage/storagetest"
)

func TestPublicURLSetting(t *testing.T) {
	t.Parallel()
	load := func(v string) (*Config, error) {
		cfg, _, err := loadConfig("serve", nil, func(k string) string {
			if k == "NARCIDI_PUBLIC_URL" {
				return v
			}
			return ""
		})
		return cfg, err
	}
	for in, want := range map[string]string{"": "", "https://licenses.example.com/": "https://licenses.example.com", "http://127.0.0.1:8080": "http://127.0.0.1:8080"} {
		cfg, err := load(in)
		if err != nil || cfg.PublicURL != want {
			t.Errorf("%q: %q, %v; want %q", in, cfg.PublicURL, err, want)
		}
	}
	for _, bad := range []string{"licenses.example.com", "ftp://licenses.example.com", "https://licenses.example.com/narcidi", "https://u:p@licenses.example.com", "https://licenses.example.com/?a=b", "https://"} {
		if _, err := load(bad); err == nil || !strings.Contains(err.Error(), "NARCIDI_PUBLIC_URL") {
			t.Errorf("%q accepted (%v)", bad, err)
		}
	}
}

// consoleCookie is the Set-Cookie of the sign-in form's pre-session cookie.
func consoleCookie(t *testing.T, base string) *http.Cookie {
	t.Helper()
	resp, err := http.Get(base + "/console/sign-in")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	for _, c := range resp.Cookies() {
		if c.Name == "narcidi_console_pre" {
			return c
		}
	}
	t.Fatal("the sign-in page set no cookie")
	return nil
}

// With an https public URL (TLS ends at a proxy, the server sees plain
// HTTP) the console's cookies are Secure and the printed links use it;
// without one they are not (make run on http://127.0.0.1).
func TestPublicURLMakesCookiesSecureAndLinks(t *testing.T) {
	t.Parallel()
	app := startAppWith(t, map[string]string{"NARCIDI_PUBLIC_URL": "https://licenses.example.com/"})
	out := app.Out.(*bytes.Buffer).String()
	m := setPasswordLink.FindStringSubmatch(out)
	if m == nil || !strings.HasPrefix(m[2], "https://licenses.example.com/console/set-password?token=") {
		t.Fatalf("printed link: %q", out)
	}
	if c := consoleCookie(t, app.URL()); !c.Secure || !c.HttpOnly {
		t.Errorf("cookie behind an https public URL: Secure %v HttpOnly %v", c.Secure, c.HttpOnly)
	}

	plain := startApp(t, "sqlite")
	if c := consoleCookie(t, plain.URL()); c.Secure {
		t.Error("a Secure cookie on plain http without a public URL: the browser would drop it")
	}

	var stdout, stderr bytes.Buffer
	env := map[string]string{"NARCIDI_DATA_DIR": t.TempDir(), "NARCIDI_PUBLIC_URL": "https://licenses.example.com", "NARCIDI_LOG_LEVEL": "error"}
	if code := run(context.Background(), []string{"users", "create", "-email", "ops@example.com", "-role", "support"}, func(k string) string { return env[k] }, &stdout, &stderr); code != 0 {
		t.Fatalf("users create: exit %d: %s", code, stderr.String())
	}
	if !strings.Contains(stdout.String(), " at https://licenses.example.com/console/set-password?token=") {
		t.Errorf("users create printed %q", stdout.String())
	}
}

// The overview's queue card reads the asynq queue of this installation
// (its Redis prefix) when Redis carries the jobs, the in-process runner's
// queue otherwise.
func TestQueueReporter(t *testing.T) {
	t.Parallel()
	prefix := randomPrefix()
	app := startAppWith(t, map[string]string{"NARCIDI_REDIS_URL": fmt.Sprintf("redis://%s/%d", storagetest.RedisAddr(), storagetest.RedisDB(t)), "NARCIDI_REDIS_PREFIX": prefix})
	r, err := app.queueReporter()(context.Background())
	if err != nil || r.Mode != "redis" || len(r.Queues) != 1 || r.Queues[0].Name != prefix+"default" {
		t.Fatalf("redis: %+v, %v", r, err)
	}
	client := asynq.NewClientFromRedisClient(app.redis)
	for i := range 2 {
		if _, err := client.Enqueue(asynq.NewTask("test:noop", nil), asynq.Queue(prefix+"default"), asynq.ProcessIn(time.Duration(i+1)*time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	if r, err = app.queueReporter()(context.Background()); err != nil || r.Queues[0].Scheduled != 2 {
		t.Fatalf("after two scheduled tasks: %+v, %v", r, err)
	}
	local := startApp(t, "sqlite")
	if r, err := local.queueReporter()(context.Background()); err != nil || r.Mode != "in-process" {
		t.Fatalf("without Redis: %+v, %v", r, err)
	}
}
