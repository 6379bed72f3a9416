package workers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/hibiken/asynq"
	"github.com/nzilacode/narcidicontrole/licensing"
	"github.com/nzilacode/narcidicontrole/licensing/custmail"
)

// Queue is where tasks are handed: asynq's client on Redis, or the
// in-process queue. A task whose id is already queued is not an error.
type Queue interface {
	Enqueue(ctx context.Context, t *asynq.Task, opts ...asynq.Option) error
}

// handlers runs the tasks. It is the same code in both modes.
type handlers struct {
	cfg   Config
	notes *licensing.Notifications
	auto  *licensing.Automation
	log   *slog.Logger
	queue Queue
}

func newHandlers(cfg Config, q Queue) *handlers {
	cfg.defaults()
	return &handlers{cfg: cfg, notes: cfg.Notifications, auto: cfg.Automation, log: cfg.Log, queue: q}
}

func (h *handlers) mux() *asynq.ServeMux {
	m := asynq.NewServeMux()
	m.HandleFunc(TypeDispatch, h.dispatch)
	m.HandleFunc(TypeDeliver, h.deliver)
	m.HandleFunc(TypeScanExpiry, h.scanExpiry)
	m.HandleFunc(TypeScanOffline, h.scanOffline)
	m.HandleFunc(TypeRollup, h.rollup)
	m.HandleFunc(TypeCleanup, h.cleanup)
	m.HandleFunc(TypeSubscriptionSweep, h.sweepSubscriptions)
	m.HandleFunc(TypeInsightsScore, h.scoreInsights)
	h.cfg.Metrics.use(m)
	return m
}

// retryDelay is the backoff between tries of a task: base·2^(n-1) with
// ±20% jitter, at most max.
func (h *handlers) retryDelay(n int, _ error, _ *asynq.Task) time.Duration {
	d := h.cfg.RetryBase
	for i := 1; i < n && d < h.cfg.RetryMax; i++ {
		d *= 2
	}
	d = min(d, h.cfg.RetryMax)
	return time.Duration(float64(d) * (0.8 + 0.4*rand.Float64()))
}

// dispatch fans an event out into deliveries and hands them to the queue.
func (h *handlers) dispatch(ctx context.Context, t *asynq.Task) error {
	var p dispatchPayload
	if err := decode(t, &p, func() string { return p.EventID }); err != nil {
		return err
	}
	var email func(string) bool
	if h.cfg.Mailer != nil {
		email = Emailed
	}
	made, err := h.notes.FanOut(ctx, p.EventID, email, h.cfg.MaxAttempts)
	if licensing.ErrorCode(err) == licensing.ENotFound {
		return fmt.Errorf("event %s does not exist: %w", p.EventID, asynq.SkipRetry)
	} else if err != nil {
		return err
	}
	// Hand the new deliveries over now rather than at the next relay pass;
	// whatever fails here the relay hands over later.
	ids, err := h.handOver(ctx, deliveryTasks(made))
	if err != nil {
		h.log.Warn("could not queue the deliveries; the relay will", "event", p.EventID, "err", err)
	}
	if err := h.notes.MarkEnqueued(ctx, ids); err != nil {
		h.log.Warn("could not record queued deliveries", "err", err)
	}
	return nil
}

func (h *handlers) now() time.Time { return h.cfg.Clock().UTC().Truncate(time.Microsecond) }

// errRetry marks an attempt that failed and will be tried again.
var errRetry = errors.New("delivery attempt failed")

// deliver makes one attempt of a delivery.
func (h *handlers) deliver(ctx context.Context, t *asynq.Task) error {
	var p deliverPayload
	if err := decode(t, &p, func() string { return p.DeliveryID }); err != nil {
		return err
	}
	d, err := h.notes.Delivery(ctx, p.DeliveryID)
	if licensing.ErrorCode(err) == licensing.ENotFound {
		return fmt.Errorf("delivery %s does not exist: %w", p.DeliveryID, asynq.SkipRetry)
	} else if err != nil {
		return err
	}
	if d.Status != licensing.DeliveryPending {
		return nil // done already: a duplicate hand-off
	}
	e, err := h.notes.Event(ctx, d.EventID)
	if err != nil {
		return err
	}
	start := time.Now()
	var sent webhookExchange
	var sendErr error
	switch d.Channel {
	case licensing.ChannelWebhook:
		w, err := h.notes.Webhook(ctx, d.EndpointID)
		if licensing.ErrorCode(err) == licensing.ENotFound || (err == nil && !w.Enabled) {
			h.cfg.Metrics.delivery(d.Channel, OutcomeDropped)
			return h.notes.GiveUp(ctx, d.ID, "the endpoint is disabled or gone")
		} else if err != nil {
			return err
		}
		secret, err := h.notes.WebhookSecret(w)
		if err != nil {
			return err
		}
		sent, sendErr = postWebhook(ctx, h.cfg.HTTPClient, w.URL, secret, d.ID, e, h.now())
	case licensing.ChannelEmail:
		sendErr = h.sendEmail(ctx, d, e)
	default:
		return fmt.Errorf("delivery %s has unknown channel %q: %w", d.ID, d.Channel, asynq.SkipRetry)
	}
	after, err := h.notes.RecordAttempt(ctx, d.ID, licensing.AttemptResult{StatusCode: sent.status, Err: sendErr, Duration: time.Since(start),
		RequestBody: sent.request, ResponseBody: sent.response}, h.cfg.DisableAfter)
	if err != nil {
		return err
	}
	h.cfg.Metrics.attempt(d.Channel, sendErr, after.Status)
	if sendErr == nil {
		h.log.Info("delivered", "delivery", d.ID, "channel", d.Channel, "event", e.ID, "action", e.Action, "attempt", after.Attempts)
		return nil
	}
	if after.Status == licensing.DeliveryFailed {
		h.log.Warn("delivery failed for good", "delivery", d.ID, "channel", d.Channel, "event", e.ID, "attempts", after.Attempts, "err", sendErr)
		return nil
	}
	h.log.Info("delivery attempt failed; will retry", "delivery", d.ID, "attempt", after.Attempts, "err", sendErr)
	return fmt.Errorf("%w: %v", errRetry, sendErr)
}

