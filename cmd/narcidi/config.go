package main

import (
	"flag"
	"fmt"
	"strconv"
	"time"

	"github.com/nzilacode/narcidicontrole/api"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
)

// Config is the whole configuration, read from NARCIDI_* environment
// variables; command-line flags of the same name (without the prefix) win.
type Config struct {
	Addr          string // NARCIDI_ADDR
	DataDir       string // NARCIDI_DATA_DIR
	DatabaseURL   string // NARCIDI_DATABASE_URL
	MasterKey     string // NARCIDI_MASTER_KEY
	MasterKeyFile string // NARCIDI_MASTER_KEY_FILE
	KeysDir       string // NARCIDI_KEYS_DIR
	AdminToken    string // NARCIDI_ADMIN_TOKEN
	Issuer        string // NARCIDI_ISSUER
	ProxyHeader   string // NARCIDI_PROXY_HEADER
	RedisURL      string // NARCIDI_REDIS_URL
	RedisPrefix   string // NARCIDI_REDIS_PREFIX
	ClientRate    string // NARCIDI_CLIENT_RATE
	TokenRate     string // NARCIDI_TOKEN_RATE
	LogLevel      string // NARCIDI_LOG_LEVEL
	LogFormat     string // NARCIDI_LOG_FORMAT

	Workers             string // NARCIDI_WORKERS
	WorkerConcurrency   string // NARCIDI_WORKER_CONCURRENCY
	SMTPURL             string // NARCIDI_SMTP_URL
	SMTPFrom            string // NARCIDI_SMTP_FROM
	AlertEmails         string // NARCIDI_ALERT_EMAILS
	WebhookAllowPrivate string // NARCIDI_WEBHOOK_ALLOW_PRIVATE
	DeliveryAttempts    string // NARCIDI_DELIVERY_ATTEMPTS
	RetryBase           string // NARCIDI_RETRY_BASE
	ScanSchedule        string // NARCIDI_SCAN_SCHEDULE
	Releases            ReleaseConfig
}

