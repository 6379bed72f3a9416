package wiring

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/nzilacode/narcidicontrole/api"
	"github.com/nzilacode/narcidicontrole/licensing/i18n"
	"github.com/nzilacode/narcidicontrole/storage"
)

// Config is the whole configuration, read from NARCIDI_* environment
// variables; command-line flags of the same name (without the prefix) win.
// Every value is typed and checked once, in LoadConfig: the code that uses
// a Config never parses text again.
type Config struct {
	Addr        string // NARCIDI_ADDR
	DataDir     string // NARCIDI_DATA_DIR
	DatabaseURL string // NARCIDI_DATABASE_URL (secret: may hold a password)
	// RequirePostgres (NARCIDI_REQUIRE_POSTGRES) refuses the SQLite
	// fallback: an empty or misspelt database URL must not start an empty
	// instance that answers not_found for every license.
	RequirePostgres bool
	MasterKey       string // NARCIDI_MASTER_KEY (secret)
	MasterKeyFile   string // NARCIDI_MASTER_KEY_FILE
	KeysDir         string // NARCIDI_KEYS_DIR
	AdminToken      string // NARCIDI_ADMIN_TOKEN (secret)
	Issuer          string // NARCIDI_ISSUER
	ProxyHeader     string // NARCIDI_PROXY_HEADER
	// PublicURL (NARCIDI_PUBLIC_URL) is the server's address as people
	// reach it (scheme and host, no trailing slash), "" when unset.
	PublicURL string
	// TrustedProxies (NARCIDI_TRUSTED_PROXIES) may set ProxyHeader.
	TrustedProxies []netip.Prefix
	RedisURL       string        // NARCIDI_REDIS_URL (secret: may hold a password)
	RedisPrefix    string        // NARCIDI_REDIS_PREFIX
	ClientRate     api.RateRule  // NARCIDI_CLIENT_RATE
	TokenRate      api.RateRule  // NARCIDI_TOKEN_RATE
	LogLevel       slog.Level    // NARCIDI_LOG_LEVEL
	LogFormat      string        // NARCIDI_LOG_FORMAT: text or json
	Workers        string        // NARCIDI_WORKERS: auto or off
	RetryBase      time.Duration // NARCIDI_RETRY_BASE
	ShutdownGrace  time.Duration // NARCIDI_SHUTDOWN_GRACE
	// LeaseCacheTTL (NARCIDI_LEASE_CACHE_TTL) is how long a server keeps a
	// policy for renewals, heartbeats and validations (leasecache.go); 0
	// keeps none.
	LeaseCacheTTL time.Duration

	// DefaultLanguage (NARCIDI_DEFAULT_LANGUAGE) is the language of pages
	// and mails for a reader without a preference nor a matching
	// Accept-Language (licensing/i18n).
	DefaultLanguage string

	WorkerConcurrency   int    // NARCIDI_WORKER_CONCURRENCY
	SMTPURL             string // NARCIDI_SMTP_URL (secret: may hold a password)
	SMTPFrom            string // NARCIDI_SMTP_FROM
	AlertEmails         string // NARCIDI_ALERT_EMAILS
	WebhookAllowPrivate bool   // NARCIDI_WEBHOOK_ALLOW_PRIVATE
	DeliveryAttempts    int    // NARCIDI_DELIVERY_ATTEMPTS
	ScanSchedule        string // NARCIDI_SCAN_SCHEDULE (a checked cron spec)
	MetricsAddr         string // NARCIDI_METRICS_ADDR (metrics.go)
	MetricsToken        string // NARCIDI_METRICS_TOKEN (secret)
	// Releases keeps the text form that release.go reads, but every value
	// in it has been checked here at load.
	Releases ReleaseConfig
	Billing  BillingConfig // subscriptions.go

	// TelemetryRetention (NARCIDI_TELEMETRY_RETENTION) is how long
	// client-API telemetry is kept (insights.go).
	TelemetryRetention time.Duration
	// AuditRetention (NARCIDI_AUDIT_RETENTION) is how long audit events
	// stay in the database before the daily clean-up archives them.
	AuditRetention time.Duration
	// Telemetry (NARCIDI_TELEMETRY: on or off) says whether serve records
	// client-API telemetry at all; off leaves the insights scores without
	// usage (issue 14's bench measures what it costs).
	Telemetry bool
	// Insights is the scoring job's schedule and thresholds
	// (insights_scores.go).
	Insights InsightsConfig

	// Build is what the binary says of itself (not a setting).
	Build Build
}

