package wiring

import (
	"context"
	"strconv"
	"time"

	"github.com/nzilacode/narcidicontrole/licensing/i18n"
	"github.com/nzilacode/narcidicontrole/licensing/insights"
	"github.com/nzilacode/narcidicontrole/storage"
	"github.com/nzilacode/narcidicontrole/workers"
)

// InsightsConfig is the scoring job's part of the configuration: when it
// runs, and the threshold of each kind of score above which a crossing is
// announced (an insight.* event: webhooks, email alerts).
type InsightsConfig struct {
	Schedule string // NARCIDI_INSIGHTS_SCHEDULE (a checked cron spec)
	Churn    float64
	Block    float64
	Upgrade  float64
	Sharing  float64
}

// thresholds is the installation's thresholds by kind.
func (c *InsightsConfig) thresholds() insights.Thresholds {
	return insights.Thresholds{insights.KindChurn: c.Churn, insights.KindBlock: c.Block,
		insights.KindUpgrade: c.Upgrade, insights.KindSharing: c.Sharing}
}

// floatValue reads a number in [lo, hi].
type floatValue struct {
	p      *float64
	lo, hi float64
}

func (v *floatValue) String() string { return "" }
func (v *floatValue) Set(s string) error {
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f < v.lo || f > v.hi {
		return i18n.Say("cli.config.number_range", "lo", v.lo, "hi", v.hi, "value", strconv.Quote(s))
	}
	*v.p = f
	return nil
}

// insightsSettings are the rows of the scoring job (group jobs: serve
// with in-process jobs, and worker, run it).
func insightsSettings(c *InsightsConfig) []setting {
	th := func(env, kind string, p *float64) setting {
		return setting{env: env, def: strconv.FormatFloat(insights.DefaultAlertThreshold, 'g', -1, 64), kind: "0-1",
			help: "score (0-1) at which a license's " + kind + " is announced (event insight." + kind + ", once per crossing; announced again after it falls 0.05 under)", value: &floatValue{p, 0, 1}}
	}
	return []setting{
		{env: "NARCIDI_INSIGHTS_SCHEDULE", def: "41 4 * * *", kind: "cron", help: "cron spec (UTC) of the insights scoring job (scores every active license)", value: checked(&c.Schedule, checkCron)},
		th("NARCIDI_INSIGHTS_CHURN_THRESHOLD", string(insights.KindChurn), &c.Churn),
		th("NARCIDI_INSIGHTS_BLOCK_THRESHOLD", string(insights.KindBlock), &c.Block),
		th("NARCIDI_INSIGHTS_UPGRADE_THRESHOLD", string(insights.KindUpgrade), &c.Upgrade),
		th("NARCIDI_INSIGHTS_SHARING_THRESHOLD", string(insights.KindSharing), &c.Sharing),
	}
}

// insightsJobs wires the scoring job into the workers' configuration: the
// schedule, the run, and the pruning of the score history with the
// telemetry's retention. newScorer makes the engine of a scoring run; nil:
// the real engine (tests swap in a fake).
func insightsJobs(wc *workers.Config, st *storage.Store, cfg *Config, newScorer func() insights.Scorer) *insights.Job {
	job := insights.NewJob(st.InsightScores(), insights.JobConfig{Thresholds: cfg.Insights.thresholds(), NewScorer: newScorer, Log: wc.Log})
	wc.Schedules.Insights = cfg.Insights.Schedule
	wc.InsightsScoring = job.Run
	retention := cfg.TelemetryRetention
	wc.Cleanups = append(wc.Cleanups, func(ctx context.Context) (int, error) {
		n, err := st.InsightScores().DeleteHistoryBefore(ctx, time.Now().Add(-retention))
		return int(n), err
	})
	return job
}
