package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"time"

	"github.com/nzilacode/narcidicontrole/keys"
	"github.com/nzilacode/narcidicontrole/licensing"
	"github.com/nzilacode/narcidicontrole/licensing/release"
	"github.com/nzilacode/narcidicontrole/storage"
	"github.com/nzilacode/narcidicontrole/workers"
	"github.com/redis/go-redis/v9"
)

// workerSettings reads the workers' part of the configuration.
func workerSettings(cfg *Config, log *slog.Logger) (workers.Config, int, error) {
	var wc workers.Config
	// loadConfig has checked every value.
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

// webhookBox is the box that seals webhook secrets, from the master key.
func webhookBox(master []byte) (*keys.SecretBox, error) {
	return keys.NewSecretBox(master, keys.BoxWebhooks)
}

// worker runs `narcidi worker`: the asynq task server, the scheduler and
// the outbox relay, until ctx ends.
func worker(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cfg, _, err := loadConfig("worker", args, getenv)
	if err != nil {
		return err
	}
	if cfg.RedisURL == "" {
		return errors.New("NARCIDI_REDIS_URL is required (without Redis, narcidi serve runs the background jobs itself)")
	}
	if err := checkMetricsExposure(cfg, true); err != nil {
		return err
	}
	log, err := cfg.logger(stderr)
	if err != nil {
		return err
	}
	opts, err := redis.ParseURL(cfg.RedisURL)
	if err != nil {
		return fmt.Errorf("NARCIDI_REDIS_URL: %w", err)
	}
	st, err := openStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer st.Close()
	master, err := loadMaster(ctx, cfg, st, log)
	if err != nil {
		return err
	}
	box, err := webhookBox(master)
	if err != nil {
		return err
	}
	// The worker hashes no key today, but its services must agree with the
	// server's: the same hasher.
	hasher, err := secretHasher(master)
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
	// The worker cleans up abandoned release uploads; it serves no URLs.
	kr, err := openSigningKeys(cfg, st, master, log)
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
	insightsJobs(&wc, st, cfg)
	rdb := redis.NewClient(opts)
	defer rdb.Close()
	// A worker keeps no cache, but what it writes may be in the servers'.
	publishChanges(st, rdb, cfg.RedisPrefix, log)
	tel, err := workerTelemetry(cfg, st, rdb, log)
	if err != nil {
		return err
	}
	wc.Metrics = tel.jobs
	if err := tel.listen(log); err != nil {
		return err
	}
	defer tel.close()
	w := workers.NewWorker(wc, rdb, concurrency)
	if err := w.Start(ctx); err != nil {
		return err
	}
	b := currentBuild()
	if cfg.LogFormat == "json" {
		log.Info("narcidi worker running", "database", st.Dialect(), "redis", opts.Addr, "metrics", tel.describe())
	} else {
		fmt.Fprintf(stdout, "narcidi worker running (database: %s, redis: %s; %s)\n", st.Dialect(), opts.Addr, tel.describe())
	}
	log.Info("narcidi worker started", b.logAttrs()...)
	<-ctx.Done()
	w.Shutdown()
	log.Info("narcidi worker stopped", b.logAttrs()...)
	return nil
}
