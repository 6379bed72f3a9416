package subscription

import (
	"context"
	"time"

	"github.com/nzilacode/narcidicontrole/licensing"
)

// Status is where a subscription is in its life.
type Status string

const (
	Trialing Status = "trialing"
	Active   Status = "active"
	PastDue  Status = "past_due"
	Canceled Status = "canceled" // ended before its period (cancel at once, refund)
	Expired  Status = "expired"  // ran to the end of its last period
	// A provider's states beyond those: the first payment not through yet
	// (no license runs), retries exhausted with the invoice left open
	// (licenses suspended), a trial ended without a payment method (the
	// licenses end with the trial).
	Incomplete Status = "incomplete"
	Unpaid     Status = "unpaid"
	Paused     Status = "paused"
)

// Valid reports whether s is a status.
func (s Status) Valid() bool {
	switch s {
	case Trialing, Active, PastDue, Canceled, Expired, Incomplete, Unpaid, Paused:
		return true
	}
	return false
}

// ended reports whether the subscription no longer drives its licenses.
func (s Status) ended() bool { return s == Canceled || s == Expired }

// Interval is a subscription's billing period.
type Interval string

const (
	Month Interval = "month"
	Year  Interval = "year"
	Days  Interval = "days" // IntervalDays days
)

// next returns the end of a period of iv starting at t.
func next(iv Interval, days int, t time.Time) time.Time {
	switch iv {
	case Year:
		return t.AddDate(1, 0, 0)
	case Days:
		return t.AddDate(0, 0, days)
	default:
		return t.AddDate(0, 1, 0)
	}
}

func checkInterval(iv Interval, days int) error {
	switch iv {
	case Month, Year:
		if days != 0 {
			return licensing.FieldErrorf("interval_days", "interval_days goes with interval %q only", Days)
		}
		return nil
	case Days:
		if days < 1 || days > 3660 {
			return licensing.FieldErrorf("interval_days", "interval_days must be 1 to 3660")
		}
		return nil
	}
	return licensing.FieldErrorf("interval", "interval must be month, year or days")
}

// Providers. "manual" subscriptions are driven by admins and the generic
// billing endpoint; others by their provider's events.
const (
	ProviderManual  = "manual"
	ProviderStripe  = "stripe"
	ProviderGeneric = "generic"
)

// Subscription is a customer's subscription to a plan.
// Its time and provider fields are alike other records' (licensing.Machine,
// licensing.Delivery, insights.Record) by shape only: JSON-tagged columns.
type Subscription struct {
	ID           string   `json:"id"`
	CustomerID   string   `json:"customer_id"`
	PolicyID     string   `json:"policy_id"`
	Interval     Interval `json:"interval"`
	IntervalDays int      `json:"interval_days,omitempty"`
	Status       Status   `json:"status"`
	// The current billing period.
	CurrentPeriodStart *time.Time `json:"current_period_start,omitempty"`
	CurrentPeriodEnd   *time.Time `json:"current_period_end,omitempty"`
	// PaidThrough is the latest period end paid for: the licenses run to
	// it. It never moves back, which makes renewals idempotent.
	PaidThrough       *time.Time `json:"paid_through,omitempty"`
	CancelAtPeriodEnd bool       `json:"cancel_at_period_end"`
	CanceledAt        *time.Time `json:"canceled_at,omitempty"`
	TrialEnd          *time.Time `json:"trial_end,omitempty"`
	TrialNoticeAt     *time.Time `json:"trial_notice_at,omitempty"`
	// Dunning: when the subscription fell past due, when its licenses are
	// suspended if still unpaid, the reminder sent, and whether the
	// licenses were suspended for it (so a payment reinstates exactly those).
	PastDueSince      *time.Time `json:"past_due_since,omitempty"`
	DunningEndsAt     *time.Time `json:"dunning_ends_at,omitempty"`
	DunningNoticeAt   *time.Time `json:"dunning_notice_at,omitempty"`
	LicensesSuspended bool       `json:"licenses_suspended"`
	// The provider and its ids; ProviderUpdatedAt is the creation time of
	// the last provider event applied (older ones change nothing).
	Provider               string     `json:"provider"`
	ProviderCustomerID     string     `json:"provider_customer_id,omitempty"`
	ProviderSubscriptionID string     `json:"provider_subscription_id,omitempty"`
	ProviderUpdatedAt      *time.Time `json:"provider_updated_at,omitempty"`
	LastPaidAt             *time.Time `json:"last_paid_at,omitempty"`
	LastPaymentFailedAt    *time.Time `json:"last_payment_failed_at,omitempty"`
	// LicenseIDs are the licenses the subscription governs.
	LicenseIDs []string `json:"license_ids"`
	// Seats is the quantity the provider bills (0: not a provider's), and
	// CancelAt the date the provider will end the subscription, if set.
	Seats    int        `json:"seats,omitempty"`
	CancelAt *time.Time `json:"cancel_at,omitempty"`
	// OverSeats is how many machines the licenses hold beyond the seats of
	// the plan the provider moved them to: no new machine activates until
	// the customer frees that many (the portal), and the console says so.
	OverSeats int `json:"over_seats,omitempty"`
	// Version counts the row's updates: UpdateSubscription writes only
	// over the version it read.
	Version   int64             `json:"version"`
	Metadata  map[string]string `json:"metadata,omitempty"`
	CreatedAt time.Time         `json:"created_at"`
	UpdatedAt time.Time         `json:"updated_at"`
}

