package subscription

import (
	"time"
)

// Access is what a provider subscription's state allows its licenses.
type Access string

const (
	// AccessNone: the first payment is not through (incomplete): no
	// license runs yet.
	AccessNone Access = "none"
	// AccessOn: the licenses run to Decision.RunsTo.
	AccessOn Access = "on"
	// AccessSuspended: the provider gave up collecting (unpaid): the
	// licenses are suspended until a payment.
	AccessSuspended Access = "suspended"
	// AccessEnded: the subscription ended (canceled, a trial paused or
	// expired unpaid): the licenses end at Decision.EndsAt.
	AccessEnded Access = "ended"
)

// Decision is what a provider subscription's state means for its licenses.
type Decision struct {
	Status Status
	Access Access
	// RunsTo is the licenses' expiry while Access is on: the provider's
	// paid-through (the period end), the trial end, the cancel date if
	// earlier, or, past due, the end of the dunning window (the window is
	// the promise: the licenses keep running through it). The policy's
	// grace applies on top, as for any license.
	RunsTo time.Time
	// EndsAt is when an ended subscription ended (zero: now).
	EndsAt time.Time
	// PolicyID is the policy of the first item whose price maps to one,
	// Seats the quantity billed for it (the items of that policy summed,
	// at least 1); Unmapped lists the prices no policy sells. Each unit
	// buys the policy's seats (Seats × Policy.MaxMachines machines): a
	// per-seat price sells a 1-seat policy.
	PolicyID string
	Seats    int
	Unmapped []string
}

// Decide is the one rule from a provider subscription's state to its
// licenses: status, items (price and quantity), period, trial end, cancel
// date and pause. prices maps a provider's price to a policy; pastDueSince
// is when the subscription fell past due (the state's own time when it is
// falling now) and dunning the policy's window. Pure: the handlers bring
// a subscription to the newest state they have seen with it.
func Decide(ps *ProviderSubscription, prices map[string]string, pastDueSince time.Time, dunning time.Duration) Decision {
	d := Decision{Status: ps.Status}
	for _, it := range ps.items() {
		pol := it.PolicyID
		if pol == "" {
			pol = prices[it.PriceID]
		}
		if pol == "" {
			d.Unmapped = append(d.Unmapped, it.PriceID)
			continue
		}
		if d.PolicyID == "" {
			d.PolicyID = pol
		}
		if pol == d.PolicyID {
			d.Seats += max(it.Quantity, 1)
		}
	}
	end := ps.PeriodEnd.UTC()
	switch ps.Status {
	case Incomplete:
		d.Access = AccessNone
	case Trialing:
		d.Access, d.RunsTo = AccessOn, end
		if ps.TrialEnd != nil {
			d.RunsTo = ps.TrialEnd.UTC()
		}
	case Active:
		d.Access, d.RunsTo = AccessOn, end
	case PastDue:
		// The period's start is what was paid; the window runs from the
		// failure.
		d.Access, d.RunsTo = AccessOn, laterOf(ps.PeriodStart.UTC(), pastDueSince.UTC().Add(dunning))
	case Unpaid:
		d.Access = AccessSuspended
	case Paused:
		d.Access = AccessEnded
		if ps.TrialEnd != nil {
			d.EndsAt = ps.TrialEnd.UTC()
		}
	default: // Canceled, Expired
		d.Access = AccessEnded
		if ps.EndedAt != nil {
			d.EndsAt = ps.EndedAt.UTC()
		}
	}
	if d.Access == AccessOn && ps.CancelAt != nil && ps.CancelAt.Before(d.RunsTo) {
		d.RunsTo = ps.CancelAt.UTC()
	}
	d.RunsTo, d.EndsAt = d.RunsTo.Truncate(time.Second), d.EndsAt.Truncate(time.Second)
	return d
}

// rank orders statuses within one period, for states of the same time: a
// subscription moves from incomplete or trialing to active, then past due,
// unpaid and ended, never back within one period except by a payment
// (a later state).
func rank(s Status) int {
	switch s {
	case Incomplete:
		return 0
	case Trialing:
		return 1
	case Active:
		return 2
	case PastDue:
		return 3
	case Unpaid:
		return 4
	case Paused:
		return 5
	default:
		return 6
	}
}

// older reports whether a provider's state (its period end, time and
// status) is older than the one sub was last brought to: the object's own
// period first, then its time, then the order of statuses. An ended
// subscription never comes back.
func older(sub *Subscription, periodEnd, at time.Time, st Status) bool {
	if sub.Status.ended() && !st.ended() && sub.ProviderUpdatedAt != nil {
		return true
	}
	if sub.ProviderUpdatedAt == nil {
		return false
	}
	if sub.CurrentPeriodEnd != nil && !periodEnd.IsZero() && !periodEnd.Equal(*sub.CurrentPeriodEnd) {
		return periodEnd.Before(*sub.CurrentPeriodEnd)
	}
	if !at.Equal(*sub.ProviderUpdatedAt) {
		return at.Before(*sub.ProviderUpdatedAt)
	}
	return rank(st) < rank(sub.Status)
}

func laterOf(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
