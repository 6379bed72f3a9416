package workers

import (
	"context"
	"errors"
	"time"

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
	n := 0
	err := h.store.InTx(ctx, func(tx licensing.Repo) error {
		now := h.now()
		events, err := tx.PendingEvents(ctx, staleBefore, relayBatch)
		if err != nil {
			return err
		}
		ids := make([]string, 0, len(events))
		for _, e := range events {
			task, opts := dispatchTask(e.ID)
			if err := h.queue.Enqueue(ctx, task, opts...); err != nil {
				if len(ids) == 0 {
					return err
				}
				break // record what was handed over
			}
			ids = append(ids, e.ID)
		}
		n = len(ids)
		return tx.MarkEventsRelayed(ctx, ids, now)
	})
	return n, err
}

func (h *handlers) relayDeliveries(ctx context.Context, staleBefore time.Time) (int, error) {
	n := 0
	err := h.store.InTx(ctx, func(tx licensing.Repo) error {
		now := h.now()
		ds, err := tx.PendingDeliveries(ctx, staleBefore, relayBatch)
		if err != nil {
			return err
		}
		ids := make([]string, 0, len(ds))
		for _, d := range ds {
			task, opts := deliverTask(d.ID, d.Generation, max(d.AttemptLimit-d.Attempts-1, 0))
			if err := h.queue.Enqueue(ctx, task, opts...); err != nil {
				if len(ids) == 0 {
					return err
				}
				break
			}
			ids = append(ids, d.ID)
		}
		n = len(ids)
		return tx.MarkDeliveriesEnqueued(ctx, ids, now)
	})
	return n, err
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