// Build is what the running binary says of itself: cmd/narcidi sets it
// from its -ldflags stamps and its schema range (version.go); the zero
// value means the Go toolchain's stamps and this code's schema range.
type Build struct {
	Version, Revision string
	Schema            storage.SchemaRange
}

// schema is the range databases are checked against (storage/schema.go).
func (b Build) schema() storage.SchemaRange {
	if b.Schema == (storage.SchemaRange{}) {
		return storage.BinarySchema()
	}
	return b.Schema
}

// setting is one configuration variable: its environment name, its static
// default (the text shown in help), its help, the typed flag value that
// parses and checks it into the Config, and whether it is a secret (its
// value is never shown, only whether it is set).
type setting struct {
	env, def, help string
	kind           string // what the value looks like, for help: "string", "int", "duration", ...
	value          flag.Value
	secret         bool
}

// flagName is the flag of a variable: NARCIDI_DATA_DIR is -data-dir.
func (s setting) flagName() string { return FlagName(s.env) }

// FlagName is the flag of a variable: NARCIDI_DATA_DIR is -data-dir.
func FlagName(env string) string {
	return strings.ReplaceAll(strings.ToLower(strings.TrimPrefix(env, "NARCIDI_")), "_", "-")
}

// The groups of settings; each command reads only the groups it uses.
const (
	groupStore   = "store"   // the database
	groupLog     = "log"     // logging
	groupKeys    = "keys"    // master key and signing keys
	groupServer  = "server"  // the HTTP API
	groupRedis   = "redis"   // Redis
	groupJobs    = "jobs"    // background jobs and deliveries
	groupRelease = "release" // release files
	// groupBlobServe is where serve's local blob store listens; the worker
	// only cleans the store up and listens nowhere.
	groupBlobServe = "blob-serve"
	groupMetrics   = "metrics" // Prometheus metrics (metrics.go)
)

// commandGroups says which settings each command reads.
var commandGroups = map[string][]string{
	"serve":         {groupStore, groupLog, groupKeys, groupServer, groupRedis, groupJobs, groupRelease, groupBlobServe, groupMetrics},
	"worker":        {groupStore, groupLog, groupKeys, groupRedis, groupJobs, groupRelease, groupMetrics},
	"migrate":       {groupStore, groupLog},
	"seed":          {groupStore, groupLog, groupKeys},
	"keys generate": {groupStore, groupLog, groupKeys},
	// backup.go: the release group for the local blob folder.
	"backup":        {groupStore, groupLog, groupKeys, groupRelease},
	"restore":       {groupStore, groupLog, groupKeys, groupRelease},
	"verify-backup": {groupStore, groupLog, groupKeys},
	"keys list":     {groupStore, groupLog, groupKeys},
	"keys jwks":     {groupStore, groupLog, groupKeys},
	"keys attach":   {groupStore, groupLog, groupKeys},
	"users create":  {groupStore, groupLog, groupKeys, groupServer},
	"users link":    {groupStore, groupLog, groupKeys, groupServer},
	// portal-link mails with -send: the jobs group holds the SMTP settings.
	"portal-link": {groupStore, groupLog, groupServer, groupJobs},
	// insights import (insights_import.go) writes telemetry and outcomes.
	"insights import": {groupStore, groupLog},
}

