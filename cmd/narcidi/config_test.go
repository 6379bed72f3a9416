package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nzilacode/narcidicontrole/licensing"
)

// TestMain lets a test run this test binary as the real narcidi program
// (main, os.Args, os.Getenv, os.Exit): see runBinary. Password hashes are
// cheap in both (argon2id's real cost is tested in licensing). The browser
// tests' shared Chromium ends with the run.
func TestMain(m *testing.M) {
	licensing.UseCheapPasswordHashes()
	if os.Getenv("NARCIDI_TEST_RUN_MAIN") == "1" {
		main()
		return
	}
	code := m.Run()
	stopChromium()
	os.Exit(code)
}

// runBinary runs the narcidi program in a child process with exactly env
// and returns its exit code, stdout and stderr.
func runBinary(t *testing.T, env map[string]string, args ...string) (int, string, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], args...)
	cmd.Env = []string{"NARCIDI_TEST_RUN_MAIN=1", "PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	cmd.Dir = t.TempDir()
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return code, out.String(), errOut.String()
}

// Issue 11 item 14: help and flag errors never print a secret. Every secret
// the configuration and the admin CLI read is set to a known value; no
// command's -h, mistyped flag or bad value shows one.
func TestHelpAndFlagErrorsShowNoSecret(t *testing.T) {
	t.Parallel()
	secrets := map[string]string{
		"NARCIDI_MASTER_KEY":    "bWFzdGVyLWtleS1zZWNyZXQtdmFsdWUtMzItYnl0ZXM=",
		"NARCIDI_ADMIN_TOKEN":   "admin-token-secret-value-0123456789",
		"NARCIDI_DATABASE_URL":  "postgres://narcidi:db-password-secret@127.0.0.1:1/narcidi",
		"NARCIDI_REDIS_URL":     "redis://:redis-password-secret@127.0.0.1:1/0",
		"NARCIDI_SMTP_URL":      "smtp://mailer:smtp-password-secret@127.0.0.1:1",
		"NARCIDI_S3_SECRET_KEY": "s3-secret-key-secret-value",
		"NARCIDI_TOKEN":         "nzt_cli-token-secret-value",
	}
	// What must never be printed: each whole value and each password in it.
	forbidden := []string{"db-password-secret", "redis-password-secret", "smtp-password-secret"}
	for _, v := range secrets {
		forbidden = append(forbidden, v)
	}
	env := map[string]string{"NARCIDI_URL": "http://127.0.0.1:1", "NARCIDI_DATA_DIR": "data"}
	for k, v := range secrets {
		env[k] = v
	}
	cases := []struct {
		args     []string
		wantCode int
		want     string // printed somewhere
	}{
		{[]string{"serve", "-h"}, 0, "-master-key base64"},
		{[]string{"serve", "-no-such-flag"}, 2, "flag provided but not defined"},
		{[]string{"-addr"}, 2, "flag needs an argument"},
		{[]string{"serve", "-worker-concurrency", "lots"}, 2, "must be a number from 1 to 1000"},
		{[]string{"worker", "-h"}, 0, "-smtp-url url"},
		{[]string{"worker", "-mistyped"}, 2, "flag provided but not defined"},
		{[]string{"migrate", "-h"}, 0, "-database-url url"},
		{[]string{"migrate", "-addr", "x"}, 2, "flag provided but not defined: -addr"},
		{[]string{"keys", "generate", "-h"}, 0, "-master-key"},
		{[]string{"keys", "list", "-nope"}, 2, "flag provided but not defined"},
		{[]string{"keys", "attach", "-h"}, 0, "-keys-dir"},
		{[]string{"licenses", "list", "-h"}, 0, "-token"},
		{[]string{"licenses", "create", "-nope"}, 2, "flag provided but not defined"},
		{[]string{"tokens", "create", "-name", "x", "-role", "admin", "-expires-at", "soon"}, 2, "RFC 3339"},
		{[]string{"release", "publish", "-h"}, 0, "-token"},
		{[]string{"activate-offline", "-h"}, 0, "-token"},
		{[]string{"help"}, 0, "narcidi serve"},
	}
	for _, tc := range cases {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			t.Parallel()
			code, out, errOut := runBinary(t, env, tc.args...)
			all := out + errOut
			if code != tc.wantCode || !strings.Contains(all, tc.want) {
				t.Errorf("exit %d (want %d), output lacks %q:\n%s", code, tc.wantCode, tc.want, all)
			}
			for _, s := range forbidden {
				if strings.Contains(all, s) {
					t.Errorf("the output shows the secret %q:\n%s", s, all)
				}
			}
		})
	}
	// A secret's help says it is set, without its value.
	_, _, errOut := runBinary(t, env, "serve", "-h")
	lines := strings.Split(errOut, "\n")
	for _, flag := range []string{"-master-key", "-admin-token", "-database-url", "-redis-url", "-smtp-url", "-s3-secret-key"} {
		marked := false
		for i, l := range lines {
			if strings.HasPrefix(l, "  "+flag+" ") && i+1 < len(lines) {
				marked = strings.HasSuffix(lines[i+1], "(secret, set)")
			}
		}
		if !marked {
			t.Errorf("serve -h does not mark %s as a secret that is set:\n%s", flag, errOut)
		}
	}
}

