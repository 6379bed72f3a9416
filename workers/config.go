package workers

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/nzilacode/narcidicontrole/licensing"
	"github.com/nzilacode/narcidicontrole/licensing/insights"
)

// Config is what the handlers, the relay and the schedules need. Zero
// values take the defaults below.
type Config struct {
	// Notifications fans events out and records deliveries; Automation
	// runs the scans, roll-ups, clean-up and the outbox relay.
	Notifications *licensing.Notifications
	Automation    *licensing.Automation
	Log           *slog.Logger
	// Clock is the service's clock too: tests move both together.
	Clock func() time.Time

	// Mailer sends email alerts; nil sends none.
	Mailer *Mailer
	// AdminEmails get every email alert, besides the customer's contacts.
	AdminEmails []string
	// StaffLocale is the language and time zone of the console user whose
	// address email is ("", "" when none is), for the alert mails to
	// AdminEmails; an error retries the delivery. nil: they read the
	// server default.
	StaffLocale func(ctx context.Context, email string) (language, zone string, err error)
	// PortalURL is the customer portal's public address, linked from the
	// mails customers get ("" leaves the link out).
	PortalURL string

	// HTTPClient posts webhooks. Default: NewWebhookClient(AllowPrivate).
	HTTPClient   *http.Client
	AllowPrivate bool

	// MaxAttempts is how many times a delivery is tried (default 8).
	MaxAttempts int
	// RetryBase and RetryMax shape the backoff between tries: base·2^n with
	// jitter, at most max (defaults 30s and 1h).
	RetryBase, RetryMax time.Duration
	// DisableAfter failures in a row turn a webhook endpoint off (default 20).
	DisableAfter int
	// StaleAfter is when a hand-off to the queue counts as lost and is made
	// again (default 10m; a task still queued is not duplicated).
	StaleAfter time.Duration
	// RelayEvery is how often the relay looks at the outbox (default 1s).
	RelayEvery time.Duration
	// PollEvery is how often an idle asynq worker looks for new tasks, and
	// for retries and scheduled tasks come due (default 1s). Tests shorten
	// it: each step of a delivery otherwise waits up to a second.
	PollEvery time.Duration
	// Schedules are cron specs (UTC) of the periodic tasks.
	Schedules Schedules
	Retention licensing.Retention
	// QueuePrefix names the asynq queue: QueuePrefix+"default" (e.g.
	// "narcidi:default"). asynq has no key prefix of its own, but every
	// key of a task (pending list, task ids, uniqueness locks) is under
	// its queue's name, so two installations sharing a Redis with
	// different prefixes never take each other's tasks. Empty: asynq's
	// "default" queue (the name before NARCIDI_REDIS_PREFIX applied to it).
	QueuePrefix string
	// Cleanups are more clean-up steps of the daily task (abandoned
	// release uploads); each returns how much it removed.
	Cleanups []func(context.Context) (int, error)
	// Metrics counts tasks and deliveries (nil: none; metrics.go).
	Metrics *Metrics
	// SubscriptionSweep runs the subscriptions' due steps (the
	// subscription service's Sweep), on the Scans schedule as task
	// TypeSubscriptionSweep; nil schedules nothing.
	SubscriptionSweep func(context.Context) (int, error)
	// InsightsScoring runs the insights scoring job (insights.Job.Run) on
	// the Insights schedule as task TypeInsightsScore; nil schedules nothing.
	InsightsScoring func(context.Context) (insights.RunResult, error)
}

// QueueName is the asynq queue of an installation whose Redis prefix is
// prefix.
func QueueName(prefix string) string { return prefix + "default" }

// Schedules say when the periodic tasks run.
type Schedules struct {
	Scans   string // expiry and offline scans, and the subscription sweep (default every minute)
	Rollup  string // dashboard roll-up (default every 15 minutes)
	Cleanup string // outbox and delivery log clean-up (default daily)
	// Insights is the insights scoring job (default daily at 04:41 UTC).
	Insights string
}

func (c *Config) defaults() {
	if c.Log == nil {
		c.Log = slog.New(slog.DiscardHandler)
	}
	if c.Clock == nil {
		c.Clock = time.Now
	}
	if c.HTTPClient == nil {
		c.HTTPClient = NewWebhookClient(c.AllowPrivate)
	}
	setDefault(&c.MaxAttempts, 8)
	setDefault(&c.RetryBase, 30*time.Second)
	setDefault(&c.RetryMax, time.Hour)
	setDefault(&c.DisableAfter, 20)
	setDefault(&c.StaleAfter, 10*time.Minute)
	setDefault(&c.RelayEvery, time.Second)
	setDefault(&c.PollEvery, time.Second)
	setDefault(&c.Schedules.Scans, "* * * * *")
	setDefault(&c.Schedules.Rollup, "*/15 * * * *")
	setDefault(&c.Schedules.Cleanup, "17 3 * * *")
	setDefault(&c.Schedules.Insights, "41 4 * * *")
	setDefault(&c.Retention.Outbox, 7*24*time.Hour)
	setDefault(&c.Retention.Deliveries, 30*24*time.Hour)
}

func setDefault[T comparable](v *T, def T) {
	var zero T
	if *v == zero {
		*v = def
	}
}