// settings lists every variable by group, bound to c.
func settings(c *Config) map[string][]setting {
	r := &c.Releases
	return map[string][]setting{
		groupStore: {
			{env: "NARCIDI_DATA_DIR", def: "data", kind: "dir", help: "folder of the embedded default: SQLite file, keys, master key", value: text(&c.DataDir)},
			{env: "NARCIDI_DATABASE_URL", kind: "url", help: "PostgreSQL URL (postgres://...); empty: SQLite in the data dir", value: secretURL(&c.DatabaseURL, "postgres", "postgresql"), secret: true},
			{env: "NARCIDI_REQUIRE_POSTGRES", def: "false", kind: "bool", help: "true: refuse to start without NARCIDI_DATABASE_URL instead of falling back to SQLite (on in the image and compose)", value: (*boolValue)(&c.RequirePostgres)},
		},
		groupLog: {
			{env: "NARCIDI_LOG_LEVEL", def: "info", kind: "level", help: "debug, info, warn or error", value: (*levelValue)(&c.LogLevel)},
			{env: "NARCIDI_LOG_FORMAT", def: "text", kind: "format", help: "text or json", value: oneOf(&c.LogFormat, "text", "json")},
		},
		groupKeys: {
			{env: "NARCIDI_MASTER_KEY", kind: "base64", help: "base64 of 32 bytes that encrypt private keys at rest", value: text(&c.MasterKey), secret: true},
			{env: "NARCIDI_MASTER_KEY_FILE", kind: "file", help: "file holding the master key (instead of NARCIDI_MASTER_KEY)", value: text(&c.MasterKeyFile)},
			{env: "NARCIDI_KEYS_DIR", kind: "dir", help: "keys folder of versions before migration 0018, copied into the database at start (default: <data dir>/keys); signing keys live in the database", value: text(&c.KeysDir)},
			{env: "NARCIDI_ISSUER", def: "narcidi", kind: "string", help: "the iss claim of leases", value: text(&c.Issuer)},
		},
		groupServer: append([]setting{
			{env: "NARCIDI_ADDR", def: "127.0.0.1:8080", kind: "host:port", help: "listen address (port 0 picks a free one)", value: text(&c.Addr)},
			{env: "NARCIDI_ADMIN_TOKEN", kind: "token", help: "bootstrap admin token (at least 24 characters); generated and printed once when unset", value: text(&c.AdminToken), secret: true},
			{env: "NARCIDI_PUBLIC_URL", kind: "url", help: "the server's public base URL (https://licenses.example.com): printed links use it; https makes the console's and the portal's cookies Secure (TLS ends at a proxy); the portal's mailed sign-in links start with it; default: http://<NARCIDI_ADDR>", value: (*publicURLValue)(&c.PublicURL)},
			{env: "NARCIDI_PROXY_HEADER", kind: "header", help: "header that carries the client IP behind a trusted proxy (e.g. X-Forwarded-For); needs NARCIDI_TRUSTED_PROXIES", value: text(&c.ProxyHeader)},
			{env: "NARCIDI_TRUSTED_PROXIES", kind: "cidrs", help: "comma-separated IPs or CIDRs of the proxies allowed to set NARCIDI_PROXY_HEADER (the client is the right-most address not among them)", value: (*proxiesValue)(&c.TrustedProxies)},
			{env: "NARCIDI_CLIENT_RATE", def: "120/m", kind: "N/unit", help: "client API requests allowed per IP (N/s, N/m or N/h; bursts up to half)", value: rate(&c.ClientRate, "client_rate")},
			{env: "NARCIDI_TOKEN_RATE", def: "10/m", kind: "N/unit", help: "API token creations allowed per token", value: rate(&c.TokenRate, "token_rate")},
			{env: "NARCIDI_SHUTDOWN_GRACE", def: "5s", kind: "duration", help: "on SIGTERM, how long /readyz answers 503 while requests are still served (a load balancer drains the instance) before it stops", value: durationIn(&c.ShutdownGrace, 0, 5*time.Minute)},
			{env: "NARCIDI_WORKERS", def: "auto", kind: "mode", help: "auto: without NARCIDI_REDIS_URL, serve runs the background jobs in-process (with Redis, run narcidi worker); off: serve runs none", value: oneOf(&c.Workers, "auto", "off")},
			leaseCacheSetting(c),
			{env: "NARCIDI_TELEMETRY", def: "on", kind: "mode", help: "on: the client API records usage telemetry (daily roll-ups, refusals), written behind in batches; off: none is recorded, so insights scores see no usage (no roll-ups, no refusals)", value: (*onOffValue)(&c.Telemetry)},
		}, billingSettings(&c.Billing)...),
		groupRedis: {
			{env: "NARCIDI_REDIS_URL", kind: "url", help: "Redis URL (redis://host:6379/0): shares rate limits across server instances; required by worker", value: secretURL(&c.RedisURL, "redis", "rediss"), secret: true},
			{env: "NARCIDI_REDIS_PREFIX", def: "narcidi:", kind: "string", help: "prefix of every Redis key and of the job queue's name (several deployments can share a Redis)", value: text(&c.RedisPrefix)},
		},
		groupJobs: append([]setting{
			{env: "NARCIDI_WORKER_CONCURRENCY", def: "10", kind: "int", help: "background tasks run at once per process (1-1000)", value: intIn(&c.WorkerConcurrency, 1, 1000)},
			{env: "NARCIDI_SMTP_URL", kind: "url", help: "SMTP server for email alerts: smtp://[user:pass@]host[:port][?tls=mandatory|opportunistic|none] or smtps://...; empty: no email", value: secretURL(&c.SMTPURL, "smtp", "smtps"), secret: true},
			{env: "NARCIDI_SMTP_FROM", kind: "email", help: "sender address of email alerts", value: text(&c.SMTPFrom)},
			{env: "NARCIDI_DEFAULT_LANGUAGE", def: "en", kind: "language", help: "language of the portal, the sign-in pages and the mails for a reader without a preference nor a matching Accept-Language: " + strings.Join(i18n.Codes(), ", "),
				value: checked(&c.DefaultLanguage, func(s string) error { _, err := i18n.Normalize(s); return err })},
			{env: "NARCIDI_ALERT_EMAILS", kind: "emails", help: "comma-separated admin addresses that get every email alert", value: text(&c.AlertEmails)},
			{env: "NARCIDI_WEBHOOK_ALLOW_PRIVATE", def: "false", kind: "bool", help: "let webhook URLs reach loopback and private networks (true only for tests and closed networks)", value: (*boolValue)(&c.WebhookAllowPrivate)},
			{env: "NARCIDI_DELIVERY_ATTEMPTS", def: "8", kind: "int", help: "tries of a webhook or email before it is marked failed (1-50)", value: intIn(&c.DeliveryAttempts, 1, 50)},
			{env: "NARCIDI_RETRY_BASE", def: "30s", kind: "duration", help: "first retry delay of a delivery; it doubles each try (at most 1h)", value: durationIn(&c.RetryBase, time.Nanosecond, time.Hour)},
			{env: "NARCIDI_SCAN_SCHEDULE", def: "* * * * *", kind: "cron", help: "cron spec (UTC) of the expiry and offline scans", value: checked(&c.ScanSchedule, checkCron)},
			telemetrySetting(c),
			{env: "NARCIDI_AUDIT_RETENTION", def: "365d", kind: "days", help: "how long audit events are kept in the database; the daily clean-up appends older ones to <data dir>/audit/audit-YYYY-MM.jsonl, then deletes them (0: keep all; up to 3650d)",
				value: &daysValue{&c.AuditRetention, 0, maxTelemetryRetention}},
		}, insightsSettings(&c.Insights)...),
		groupMetrics: metricsSettings(c),
		groupBlobServe: {
			{env: "NARCIDI_BLOB_ADDR", def: "127.0.0.1:0", kind: "host:port", help: "listen address of the local blob store's download/upload URLs", value: text(&r.Addr)},
			{env: "NARCIDI_BLOB_PUBLIC_URL", kind: "url", help: "public base URL of the local blob store (default: http://<its listen address>)", value: text(&r.PublicURL)},
		},
		groupRelease: {
			{env: "NARCIDI_BLOB_BACKEND", def: "local", kind: "backend", help: "where release files live: local (a folder, the server signs URLs) or s3", value: oneOf(&r.Backend, "local", "s3")},
			{env: "NARCIDI_BLOB_DIR", kind: "dir", help: "folder of the local blob store (default: <data dir>/blobs)", value: text(&r.Dir)},
			{env: "NARCIDI_S3_BUCKET", kind: "string", help: "S3 bucket of the release files (NARCIDI_BLOB_BACKEND=s3)", value: text(&r.S3Bucket)},
			{env: "NARCIDI_S3_REGION", def: "us-east-1", kind: "string", help: "S3 region", value: text(&r.S3Region)},
			{env: "NARCIDI_S3_ENDPOINT", kind: "url", help: "S3-compatible endpoint (http://host:port); empty: AWS", value: text(&r.S3Endpoint)},
			{env: "NARCIDI_S3_PUBLIC_ENDPOINT", kind: "url", help: "the S3 endpoint that clients reach, named in presigned URLs (default: NARCIDI_S3_ENDPOINT); the store must answer on that host name", value: text(&r.S3PublicEndpoint)},
			{env: "NARCIDI_S3_PATH_STYLE", def: "false", kind: "bool", help: "true: bucket in the URL path (most S3-compatible stores)", value: checked(&r.S3PathStyle, checkBool)},
			{env: "NARCIDI_S3_ACCESS_KEY", kind: "string", help: "S3 access key; empty: the AWS credential chain (AWS_ACCESS_KEY_ID, profiles, roles)", value: text(&r.S3AccessKey)},
			{env: "NARCIDI_S3_SECRET_KEY", kind: "string", help: "S3 secret key", value: text(&r.S3SecretKey), secret: true},
			{env: "NARCIDI_RELEASE_PUBLIC_KEYS", kind: "keys", help: "comma-separated base64 release public keys (narcidi release keygen); artifacts must be signed by one", value: checked(&r.PublicKeys, func(s string) error { _, err := parseReleaseKeys(s); return err })},
			{env: "NARCIDI_RELEASE_METADATA_TTL", def: "168h", kind: "duration", help: "how long signed release metadata stays valid (at least 1h)", value: checked(&r.MetadataTTL, checkDuration(time.Hour, 0))},
			{env: "NARCIDI_RELEASE_URL_TTL", def: "5m", kind: "duration", help: "lifetime of a download URL (10s-1h)", value: checked(&r.URLTTL, checkDuration(10*time.Second, time.Hour))},
			{env: "NARCIDI_RELEASE_PART_SIZE", def: "67108864", kind: "bytes", help: "multipart upload part size in bytes (at least 5 MiB)", value: checked(&r.PartSize, checkMinInt(5<<20))},
		},
	}
}