// Bad URLs in secret settings are refused without quoting them: they may
// hold a password.
func TestSecretURLErrorsAreRedacted(t *testing.T) {
	t.Parallel()
	cases := []struct{ env, value, want string }{
		{"NARCIDI_DATABASE_URL", "mysql://root:hunter2-secret@db/x", `NARCIDI_DATABASE_URL: must be a postgres:// URL, not "mysql://root:xxxxx@db/x"`},
		{"NARCIDI_DATABASE_URL", "postgres://u:hunter2-secret@host:port/x", "NARCIDI_DATABASE_URL: is not a valid URL"},
		{"NARCIDI_REDIS_URL", "http://:hunter2-secret@h:6379", "NARCIDI_REDIS_URL: must be a redis:// URL"},
		{"NARCIDI_SMTP_URL", "smtp://u:hunter2-secret@h:bad", "NARCIDI_SMTP_URL: is not a valid URL"},
	}
	for _, tc := range cases {
		t.Run(tc.env, func(t *testing.T) {
			// From the environment and from a flag.
			env := map[string]string{tc.env: tc.value}
			_, _, err := parseConfig("serve", nil, func(k string) string { return env[k] }, io.Discard)
			if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "hunter2") {
				t.Errorf("from the environment: %v, want %q without the password", err, tc.want)
			}
			flagName := setting{env: tc.env}.flagName()
			var out bytes.Buffer
			_, _, err = parseConfig("serve", []string{"-" + flagName, tc.value}, func(string) string { return "" }, &out)
			if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error()+out.String(), "hunter2") {
				t.Errorf("from a flag: %v %s, want %q without the password", err, out.String(), tc.want)
			}
		})
	}
}

