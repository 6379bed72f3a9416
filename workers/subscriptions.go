package workers

import (
	"context"

	"github.com/hibiken/asynq"
)

// TypeSubscriptionSweep runs the subscriptions' clock-driven steps (dunning
// reminders, suspension when a dunning window ends unpaid, expiry at the end
// of a period canceled at its end, trial-ending notices). No payload.
//
// It is its own periodic task, on the scans' schedule, rather than a step
// of the daily clean-up: a dunning window or a trial ends at a time of day,
// and its suspension or notice is due minutes after, not the next night.
// Several workers may run it at once (the scheduler's uniqueness is per
// fire, not a lock): every step is re-checked under the subscription's row
// lock and records what it did (LicensesSuspended, the notice times, the
// status), so a second sweep finds nothing left to do.
const TypeSubscriptionSweep = "subscription:sweep"

// sweepSubscriptions runs Config.SubscriptionSweep. A failed pass is retried
// by the next fire of the schedule (MaxRetry 1, as the scans).
func (h *handlers) sweepSubscriptions(ctx context.Context, _ *asynq.Task) error {
	if h.cfg.SubscriptionSweep == nil {
		return nil // an installation without subscriptions: a stray task does nothing
	}
	n, err := h.cfg.SubscriptionSweep(ctx)
	if n > 0 {
		h.log.Info("subscription sweep", "changed", n)
	}
	return err
}