// commandSettings is the settings command reads, in a stable order.
func commandSettings(command string, c *Config) ([]setting, error) {
	groups, ok := commandGroups[command]
	if !ok {
		return nil, fmt.Errorf("no configuration for command %q", command)
	}
	all := settings(c)
	var out []setting
	for _, g := range groups {
		out = append(out, all[g]...)
	}
	return out, nil
}

// LoadConfig reads the configuration of command from the environment
// (through getenv) and then args; its help and flag errors go to stderr.
func LoadConfig(command string, args []string, getenv func(string) string) (*Config, []string, error) {
	return ParseConfig(command, args, getenv, os.Stderr)
}

// ParseConfig reads, in this order, each setting's static default, its
// environment variable (a variable set to "" counts as unset), then the
// flags in args: a flag wins over the environment, which wins over the
// default. Every value is checked as it is set, so a Config that comes out
// is valid. Help (-h) and errors never show a secret's value: help prints
// only static defaults and, for a secret, whether it is set.
func ParseConfig(command string, args []string, getenv func(string) string, out io.Writer) (*Config, []string, error) {
	c := &Config{}
	list, err := commandSettings(command, c)
	if err != nil {
		return nil, nil, err
	}
	fs := flag.NewFlagSet("narcidi "+command, flag.ContinueOnError)
	fs.SetOutput(out)
	for _, s := range list {
		if err := s.value.Set(s.def); err != nil {
			return nil, nil, fmt.Errorf("the default of %s: %w", s.env, err) // a programming error; the tests load every default
		}
		fs.Var(s.value, s.flagName(), s.help)
	}
	for _, s := range list {
		if v := getenv(s.env); v != "" {
			if err := s.value.Set(v); err != nil {
				return nil, nil, fmt.Errorf("%s: %w", s.env, err)
			}
		}
	}
	fs.Usage = func() { printConfigUsage(out, command, list, getenv) }
	if err := fs.Parse(args); err != nil {
		return nil, nil, UsageError{err}
	}
	for _, s := range list {
		if v, ok := s.value.(*textValue); ok && v.check != nil {
			if err := v.check(*v.p); err != nil {
				return nil, nil, fmt.Errorf("%s: %w", s.env, err)
			}
		}
	}
	if c.ProxyHeader != "" && len(c.TrustedProxies) == 0 && slices.Contains(commandGroups[command], groupServer) {
		// Without trusted proxies the header would be ignored and every
		// client would share the proxy's rate limit: say so at start.
		return nil, nil, i18n.Say("cli.config.proxy_header")
	}
	if slices.Contains(commandGroups[command], groupJobs) {
		// The one default of the process's pages and mails (i18n.Default).
		if err := i18n.SetDefault(c.DefaultLanguage); err != nil {
			return nil, nil, fmt.Errorf("NARCIDI_DEFAULT_LANGUAGE: %w", err)
		}
	}
	if c.KeysDir == "" && c.DataDir != "" {
		c.KeysDir = filepath.Join(c.DataDir, "keys")
	}
	return c, fs.Args(), nil
}

