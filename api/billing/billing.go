package billing

import (
	"encoding/json"
	"errors"
	"log/slog"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/nzilacode/narcidicontrole/licensing"
	"github.com/nzilacode/narcidicontrole/licensing/subscription"
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
	// StripeMode is "live" or "test": an event of the other mode is
	// refused (a test endpoint's secret pointed at the live server). Empty:
	// both are taken.
	StripeMode string
	// Metrics counts the events by outcome (nil: counts nothing); Logger
	// reports those that could not be applied (default slog.Default).
	Metrics *Metrics
	Logger  *slog.Logger
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
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Handlers{cfg: cfg}
}

// BodyLimit is the largest event body the billing endpoints take. Stripe's
// events carry the whole object (an invoice with its lines: up to a few
// hundred kB); the API's general limit is far smaller.
const BodyLimit = 1 << 20

// GenericSignatureHeader carries the generic endpoint's signature:
// t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>"> (Stripe's scheme).
const GenericSignatureHeader = "Narcidi-Billing-Signature"

// verify checks the body's signature in header (Stripe's scheme, for both
// endpoints); it does not read the body.
func (h *Handlers) verify(c *fiber.Ctx, secret, header string) error {
	if secret == "" {
		return licensing.Errorf(licensing.ENotFound, "this billing endpoint is not configured")
	}
	if len(c.Body()) > BodyLimit {
		return licensing.Errorf(licensing.ETooLarge, "the event is larger than %d bytes", BodyLimit)
	}
	err := webhook.ValidatePayloadWithTolerance(c.Body(), c.Get(header), secret, h.cfg.Tolerance)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, webhook.ErrTooOld):
		return licensing.Errorf(licensing.EUnauthorized, "the signature's timestamp is too old (a replay?)")
	default:
		return licensing.Errorf(licensing.EUnauthorized, "the %s header does not sign this body", header)
	}
}

// Stripe is POST /v1/billing/stripe/webhook. Events are read from their
// raw JSON in both of Stripe's shapes (before and after API version
// 2025-03-31.basil), whatever the endpoint's version: an event whose
// object cannot be read answers 400 (Stripe delivers it again) and is
// logged and counted, never acknowledged with 200.
func (h *Handlers) Stripe(c *fiber.Ctx) error {
	if err := h.verify(c, h.cfg.StripeSecret, "Stripe-Signature"); err != nil {
		return err
	}
	var env stripeEnvelope
	if err := json.Unmarshal(c.Body(), &env); err != nil || env.ID == "" || env.Type == "" {
		return h.refuse(c, "stripe", "unknown", "", outcomeUnreadable, licensing.Errorf(licensing.EMalformed, "the body is not a Stripe event"))
	}
	if want := h.cfg.StripeMode; want != "" && env.Livemode != (want == "live") {
		return h.refuse(c, "stripe", env.Type, env.ID, outcomeRefused,
			licensing.Errorf(licensing.EInvalid, "a livemode=%t event reached an endpoint configured for %s mode", env.Livemode, want))
	}
	pe, ignored, err := fromStripe(&env)
	if err != nil {
		return h.refuse(c, "stripe", env.Type, env.ID, outcomeUnreadable, err)
	}
	if ignored != "" {
		h.cfg.Metrics.count("stripe", env.Type, outcomeIgnored)
		return c.JSON(subscription.Outcome{Ignored: ignored})
	}
	return h.apply(c, env.Type, pe)
}

// Generic is POST /v1/billing/events: the body is a
// subscription.ProviderEvent, signed in Narcidi-Billing-Signature.
func (h *Handlers) Generic(c *fiber.Ctx) error {
	if err := h.verify(c, h.cfg.GenericSecret, GenericSignatureHeader); err != nil {
		return err
	}
	var pe subscription.ProviderEvent
	if err := json.Unmarshal(c.Body(), &pe); err != nil {
		return h.refuse(c, subscription.ProviderGeneric, "unknown", "", outcomeUnreadable, licensing.Wrap(licensing.EMalformed, err, "the body is not a billing event"))
	}
	if pe.Provider == "" {
		pe.Provider = subscription.ProviderGeneric
	}
	if pe.Provider == subscription.ProviderStripe || pe.Provider == subscription.ProviderManual {
		return h.refuse(c, pe.Provider, string(pe.Kind), pe.ID, outcomeRefused, licensing.Errorf(licensing.EInvalid, "provider %q is reserved", pe.Provider))
	}
	return h.apply(c, string(pe.Kind), &pe)
}

func (h *Handlers) apply(c *fiber.Ctx, typ string, pe *subscription.ProviderEvent) error {
	out, err := h.cfg.Subscriptions.Apply(c.UserContext(), *pe)
	if err != nil {
		outcome := outcomeRefused
		if code := licensing.ErrorCode(err); code == licensing.EUnavailable || code == licensing.EInternal {
			outcome = outcomeFailed
		} else if code == licensing.EConflict {
			outcome = outcomeRetry
		}
		return h.refuse(c, pe.Provider, typ, pe.ID, outcome, err)
	}
	switch {
	case out.Duplicate:
		h.cfg.Metrics.count(pe.Provider, typ, outcomeDuplicate)
	case out.Ignored != "":
		h.cfg.Metrics.count(pe.Provider, typ, outcomeIgnored)
	default:
		h.cfg.Metrics.count(pe.Provider, typ, outcomeApplied)
	}
	if len(out.Warnings) > 0 {
		h.cfg.Logger.Warn("billing event applied in part", "provider", pe.Provider, "event_id", pe.ID, "type", typ, "warnings", out.Warnings)
	}
	return c.JSON(out)
}

