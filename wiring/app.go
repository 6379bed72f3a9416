package wiring

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/hibiken/asynq"
	"github.com/hibiken/asynqmon"

	"github.com/nzilacode/narcidicontrole/api"
	"github.com/nzilacode/narcidicontrole/api/console"
	"github.com/nzilacode/narcidicontrole/api/docs"
	"github.com/nzilacode/narcidicontrole/keys"
	"github.com/nzilacode/narcidicontrole/licensing"
	"github.com/nzilacode/narcidicontrole/licensing/i18n"
	"github.com/nzilacode/narcidicontrole/licensing/insights"
	"github.com/nzilacode/narcidicontrole/storage"
	"github.com/nzilacode/narcidicontrole/storage/blob"
	"github.com/nzilacode/narcidicontrole/workers"
	"github.com/redis/go-redis/v9"
)

// App is a running Narcidi server (`narcidi serve`): it builds the stores,
// services, keys, workers and the HTTP server from a Config. It is a
// package of its own so that serve, the tests and the benchmark start the
// same program in-process (on a free port with a temp data dir).
type App struct {
	Config *Config
	Out    io.Writer // where the address and a generated admin token are printed
	// Words is the language of the one-time lines printed on Out for the
	// person who started the server (the first admin's link, the
	// bootstrap token); nil: English. The "listening on" line stays
	// English: scripts (narcidi-bench) read the address from it.
	Words *i18n.Printer
	Log   *slog.Logger
	// Scorer makes the engine of an insights scoring run; nil: the real
	// engine (tests swap in a fake).
	Scorer func() insights.Scorer

	store  *storage.Store
	seen   *storage.LastSeenBatcher // last-seen stamps of renewals and heartbeats, written behind
	usage  *insights.Recorder       // client-API telemetry, written behind (insights.go)
	redis  *redis.Client
	relay  *storage.CacheRelay // drops the policy cache on other instances' changes (leasecache.go)
	keys   *keys.Keyring
	server *api.Server
	// local runs the background jobs in-process (no Redis); monitor is the
	// queue monitor (Redis).
	local   *workers.Local
	monitor *asynqmon.HTTPHandler
	ln      net.Listener
	done    chan error
	blobs   *blobServer // the local blob store's URL server, when it is used
	s3      *blob.S3    // the S3 blob store, when it is used: readiness checks it
	metrics *Metrics    // Prometheus registry and listener (metrics.go)

	scoring *insights.Job // the insights scoring job (insights_scores.go)
}

// OpenStore opens and migrates the database of cfg.
func OpenStore(ctx context.Context, cfg *Config) (*storage.Store, error) {
	if cfg.RequirePostgres && cfg.DatabaseURL == "" {
		return nil, i18n.Say("cli.config.require_postgres")
	}
	st, err := storage.Open(ctx, storage.Config{DatabaseURL: cfg.DatabaseURL, DataDir: cfg.DataDir, Schema: cfg.Build.schema()})
	if err != nil {
		return nil, err
	}
	if err := st.Migrate(ctx); err != nil {
		_ = st.Close()
		return nil, err
	}
	return st, nil
}

// OpenKeyring loads the master key (creating it on first run) and the
// signing keys of the database (signingkeys.go).
func OpenKeyring(ctx context.Context, cfg *Config, st *storage.Store, log *slog.Logger) (*keys.Keyring, []byte, error) {
	master, err := LoadMaster(ctx, cfg, st, log)
	if err != nil {
		return nil, nil, err
	}
	kr, err := OpenSigningKeys(cfg, st, master, log)
	return kr, master, err
}