// printConfigUsage is the help of a command's configuration. It shows each
// flag's static default, never what the environment holds, and for a secret
// only whether it is set.
func printConfigUsage(w io.Writer, command string, list []setting, getenv func(string) string) {
	// In the reader's language (i18n.FromEnv, as the CLI's other words);
	// the flag names, variables and defaults stay as they are.
	pr := i18n.For(i18n.FromEnv(getenv), "")
	fmt.Fprintf(w, "%s narcidi %s [flags]\n\n%s\n\n", pr.T("cli.usage"), command, pr.T("cli.config.head"))
	for _, s := range list {
		help := s.help
		if key := "cli.flag.config." + s.flagName(); i18n.Has(key) {
			help = pr.T(key, "codes", strings.Join(i18n.Codes(), ", "))
		}
		fmt.Fprintf(w, "  -%s %s\n    \t%s [%s]", s.flagName(), s.kind, help, s.env)
		switch {
		case s.secret && getenv(s.env) != "":
			fmt.Fprintf(w, " (%s)", pr.T("cli.config.secret_set"))
		case s.secret:
			fmt.Fprintf(w, " (%s)", pr.T("cli.config.secret_unset"))
		case s.def != "":
			fmt.Fprintf(w, " (%s)", pr.T("cli.flag_default", "value", strconv.Quote(s.def)))
		}
		fmt.Fprintln(w)
	}
}

