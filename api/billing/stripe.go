package billing

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nzilacode/narcidicontrole/licensing/subscription"
	"github.com/prometheus/client_golang/prometheus"
)

// Stripe changed where a subscription's period and an invoice's
// subscription live in API version 2025-03-31.basil: the period moved from
// the subscription to each of its items, and the invoice's subscription
// from its top level to parent.subscription_details. A webhook endpoint's
// version is the vendor's choice, and stripe-go v82 reads only the new
// shape, so the fields Narcidi needs are read here from the raw JSON, in
// both shapes.

// ref is a Stripe reference: an id, or the object expanded (its id).
type ref string

func (r *ref) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case bytes.Equal(b, []byte("null")):
		*r = ""
	case len(b) > 0 && b[0] == '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*r = ref(s)
	default:
		var o struct {
			ID string `json:"id"`
		}
		if err := json.Unmarshal(b, &o); err != nil {
			return err
		}
		*r = ref(o.ID)
	}
	return nil
}

func refs(ids ...string) []string {
	var out []string
	for _, id := range ids {
		if id != "" {
			out = append(out, id)
		}
	}
	return out
}

func orMissing(err error, what string) error {
	if err != nil {
		return err
	}
	return errors.New("missing " + what)
}

type stripePeriod struct {
	Start int64 `json:"current_period_start"`
	End   int64 `json:"current_period_end"`
}

type stripeSubscription struct {
	ID                string            `json:"id"`
	Customer          ref               `json:"customer"`
	Status            string            `json:"status"`
	CancelAtPeriodEnd bool              `json:"cancel_at_period_end"`
	CancelAt          int64             `json:"cancel_at"`
	EndedAt           int64             `json:"ended_at"`
	TrialEnd          int64             `json:"trial_end"`
	Metadata          map[string]string `json:"metadata"`
	stripePeriod                        // before basil
	Items             struct {
		Data []struct {
			stripePeriod     // basil and after
			Quantity     int `json:"quantity"`
			Price        *struct {
				ID        string `json:"id"`
				Recurring *struct {
					Interval      string `json:"interval"`
					IntervalCount int64  `json:"interval_count"`
				} `json:"recurring"`
			} `json:"price"`
			Plan *struct {
				ID string `json:"id"`
			} `json:"plan"`
		} `json:"data"`
	} `json:"items"`
}

var stripeStatus = map[string]subscription.Status{
	"trialing":           subscription.Trialing,
	"active":             subscription.Active,
	"past_due":           subscription.PastDue,
	"unpaid":             subscription.Unpaid,
	"paused":             subscription.Paused,
	"canceled":           subscription.Canceled,
	"incomplete":         subscription.Incomplete,
	"incomplete_expired": subscription.Expired,
}

// readSubscription reads a Stripe subscription of either shape: the
// period from its items (basil and after; the latest end of them) or from
// itself (before); every item with its price and quantity.
func readSubscription(raw []byte) (*subscription.ProviderSubscription, error) {
	var su stripeSubscription
	if err := json.Unmarshal(raw, &su); err != nil {
		return nil, err
	}
	if su.ID == "" || su.Customer == "" {
		return nil, errors.New("missing id or customer")
	}
	st, ok := stripeStatus[su.Status]
	if !ok {
		return nil, fmt.Errorf("unknown subscription status %q", su.Status)
	}
	ps := &subscription.ProviderSubscription{ID: su.ID, CustomerID: string(su.Customer), Status: st, CancelAtPeriodEnd: su.CancelAtPeriodEnd,
		Interval: subscription.Month, NarcidiID: su.Metadata["narcidi_subscription_id"],
		CancelAt: unixPtr(su.CancelAt), EndedAt: unixPtr(su.EndedAt), TrialEnd: unixPtr(su.TrialEnd)}
	period := su.stripePeriod
	for i, it := range su.Items.Data {
		if it.End > period.End {
			period = it.stripePeriod
		}
		item := subscription.ProviderItem{Quantity: it.Quantity}
		switch {
		case it.Price != nil:
			item.PriceID = it.Price.ID
			if r := it.Price.Recurring; r != nil && i == 0 {
				ps.Interval, ps.IntervalDays = interval(r.Interval, r.IntervalCount)
			}
		case it.Plan != nil:
			item.PriceID = it.Plan.ID
		}
		ps.Items = append(ps.Items, item)
	}
	if period.End <= 0 {
		return nil, errors.New("no current period: neither on the subscription (before 2025-03-31.basil) nor on its items")
	}
	ps.PeriodStart, ps.PeriodEnd = time.Unix(period.Start, 0).UTC(), time.Unix(period.End, 0).UTC()
	return ps, nil
}

type stripeInvoice struct {
	ID            string `json:"id"`
	BillingReason string `json:"billing_reason"`
	AmountPaid    int64  `json:"amount_paid"`
	Currency      string `json:"currency"`
	Subscription  ref    `json:"subscription"` // before basil
	PaymentIntent ref    `json:"payment_intent"`
	Charge        ref    `json:"charge"`
	Parent        *struct {
		SubscriptionDetails *struct {
			Subscription ref `json:"subscription"`
		} `json:"subscription_details"`
	} `json:"parent"` // basil and after
	Payments *struct {
		Data []struct {
			Payment struct {
				PaymentIntent ref `json:"payment_intent"`
				Charge        ref `json:"charge"`
			} `json:"payment"`
		} `json:"data"`
	} `json:"payments"`
	Lines struct {
		Data []struct {
			Type      string `json:"type"`      // before basil: subscription, invoiceitem
			Proration bool   `json:"proration"` // before basil
			Period    struct {
				Start int64 `json:"start"`
				End   int64 `json:"end"`
			} `json:"period"`
			Parent *struct {
				Type                    string `json:"type"`
				SubscriptionItemDetails *struct {
					Proration bool `json:"proration"`
				} `json:"subscription_item_details"`
			} `json:"parent"` // basil and after
		} `json:"data"`
	} `json:"lines"`
}

