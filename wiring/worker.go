package wiring

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"time"

	"github.com/nzilacode/narcidicontrole/keys"
	"github.com/nzilacode/narcidicontrole/licensing"
	"github.com/nzilacode/narcidicontrole/licensing/i18n"
	"github.com/nzilacode/narcidicontrole/licensing/insights"
	"github.com/nzilacode/narcidicontrole/licensing/release"
	"github.com/nzilacode/narcidicontrole/storage"
	"github.com/nzilacode/narcidicontrole/workers"
	"github.com/redis/go-redis/v9"
)

// workerSettings reads the workers' part of the configuration.
func workerSettings(cfg *Config, log *slog.Logger) (workers.Config, int, error) {
	var wc workers.Config
	// LoadConfig has checked every value.
	allow, concurrency, attempts, base := cfg.WebhookAllowPrivate, cfg.WorkerConcurrency, cfg.DeliveryAttempts, cfg.RetryBase
	var err error
	wc = workers.Config{Log: log.With("component", "workers"), AllowPrivate: allow, MaxAttempts: attempts, RetryBase: base,
		Schedules: workers.Schedules{Scans: cfg.ScanSchedule}, QueuePrefix: cfg.RedisPrefix}
	if cfg.SMTPURL != "" {
		if wc.Mailer, err = workers.NewMailer(cfg.SMTPURL, cfg.SMTPFrom); err != nil {
			return wc, 0, err
		}
	}
	if cfg.PublicURL != "" {
		wc.PortalURL = strings.TrimRight(cfg.PublicURL, "/") + "/portal/"
	}
	for _, a := range strings.Split(cfg.AlertEmails, ",") {
		if a = strings.TrimSpace(a); a != "" {
			wc.AdminEmails = append(wc.AdminEmails, a)
		}
	}
	return wc, concurrency, nil
}

// abandonedUploadAge is when a release upload that was never finalized is
// removed by the daily clean-up.
const abandonedUploadAge = 24 * time.Hour

// auditCleanup is the clean-up step of the audit log's retention: older
// events go to JSON-lines files in the data dir's audit folder first.
func auditCleanup(svc *licensing.Services, cfg *Config) func(context.Context) (int, error) {
	archive := storage.AuditArchive{Dir: filepath.Join(cfg.DataDir, "audit")}
	return func(ctx context.Context) (int, error) {
		return svc.Automation.PruneAudit(ctx, cfg.AuditRetention, archive)
	}
}

func releaseCleanup(rs *release.Service) func(context.Context) (int, error) {
	return func(ctx context.Context) (int, error) { return rs.CleanupAbandonedUploads(ctx, abandonedUploadAge) }
}

// WebhookBox is the box that seals webhook secrets, from the master key.
func WebhookBox(master []byte) (*keys.SecretBox, error) {
	return keys.NewSecretBox(master, keys.BoxWebhooks)
}

// Worker is `narcidi worker`: the asynq task server, the scheduler and the
// outbox relay over the database and Redis, until Close.
type Worker struct {
	Config *Config
	Log    *slog.Logger
	// Scorer makes the engine of an insights scoring run; nil: the real
	// engine.
	Scorer func() insights.Scorer

	st        *storage.Store
	rdb       *redis.Client
	redisAddr string
	metrics   *Metrics
	w         *workers.Worker
}

// Start opens the database and Redis and starts the task server. On an
// error, Close releases what was opened.
func (k *Worker) Start(ctx context.Context) error {
	cfg, log := k.Config, k.Log
	if cfg.RedisURL == "" {
		return i18n.Say("cli.config.worker_redis")
	}
	if err := checkMetricsExposure(cfg, true); err != nil {
		return err
	}
	opts, err := redis.ParseURL(cfg.RedisURL)
	if err != nil {
		return fmt.Errorf("NARCIDI_REDIS_URL: %w", err)
	}
	k.redisAddr = opts.Addr
	if k.st, err = OpenStore(ctx, cfg); err != nil {
		return err
	}
	st := k.st
	master, err := LoadMaster(ctx, cfg, st, log)
	if err != nil {
		return err
	}
	box, err := WebhookBox(master)
	if err != nil {
		return err
	}
	// The worker hashes no key today, but its services must agree with the
	// server's: the same hasher.
	hasher, err := SecretHasher(master)
	if err != nil {
		return err
	}
	// A worker signs no lease: no signer.
	wc, concurrency, err := workerSettings(cfg, log)
	if err != nil {
		return err
	}
	svc := licensing.NewServices(storage.Stores(st), licensing.Deps{Clock: time.Now, Issuer: cfg.Issuer, Box: box, AllowPrivate: wc.AllowPrivate, Secrets: hasher})
	wc.Notifications, wc.Automation = svc.Notifications, svc.Automation
	wc.StaffLocale = staffLocale(st)
	// The worker cleans up abandoned release uploads; it serves no URLs.
	kr, err := OpenSigningKeys(cfg, st, master, log)
	if err != nil {
		return err
	}
	host := &App{Config: cfg, Log: log, store: st}
	releases, err := host.openReleases(ctx, svc, kr, master, false)
	if err != nil {
		return err
	}
	wc.Cleanups = append(wc.Cleanups, releaseCleanup(releases), telemetryCleanup(st, cfg.TelemetryRetention), auditCleanup(svc, cfg))
	if wc.SubscriptionSweep, err = workerSweep(st, svc, time.Now); err != nil {
		return err
	}
	insightsJobs(&wc, st, cfg, k.Scorer)
	k.rdb = redis.NewClient(opts)
	// A worker keeps no cache, but what it writes may be in the servers'.
	storage.PublishChanges(st, k.rdb, cfg.RedisPrefix, log)
	if k.metrics, err = workerMetrics(cfg, st, k.rdb, log); err != nil {
		return err
	}
	wc.Metrics = k.metrics.jobs
	if err := k.metrics.listen(log); err != nil {
		return err
	}
	k.w = workers.NewWorker(wc, k.rdb, concurrency)
	return k.w.Start(ctx)
}

// Describe is the worker's start-up line: database, Redis and metrics.
func (k *Worker) Describe() (database, redisAddr, metrics string) {
	return k.st.Dialect(), k.redisAddr, k.metrics.describe()
}

// Close stops the task server (letting tasks in flight finish) and closes
// the metrics listener, Redis and the database.
func (k *Worker) Close() error {
	var errs []error
	if k.w != nil {
		k.w.Shutdown()
		k.w = nil
	}
	errs = append(errs, k.metrics.close())
	if k.rdb != nil {
		errs = append(errs, k.rdb.Close())
		k.rdb = nil
	}
	if k.st != nil {
		errs = append(errs, k.st.Close())
		k.st = nil
	}
	return errors.Join(errs...)
}
