package workers

import (
	"context"
	"errors"
	"time"

	"github.com/hibiken/asynq"
	"github.com/nzilacode/narcidicontrole/licensing"
)

// relayBatch bounds one pass of the relay.
const relayBatch = 100

// relayOnce hands pending events and deliveries to the queue and records
// the hand-off, in one transaction per batch: if the queue is down nothing
// is recorded, and the next pass tries again. On PostgreSQL the rows are
// locked (SKIP LOCKED), so relays in several processes share the work.
// It returns how many it handed over.
func (h *handlers) relayOnce(ctx context.Context, staleBefore time.Time) (int, error) {
	total := 0
	var errs []error
	for _, relay := range []func(context.Context, time.Time) (int, error){h.relayEvents, h.relayDeliveries} {
		for {
			n, err := relay(ctx, staleBefore)
			total += n
			if err != nil {
				errs = append(errs, err)
			}
			if err != nil || n < relayBatch {
				break
			}
		}
	}
	return total, errors.Join(errs...)
}

func (h *handlers) relayEvents(ctx context.Context, staleBefore time.Time) (int, error) {
	return h.auto.RelayEvents(ctx, staleBefore, relayBatch, func(events []licensing.Event) ([]string, error) {
		items := make([]queued, len(events))
		for i, e := range events {
			items[i].id = e.ID
			items[i].task, items[i].opts = dispatchTask(e.ID)
		}
		return h.handOver(ctx, items)
	})
}

func (h *handlers) relayDeliveries(ctx context.Context, staleBefore time.Time) (int, error) {
	return h.auto.RelayDeliveries(ctx, staleBefore, relayBatch, func(ds []licensing.Delivery) ([]string, error) {
		return h.handOver(ctx, deliveryTasks(ds))
	})
}

// queued is one task to hand over, with the id of what it stands for.
type queued struct {
	id   string
	task *asynq.Task
	opts []asynq.Option
}

func deliveryTasks(ds []licensing.Delivery) []queued {
	items := make([]queued, len(ds))
	for i, d := range ds {
		items[i].id = d.ID
		items[i].task, items[i].opts = deliverTask(d.ID, d.Generation, max(d.AttemptLimit-d.Attempts-1, 0))
	}
	return items
}

// handOver enqueues items in order until the queue refuses one, and returns
// the ids handed over; it fails only if the queue took none.
func (h *handlers) handOver(ctx context.Context, items []queued) ([]string, error) {
	ids := make([]string, 0, len(items))
	for _, it := range items {
		if err := h.queue.Enqueue(ctx, it.task, it.opts...); err != nil {
			if len(ids) == 0 {
				return nil, err
			}
			break // record what was handed over
		}
		ids = append(ids, it.id)
	}
	return ids, nil
}

// runRelay relays every cfg.RelayEvery until ctx ends, logging failures
// once per outage rather than every pass. With fresh, the first pass takes
// every pending hand-off as lost (an in-process queue starts empty).
func (h *handlers) runRelay(ctx context.Context, fresh bool) {
	t := time.NewTicker(h.cfg.RelayEvery)
	defer t.Stop()
	failing := false
	for {
		staleBefore := h.now().Add(-h.cfg.StaleAfter)
		if fresh {
			staleBefore, fresh = h.now().Add(time.Hour), false
		}
		_, err := h.relayOnce(ctx, staleBefore)
		switch {
		case err != nil && ctx.Err() == nil && !failing:
			h.log.Warn("relay: cannot hand events to the queue; they wait in the outbox", "err", err)
			failing = true
		case err == nil && failing:
			h.log.Info("relay: queue reachable again")
			failing = false
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