// readInvoice reads a Stripe invoice of either shape. The period paid for
// is the subscription's own line (not a proration's): the latest end of
// those; an invoice of prorations only pays no period. An invoice without
// a subscription is ignored, unless it says it was billed for one (then
// its shape is not understood, and it is refused).
func readInvoice(raw []byte) (*subscription.ProviderInvoice, string, error) {
	var in stripeInvoice
	if err := json.Unmarshal(raw, &in); err != nil {
		return nil, "", err
	}
	if in.ID == "" {
		return nil, "", errors.New("missing id")
	}
	subID := string(in.Subscription)
	if in.Parent != nil && in.Parent.SubscriptionDetails != nil && in.Parent.SubscriptionDetails.Subscription != "" {
		subID = string(in.Parent.SubscriptionDetails.Subscription)
	}
	if subID == "" {
		if strings.HasPrefix(in.BillingReason, "subscription") {
			return nil, "", fmt.Errorf("billed for a subscription (%s) that it does not name", in.BillingReason)
		}
		return nil, "an invoice of no subscription", nil
	}
	pi := &subscription.ProviderInvoice{ID: in.ID, SubscriptionID: subID, AmountPaid: in.AmountPaid, Currency: in.Currency,
		PaymentRefs: refs(string(in.PaymentIntent), string(in.Charge))}
	if in.Payments != nil {
		for _, p := range in.Payments.Data {
			pi.PaymentRefs = append(pi.PaymentRefs, refs(string(p.Payment.PaymentIntent), string(p.Payment.Charge))...)
		}
	}
	for _, l := range in.Lines.Data {
		var periodic bool
		if l.Parent != nil {
			periodic = l.Parent.Type == "subscription_item_details" && l.Parent.SubscriptionItemDetails != nil && !l.Parent.SubscriptionItemDetails.Proration
		} else {
			// Before basil a subscription's line is of type subscription;
			// a line naming no type at all is taken unless a proration.
			periodic = (l.Type == "subscription" || l.Type == "") && !l.Proration
		}
		if periodic && l.Period.End > pi.PeriodEnd.Unix() {
			pi.PeriodStart, pi.PeriodEnd = time.Unix(l.Period.Start, 0).UTC(), time.Unix(l.Period.End, 0).UTC()
		}
	}
	return pi, "", nil
}

func unixPtr(sec int64) *time.Time {
	if sec <= 0 {
		return nil
	}
	t := time.Unix(sec, 0).UTC()
	return &t
}

// interval maps Stripe's recurring interval to Narcidi's (informative:
// the periods themselves come from Stripe).
func interval(iv string, count int64) (subscription.Interval, int) {
	if count <= 0 {
		count = 1
	}
	switch {
	case iv == "month" && count == 1:
		return subscription.Month, 0
	case iv == "year" && count == 1:
		return subscription.Year, 0
	case iv == "day":
		return subscription.Days, int(min(count, 3660))
	case iv == "week":
		return subscription.Days, int(min(7*count, 3660))
	case iv == "year":
		return subscription.Days, int(min(365*count, 3660))
	default:
		return subscription.Days, int(min(30*count, 3660))
	}
}

// Outcomes of a billing event, the outcome label of
// narcidi_billing_events_total.
const (
	outcomeApplied    = "applied"
	outcomeDuplicate  = "duplicate"
	outcomeIgnored    = "ignored"    // acknowledged, nothing to do
	outcomeRetry      = "retry"      // refused for now (its subscription is not known yet)
	outcomeRefused    = "refused"    // refused: bad input (unknown price, livemode...)
	outcomeUnreadable = "unreadable" // refused: the event's shape is not understood
	outcomeFailed     = "failed"     // the database failed
)

// Metrics count the billing events by provider, type and outcome: alert
// on unreadable, refused and failed ones, which were not applied.
type Metrics struct {
	events *prometheus.CounterVec
}

// NewMetrics registers the billing series on reg.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{events: prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "narcidi_billing_events_total",
		Help: "Billing provider events received, by provider, event type and outcome (applied, duplicate, ignored, retry, refused, unreadable, failed).",
	}, []string{"provider", "type", "outcome"})}
	if err := reg.Register(m.events); err != nil {
		return nil, err
	}
	// The outcomes that alert start at 0 for each provider, without a
	// type: the series exist from start-up, so the alert's increase()
	// counts the first unapplied event of a process too.
	for _, provider := range []string{subscription.ProviderStripe, subscription.ProviderGeneric} {
		for _, outcome := range []string{outcomeRefused, outcomeUnreadable, outcomeFailed} {
			m.events.WithLabelValues(provider, "", outcome)
		}
	}
	return m, nil
}

// Counter is the series of one provider, event type and outcome.
func (m *Metrics) Counter(provider, typ, outcome string) prometheus.Counter {
	return m.events.WithLabelValues(provider, typ, outcome)
}

func (m *Metrics) count(provider, typ, outcome string) {
	if m == nil {
		return
	}
	if len(typ) > 64 {
		typ = "other"
	}
	m.events.WithLabelValues(provider, typ, outcome).Inc()
}
