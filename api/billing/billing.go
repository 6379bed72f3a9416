package billing

import (
	"encoding/json"
	"errors"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/nzilacode/narcidicontrole/licensing"
	"github.com/nzilacode/narcidicontrole/licensing/subscription"
	"github.com/stripe/stripe-go/v82"
	"github.com/stripe/stripe-go/v82/webhook"
)

// Config is what the billing endpoints need.
type Config struct {
	Subscriptions *subscription.Service
	// StripeSecret is the Stripe endpoint's signing secret (whsec_...);
	// empty: the Stripe endpoint answers 404.
	StripeSecret string
	// GenericSecret signs the generic endpoint's requests; empty: 404.
	GenericSecret string
	// Tolerance is how old a signature's timestamp may be (default 5
	// minutes, stripe-go's): an older request is a replay and refused.
	Tolerance time.Duration
}

// Handlers serve the billing endpoints.
type Handlers struct {
	cfg Config
}

// New builds the handlers.
func New(cfg Config) *Handlers {
	if cfg.Tolerance <= 0 {
		cfg.Tolerance = webhook.DefaultTolerance
	}
	return &Handlers{cfg: cfg}
}

// GenericSignatureHeader carries the generic endpoint's signature:
// t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>"> (Stripe's scheme).
const GenericSignatureHeader = "Narcidi-Billing-Signature"

func (h *Handlers) verify(c *fiber.Ctx, secret, header string) (stripe.Event, error) {
	if secret == "" {
		return stripe.Event{}, licensing.Errorf(licensing.ENotFound, "this billing endpoint is not configured")
	}
	ev, err := webhook.ConstructEventWithOptions(c.Body(), c.Get(header), secret, webhook.ConstructEventOptions{
		Tolerance: h.cfg.Tolerance,
		// The fields read here exist in every API version Stripe sends
		// (an account's version may be older than the library's).
		IgnoreAPIVersionMismatch: true,
	})
	switch {
	case err == nil:
		return ev, nil
	case errors.Is(err, webhook.ErrTooOld):
		return ev, licensing.Errorf(licensing.EUnauthorized, "the signature's timestamp is too old (a replay?)")
	case errors.Is(err, webhook.ErrNotSigned), errors.Is(err, webhook.ErrInvalidHeader), errors.Is(err, webhook.ErrNoValidSignature):
		return ev, licensing.Errorf(licensing.EUnauthorized, "the %s header does not sign this body", header)
	default:
		return ev, licensing.Wrap(licensing.EMalformed, err, "the event could not be read")
	}
}

// Stripe is POST /v1/billing/stripe/webhook.
func (h *Handlers) Stripe(c *fiber.Ctx) error {
	ev, err := h.verify(c, h.cfg.StripeSecret, "Stripe-Signature")
	if err != nil {
		return err
	}
	pe, ignored, err := fromStripe(&ev)
	if err != nil {
		return err
	}
	if ignored != "" {
		return c.JSON(subscription.Outcome{Ignored: ignored})
	}
	out, err := h.cfg.Subscriptions.Apply(c.UserContext(), *pe)
	if err != nil {
		return err
	}
	return c.JSON(out)
}

// Generic is POST /v1/billing/events: the body is a
// subscription.ProviderEvent, signed in Narcidi-Billing-Signature.
func (h *Handlers) Generic(c *fiber.Ctx) error {
	if _, err := h.verify(c, h.cfg.GenericSecret, GenericSignatureHeader); err != nil {
		return err
	}
	var pe subscription.ProviderEvent
	if err := json.Unmarshal(c.Body(), &pe); err != nil {
		return licensing.Wrap(licensing.EMalformed, err, "the body is not a billing event")
	}
	if pe.Provider == "" {
		pe.Provider = subscription.ProviderGeneric
	}
	if pe.Provider == subscription.ProviderStripe || pe.Provider == subscription.ProviderManual {
		return licensing.Errorf(licensing.EInvalid, "provider %q is reserved", pe.Provider)
	}
	out, err := h.cfg.Subscriptions.Apply(c.UserContext(), pe)
	if err != nil {
		return err
	}
	return c.JSON(out)
}