// The flag values. Each Set checks its text; an error names what is
// expected and quotes the text only for values that are not secret (a
// secret never gets a check that quotes it). The errors are catalog
// messages (i18n.Say, keys cli.config.*): the CLI writes them in the
// reader's language, the variables' names and values as they are.

// mustBe is the error of a value s that is none of allowed.
func mustBe(allowed []string, s string) error {
	return i18n.Say("cli.config.one_of", "values", i18n.Or(allowed), "value", strconv.Quote(s))
}

// textValue is any text; check, if set, runs once the flags are parsed.
type textValue struct {
	p     *string
	check func(string) error
}

func text(p *string) *textValue         { return &textValue{p: p} }
func (v *textValue) String() string     { return "" } // help shows the static default, never a value
func (v *textValue) Set(s string) error { *v.p = s; return nil }

// proxiesValue is a comma-separated list of IPs and CIDRs.
type proxiesValue []netip.Prefix

func (v *proxiesValue) String() string { return "" }
func (v *proxiesValue) Set(s string) error {
	p, err := api.ParseTrustedProxies(s)
	if err != nil {
		return err
	}
	*v = p
	return nil
}

// publicURLValue is an http(s) URL of a host, without path, query or
// credentials (the console and the API are at its root); kept without a
// trailing slash.
type publicURLValue string