func (h *handlers) sendEmail(ctx context.Context, d *licensing.Delivery, e *licensing.Event) error {
	if h.cfg.Mailer == nil {
		return errors.New("email is not configured")
	}
	to, customer, err := h.notes.Recipients(ctx, e)
	if err != nil {
		return err
	}
	if len(to)+len(h.cfg.AdminEmails) == 0 {
		return nil // nobody to tell
	}
	if e.TargetType == "license" && customer != nil && custmail.Has(e.Action) {
		m, err := h.customerMail(ctx, e, customer)
		if licensing.ErrorCode(err) == licensing.ENotFound {
			return fmt.Errorf("the license of event %s is gone: %w", e.ID, asynq.SkipRetry)
		} else if err != nil {
			return err
		}
		// The staff addresses get a copy of what the customer read.
		return h.cfg.Mailer.SendMail(ctx, "<"+d.ID+"@narcidi>", append(to, h.cfg.AdminEmails...), m.Subject, m.Text, m.HTML)
	}
	a := alert{Event: e, Customer: customer}
	if e.Action == licensing.ActionLicenseExpiring {
		var n licensing.ExpiryNotice
		_ = json.Unmarshal(e.After, &n)
		a.Days = n.DaysBefore
	}
	groups, err := h.alertReaders(ctx, to, customer)
	if err != nil {
		return err
	}
	return h.sendAlert(ctx, d.ID, a, groups)
}

func (h *handlers) scanExpiry(ctx context.Context, _ *asynq.Task) error {
	res, err := h.auto.ScanExpiry(ctx)
	if err == nil && (res.Notices > 0 || res.Expired > 0) {
		h.log.Info("expiry scan", "notices", res.Notices, "expired", res.Expired)
	}
	return err
}

func (h *handlers) scanOffline(ctx context.Context, _ *asynq.Task) error {
	res, err := h.auto.ScanOffline(ctx)
	if err == nil && (res.Offline > 0 || res.Released > 0) {
		h.log.Info("offline scan", "offline", res.Offline, "released", res.Released)
	}
	return err
}

func (h *handlers) rollup(ctx context.Context, _ *asynq.Task) error {
	_, err := h.auto.Rollup(ctx)
	return err
}

func (h *handlers) cleanup(ctx context.Context, _ *asynq.Task) error {
	n, err := h.auto.Cleanup(ctx, h.cfg.Retention)
	if err == nil && n > 0 {
		h.log.Info("cleanup", "rows", n)
	}
	errs := []error{err}
	for _, more := range h.cfg.Cleanups {
		n, err := more(ctx)
		if n > 0 {
			h.log.Info("cleanup", "removed", n)
		}
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// periodic lists the scheduled tasks with their specs.
func (h *handlers) periodic() []struct {
	spec, typ string
} {
	s := h.cfg.Schedules
	out := []struct{ spec, typ string }{
		{s.Scans, TypeScanExpiry}, {s.Scans, TypeScanOffline}, {s.Rollup, TypeRollup}, {s.Cleanup, TypeCleanup},
	}
	if h.cfg.SubscriptionSweep != nil {
		out = append(out, struct{ spec, typ string }{s.Scans, TypeSubscriptionSweep})
	}
	if h.cfg.InsightsScoring != nil {
		out = append(out, struct{ spec, typ string }{s.Insights, TypeInsightsScore})
	}
	return out
}

// customerMail renders the mail a customer gets about a license event:
// the product's name, the key's hint, dates in words and a portal link
// (custmail), never the event's name or ids.
func (h *handlers) customerMail(ctx context.Context, e *licensing.Event, customer *licensing.Customer) (*custmail.Mail, error) {
	l, pol, prod, err := h.notes.LicenseFacts(ctx, e.TargetID)
	if err != nil {
		return nil, err
	}
	d := custmail.Data{Product: prod.Name, Plan: pol.Name, LicenseName: l.Name, KeyHint: l.KeyHint, ExpiresAt: l.ExpiresAt,
		Message: licensing.SuspensionMessage(e), PortalURL: h.cfg.PortalURL}
	if customer != nil {
		d.CustomerName, d.Language, d.TimeZone = customer.Name, customer.Language, customer.TimeZone
	}
	if e.Action == licensing.ActionLicenseExpiring {
		var n licensing.ExpiryNotice
		_ = json.Unmarshal(e.After, &n)
		d.Days = n.DaysBefore
	}
	return custmail.Render(e.Action, d)
}