// configVars lists every variable: name, default, help, and where it goes.
func configVars(c *Config) []struct {
	env, def, help string
	dst            *string
} {
	return []struct {
		env, def, help string
		dst            *string
	}{
		{"NARCIDI_ADDR", "127.0.0.1:8080", "listen address (host:port; port 0 picks a free one)", &c.Addr},
		{"NARCIDI_DATA_DIR", "data", "folder of the embedded default: SQLite file, keys, master key", &c.DataDir},
		{"NARCIDI_DATABASE_URL", "", "PostgreSQL URL (postgres://...); empty: SQLite in the data dir", &c.DatabaseURL},
		{"NARCIDI_MASTER_KEY", "", "base64 of 32 bytes that encrypt private keys at rest", &c.MasterKey},
		{"NARCIDI_MASTER_KEY_FILE", "", "file holding the master key (instead of NARCIDI_MASTER_KEY)", &c.MasterKeyFile},
		{"NARCIDI_KEYS_DIR", "", "folder of the encrypted signing keys (default: <data dir>/keys)", &c.KeysDir},
		{"NARCIDI_ADMIN_TOKEN", "", "bootstrap admin token (at least 24 characters); generated and printed once when unset", &c.AdminToken},
		{"NARCIDI_ISSUER", "narcidi", "the iss claim of leases", &c.Issuer},
		{"NARCIDI_PROXY_HEADER", "", "header that carries the client IP behind a trusted proxy (e.g. X-Forwarded-For)", &c.ProxyHeader},
		{"NARCIDI_REDIS_URL", "", "Redis URL (redis://host:6379/0): shares rate limits across server instances", &c.RedisURL},
		{"NARCIDI_REDIS_PREFIX", "narcidi:", "prefix of every Redis key (several deployments can share a Redis)", &c.RedisPrefix},
		{"NARCIDI_CLIENT_RATE", "120/m", "client API requests allowed per IP (N/s, N/m or N/h; bursts up to half)", &c.ClientRate},
		{"NARCIDI_TOKEN_RATE", "10/m", "API token creations allowed per token", &c.TokenRate},
		{"NARCIDI_LOG_LEVEL", "info", "debug, info, warn or error", &c.LogLevel},
		{"NARCIDI_LOG_FORMAT", "text", "text or json", &c.LogFormat},
		{"NARCIDI_WORKERS", "auto", "auto: without NARCIDI_REDIS_URL, serve runs the background jobs in-process (with Redis, run narcidi worker); off: serve runs none", &c.Workers},
		{"NARCIDI_WORKER_CONCURRENCY", "10", "background tasks run at once per process", &c.WorkerConcurrency},
		{"NARCIDI_SMTP_URL", "", "SMTP server for email alerts: smtp://[user:pass@]host[:port][?tls=mandatory|opportunistic|none] or smtps://...; empty: no email", &c.SMTPURL},
		{"NARCIDI_SMTP_FROM", "", "sender address of email alerts", &c.SMTPFrom},
		{"NARCIDI_ALERT_EMAILS", "", "comma-separated admin addresses that get every email alert", &c.AlertEmails},
		{"NARCIDI_WEBHOOK_ALLOW_PRIVATE", "false", "let webhook URLs reach loopback and private networks (true only for tests and closed networks)", &c.WebhookAllowPrivate},
		{"NARCIDI_DELIVERY_ATTEMPTS", "8", "tries of a webhook or email before it is marked failed", &c.DeliveryAttempts},
		{"NARCIDI_RETRY_BASE", "30s", "first retry delay of a delivery; it doubles each try (at most 1h)", &c.RetryBase},
		{"NARCIDI_SCAN_SCHEDULE", "* * * * *", "cron spec (UTC) of the expiry and offline scans", &c.ScanSchedule},
		{"NARCIDI_BLOB_BACKEND", "local", "where release files live: local (a folder, the server signs URLs) or s3", &c.Releases.Backend},
		{"NARCIDI_BLOB_DIR", "", "folder of the local blob store (default: <data dir>/blobs)", &c.Releases.Dir},
		{"NARCIDI_BLOB_ADDR", "127.0.0.1:0", "listen address of the local blob store's download/upload URLs", &c.Releases.Addr},
		{"NARCIDI_BLOB_PUBLIC_URL", "", "public base URL of the local blob store (default: http://<its listen address>)", &c.Releases.PublicURL},
		{"NARCIDI_S3_BUCKET", "", "S3 bucket of the release files (NARCIDI_BLOB_BACKEND=s3)", &c.Releases.S3Bucket},
		{"NARCIDI_S3_REGION", "us-east-1", "S3 region", &c.Releases.S3Region},
		{"NARCIDI_S3_ENDPOINT", "", "S3-compatible endpoint (http://host:port); empty: AWS", &c.Releases.S3Endpoint},
		{"NARCIDI_S3_PATH_STYLE", "false", "true: bucket in the URL path (most S3-compatible stores)", &c.Releases.S3PathStyle},
		{"NARCIDI_S3_ACCESS_KEY", "", "S3 access key; empty: the AWS credential chain (AWS_ACCESS_KEY_ID, profiles, roles)", &c.Releases.S3AccessKey},
		{"NARCIDI_S3_SECRET_KEY", "", "S3 secret key", &c.Releases.S3SecretKey},
		{"NARCIDI_RELEASE_PUBLIC_KEYS", "", "comma-separated base64 release public keys (narcidi release keygen); artifacts must be signed by one", &c.Releases.PublicKeys},
		{"NARCIDI_RELEASE_METADATA_TTL", "168h", "how long signed release metadata stays valid", &c.Releases.MetadataTTL},
		{"NARCIDI_RELEASE_URL_TTL", "5m", "lifetime of a download URL", &c.Releases.URLTTL},
		{"NARCIDI_RELEASE_PART_SIZE", "67108864", "multipart upload part size in bytes (at least 5 MiB)", &c.Releases.PartSize},
	}
}

// loadConfig reads the environment through getenv, then the flags in args.
func loadConfig(name string, args []string, getenv func(string) string) (*Config, []string, error) {
	c := &Config{}
	fs := flag.NewFlagSet("narcidi "+name, flag.ContinueOnError)
	for _, v := range configVars(c) {
		val := getenv(v.env)
		if val == "" {
			val = v.def
		}
		flagName := strings.ReplaceAll(strings.ToLower(strings.TrimPrefix(v.env, "NARCIDI_")), "_", "-")
		fs.StringVar(v.dst, flagName, val, v.help+" ["+v.env+"]")
	}
	if err := fs.Parse(args); err != nil {
		return nil, nil, err
	}
	if c.KeysDir == "" {
		c.KeysDir = filepath.Join(c.DataDir, "keys")
	}
	return c, fs.Args(), nil
}

// parseRate reads "N/s", "N/m" or "N/h" into a rule; bursts go up to half
// the rate (at least 1).
func parseRate(name, v string) (api.RateRule, error) {
	n, unit, ok := strings.Cut(v, "/")
	count, err := strconv.Atoi(n)
	per := map[string]time.Duration{"s": time.Second, "m": time.Minute, "h": time.Hour}[unit]
	if !ok || err != nil || count < 1 || per == 0 {
		return api.RateRule{}, fmt.Errorf("%s must look like 120/m (count per s, m or h), not %q", name, v)
	}
	return api.RateRule{Name: strings.ToLower(strings.TrimPrefix(name, "NARCIDI_")), Rate: count, Period: per, Burst: max(1, count/2)}, nil
}

func (c *Config) logger(w io.Writer) (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(c.LogLevel)); err != nil {
		return nil, fmt.Errorf("NARCIDI_LOG_LEVEL: %w", err)
	}
	opts := &slog.HandlerOptions{Level: level}
	switch c.LogFormat {
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("NARCIDI_LOG_FORMAT must be text or json")
}
