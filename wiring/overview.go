package wiring

import (
	"context"
	"slices"

	"github.com/hibiken/asynq"

	"github.com/nzilacode/narcidicontrole/api/console"
	"github.com/nzilacode/narcidicontrole/workers"
)

// queueReporter is what the console's overview shows of the background
// jobs: the asynq queue when Redis carries them (the same numbers as the
// queue monitor, read by asynq's inspector over the server's Redis
// client), the in-process runner's queue otherwise, or that none runs here.
func (a *App) queueReporter() console.QueueReporter {
	switch {
	case a.redis != nil && a.Config.RedisURL != "":
		inspector := asynq.NewInspectorFromRedisClient(a.redis) // shares the client: nothing to close
		queue := workers.QueueName(a.Config.RedisPrefix)
		return func(context.Context) (*console.QueueReport, error) {
			r := &console.QueueReport{Mode: "redis", Queues: []console.QueueSize{{Name: queue}}}
			// A queue no task was ever put in does not exist yet: it is
			// empty (asynq's "not found" error is internal, so ask first).
			names, err := inspector.Queues()
			if err != nil || !slices.Contains(names, queue) {
				return r, err
			}
			info, err := inspector.GetQueueInfo(queue)
			if err != nil {
				return nil, err
			}
			r.Queues[0] = console.QueueSize{Name: queue, Pending: info.Pending, Active: info.Active, Scheduled: info.Scheduled,
				Retry: info.Retry, Archived: info.Archived}
			return r, nil
		}
	case a.local != nil:
		local := a.local
		return func(context.Context) (*console.QueueReport, error) {
			pending, running := local.Sizes()
			return &console.QueueReport{Mode: "in-process", Queues: []console.QueueSize{{Name: "in-process", Pending: pending, Active: running}}}, nil
		}
	}
	return func(context.Context) (*console.QueueReport, error) { return &console.QueueReport{Mode: "off"}, nil }
}
