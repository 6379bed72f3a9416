package workers_test

import (
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/nzilacode/narcidicontrole/licensing"
	"github.com/nzilacode/narcidicontrole/storage/storagetest"
	"github.com/nzilacode/narcidicontrole/workers"
	"github.com/nzilacode/narcidicontrole/workers/workerstest"
)

// Two installations share one Redis database with different prefixes
// (NARCIDI_REDIS_PREFIX): a worker of one never takes the other's tasks.
// B's event is handed to the queue while only A's worker runs; with one
// shared queue A would take it, find no such event in its database and
// B's webhook would never come.
func TestQueuePrefixesShareARedis(t *testing.T) {
	t.Parallel()
	db := storagetest.RedisDB(t)
	events := []string{licensing.ActionLicenseSuspended}
	a := newWorld(t, storagetest.Open(t, "postgres"), events, nil)
	b := newWorld(t, storagetest.Open(t, "postgres"), events, nil)
	cfgA, cfgB := a.config(), b.config()
	cfgA.QueuePrefix, cfgB.QueuePrefix = "site-a:", "site-b:"
	rdbA, rdbB := redisClient(t, storagetest.RedisAddr(), db), redisClient(t, storagetest.RedisAddr(), db)

	startWorker(t, cfgA, rdbA)
	wb := workers.NewWorker(cfgB, rdbB, 5) // not started: only hands over
	_, err := b.svc.Licenses.SuspendLicense(ctx, b.license.ID, "")
	must(t, err)
	// Every event of B's seeding is handed over, the suspension among them.
	handed, err := wb.RelayOnce(ctx)
	if err != nil || handed == 0 {
		t.Fatalf("B's relay handed over %d (%v)", handed, err)
	}
	_, err = a.svc.Licenses.SuspendLicense(ctx, a.license.ID, "")
	must(t, err)
	a.settle()
	if got := a.hook.Received(); len(got) != 1 || got[0].Data.TargetID != a.license.ID {
		t.Fatalf("A's receiver got %v", actions(got))
	}

	insp := asynq.NewInspectorFromRedisClient(rdbA)
	time.Sleep(300 * time.Millisecond) // A's worker polls its queue every 50ms (PollEvery in config)
	qb, err := insp.GetQueueInfo(workers.QueueName("site-b:"))
	if err != nil || qb.Pending != handed {
		t.Fatalf("B's queue while only A runs: %+v %v (want its %d tasks pending)", qb, err, handed)
	}
	if len(b.hook.Received()) != 0 {
		t.Fatal("B's webhook delivered by A")
	}
	queues, err := insp.Queues()
	must(t, err)
	for _, q := range queues {
		if q == "default" {
			t.Errorf("a task went to asynq's unprefixed queue: %v", queues)
		}
	}

	startWorker(t, cfgB, rdbB)
	b.settle()
	workerstest.WaitFor(t, "B's webhook through B's worker", func() bool { return len(b.hook.Received()) == 1 })
	if got := b.hook.Received(); got[0].Data.TargetID != b.license.ID || len(a.hook.Received()) != 1 {
		t.Fatalf("B got %v, A got %v", actions(got), actions(a.hook.Received()))
	}
}