// The default, then the environment, then the flag: each wins over the one
// before, for every kind of value.
func TestConfigPrecedence(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name  string
		env   map[string]string
		args  []string
		check func(c *Config) bool
	}{
		{"int default", nil, nil, func(c *Config) bool { return c.WorkerConcurrency == 10 }},
		{"int env", map[string]string{"NARCIDI_WORKER_CONCURRENCY": "3"}, nil, func(c *Config) bool { return c.WorkerConcurrency == 3 }},
		{"int flag over env", map[string]string{"NARCIDI_WORKER_CONCURRENCY": "3"}, []string{"-worker-concurrency", "7"}, func(c *Config) bool { return c.WorkerConcurrency == 7 }},
		{"duration default", nil, nil, func(c *Config) bool { return c.RetryBase == 30*time.Second }},
		{"duration env", map[string]string{"NARCIDI_RETRY_BASE": "2m"}, nil, func(c *Config) bool { return c.RetryBase == 2*time.Minute }},
		{"duration flag over env", map[string]string{"NARCIDI_RETRY_BASE": "2m"}, []string{"-retry-base=5s"}, func(c *Config) bool { return c.RetryBase == 5*time.Second }},
		{"bool default", nil, nil, func(c *Config) bool { return !c.WebhookAllowPrivate }},
		{"bool env", map[string]string{"NARCIDI_WEBHOOK_ALLOW_PRIVATE": "true"}, nil, func(c *Config) bool { return c.WebhookAllowPrivate }},
		{"bool bare flag", nil, []string{"-webhook-allow-private"}, func(c *Config) bool { return c.WebhookAllowPrivate }},
		{"bool flag over env", map[string]string{"NARCIDI_WEBHOOK_ALLOW_PRIVATE": "true"}, []string{"-webhook-allow-private=false"}, func(c *Config) bool { return !c.WebhookAllowPrivate }},
		{"rate default", nil, nil, func(c *Config) bool {
			return c.ClientRate.Rate == 120 && c.ClientRate.Period == time.Minute && c.ClientRate.Burst == 60
		}},
		{"rate env", map[string]string{"NARCIDI_CLIENT_RATE": "5/s"}, nil, func(c *Config) bool { return c.ClientRate.Rate == 5 && c.ClientRate.Period == time.Second }},
		{"rate flag over env", map[string]string{"NARCIDI_TOKEN_RATE": "5/s"}, []string{"-token-rate", "9/h"}, func(c *Config) bool { return c.TokenRate.Rate == 9 && c.TokenRate.Period == time.Hour }},
		{"level env", map[string]string{"NARCIDI_LOG_LEVEL": "debug"}, nil, func(c *Config) bool { return c.LogLevel.String() == "DEBUG" }},
		{"string default", nil, nil, func(c *Config) bool {
			return c.Addr == "127.0.0.1:8080" && c.Issuer == "narcidi" && c.RedisPrefix == "narcidi:"
		}},
		{"string env", map[string]string{"NARCIDI_ADDR": ":9"}, nil, func(c *Config) bool { return c.Addr == ":9" }},
		{"string flag over env", map[string]string{"NARCIDI_ADDR": ":9"}, []string{"-addr", ":10"}, func(c *Config) bool { return c.Addr == ":10" }},
		{"empty env is unset", map[string]string{"NARCIDI_ADDR": ""}, nil, func(c *Config) bool { return c.Addr == "127.0.0.1:8080" }},
		{"keys dir from the data dir", map[string]string{"NARCIDI_DATA_DIR": "/d"}, nil, func(c *Config) bool { return c.KeysDir == "/d/keys" }},
		{"release ttl flag over env", map[string]string{"NARCIDI_RELEASE_URL_TTL": "1m"}, []string{"-release-url-ttl", "2m"}, func(c *Config) bool { return c.Releases.URLTTL == "2m" }},
		{"telemetry default on", nil, nil, func(c *Config) bool { return c.Telemetry }},
		{"telemetry env off", map[string]string{"NARCIDI_TELEMETRY": "off"}, nil, func(c *Config) bool { return !c.Telemetry }},
		{"telemetry flag over env", map[string]string{"NARCIDI_TELEMETRY": "off"}, []string{"-telemetry", "on"}, func(c *Config) bool { return c.Telemetry }},
		{"secret from env", map[string]string{"NARCIDI_ADMIN_TOKEN": "t"}, nil, func(c *Config) bool { return c.AdminToken == "t" }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, _, err := parseConfig("serve", tc.args, func(k string) string { return tc.env[k] }, io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			if !tc.check(c) {
				t.Errorf("got %+v", c)
			}
		})
	}
}