// Start opens everything, listens on Config.Addr and serves in the
// background. It returns once the server accepts connections.
func (a *App) Start(ctx context.Context) error {
	clientRate, tokenRate := a.Config.ClientRate, a.Config.TokenRate
	wc, concurrency, err := a.checkConfig()
	if err != nil {
		return err
	}
	st, err := OpenStore(ctx, a.Config)
	if err != nil {
		return err
	}
	a.store = st
	kr, master, err := OpenKeyring(ctx, a.Config, st, a.Log)
	if err != nil {
		return errors.Join(err, a.Close())
	}
	a.keys = kr
	if err := EnsureSigningKey(ctx, kr, st, a.Log); err != nil {
		return errors.Join(err, a.Close())
	}
	box, err := WebhookBox(master)
	if err != nil {
		return errors.Join(err, a.Close())
	}
	idem, idemBox, err := idempotencyStore(st, master)
	if err != nil {
		return errors.Join(err, a.Close())
	}
	hasher, err := SecretHasher(master)
	if err != nil {
		return errors.Join(err, a.Close())
	}
	if a.metrics, err = serveMetrics(a.Config, st, kr, a.Log); err != nil {
		return errors.Join(err, a.Close())
	}
	a.seen = storage.NewLastSeenBatcher(st, storage.LastSeenConfig{Log: a.Log})
	// With NARCIDI_TELEMETRY=off Leasing gets no recorder at all: a nil
	// interface, not a nil *insights.Recorder inside one.
	var usage licensing.TelemetryRecorder
	if a.Config.Telemetry {
		a.usage = insights.NewRecorder(st.Insights(), insights.RecorderConfig{Log: a.Log})
		usage = a.usage
	} else {
		a.Log.Info("client-API telemetry is off (NARCIDI_TELEMETRY=off): insights scores see no usage")
	}
	policies := storage.NewPolicyCache(st, storage.PolicyCacheConfig{TTL: a.Config.LeaseCacheTTL})
	svc := licensing.NewServices(storage.StoresWith(st, a.seen, policies), licensing.Deps{Signer: a.metrics.signer, Clock: time.Now, Issuer: a.Config.Issuer,
		Box: box, AllowPrivate: wc.AllowPrivate, Secrets: hasher, Telemetry: usage})
	token, err := svc.Access.BootstrapAdminToken(ctx, a.Config.AdminToken)
	if err != nil {
		return errors.Join(err, a.Close())
	}
	wc.Notifications, wc.Automation, wc.Metrics = svc.Notifications, svc.Automation, a.metrics.jobs
	wc.StaffLocale = staffLocale(st)
	releases, err := a.openReleases(ctx, svc, kr, master, true)
	if err != nil {
		return errors.Join(err, a.Close())
	}
	wc.Cleanups = append(wc.Cleanups, releaseCleanup(releases), telemetryCleanup(st, a.Config.TelemetryRetention), auditCleanup(svc, a.Config))
	subs, bill, err := openBilling(st, svc, a.Config.Billing, time.Now, a.metrics.reg, a.Log)
	if err != nil {
		return errors.Join(err, a.Close())
	}
	wc.SubscriptionSweep = subs.Sweep
	a.scoring = insightsJobs(&wc, st, a.Config, a.Scorer)
	monitor, err := a.startJobs(ctx, wc, concurrency)
	if err != nil {
		return errors.Join(err, a.Close())
	}
	rdb, err := a.startRedis(ctx, st, policies)
	if err != nil {
		return errors.Join(err, a.Close())
	}
	limiter := api.NewRateLimiter(rdb, a.Config.RedisPrefix, a.Log)
	consoleUsers, err := OpenUsers(st, master, time.Now, wc.Mailer) // users.go
	if err != nil {
		return errors.Join(err, a.Close())
	}
	adminLink, err := consoleUsers.BootstrapAdmin(ctx, FirstAdminEmail)
	if err != nil {
		return errors.Join(err, a.Close())
	}
	scores := insights.NewScores(st.InsightScores()) // the API's and the console's
	portalSignIn := OpenPortalSignIn(st, wc.Mailer)  // portal.go
	a.server = api.New(api.Config{
		Services: svc, Idempotency: idem, IdempotencyBox: idemBox, Health: readiness{st, &s3Check{store: a.s3}}, Keys: kr, Logger: a.Log, ProxyHeader: a.Config.ProxyHeader, TrustedProxies: a.Config.TrustedProxies,
		Limiter: limiter, ClientRate: clientRate, TokenRate: tokenRate,
		QueueMonitor: monitor,
		Releases:     releases,
		Billing:      bill,
		Metrics:      a.metrics.api, MetricsScrape: a.metrics.APIScrape(),
		Console:  openConsole(consoleUsers, svc, releases, scores, limiter, a).WithSubscriptions(subs).WithPortalLinks(portalSignIn),
		Docs:     docs.New(),
		Portal:   openPortal(portalSignIn, svc, releases, limiter, a), // portal.go
		Insights: scores,
		Users:    consoleUsers,
	})
	if err := a.listen(); err != nil {
		return errors.Join(err, a.Close())
	}
	a.announce(adminLink, token)
	return nil
}

// checkConfig finds configuration mistakes first, before anything is
// opened, and returns the workers' settings.
func (a *App) checkConfig() (workers.Config, int, error) {
	wc, concurrency, err := workerSettings(a.Config, a.Log)
	if err != nil {
		return wc, 0, err
	}
	if a.Config.Workers != "auto" && a.Config.Workers != "off" {
		return wc, 0, errors.New("NARCIDI_WORKERS must be auto or off")
	}
	return wc, concurrency, checkMetricsExposure(a.Config, false)
}