func (v *publicURLValue) String() string { return "" }
func (v *publicURLValue) Set(s string) error {
	if s == "" {
		*v = ""
		return nil
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil ||
		strings.Trim(u.Path, "/") != "" || u.RawQuery != "" || u.Fragment != "" {
		return i18n.Say("cli.config.public_url", "value", strconv.Quote(s))
	}
	*v = publicURLValue(u.Scheme + "://" + u.Host)
	return nil
}

// checkedValue keeps the text of a value once check accepts it.
type checkedValue struct {
	p     *string
	check func(string) error
}

func checked(p *string, check func(string) error) *checkedValue { return &checkedValue{p, check} }
func (v *checkedValue) String() string                          { return "" }
func (v *checkedValue) Set(s string) error {
	if err := v.check(s); err != nil {
		return err
	}
	*v.p = s
	return nil
}

func oneOf(p *string, allowed ...string) *checkedValue {
	return checked(p, func(s string) error {
		if !slices.Contains(allowed, s) {
			return mustBe(allowed, s)
		}
		return nil
	})
}

// secretURL accepts an empty value or a URL of one of schemes. It checks
// only after the flags are parsed (see ParseConfig), since the flag package
// quotes a refused flag's text; its own errors never quote the URL, which
// may hold a password.
func secretURL(p *string, schemes ...string) *textValue {
	return &textValue{p: p, check: func(s string) error {
		if s == "" {
			return nil
		}
		u, err := url.Parse(s)
		if err != nil {
			return i18n.Say("cli.config.bad_url", "scheme", schemes[0])
		}
		if !slices.Contains(schemes, u.Scheme) {
			return i18n.Say("cli.config.url_scheme", "scheme", schemes[0], "value", strconv.Quote(u.Redacted()))
		}
		return nil
	}}
}

func checkBool(s string) error {
	if _, err := strconv.ParseBool(s); err != nil {
		return mustBe([]string{"true", "false"}, s)
	}
	return nil
}

func checkCron(s string) error {
	if _, err := cron.ParseStandard(s); err != nil {
		return i18n.Say("cli.config.cron", "value", strconv.Quote(s), "error", err.Error())
	}
	return nil
}

// checkDuration accepts a Go duration of at least lo and, if hi > 0, at most hi.
func checkDuration(lo, hi time.Duration) func(string) error {
	return func(s string) error {
		d, err := time.ParseDuration(s)
		if err != nil || d < lo || (hi > 0 && d > hi) {
			if hi > 0 {
				return i18n.Say("cli.config.duration_range", "lo", lo, "hi", hi, "value", strconv.Quote(s))
			}
			return i18n.Say("cli.config.duration_min", "lo", lo, "value", strconv.Quote(s))
		}
		return nil
	}
}

func checkMinInt(lo int64) func(string) error {
	return func(s string) error {
		if n, err := strconv.ParseInt(s, 10, 64); err != nil || n < lo {
			return i18n.Say("cli.config.int_min", "lo", lo, "value", strconv.Quote(s))
		}
		return nil
	}
}

type intValue struct {
	p      *int
	lo, hi int
}

func intIn(p *int, lo, hi int) *intValue { return &intValue{p, lo, hi} }
func (v *intValue) String() string       { return "" }
func (v *intValue) Set(s string) error {
	n, err := strconv.Atoi(s)
	if err != nil || n < v.lo || n > v.hi {
		return i18n.Say("cli.config.number_range", "lo", v.lo, "hi", v.hi, "value", strconv.Quote(s))
	}
	*v.p = n
	return nil
}

type durationValue struct {
	p      *time.Duration
	lo, hi time.Duration
}

func durationIn(p *time.Duration, lo, hi time.Duration) *durationValue {
	return &durationValue{p, lo, hi}
}
func (v *durationValue) String() string { return "" }
func (v *durationValue) Set(s string) error {
	d, err := time.ParseDuration(s)
	if err != nil || d < v.lo || d > v.hi {
		return i18n.Say("cli.config.duration_max", "hi", v.hi, "value", strconv.Quote(s))
	}
	*v.p = d
	return nil
}

type boolValue bool

func (v *boolValue) String() string   { return "" }
func (v *boolValue) IsBoolFlag() bool { return true }
func (v *boolValue) Set(s string) error {
	b, err := strconv.ParseBool(s)
	if err != nil {
		return mustBe([]string{"true", "false"}, s)
	}
	*v = boolValue(b)
	return nil
}

// onOffValue is a switch written on or off (a mode, not a boolean flag:
// -telemetry alone does not turn it on).
type onOffValue bool

func (v *onOffValue) String() string { return "" }
func (v *onOffValue) Set(s string) error {
	switch s {
	case "on":
		*v = true
	case "off":
		*v = false
	default:
		return mustBe([]string{"on", "off"}, s)
	}
	return nil
}

type levelValue slog.Level

func (v *levelValue) String() string { return "" }
func (v *levelValue) Set(s string) error {
	var l slog.Level
	if err := l.UnmarshalText([]byte(s)); err != nil {
		return mustBe([]string{"debug", "info", "warn", "error"}, s)
	}
	*v = levelValue(l)
	return nil
}

type rateValue struct {
	p    *api.RateRule
	name string
}

func rate(p *api.RateRule, name string) *rateValue { return &rateValue{p, name} }
func (v *rateValue) String() string                { return "" }
func (v *rateValue) Set(s string) error {
	r, err := parseRate(v.name, s)
	if err != nil {
		return err
	}
	*v.p = r
	return nil
}

// parseRate reads "N/s", "N/m" or "N/h" into a rule; bursts go up to half
// the rate (at least 1).
func parseRate(name, v string) (api.RateRule, error) {
	n, unit, ok := strings.Cut(v, "/")
	count, err := strconv.Atoi(n)
	per := map[string]time.Duration{"s": time.Second, "m": time.Minute, "h": time.Hour}[unit]
	if !ok || err != nil || count < 1 || per == 0 {
		return api.RateRule{}, i18n.Say("cli.config.rate", "value", strconv.Quote(v))
	}
	return api.RateRule{Name: name, Rate: count, Period: per, Burst: max(1, count/2)}, nil
}

// UsageError is a bad command line; the flag package has printed why and
// the help.
type UsageError struct{ Err error }

func (e UsageError) Error() string { return e.Err.Error() }
func (e UsageError) Unwrap() error { return e.Err }

// ErrHelp reports whether err is the flag package's answer to -h.
func ErrHelp(err error) bool { return errors.Is(err, flag.ErrHelp) }

// Logger is the process logger the configuration asks for; it also routes
// the libraries' logs (go-redis, asynq) through it.
func (c *Config) Logger(w io.Writer) (*slog.Logger, error) {
	opts := &slog.HandlerOptions{Level: c.LogLevel, ReplaceAttr: readableDurations}
	var h slog.Handler = slog.NewTextHandler(w, opts)
	if c.LogFormat == "json" {
		h = slog.NewJSONHandler(w, opts)
	}
	l := slog.New(h)
	routeLibraryLogs(l)
	return l, nil
}

// readableDurations writes durations as Go duration text ("1.5s"), where
// the JSON handler would write nanoseconds.
func readableDurations(_ []string, a slog.Attr) slog.Attr {
	if a.Value.Kind() == slog.KindDuration {
		a.Value = slog.StringValue(a.Value.Duration().String())
	}
	return a
}

// SettingNames is every NARCIDI_* variable some command reads.
func SettingNames() []string {
	var names []string
	for _, group := range settings(&Config{}) {
		for _, s := range group {
			names = append(names, s.env)
		}
	}
	return names
}

// CommandVariables is the NARCIDI_* variables command reads, in a stable
// order.
func CommandVariables(command string) ([]string, error) {
	list, err := commandSettings(command, &Config{})
	var names []string
	for _, s := range list {
		names = append(names, s.env)
	}
	return names, err
}
