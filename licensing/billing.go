package licensing

import (
	"context"
	"errors"
	"strconv"
	"time"
)

// What subscriptions (licensing/subscription) need of this package: their
// event actions, the trial rule Leasing.Activate applies, and the license
// paths of Licenses and Customers run inside a subscription's own
// transaction (Within), so a paid period, a dunning suspension or a
// cancellation changes the licenses exactly as an admin's action would,
// atomically with the subscription's own row.

// Subscription actions, recorded by licensing/subscription (declared here so
// the one registry holds them).
const (
	ActionSubscriptionCreated     = "subscription.created"
	ActionSubscriptionUpdated     = "subscription.updated"        // provider sync: status, period, cancel flag
	ActionSubscriptionRenewed     = "subscription.renewed"        // a paid period: its licenses run to its end
	ActionSubscriptionPastDue     = "subscription.past_due"       // a payment failed: the dunning window starts (the notice)
	ActionSubscriptionDunning     = "subscription.dunning_notice" // a reminder within the dunning window
	ActionSubscriptionSuspended   = "subscription.suspended"      // the dunning window ended unpaid: licenses suspended
	ActionSubscriptionPlanChanged = "subscription.plan_changed"
	ActionSubscriptionCanceled    = "subscription.canceled" // at once, or marked to end with its period
	ActionSubscriptionResumed     = "subscription.resumed"
	ActionSubscriptionExpired     = "subscription.expired"    // ran to the end of its last period
	ActionTrialStarted            = "trial.started"           // a trial's clock started at first activation
	ActionTrialEnding             = "trial.ending"            // a notice before a trial ends
	ActionSubscriptionOverSeats   = "subscription.over_seats" // the provider's plan has fewer seats than machines in use
	ActionSubscriptionRefunded    = "subscription.refunded"   // a payment refunded in full: refund_action applied
	ActionSubscriptionDisputed    = "subscription.disputed"   // a payment disputed: dispute_action applied
)

// Policy metadata keys that make a policy a trial and tune subscriptions.
// They are metadata (not columns) so that plans gain them without a schema
// change; values are checked where they are read.
const (
	// MetaTrialSeconds makes the policy a trial of that many seconds.
	MetaTrialSeconds = "trial_seconds"
	// MetaTrialStart is "creation" (default: the clock starts when the
	// license is created) or "activation" (at the first activation).
	MetaTrialStart = "trial_start"
	// MetaDunningDays is how many days a past-due subscription keeps its
	// licenses before they are suspended (default: the installation's).
	MetaDunningDays = "dunning_days"
	// MetaCancelAction is what an immediate cancel or refund does to the
	// licenses: "expire" (default) or "revoke".
	MetaCancelAction = "cancel_action"
	// MetaRefundAction and MetaDisputeAction say what a provider's full
	// refund, and a dispute (chargeback) opened on a subscription's
	// payment, do to its licenses: "nothing", "suspend" (until an admin
	// reinstates them) or "end" (as cancel_action says: expire or revoke).
	// Defaults: a refund ends, a dispute suspends.
	MetaRefundAction  = "refund_action"
	MetaDisputeAction = "dispute_action"
)

// Trial start modes.
const (
	TrialFromCreation   = "creation"
	TrialFromActivation = "activation"
)

// TrialRule is the trial a policy grants.
type TrialRule struct {
	Duration time.Duration
	Start    string // TrialFromCreation or TrialFromActivation
}

