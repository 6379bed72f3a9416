package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/nzilacode/narcidicontrole/wiring"
)

// worker runs `narcidi worker`: the asynq task server, the scheduler and
// the outbox relay, until ctx ends.
func worker(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cfg, _, err := loadConfig("worker", args, getenv)
	if err != nil {
		return err
	}
	log, err := cfg.Logger(stderr)
	if err != nil {
		return err
	}
	w := &wiring.Worker{Config: cfg, Log: log}
	if err := w.Start(ctx); err != nil {
		return errors.Join(err, w.Close())
	}
	database, redisAddr, metrics := w.Describe()
	b := currentBuild()
	if cfg.LogFormat == "json" {
		log.Info("narcidi worker running", "database", database, "redis", redisAddr, "metrics", metrics)
	} else {
		fmt.Fprintf(stdout, "narcidi worker running (database: %s, redis: %s; %s)\n", database, redisAddr, metrics)
	}
	log.Info("narcidi worker started", b.logAttrs()...)
	<-ctx.Done()
	_ = w.Close() // as before the move: the worker's stop is not an error
	log.Info("narcidi worker stopped", b.logAttrs()...)
	return nil
}