// listen opens the metrics listener and the server's, and serves in the
// background.
func (a *App) listen() error {
	if err := a.metrics.listen(a.Log); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", a.Config.Addr)
	if err != nil {
		return err
	}
	a.ln = ln
	a.done = make(chan error, 1)
	app := a.server.App()
	go func() { a.done <- app.Listener(ln) }()
	return nil
}

// announce prints where the server listens and, once, the first admin's
// set-password link and the bootstrap admin token.
func (a *App) announce(adminLink, token string) {
	ln, st := a.ln, a.store
	if a.Config.LogFormat == "json" {
		// One format on every line a collector reads.
		a.Log.Info("narcidi listening", "url", "http://"+ln.Addr().String(), "database", st.Dialect())
	} else {
		fmt.Fprintf(a.Out, "narcidi listening on http://%s (database: %s)\n", ln.Addr(), st.Dialect())
	}
	a.Log.Info(a.metrics.describe())
	pr := a.Words
	if pr == nil {
		pr = i18n.For(i18n.English, "")
	}
	if adminLink != "" {
		fmt.Fprintln(a.Out, pr.T("cli.serve.first_admin", "email", FirstAdminEmail, "link", PasswordLink(a.publicURL(), adminLink)))
	}
	if token != "" {
		fmt.Fprintln(a.Out, pr.T("cli.serve.admin_token", "token", token))
	}
}

// Store is the server's database.
func (a *App) Store() *storage.Store { return a.store }

// Server is the HTTP server (its fiber app lists the routes).
func (a *App) Server() *api.Server { return a.server }

// Usage is the client-API telemetry recorder (nil when NARCIDI_TELEMETRY
// is off); Flush writes what it holds.
func (a *App) Usage() *insights.Recorder { return a.usage }

// Scoring is the insights scoring job.
func (a *App) Scoring() *insights.Job { return a.scoring }

// Keys is the signing keyring.
func (a *App) Keys() *keys.Keyring { return a.keys }

// Redis is the server's Redis client (nil without NARCIDI_REDIS_URL).
func (a *App) Redis() *redis.Client { return a.redis }

// Metrics is the process's Prometheus registry and listener.
func (a *App) Metrics() *Metrics { return a.metrics }

// BlobListener is where the local blob store's URLs are served (nil with
// S3).
func (a *App) BlobListener() net.Listener {
	if a.blobs == nil {
		return nil
	}
	return a.blobs.ln
}

// QueueReporter is what the console's overview shows of the background
// jobs (overview.go).
func (a *App) QueueReporter() console.QueueReporter { return a.queueReporter() }

// URL is the base URL of the running server.
func (a *App) URL() string { return "http://" + a.ln.Addr().String() }

// publicURL is where people reach the server: NARCIDI_PUBLIC_URL, or the
// listen address.
func (a *App) publicURL() string {
	if a.Config.PublicURL != "" {
		return a.Config.PublicURL
	}
	return a.URL()
}

// Wait blocks until the server stops or ctx ends, then shuts it down.
func (a *App) Wait(ctx context.Context) error {
	select {
	case err := <-a.done:
		return errors.Join(err, a.Close())
	case <-ctx.Done():
		a.drain()
		return a.Close()
	}
}

// drain is the start of a shutdown on a signal: for Config.ShutdownGrace,
// /readyz answers 503 while requests are still served, so that a load
// balancer polling readiness moves new requests to the other instances
// before the listener closes. (Close alone, as tests call it, does not wait.)
func (a *App) drain() {
	if a.server == nil || a.Config.ShutdownGrace <= 0 {
		return
	}
	a.server.Drain()
	a.Log.Info("shutting down: readiness is off, requests are still served during the grace period", "grace", a.Config.ShutdownGrace)
	time.Sleep(a.Config.ShutdownGrace)
}

// Close stops serving (letting requests in flight finish) and closes the
// database.
func (a *App) Close() error {
	var errs []error
	if a.server != nil {
		errs = append(errs, a.server.App().ShutdownWithTimeout(10*time.Second))
		a.server = nil
	}
	errs = append(errs, a.metrics.close())
	if a.local != nil {
		a.local.Shutdown()
		a.local = nil
	}
	if a.monitor != nil {
		errs = append(errs, a.monitor.Close())
		a.monitor = nil
	}
	if a.seen != nil {
		// After the server (no renewal in flight), before the database.
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		errs = append(errs, a.seen.Close(ctx))
		cancel()
		a.seen = nil
	}
	if a.usage != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		errs = append(errs, a.usage.Close(ctx))
		cancel()
		a.usage = nil
	}
	if a.store != nil {
		errs = append(errs, a.store.Close())
		a.store = nil
	}
	if a.relay != nil {
		errs = append(errs, a.relay.Close())
		a.relay = nil
	}
	if a.redis != nil {
		errs = append(errs, a.redis.Close())
		a.redis = nil
	}
	if a.blobs != nil {
		errs = append(errs, a.blobs.close())
		a.blobs = nil
	}
	return errors.Join(errs...)
}