// Every value is checked at load, with the variable named.
func TestConfigValidation(t *testing.T) {
	t.Parallel()
	cases := []struct {
		env, value, want string
	}{
		{"NARCIDI_WORKER_CONCURRENCY", "0", "NARCIDI_WORKER_CONCURRENCY: must be a number from 1 to 1000"},
		{"NARCIDI_WORKER_CONCURRENCY", "ten", "NARCIDI_WORKER_CONCURRENCY: must be a number from 1 to 1000"},
		{"NARCIDI_DELIVERY_ATTEMPTS", "51", "NARCIDI_DELIVERY_ATTEMPTS: must be a number from 1 to 50"},
		{"NARCIDI_RETRY_BASE", "2h", "NARCIDI_RETRY_BASE: must be a duration"},
		{"NARCIDI_RETRY_BASE", "-1s", "NARCIDI_RETRY_BASE: must be a duration"},
		{"NARCIDI_WEBHOOK_ALLOW_PRIVATE", "yes", "NARCIDI_WEBHOOK_ALLOW_PRIVATE: must be true or false"},
		{"NARCIDI_CLIENT_RATE", "120/d", "NARCIDI_CLIENT_RATE: must look like 120/m"},
		{"NARCIDI_TOKEN_RATE", "0/m", "NARCIDI_TOKEN_RATE: must look like 120/m"},
		{"NARCIDI_LOG_LEVEL", "loud", "NARCIDI_LOG_LEVEL: must be debug, info, warn or error"},
		{"NARCIDI_LOG_FORMAT", "xml", "NARCIDI_LOG_FORMAT: must be text or json"},
		{"NARCIDI_WORKERS", "on", "NARCIDI_WORKERS: must be auto or off"},
		{"NARCIDI_TELEMETRY", "false", "NARCIDI_TELEMETRY: must be on or off"},
		{"NARCIDI_SCAN_SCHEDULE", "every minute", "NARCIDI_SCAN_SCHEDULE: must be a cron spec"},
		{"NARCIDI_BLOB_BACKEND", "ftp", "NARCIDI_BLOB_BACKEND: must be local or s3"},
		{"NARCIDI_S3_PATH_STYLE", "maybe", "NARCIDI_S3_PATH_STYLE: must be true or false"},
		{"NARCIDI_RELEASE_METADATA_TTL", "30m", "NARCIDI_RELEASE_METADATA_TTL: must be a duration of at least 1h0m0s"},
		{"NARCIDI_RELEASE_URL_TTL", "2h", "NARCIDI_RELEASE_URL_TTL: must be a duration from 10s to 1h0m0s"},
		{"NARCIDI_RELEASE_PART_SIZE", "1024", "NARCIDI_RELEASE_PART_SIZE: must be a whole number of at least 5242880"},
		{"NARCIDI_RELEASE_PUBLIC_KEYS", "not-a-key", "NARCIDI_RELEASE_PUBLIC_KEYS"},
		{"NARCIDI_TRUSTED_PROXIES", "10.0.0.0/33", "NARCIDI_TRUSTED_PROXIES"},
		{"NARCIDI_PROXY_HEADER", "X-Forwarded-For", "NARCIDI_PROXY_HEADER is set but NARCIDI_TRUSTED_PROXIES is empty"},
		{"NARCIDI_DEFAULT_LANGUAGE", "fr", `NARCIDI_DEFAULT_LANGUAGE: "fr" is not a language of this server (en, pt-BR, pt-PT)`},
	}
	for _, tc := range cases {
		t.Run(tc.env+"="+tc.value, func(t *testing.T) {
			env := map[string]string{tc.env: tc.value}
			_, _, err := parseConfig("serve", nil, func(k string) string { return env[k] }, io.Discard)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want %q", err, tc.want)
			}
		})
	}
}