// fromStripe maps a Stripe event; ignored says why one that Narcidi does
// not follow is acknowledged without effect.
func fromStripe(ev *stripe.Event) (*subscription.ProviderEvent, string, error) {
	if ev.Data == nil {
		return nil, "", licensing.Errorf(licensing.EMalformed, "the event has no data")
	}
	pe := &subscription.ProviderEvent{Provider: subscription.ProviderStripe, ID: ev.ID, Created: time.Unix(ev.Created, 0).UTC()}
	raw := ev.Data.Raw
	bad := func(err error) (*subscription.ProviderEvent, string, error) {
		return nil, "", licensing.Wrap(licensing.EMalformed, err, "the event's object could not be read")
	}
	switch ev.Type {
	case "customer.created", "customer.updated":
		var cu stripe.Customer
		if err := json.Unmarshal(raw, &cu); err != nil {
			return bad(err)
		}
		pe.Kind, pe.Customer = subscription.KindCustomer, &subscription.ProviderCustomer{ID: cu.ID, Name: cu.Name, Email: cu.Email}
	case "customer.subscription.created", "customer.subscription.updated", "customer.subscription.deleted":
		var su stripe.Subscription
		if err := json.Unmarshal(raw, &su); err != nil {
			return bad(err)
		}
		ps, ignored := fromStripeSubscription(&su)
		if ignored != "" {
			return nil, ignored, nil
		}
		pe.Kind, pe.Subscription = subscription.KindSubscription, ps
		if ev.Type == "customer.subscription.deleted" {
			pe.Kind = subscription.KindSubscriptionDeleted
		}
	case "invoice.paid", "invoice.payment_failed":
		var in stripe.Invoice
		if err := json.Unmarshal(raw, &in); err != nil {
			return bad(err)
		}
		if in.Parent == nil || in.Parent.SubscriptionDetails == nil || in.Parent.SubscriptionDetails.Subscription == nil {
			return nil, "an invoice of no subscription", nil
		}
		pi := &subscription.ProviderInvoice{ID: in.ID, SubscriptionID: in.Parent.SubscriptionDetails.Subscription.ID}
		// The subscription line's period is the period paid for (the
		// invoice's own period_start/end is the one before).
		if in.Lines != nil {
			for _, l := range in.Lines.Data {
				if l.Period != nil && l.Period.End > 0 {
					pi.PeriodStart, pi.PeriodEnd = time.Unix(l.Period.Start, 0).UTC(), time.Unix(l.Period.End, 0).UTC()
					break
				}
			}
		}
		pe.Kind, pe.Invoice = subscription.KindInvoicePaid, pi
		if ev.Type == "invoice.payment_failed" {
			pe.Kind = subscription.KindPaymentFailed
		}
	default:
		return nil, "event type " + string(ev.Type) + " is not followed", nil
	}
	return pe, "", nil
}

var stripeStatus = map[stripe.SubscriptionStatus]subscription.Status{
	stripe.SubscriptionStatusTrialing:          subscription.Trialing,
	stripe.SubscriptionStatusActive:            subscription.Active,
	stripe.SubscriptionStatusPastDue:           subscription.PastDue,
	stripe.SubscriptionStatusUnpaid:            subscription.PastDue,
	stripe.SubscriptionStatusPaused:            subscription.PastDue,
	stripe.SubscriptionStatusCanceled:          subscription.Canceled,
	stripe.SubscriptionStatusIncompleteExpired: subscription.Expired,
}

func fromStripeSubscription(su *stripe.Subscription) (*subscription.ProviderSubscription, string) {
	st, ok := stripeStatus[su.Status]
	if !ok {
		// incomplete: the first payment is not through yet; its update
		// to active follows.
		return nil, "subscription status " + string(su.Status) + " is not followed"
	}
	ps := &subscription.ProviderSubscription{ID: su.ID, Status: st, CancelAtPeriodEnd: su.CancelAtPeriodEnd, Interval: subscription.Month,
		NarcidiID: su.Metadata["narcidi_subscription_id"]}
	if su.Customer != nil {
		ps.CustomerID = su.Customer.ID
	}
	if su.TrialEnd > 0 {
		t := time.Unix(su.TrialEnd, 0).UTC()
		ps.TrialEnd = &t
	}
	if su.Items != nil && len(su.Items.Data) > 0 {
		it := su.Items.Data[0]
		ps.PeriodStart, ps.PeriodEnd = time.Unix(it.CurrentPeriodStart, 0).UTC(), time.Unix(it.CurrentPeriodEnd, 0).UTC()
		if it.Price != nil {
			ps.PriceID = it.Price.ID
			if r := it.Price.Recurring; r != nil {
				ps.Interval, ps.IntervalDays = interval(r.Interval, r.IntervalCount)
			}
		}
	}
	return ps, ""
}

// interval maps Stripe's recurring interval to Narcidi's (informative:
// the periods themselves come from Stripe).
func interval(iv stripe.PriceRecurringInterval, count int64) (subscription.Interval, int) {
	if count <= 0 {
		count = 1
	}
	switch {
	case iv == stripe.PriceRecurringIntervalMonth && count == 1:
		return subscription.Month, 0
	case iv == stripe.PriceRecurringIntervalYear && count == 1:
		return subscription.Year, 0
	case iv == stripe.PriceRecurringIntervalDay:
		return subscription.Days, int(count)
	case iv == stripe.PriceRecurringIntervalWeek:
		return subscription.Days, int(7 * count)
	case iv == stripe.PriceRecurringIntervalYear:
		return subscription.Days, int(365 * count)
	default:
		return subscription.Days, int(30 * count)
	}
}