// Trial returns the policy's trial rule; ok is false for a paid policy.
// EInvalid when the metadata is malformed.
func (p *Policy) Trial() (rule TrialRule, ok bool, err error) {
	v, set := p.Metadata[MetaTrialSeconds]
	if !set {
		return TrialRule{}, false, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n <= 0 {
		return TrialRule{}, false, FieldErrorf("metadata."+MetaTrialSeconds, "policy %s: metadata %s must be a positive number of seconds", p.ID, MetaTrialSeconds)
	}
	start := p.Metadata[MetaTrialStart]
	switch start {
	case "":
		start = TrialFromCreation
	case TrialFromCreation, TrialFromActivation:
	default:
		return TrialRule{}, false, FieldErrorf("metadata."+MetaTrialStart, "policy %s: metadata %s must be %q or %q", p.ID, MetaTrialStart, TrialFromCreation, TrialFromActivation)
	}
	return TrialRule{Duration: time.Duration(n) * time.Second, Start: start}, true, nil
}

// CheckBillingMetadata checks the subscription settings of a policy's
// metadata (trial, dunning, cancel, refund and dispute), so that a bad
// value is refused when the policy is saved rather than when a billing
// event meets it. EInvalid naming the key.
func CheckBillingMetadata(md map[string]string) error {
	p := Policy{Metadata: md}
	if _, _, err := p.Trial(); err != nil {
		// The message is about both keys; the field is the one Trial refused.
		return FieldErrorf(ErrorField(err), "metadata %s and %s: a positive number of seconds, and creation or activation", MetaTrialSeconds, MetaTrialStart)
	}
	if v, ok := md[MetaDunningDays]; ok {
		if n, err := strconv.Atoi(v); err != nil || n < 0 || n > 365 {
			return FieldErrorf("metadata."+MetaDunningDays, "metadata %s must be 0 to 365 days", MetaDunningDays)
		}
	}
	if v, ok := md[MetaCancelAction]; ok && v != "expire" && v != "revoke" {
		return FieldErrorf("metadata."+MetaCancelAction, "metadata %s must be expire or revoke", MetaCancelAction)
	}
	for _, k := range []string{MetaRefundAction, MetaDisputeAction} {
		if v, ok := md[k]; ok && v != "nothing" && v != "suspend" && v != "end" {
			return FieldErrorf("metadata."+k, "metadata %s must be nothing, suspend or end", k)
		}
	}
	return nil
}

// TrialStore is what the trial rule needs of the leasing store inside
// Activate's transaction. LeasingStore embeds it, so the rule reaches its
// data through the store interface and a store without it does not
// compile (storage checks its leasing view at compile time).
type TrialStore interface {
	// ClaimTrial records that fingerprint took the trial of product on
	// license. Claiming again for the same license is a no-op; a claim by
	// another license answers ETrialUsed.
	ClaimTrial(ctx context.Context, productID, fingerprint, licenseID string, now time.Time) error
	// UpdateLicense saves every mutable field of l (not its key).
	UpdateLicense(ctx context.Context, l *License) error
}

// checkTrial applies the trial rule when a new machine takes a seat on lic
// (inside Activate's transaction, the license row locked): one trial per
// fingerprint per product, and a trial whose clock starts at first
// activation gets its end now (recorded as trial.started). lic is updated
// in place so the lease issued next carries the new expiry.
func (s *Leasing) checkTrial(ctx context.Context, tx LeasingStore, lic *License, pol *Policy, fingerprint string, now time.Time) error {
	rule, ok, err := pol.Trial()
	if err != nil || !ok {
		return err
	}
	if err := tx.ClaimTrial(ctx, lic.ProductID, fingerprint, lic.ID, now); err != nil {
		return err
	}
	if rule.Start != TrialFromActivation || lic.ExpiresAt != nil {
		return nil
	}
	before := *lic
	end := now.Add(rule.Duration).Truncate(time.Second)
	lic.ExpiresAt, lic.UpdatedAt = &end, now
	if err := tx.UpdateLicense(ctx, lic); err != nil {
		return err
	}
	return s.record(ctx, tx, ActionTrialStarted, "license", lic.ID, "trial clock started at first activation", &before, lic)
}

// Within returns the license service bound to tx, a store already inside a
// transaction: its methods then run in that transaction (they do not open
// their own), so a caller such as the subscription service changes licenses
// through the one path (changeLicense, with its audit events) atomically
// with its own rows.
func (s *Licenses) Within(tx LicensesStore) *Licenses {
	c := *s // every dependency (clock, hasher...) but the store
	c.store = boundLicenses{tx}
	return &c
}

type boundLicenses struct{ LicensesStore }

func (b boundLicenses) InTx(_ context.Context, fn func(tx LicensesStore) error) error {
	return fn(b.LicensesStore)
}

// Within returns the customers service bound to tx (see Licenses.Within).
func (s *Customers) Within(tx CustomersStore) *Customers {
	c := *s
	c.store = boundCustomers{tx}
	return &c
}

type boundCustomers struct{ CustomersStore }

func (b boundCustomers) InTx(_ context.Context, fn func(tx CustomersStore) error) error {
	return fn(b.CustomersStore)
}

// ChangePolicyOverSeats moves a license to another policy as a billing
// provider decided it (a downgrade already paid for): unlike ChangePolicy it
// never refuses a downgrade below the machines in use. over is how many
// machines the license then has beyond its seats: no new machine activates
// until the customer frees seats. ENotFound, EInvalid (another product).
func (s *Licenses) ChangePolicyOverSeats(ctx context.Context, id, policyID, reason string) (*License, int, error) {
	return s.changePolicy(ctx, id, policyID, reason, true)
}

// SetSeatsOverSeats gives a license its own seat count as a billing
// provider's quantity decided it (nil: back to the policy's seats). Like
// ChangePolicyOverSeats it never refuses fewer seats than machines in use:
// over is how many machines the license then has beyond its seats, and
// no new machine activates until the customer frees seats. Nothing is
// written when the count does not change. ENotFound, EInvalid (seats < 1).
func (s *Licenses) SetSeatsOverSeats(ctx context.Context, id string, seats *int, reason string) (*License, int, error) {
	if seats != nil && *seats < 1 {
		return nil, 0, FieldErrorf("seats", "seats must be at least 1")
	}
	var (
		cur  *License
		over int
	)
	l, err := s.change(ctx, id, ActionLicenseUpdated, reason, func(tx LicensesStore, l *License) error {
		p, err := tx.GetPolicy(ctx, l.PolicyID)
		if err != nil {
			return err
		}
		n, err := tx.CountMachines(ctx, l.ID)
		if err != nil {
			return err
		}
		if seats != nil && *seats == p.MaxMachines {
			seats = nil // the policy's own count: no override to keep
		}
		same := SameSeats(l.SeatsOverride, seats)
		l.SeatsOverride = seats
		cur, over = l, max(n-l.Seats(p), 0)
		if same {
			return errUnchanged
		}
		return tx.SetLicenseSeats(ctx, l.ID, seats)
	})
	if errors.Is(err, errUnchanged) {
		return cur, over, s.withSeats(ctx, []*License{cur})
	}
	return l, over, err
}

// SameSeats reports whether two seat overrides are the same (nil: the
// policy's).
func SameSeats(a, b *int) bool {
	return (a == nil && b == nil) || (a != nil && b != nil && *a == *b)
}

// errUnchanged ends a change that would change nothing (rolled back: no
// write, no audit event).
var errUnchanged = errors.New("unchanged")

// ExpireLicense ends a license now (a subscription canceled at once or
// refunded, where the plan says expire rather than revoke): it becomes
// expired and its expiry moves to now if it was later or unset. Unlike a
// revocation, a later renewal (ExtendLicense) brings it back.
// ENotFound, EConflict (revoked, or already expired).
func (s *Licenses) ExpireLicense(ctx context.Context, id, reason string) (*License, error) {
	now := s.clock().Truncate(time.Second)
	return s.change(ctx, id, ActionLicenseExpired, reason, func(_ LicensesStore, l *License) error {
		if l.Status == LicenseRevoked || l.Status == LicenseExpired {
			return Errorf(EConflict, "the license is already %s", l.Status)
		}
		l.Status, l.StatusReason = LicenseExpired, reason
		if l.ExpiresAt == nil || l.ExpiresAt.After(now) {
			l.ExpiresAt = &now
		}
		return nil
	})
}
