package workers

import (
	"context"

	"github.com/hibiken/asynq"
)

// TypeInsightsScore runs the insights scoring job (insights.Job.Run): it
// scores every active license and announces threshold crossings through
// the outbox. No payload.
//
// Several workers may get it (the scheduler's uniqueness is per fire, and
// a run can outlast the next fire): the job takes a run lock in the
// database and a worker that finds it held skips, and each crossing is
// announced by a conditional claim, so nothing is announced twice.
const TypeInsightsScore = "insights:score"

// scoreInsights runs Config.InsightsScoring. A failed run is tried again by
// the next fire of the schedule (MaxRetry 1, as the scans).
//
// Alike sweepSubscriptions (subscriptions.go) by shape: each periodic
// task's handler runs its own Config function and logs its own result.
func (h *handlers) scoreInsights(ctx context.Context, _ *asynq.Task) error {
	if h.cfg.InsightsScoring == nil {
		return nil // an installation without insights: a stray task does nothing
	}
	res, err := h.cfg.InsightsScoring(ctx)
	switch {
	case err != nil:
	case res.Skipped:
		h.log.Info("insights scoring skipped: another worker is running it")
	default:
		h.log.Info("insights scoring", "licenses", res.Licenses, "scores", res.Scores, "events", res.Events, "trained_on", res.Outcomes)
	}
	return err
}
