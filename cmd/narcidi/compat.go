package main

// The names package main's tests use that moved to packages wiring and
// cli (issue 28): one alias each, so the tests keep their names.

import (
	"context"
	"io"
	"log/slog"
	"net"

	"github.com/nzilacode/narcidicontrole/api"
	"github.com/nzilacode/narcidicontrole/api/console"
	"github.com/nzilacode/narcidicontrole/cli"
	"github.com/nzilacode/narcidicontrole/keys"
	"github.com/nzilacode/narcidicontrole/licensing/insights"
	"github.com/nzilacode/narcidicontrole/storage"
	"github.com/nzilacode/narcidicontrole/wiring"
	"github.com/redis/go-redis/v9"
)

type (
	Config      = wiring.Config
	usageError  = wiring.UsageError
	redisLogger = wiring.RedisLogger
)

const defaultLeaseCacheTTL = storage.DefaultPolicyCacheTTL

var (
	openStore       = wiring.OpenStore
	errHelp         = wiring.ErrHelp
	webhookBox      = wiring.WebhookBox
	parsePrices     = wiring.ParsePrices
	errNoSigningKey = wiring.ErrNoSigningKey
	finalizeTimeout = cli.FinalizeTimeout
)

// setting is a configuration variable, by its name.
type setting struct{ env string }

func (s setting) flagName() string { return wiring.FlagName(s.env) }

// commandSettings is the variables command reads.
func commandSettings(command string, _ *Config) ([]setting, error) {
	names, err := wiring.CommandVariables(command)
	list := make([]setting, len(names))
	for i, n := range names {
		list[i] = setting{env: n}
	}
	return list, err
}

// App is the server the tests start in-process: wiring.App, with the parts
// the tests look into under their old names (set by Start).
type App struct {
	Config *Config
	Out    io.Writer
	Log    *slog.Logger
	// Scorer makes the engine of a scoring run; nil: the real engine
	// (tests swap in a fake).
	Scorer func() insights.Scorer
	*wiring.App

	store   *storage.Store
	server  *api.Server
	usage   *insights.Recorder
	scoring *insights.Job
	keys    *keys.Keyring
	redis   *redis.Client
	tel     appMetrics
	blobs   *blobServer
}

type appMetrics struct{ m *wiring.Metrics }

func (t appMetrics) apiScrape() *api.MetricsScrape { return t.m.APIScrape() }
func (t appMetrics) metricsURL() string            { return t.m.URL() }

type blobServer struct{ ln net.Listener }

// Start starts the wiring's App with the test's scorer, then names its
// parts.
func (a *App) Start(ctx context.Context) error {
	a.App = &wiring.App{Config: a.Config, Out: a.Out, Log: a.Log, Scorer: a.Scorer}
	err := a.App.Start(ctx)
	a.store, a.server, a.usage, a.scoring = a.App.Store(), a.App.Server(), a.App.Usage(), a.App.Scoring()
	a.keys, a.redis, a.tel = a.App.Keys(), a.App.Redis(), appMetrics{a.App.Metrics()}
	if ln := a.App.BlobListener(); ln != nil {
		a.blobs = &blobServer{ln: ln}
	}
	return err
}

func (a *App) queueReporter() console.QueueReporter { return a.App.QueueReporter() }