// Each command knows only the settings it reads, and loads with every
// default.
func TestConfigPerCommand(t *testing.T) {
	t.Parallel()
	cases := []struct {
		command    string
		has, lacks []string
	}{
		{"serve", []string{"-addr", "-admin-token", "-redis-url", "-smtp-url", "-blob-backend"}, nil},
		{"worker", []string{"-redis-url", "-smtp-url", "-worker-concurrency", "-master-key"}, []string{"-addr", "-admin-token", "-client-rate"}},
		{"migrate", []string{"-database-url", "-data-dir"}, []string{"-addr", "-master-key", "-redis-url", "-smtp-url"}},
		{"keys generate", []string{"-master-key", "-keys-dir"}, []string{"-addr", "-admin-token", "-smtp-url"}},
		{"keys list", []string{"-master-key", "-keys-dir"}, []string{"-addr", "-redis-url"}},
		{"keys attach", []string{"-master-key", "-keys-dir"}, []string{"-addr", "-s3-secret-key"}},
	}
	for _, tc := range cases {
		t.Run(tc.command, func(t *testing.T) {
			if _, _, err := parseConfig(tc.command, nil, func(string) string { return "" }, io.Discard); err != nil {
				t.Fatalf("the defaults do not load: %v", err)
			}
			var help bytes.Buffer
			_, _, err := parseConfig(tc.command, []string{"-h"}, func(string) string { return "" }, &help)
			if !errHelp(err) {
				t.Fatalf("-h: %v", err)
			}
			for _, f := range tc.has {
				if !strings.Contains(help.String(), "  "+f+" ") {
					t.Errorf("%s lacks %s:\n%s", tc.command, f, help.String())
				}
			}
			for _, f := range tc.lacks {
				if strings.Contains(help.String(), "  "+f+" ") {
					t.Errorf("%s has %s, which it does not read", tc.command, f)
				}
			}
		})
	}
}

// A proxy header with its trusted proxies loads; the list is parsed.
func TestConfigTrustedProxies(t *testing.T) {
	t.Parallel()
	env := map[string]string{"NARCIDI_PROXY_HEADER": "X-Forwarded-For", "NARCIDI_TRUSTED_PROXIES": "10.0.0.0/8, 192.168.1.10, ::1"}
	c, _, err := parseConfig("serve", nil, func(k string) string { return env[k] }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.TrustedProxies) != 3 || c.TrustedProxies[1].String() != "192.168.1.10/32" {
		t.Errorf("TrustedProxies = %v", c.TrustedProxies)
	}
}

// Every command and command group answers -h and --help with its usage and
// exit code 0, without opening anything.
func TestEveryCommandHelpExitsZero(t *testing.T) {
	t.Parallel()
	env := map[string]string{"NARCIDI_DATA_DIR": filepath.Join(t.TempDir(), "absent")}
	for _, cmd := range [][]string{{}, {"serve"}, {"migrate"}, {"worker"}, {"keys"}, {"keys", "generate"}, {"keys", "list"},
		{"release"}, {"release", "publish"}, {"seed"}, {"healthcheck"}, {"activate-offline"},
		{"licenses"}, {"machines"}, {"customers"}, {"tokens"}, {"subscriptions"}, {"users"}, {"users", "create"}, {"users", "link"}, {"portal-link"}, {"insights"}} {
		for _, flag := range []string{"-h", "--help"} {
			args := append(append([]string(nil), cmd...), flag)
			t.Run(strings.Join(args, " "), func(t *testing.T) {
				t.Parallel()
				code, out, errs := runBinary(t, env, args...)
				if code != 0 || !strings.Contains(strings.ToLower(out+errs), "usage") && len(cmd) > 0 {
					t.Errorf("narcidi %s: exit %d\n%s%s", strings.Join(args, " "), code, out, errs)
				}
			})
		}
	}
	t.Cleanup(func() { // after every command's subtest
		if _, err := os.Stat(env["NARCIDI_DATA_DIR"]); err == nil {
			t.Error("a help request created the data folder")
		}
	})
}

// The worker listens nowhere but on its optional metrics address: its help
// lists no API or blob-store listen address.
func TestWorkerHelpListsNoListenAddress(t *testing.T) {
	t.Parallel()
	var out strings.Builder
	_, _, err := parseConfig("worker", []string{"-h"}, func(string) string { return "" }, &out)
	if !errHelp(err) {
		t.Fatalf("worker -h: %v", err)
	}
	for _, flag := range []string{"  -addr ", "-blob-addr", "-blob-public-url", "-proxy-header"} {
		if strings.Contains(out.String(), flag) {
			t.Errorf("worker -h lists %s", flag)
		}
	}
	if !strings.Contains(out.String(), "-metrics-addr") {
		t.Error("worker -h lacks -metrics-addr")
	}
}