// Filter narrows a listing.
type Filter struct {
	CustomerID string
	Status     Status
	Provider   string
}

// Store is the data subscriptions need. Every method returns ENotFound
// when a row is missing, EConflict when a unique rule is broken,
// EUnavailable when the database cannot be reached, EInternal otherwise.
// Changes run inside InTx with the subscription row locked
// (LockSubscription / FindByProvider with lock): that serializes every
// change of one subscription, webhooks and admins alike. Safe for
// concurrent use.
type Store interface {
	licensing.Tx[Store]
	licensing.EventAppender
	CreateSubscription(ctx context.Context, s *Subscription) error // EConflict: the provider id is taken
	GetSubscription(ctx context.Context, id string) (*Subscription, error)
	// LockSubscription reads and locks the row until the transaction ends.
	LockSubscription(ctx context.Context, id string) (*Subscription, error)
	// FindByProvider finds the subscription of a provider's id (locking it
	// with lock, inside InTx).
	FindByProvider(ctx context.Context, provider, providerID string, lock bool) (*Subscription, error)
	ListSubscriptions(ctx context.Context, f Filter, page licensing.Page) ([]Subscription, error)
	// UpdateSubscription saves the fields that differ between before (the
	// row as read) and after, on the condition that the row is still as
	// read (EConflict otherwise): never a write-back of a whole row.
	UpdateSubscription(ctx context.Context, before, after *Subscription) error
	// DueSubscriptions returns up to limit live subscriptions with an id
	// after after (keyset order) that have something due at now: a
	// dunning window ended or within a day of its end without notice, a
	// period ended with the subscription canceled at its end, a trial
	// ending before horizon without notice, a manual trial ended.
	DueSubscriptions(ctx context.Context, now, horizon time.Time, after string, limit int) ([]Subscription, error)

	// ClaimProviderEvent records a provider event id as processed: false
	// when it already was (another delivery, possibly concurrent, won).
	// The claim is part of the transaction: a rollback frees it.
	ClaimProviderEvent(ctx context.Context, provider, eventID, kind string, now time.Time) (bool, error)
	// NoteProviderEvent records what a claimed event did: the subscription
	// it concerned, the provider's object (an invoice, a charge), its
	// payment reference and the effect, for the console and for refunds
	// and disputes, which name only the payment.
	NoteProviderEvent(ctx context.Context, n EventNote) error
	// ProviderEvents lists the notes of a subscription's events, newest
	// first.
	ProviderEvents(ctx context.Context, subscriptionID string, limit int) ([]EventNote, error)
	// SubscriptionOfPayment returns the subscription whose paid invoice
	// carried one of refs (a payment intent, a charge, an invoice id):
	// ENotFound when none did.
	SubscriptionOfPayment(ctx context.Context, provider string, refs []string) (string, error)
	// ProviderCustomer returns the customer linked to a provider's
	// customer id (ENotFound); LinkCustomer links one.
	ProviderCustomer(ctx context.Context, provider, providerCustomerID string) (string, error)
	LinkCustomer(ctx context.Context, provider, providerCustomerID, customerID string, now time.Time) error
	// TouchCustomerLink moves a link's last applied customer event time to
	// at when it is older: false when a newer one was applied already.
	TouchCustomerLink(ctx context.Context, provider, providerCustomerID string, at time.Time) (bool, error)

	// The stores of the licensing services a subscription drives, bound to
	// the same database (inside InTx: to the same transaction).
	LicensesStore() licensing.LicensesStore
	CustomersStore() licensing.CustomersStore
	// MetersStore is the meters' store: each paid period starts a new
	// period of the governed licenses' meters.
	MetersStore() licensing.MetersStore
}

// EventNote is what one provider event did.
type EventNote struct {
	Provider       string `json:"provider"`
	EventID        string `json:"event_id"`
	Kind           string `json:"kind"`
	SubscriptionID string `json:"subscription_id,omitempty"`
	ObjectID       string `json:"object_id,omitempty"`
	// PaymentRefs are the payment's ids (payment intent, charge) an
	// invoice was paid with.
	PaymentRefs []string  `json:"payment_refs,omitempty"`
	AmountPaid  int64     `json:"amount_paid,omitempty"`
	Currency    string    `json:"currency,omitempty"`
	Effect      string    `json:"effect"`
	ProcessedAt time.Time `json:"processed_at"`
}