// readiness is /readyz: the database, and the S3 bucket when releases live
// there (a store that went away makes publishes and downloads fail). The
// bucket's answer is kept for s3CheckEvery, so that balancers polling every
// instance often do not turn into a stream of HeadBucket calls.
type readiness struct {
	db *storage.Store
	s3 *s3Check
}

const s3CheckEvery = 5 * time.Second

type s3Check struct {
	store *blob.S3
	mu    sync.Mutex
	at    time.Time
	err   error
}

func (r readiness) Ping(ctx context.Context) error {
	if err := r.db.Ping(ctx); err != nil {
		return err
	}
	if r.s3 == nil || r.s3.store == nil {
		return nil
	}
	r.s3.mu.Lock()
	defer r.s3.mu.Unlock()
	if time.Since(r.s3.at) >= s3CheckEvery {
		r.s3.err, r.s3.at = r.s3.store.Check(ctx), time.Now()
	}
	return r.s3.err
}

// CommandServices are the domain services of a command that writes to the
// database without serving (narcidi seed): the server's signing keys (a
// first one on a new database) and keyed hash, so what it writes opens on
// the server.
func CommandServices(ctx context.Context, cfg *Config, st *storage.Store, log *slog.Logger) (*licensing.Services, error) {
	kr, master, err := OpenKeyring(ctx, cfg, st, log)
	if err != nil {
		return nil, err
	}
	hasher, err := SecretHasher(master)
	if err != nil {
		return nil, err
	}
	if err := EnsureSigningKey(ctx, kr, st, log); err != nil {
		return nil, err
	}
	return licensing.NewServices(storage.Stores(st), licensing.Deps{Signer: kr, Clock: time.Now, Issuer: cfg.Issuer, Secrets: hasher}), nil
}

// startJobs runs the background jobs in-process (no Redis, NARCIDI_WORKERS
// auto), or, with Redis, returns the queue monitor of the worker
// processes' queues (nil otherwise).
func (a *App) startJobs(ctx context.Context, wc workers.Config, concurrency int) (http.Handler, error) {
	switch {
	case a.Config.RedisURL != "":
		// The workers are `narcidi worker` processes; admins watch their
		// queues here.
		opt, err := asynq.ParseRedisURI(a.Config.RedisURL)
		if err != nil {
			return nil, fmt.Errorf("NARCIDI_REDIS_URL: %w", err)
		}
		a.monitor = asynqmon.New(asynqmon.Options{RootPath: api.QueueMonitorPath, RedisConnOpt: opt, ReadOnly: false})
		a.Log.Info("background jobs run in narcidi worker processes (NARCIDI_REDIS_URL is set): without one, no scan, alert or webhook runs")
		return a.monitor, nil
	case a.Config.Workers == "auto":
		a.local = workers.NewLocal(wc, concurrency)
		if err := a.local.Start(context.WithoutCancel(ctx)); err != nil {
			return nil, err
		}
	}
	return nil, nil
}

// startRedis connects the server's Redis client (nil interface without
// NARCIDI_REDIS_URL): its metric, the publication of this instance's
// changes and the relay that drops the policy cache on the others'.
func (a *App) startRedis(ctx context.Context, st *storage.Store, policies *storage.PolicyCache) (redis.UniversalClient, error) {
	if a.Config.RedisURL == "" {
		return nil, nil
	}
	opts, err := redis.ParseURL(a.Config.RedisURL)
	if err != nil {
		return nil, fmt.Errorf("NARCIDI_REDIS_URL: %w", err)
	}
	a.redis = redis.NewClient(opts)
	if err := workers.RegisterRedisMetrics(a.metrics.reg, a.redis); err != nil {
		return nil, err
	}
	storage.PublishChanges(st, a.redis, a.Config.RedisPrefix, a.Log)
	if policies != nil {
		if a.relay, err = storage.StartCacheRelay(ctx, a.redis, a.Config.RedisPrefix, policies, a.Log); err != nil {
			return nil, fmt.Errorf("subscribe to the cache changes on Redis: %w", err)
		}
	}
	return a.redis, nil
}
