package subscription

import (
	"time"

	"github.com/nzilacode/narcidicontrole/licensing"
)

// Kind is what a provider event reports.
type Kind string

const (
	KindCustomer            Kind = "customer"             // created or updated
	KindSubscription        Kind = "subscription"         // created or updated
	KindSubscriptionDeleted Kind = "subscription.deleted" // ended (at period end, or at once)
	KindInvoicePaid         Kind = "invoice.paid"
	KindPaymentFailed       Kind = "invoice.payment_failed"
	KindRefund              Kind = "payment.refunded" // a payment refunded in full
	KindDispute             Kind = "payment.disputed" // a dispute (chargeback) opened on a payment
)

// ProviderEvent is one billing event in Narcidi's terms: what the Stripe
// adapter makes of Stripe's events, and what the generic billing endpoint
// takes as its body.
type ProviderEvent struct {
	Provider string `json:"provider"`
	// ID is the provider's event id: each is applied once.
	ID   string `json:"id"`
	Kind Kind   `json:"type"`
	// Created is when the provider created the event (orders updates).
	Created      time.Time             `json:"created"`
	Customer     *ProviderCustomer     `json:"customer,omitempty"`
	Subscription *ProviderSubscription `json:"subscription,omitempty"`
	Invoice      *ProviderInvoice      `json:"invoice,omitempty"`
	Payment      *ProviderPayment      `json:"payment,omitempty"`
}

// ProviderCustomer is a provider's customer.
type ProviderCustomer struct {
	ID    string `json:"id"`
	Name  string `json:"name,omitempty"`
	Email string `json:"email,omitempty"`
}

// ProviderSubscription is a provider's view of a subscription.
type ProviderSubscription struct {
	ID         string `json:"id"`
	CustomerID string `json:"customer_id"`
	// Items are what the subscription sells: each price is mapped to a
	// policy by the configured prices, or names a policy directly (the
	// generic endpoint). PriceID, PolicyID and Quantity are the shorthand
	// of one item.
	Items        []ProviderItem `json:"items,omitempty"`
	PriceID      string         `json:"price_id,omitempty"`
	PolicyID     string         `json:"policy_id,omitempty"`
	Quantity     int            `json:"quantity,omitempty"`
	Status       Status         `json:"status"`
	Interval     Interval       `json:"interval"`
	IntervalDays int            `json:"interval_days,omitempty"`
	// The current period: paid through PeriodEnd while active.
	PeriodStart       time.Time `json:"period_start"`
	PeriodEnd         time.Time `json:"period_end"`
	CancelAtPeriodEnd bool      `json:"cancel_at_period_end"`
	// CancelAt is the date the provider ends it; EndedAt when it ended.
	CancelAt *time.Time `json:"cancel_at,omitempty"`
	EndedAt  *time.Time `json:"ended_at,omitempty"`
	TrialEnd *time.Time `json:"trial_end,omitempty"`
	// NarcidiID links the provider's subscription to an existing Narcidi
	// one (e.g. a trial being converted: its licenses and machines stay).
	NarcidiID string `json:"narcidi_subscription_id,omitempty"`
}

// ProviderItem is one price of a subscription and its quantity (units of
// the policy's seats).
type ProviderItem struct {
	PriceID  string `json:"price_id,omitempty"`
	PolicyID string `json:"policy_id,omitempty"`
	Quantity int    `json:"quantity,omitempty"`
}

func (ps *ProviderSubscription) items() []ProviderItem {
	if len(ps.Items) > 0 {
		return ps.Items
	}
	if ps.PriceID == "" && ps.PolicyID == "" {
		return nil
	}
	return []ProviderItem{{PriceID: ps.PriceID, PolicyID: ps.PolicyID, Quantity: ps.Quantity}}
}

// ProviderInvoice is a provider's invoice of a subscription.
type ProviderInvoice struct {
	ID             string `json:"id"`
	SubscriptionID string `json:"subscription_id"`
	// The subscription period the invoice pays for (not a proration's):
	// zero for an invoice of prorations only.
	PeriodStart time.Time `json:"period_start"`
	PeriodEnd   time.Time `json:"period_end"`
	AmountPaid  int64     `json:"amount_paid,omitempty"`
	Currency    string    `json:"currency,omitempty"`
	// PaymentRefs are the ids of the payment (payment intent, charge) that
	// a refund or a dispute will name.
	PaymentRefs []string `json:"payment_refs,omitempty"`
}

// ProviderPayment is a payment refunded or disputed.
type ProviderPayment struct {
	// ID is the refund's or dispute's object (a charge, a dispute).
	ID string `json:"id"`
	// Refs are the payment's ids (payment intent, charge, invoice): one of
	// them names a paid invoice seen before.
	Refs []string `json:"refs"`
	// Full: a refund of the whole amount (a partial refund changes
	// nothing).
	Full bool `json:"full,omitempty"`
}

// Outcome is what Apply did.
type Outcome struct {
	// Duplicate: the event id was applied before (nothing done).
	Duplicate bool `json:"duplicate,omitempty"`
	// Ignored says why the event changed nothing (stale, irrelevant).
	Ignored        string `json:"ignored,omitempty"`
	SubscriptionID string `json:"subscription_id,omitempty"`
	// Effect says what the event did to the subscription and its licenses.
	Effect string `json:"effect,omitempty"`
	// Warnings are parts of the provider's state Narcidi could not follow
	// (a price mapped to no policy, more machines than seats): the rest
	// was applied.
	Warnings []string `json:"warnings,omitempty"`
}

func (e *ProviderEvent) check() error {
	switch {
	case e.Provider == "" || len(e.Provider) > 32:
		return licensing.FieldErrorf("provider", "provider is required")
	case e.ID == "" || len(e.ID) > 255:
		return licensing.FieldErrorf("id", "id is required (at most 255 characters)")
	case e.Created.IsZero():
		return licensing.FieldErrorf("created", "created is required")
	}
	switch e.Kind {
	case KindCustomer:
		if e.Customer == nil || e.Customer.ID == "" {
			return licensing.FieldErrorf("customer.id", "a customer event needs customer.id")
		}
	case KindSubscription, KindSubscriptionDeleted:
		ps := e.Subscription
		if ps == nil || ps.ID == "" || ps.CustomerID == "" {
			return licensing.FieldErrorf("subscription", "a subscription event needs subscription.id and subscription.customer_id")
		}
		if !ps.Status.Valid() && !(e.Kind == KindSubscriptionDeleted && ps.Status == "") {
			return licensing.FieldErrorf("subscription.status", "subscription.status must be incomplete, trialing, active, past_due, unpaid, paused, canceled or expired")
		}
		if ps.PeriodEnd.IsZero() && (ps.Status == Active || ps.Status == PastDue || (ps.Status == Trialing && ps.TrialEnd == nil)) {
			return licensing.FieldErrorf("subscription.period_end", "subscription.period_end is required for a %s subscription", ps.Status)
		}
	case KindInvoicePaid, KindPaymentFailed:
		if e.Invoice == nil || e.Invoice.SubscriptionID == "" {
			return licensing.FieldErrorf("invoice.subscription_id", "an invoice event needs invoice.subscription_id")
		}
	case KindRefund, KindDispute:
		if e.Payment == nil || len(e.Payment.Refs) == 0 {
			return licensing.FieldErrorf("payment.refs", "a refund or dispute event needs payment.refs")
		}
	default:
		return licensing.FieldErrorf("type", "unknown event type %q", e.Kind)
	}
	return nil
}
