package workers_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/nzilacode/narcidicontrole/licensing"
	"github.com/nzilacode/narcidicontrole/licensing/insights"
	"github.com/nzilacode/narcidicontrole/storage"
	"github.com/nzilacode/narcidicontrole/storage/storagetest"
	"github.com/nzilacode/narcidicontrole/workers"
	"github.com/nzilacode/narcidicontrole/workers/workerstest"
)

// gatedScorer scores every license high for churn and upgrade; its Train
// waits for gate (or 15s), so a test can hold a run open.
type gatedScorer struct {
	gate   chan struct{}
	trains atomic.Int32
}

func (g *gatedScorer) Train([]insights.Outcome) error {
	g.trains.Add(1)
	select {
	case <-g.gate:
	case <-time.After(15 * time.Second):
	}
	return nil
}

func (g *gatedScorer) Score(snaps []insights.Snapshot) ([]insights.Score, error) {
	var out []insights.Score
	for _, s := range snaps {
		out = append(out, insights.Score{LicenseID: s.LicenseID, Kind: insights.KindChurn, Value: 0.9, ModelVersion: "gated"},
			insights.Score{LicenseID: s.LicenseID, Kind: insights.KindUpgrade, Value: 0.8, ModelVersion: "gated"})
	}
	return out, nil
}

// TestInsightsScoringOnceAcrossWorkers: two asynq workers (each with its
// own database pool) get the scoring task at once, as two schedulers
// firing together would hand it: one runs, the other finds the run lock
// held and skips, and each crossing reaches the webhook once.
func TestInsightsScoringOnceAcrossWorkers(t *testing.T) {
	t.Parallel()
	url := storagetest.MigratedPostgresURL(t)
	open := func() *storage.Store {
		st, err := storage.Open(ctx, storage.Config{DatabaseURL: url})
		must(t, err)
		t.Cleanup(func() { _ = st.Close() })
		must(t, st.Migrate(ctx))
		return st
	}
	st1, st2 := open(), open()
	w := newWorld(t, st1, []string{licensing.ActionInsightChurnRisk, licensing.ActionInsightUpgradeSuggested}, nil)
	// A previous run's churn score at the threshold: churn is announced
	// once it held two runs in a row, so this run's crossing is due.
	must(t, st1.InsightScores().SaveScores(ctx, []insights.Score{{LicenseID: w.license.ID, Kind: insights.KindChurn, Value: 0.9,
		ModelVersion: "gated", Reasons: []insights.Reason{}, ComputedAt: w.clock.Now().Add(-24 * time.Hour)}}, nil))
	scorer := &gatedScorer{gate: make(chan struct{})}
	var skipped atomic.Int32
	var once sync.Once
	scoring := func(st *storage.Store) func(context.Context) (insights.RunResult, error) {
		job := insights.NewJob(st.InsightScores(), insights.JobConfig{Clock: w.clock.Now, NewScorer: func() insights.Scorer { return scorer }})
		return func(ctx context.Context) (insights.RunResult, error) {
			res, err := job.Run(ctx)
			if res.Skipped {
				skipped.Add(1)
				once.Do(func() { close(scorer.gate) })
			}
			return res, err
		}
	}
	svc2 := licensing.NewServices(storage.Stores(st2), licensing.Deps{Clock: w.clock.Now, Issuer: "test", Box: w.box, AllowPrivate: true})
	cfg1, cfg2 := w.config(), w.config()
	cfg2.Notifications, cfg2.Automation = svc2.Notifications, svc2.Automation
	cfg1.InsightsScoring, cfg2.InsightsScoring = scoring(st1), scoring(st2)
	cfg1.Schedules.Insights, cfg2.Schedules.Insights = "0 0 1 1 *", "0 0 1 1 *" // the test hands the tasks over
	db := storagetest.RedisDB(t)
	startWorker(t, cfg1, redisClient(t, storagetest.RedisAddr(), db))
	startWorker(t, cfg2, redisClient(t, storagetest.RedisAddr(), db))

	client := asynq.NewClientFromRedisClient(redisClient(t, storagetest.RedisAddr(), db))
	for _, id := range []string{"fire-1", "fire-2"} {
		if _, err := client.EnqueueContext(ctx, asynq.NewTask(workers.TypeInsightsScore, nil), asynq.TaskID(id), asynq.Queue(workers.QueueName("")), asynq.Retention(time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	insp := asynq.NewInspectorFromRedisClient(redisClient(t, storagetest.RedisAddr(), db))
	workerstest.WaitFor(t, "both scoring tasks to complete", func() bool {
		done, err := insp.ListCompletedTasks(workers.QueueName(""))
		n := 0
		for _, d := range done {
			if d.Type == workers.TypeInsightsScore {
				n++
			}
		}
		return err == nil && n == 2
	})
	if n := scorer.trains.Load(); n != 1 || skipped.Load() != 1 {
		t.Fatalf("%d runs trained, %d skipped: want one of each", n, skipped.Load())
	}
	if runs, err := st1.InsightScores().ScoringRuns(ctx); err != nil || runs != 1 {
		t.Fatalf("%d runs recorded (%v), want 1", runs, err)
	}
	w.settle()
	if ids, dups := uniqueIDs(w.hook.Received()); len(ids) != 2 || dups != 0 {
		t.Errorf("receiver got %d distinct webhooks (%d duplicates), want the churn and upgrade crossings once", len(ids), dups)
	}
}