// refuse logs and counts an event that was not applied, and answers err
// (never 2xx: the provider delivers it again, and the alert on the
// counter tells someone).
func (h *Handlers) refuse(c *fiber.Ctx, provider, typ, id, outcome string, err error) error {
	h.cfg.Metrics.count(provider, typ, outcome)
	level := slog.LevelError
	if outcome == outcomeRetry {
		level = slog.LevelWarn // expected while events race: the provider retries
	}
	h.cfg.Logger.Log(c.UserContext(), level, "billing event not applied", "provider", provider, "event_id", id, "type", typ,
		"outcome", outcome, "error", err)
	return err
}

// stripeEnvelope is the part of a Stripe event read before its object.
type stripeEnvelope struct {
	ID       string `json:"id"`
	Type     string `json:"type"`
	Created  int64  `json:"created"`
	Livemode bool   `json:"livemode"`
	Data     struct {
		Object json.RawMessage `json:"object"`
	} `json:"data"`
}

// fromStripe maps a Stripe event; ignored says why one that Narcidi does
// not follow is acknowledged without effect.
func fromStripe(ev *stripeEnvelope) (*subscription.ProviderEvent, string, error) {
	if len(ev.Data.Object) == 0 || ev.Created <= 0 {
		return nil, "", licensing.Errorf(licensing.EMalformed, "the event has no data.object or created")
	}
	pe := &subscription.ProviderEvent{Provider: subscription.ProviderStripe, ID: ev.ID, Created: time.Unix(ev.Created, 0).UTC()}
	raw := ev.Data.Object
	bad := func(err error) (*subscription.ProviderEvent, string, error) {
		return nil, "", licensing.Wrap(licensing.EMalformed, err, "the event's "+ev.Type+" object could not be read")
	}
	switch ev.Type {
	case "customer.created", "customer.updated":
		var cu struct{ ID, Name, Email string }
		if err := json.Unmarshal(raw, &cu); err != nil || cu.ID == "" {
			return bad(orMissing(err, "id"))
		}
		pe.Kind, pe.Customer = subscription.KindCustomer, &subscription.ProviderCustomer{ID: cu.ID, Name: cu.Name, Email: cu.Email}
	case "customer.subscription.created", "customer.subscription.updated", "customer.subscription.deleted",
		"customer.subscription.paused", "customer.subscription.resumed":
		ps, err := readSubscription(raw)
		if err != nil {
			return bad(err)
		}
		pe.Kind, pe.Subscription = subscription.KindSubscription, ps
		if ev.Type == "customer.subscription.deleted" {
			pe.Kind = subscription.KindSubscriptionDeleted
		}
	case "invoice.paid", "invoice.payment_failed":
		pi, ignored, err := readInvoice(raw)
		if err != nil {
			return bad(err)
		}
		if ignored != "" {
			return nil, ignored, nil
		}
		pe.Kind, pe.Invoice = subscription.KindInvoicePaid, pi
		if ev.Type == "invoice.payment_failed" {
			pe.Kind = subscription.KindPaymentFailed
		}
	case "charge.refunded":
		var ch struct {
			ID             string `json:"id"`
			Amount         int64  `json:"amount"`
			AmountRefunded int64  `json:"amount_refunded"`
			Refunded       bool   `json:"refunded"`
			PaymentIntent  ref    `json:"payment_intent"`
			Invoice        ref    `json:"invoice"`
		}
		if err := json.Unmarshal(raw, &ch); err != nil || ch.ID == "" {
			return bad(orMissing(err, "id"))
		}
		pe.Kind = subscription.KindRefund
		pe.Payment = &subscription.ProviderPayment{ID: ch.ID, Refs: refs(ch.ID, string(ch.PaymentIntent), string(ch.Invoice)),
			Full: ch.Refunded || (ch.Amount > 0 && ch.AmountRefunded >= ch.Amount)}
	case "charge.dispute.created":
		var dp struct {
			ID            string `json:"id"`
			Charge        ref    `json:"charge"`
			PaymentIntent ref    `json:"payment_intent"`
		}
		if err := json.Unmarshal(raw, &dp); err != nil || dp.ID == "" || dp.Charge == "" {
			return bad(orMissing(err, "id and charge"))
		}
		pe.Kind = subscription.KindDispute
		pe.Payment = &subscription.ProviderPayment{ID: dp.ID, Refs: refs(string(dp.Charge), string(dp.PaymentIntent))}
	default:
		return nil, "event type " + ev.Type + " is not followed", nil
	}
	return pe, "", nil
}
