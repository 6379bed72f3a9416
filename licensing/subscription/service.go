package subscription

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/nzilacode/narcidicontrole/licensing"
)

// Config is what the subscription service needs.
type Config struct {
	Store Store
	// Licenses and Customers are the licensing services whose paths the
	// lifecycle runs (bound to each transaction with Within).
	Licenses  *licensing.Licenses
	Customers *licensing.Customers
	Clock     licensing.Clock
	// DunningWindow is how long a past-due subscription keeps its licenses
	// when its policy says nothing (default 7 days).
	DunningWindow time.Duration
	// TrialNotice is how long before a trial ends its notice goes out
	// (default 3 days).
	TrialNotice time.Duration
	// Prices maps a provider's price id to a policy id (e.g. Stripe's
	// price_...); a subscription on a price not in it is refused.
	Prices map[string]string
}

// Service runs the subscription use cases. Safe for concurrent use.
type Service struct {
	cfg Config
}

// NewService checks cfg and builds a Service.
func NewService(cfg Config) (*Service, error) {
	if cfg.Store == nil || cfg.Licenses == nil || cfg.Customers == nil {
		return nil, fmt.Errorf("subscription: Store, Licenses and Customers are required")
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	if cfg.DunningWindow <= 0 {
		cfg.DunningWindow = 7 * 24 * time.Hour
	}
	if cfg.TrialNotice <= 0 {
		cfg.TrialNotice = 3 * 24 * time.Hour
	}
	return &Service{cfg: cfg}, nil
}

func (s *Service) now() time.Time { return s.cfg.Clock().UTC().Truncate(time.Microsecond) }

// dunningReason marks the licenses a subscription suspended, so a payment
// reinstates those and never one an admin suspended for another reason.
const dunningReason = "subscription past due: payment not received"

// record appends an audit event, as licensing does for its own changes.
func (s *Service) record(ctx context.Context, tx Store, action, id, reason string, before, after any) error {
	a := licensing.ActorFrom(ctx)
	return tx.AppendEvent(ctx, &licensing.Event{
		Time: s.now(), Action: action, TargetType: "subscription", TargetID: id, Actor: a.Label(), ActorName: a.Name,
		Reason: reason, Before: licensing.Snapshot(before), After: licensing.Snapshot(after), RequestID: a.RequestID,
	})
}

// change locks subscription id, applies fn and, when fn changed it, saves
// it and records action, in one transaction.
func (s *Service) change(ctx context.Context, id, action, reason string, fn func(tx Store, sub *Subscription) error) (*Subscription, error) {
	var out *Subscription
	err := s.cfg.Store.InTx(ctx, func(tx Store) error {
		sub, err := tx.LockSubscription(ctx, id)
		if err != nil {
			return err
		}
		before := clone(sub)
		if err := fn(tx, sub); err != nil {
			return err
		}
		if err := s.save(ctx, tx, before, sub); err != nil {
			return err
		}
		out = sub
		return s.record(ctx, tx, action, sub.ID, reason, before, sub)
	})
	return out, err
}

// save writes what changed from before (the row as read) to sub.
func (s *Service) save(ctx context.Context, tx Store, before, sub *Subscription) error {
	sub.UpdatedAt = s.now()
	return tx.UpdateSubscription(ctx, before, sub)
}

func (s *Service) licenses(tx Store) *licensing.Licenses {
	return s.cfg.Licenses.Within(tx.LicensesStore())
}

// Subscription returns one subscription. ENotFound.
func (s *Service) Subscription(ctx context.Context, id string) (*Subscription, error) {
	return s.cfg.Store.GetSubscription(ctx, id)
}

// Events lists what the provider events of subscription id did (invoices
// paid or failed, state changes, refunds), newest first, at most limit.
func (s *Service) Events(ctx context.Context, id string, limit int) ([]EventNote, error) {
	return s.cfg.Store.ProviderEvents(ctx, id, min(max(limit, 1), licensing.MaxPageLimit))
}

// Subscriptions lists subscriptions.
func (s *Service) Subscriptions(ctx context.Context, f Filter, page licensing.Page) ([]Subscription, error) {
	if f.Status != "" && !f.Status.Valid() {
		return nil, licensing.FieldErrorf("status", "status must be trialing, active, past_due, canceled or expired")
	}
	return s.cfg.Store.ListSubscriptions(ctx, f, page.Normalize())
}

// CreateInput is what an admin gives to create a subscription.
// (Alike licensing.PolicyInput by shape only: JSON-tagged input fields.)
type CreateInput struct {
	CustomerID   string   `json:"customer_id"`
	PolicyID     string   `json:"policy_id"`
	Interval     Interval `json:"interval"`
	IntervalDays int      `json:"interval_days,omitempty"`
	// LicenseIDs are existing licenses of the customer under the policy
	// to govern; when empty one license is created (its key is in the
	// answer, once).
	LicenseIDs []string          `json:"license_ids,omitempty"`
	Metadata   map[string]string `json:"metadata,omitempty"`
}

// Created is a new subscription with the key of the license created for
// it (empty when existing licenses were given).
type Created struct {
	Subscription
	LicenseKey string `json:"license_key,omitempty"`
}

// Create starts a manual subscription (billed outside any provider, or
// through the generic endpoint). Under a trial policy it is trialing until
// the trial ends; otherwise its first period is taken as paid and its
// licenses run to its end. EInvalid, ENotFound (customer, policy).
func (s *Service) Create(ctx context.Context, in CreateInput) (*Created, error) {
	if err := checkInterval(in.Interval, in.IntervalDays); err != nil {
		return nil, err
	}
	if len(in.LicenseIDs) > 100 {
		return nil, licensing.FieldErrorf("license_ids", "at most 100 licenses")
	}
	var out *Created
	err := s.cfg.Store.InTx(ctx, func(tx Store) error {
		var err error
		out, err = s.create(ctx, tx, in, ProviderManual, "", "")
		return err
	})
	return out, err
}

func (s *Service) create(ctx context.Context, tx Store, in CreateInput, provider, provCustomer, provSub string) (*Created, error) {
	pol, err := tx.LicensesStore().GetPolicy(ctx, in.PolicyID)
	if licensing.ErrorCode(err) == licensing.ENotFound {
		return nil, licensing.FieldErrorf("policy_id", "policy %s does not exist", in.PolicyID)
	} else if err != nil {
		return nil, err
	}
	trial, isTrial, err := pol.Trial()
	if err != nil {
		return nil, err
	}
	now := s.now()
	sub := &Subscription{CustomerID: in.CustomerID, PolicyID: pol.ID, Interval: in.Interval, IntervalDays: in.IntervalDays,
		Provider: provider, ProviderCustomerID: provCustomer, ProviderSubscriptionID: provSub,
		LicenseIDs: []string{}, Metadata: in.Metadata, CreatedAt: now, UpdatedAt: now}
	start := now.Truncate(time.Second)
	var end time.Time
	switch {
	case isTrial:
		sub.Status = Trialing
		end = start.Add(trial.Duration)
		if trial.Start == licensing.TrialFromCreation {
			sub.TrialEnd = &end
		}
	default:
		sub.Status = Active
		end = next(in.Interval, in.IntervalDays, start)
		sub.PaidThrough = &end
		sub.LastPaidAt = &now
	}
	sub.CurrentPeriodStart, sub.CurrentPeriodEnd = &start, &end
	lic := s.licenses(tx)
	if len(in.LicenseIDs) == 0 {
		li := licensing.LicenseInput{PolicyID: pol.ID, CustomerID: in.CustomerID}
		if !isTrial || trial.Start == licensing.TrialFromCreation {
			li.ExpiresAt = &end
		}
		cl, err := lic.CreateLicense(ctx, li)
		if err != nil {
			return nil, err
		}
		sub.LicenseIDs = []string{cl.ID}
		out := &Created{LicenseKey: cl.Key}
		if err := s.insert(ctx, tx, sub); err != nil {
			return nil, err
		}
		out.Subscription = *sub
		return out, nil
	}
	if _, err := tx.LicensesStore().GetCustomer(ctx, in.CustomerID); err != nil {
		return nil, err
	}
	for _, id := range in.LicenseIDs {
		l, err := tx.LicensesStore().GetLicense(ctx, id)
		if licensing.ErrorCode(err) == licensing.ENotFound {
			return nil, licensing.FieldErrorf("license_ids", "license %s does not exist", id)
		} else if err != nil {
			return nil, err
		}
		if l.CustomerID != in.CustomerID || l.PolicyID != pol.ID {
			return nil, licensing.FieldErrorf("license_ids", "license %s is not the customer's under this policy", id)
		}
		if !slices.Contains(sub.LicenseIDs, id) {
			sub.LicenseIDs = append(sub.LicenseIDs, id)
		}
	}
	if sub.PaidThrough != nil {
		if err := s.runTo(ctx, tx, sub, *sub.PaidThrough, "subscription period paid"); err != nil {
			return nil, err
		}
	} else if sub.TrialEnd != nil {
		if err := s.runTo(ctx, tx, sub, *sub.TrialEnd, "trial"); err != nil {
			return nil, err
		}
	}
	if err := s.insert(ctx, tx, sub); err != nil {
		return nil, err
	}
	return &Created{Subscription: *sub}, nil
}

func (s *Service) insert(ctx context.Context, tx Store, sub *Subscription) error {
	if err := tx.CreateSubscription(ctx, sub); err != nil {
		return err
	}
	return s.record(ctx, tx, licensing.ActionSubscriptionCreated, sub.ID, "", nil, sub)
}

// runTo extends every governed license that ends before end to end (the
// licensing renew path, which also wakes an expired license). A license
// already running further, or revoked, is left alone.
func (s *Service) runTo(ctx context.Context, tx Store, sub *Subscription, end time.Time, reason string) error {
	if !end.After(s.now()) {
		return nil
	}
	if sub.CurrentPeriodStart != nil {
		if err := s.resetMeters(ctx, tx, sub, *sub.CurrentPeriodStart); err != nil {
			return err
		}
	}
	lic := s.licenses(tx)
	for _, id := range sub.LicenseIDs {
		l, err := tx.LicensesStore().GetLicense(ctx, id)
		if err != nil {
			return err
		}
		if l.Status == licensing.LicenseRevoked || (l.ExpiresAt != nil && !l.ExpiresAt.Before(end)) {
			continue
		}
		if _, err := lic.ExtendLicense(ctx, id, licensing.ExtendInput{ExpiresAt: &end, Reason: reason}); err != nil {
			return err
		}
	}
	return nil
}

// resetMeters starts a new period on the meters of every governed license
// (uses back to 0) as of start, the paid period's start (now when the
// provider gave none). A period applied twice resets once
// (Metering.ResetPeriod).
func (s *Service) resetMeters(ctx context.Context, tx Store, sub *Subscription, start time.Time) error {
	if start.IsZero() {
		start = s.now()
	}
	m := licensing.NewMetering(tx.MetersStore(), nil, s.now)
	for _, id := range sub.LicenseIDs {
		if _, err := m.ResetPeriod(ctx, id, start.UTC().Truncate(time.Second)); err != nil {
			return err
		}
	}
	return nil
}

// paid records a paid period ending at end: the licenses run to it (once:
// PaidThrough never moves back), and a past-due or trialing subscription
// becomes active again, its dunning suspensions lifted.
func (s *Service) paid(ctx context.Context, tx Store, sub *Subscription, start, end time.Time, at time.Time) (bool, error) {
	changed := false
	if sub.PaidThrough == nil || end.After(*sub.PaidThrough) {
		end := end.UTC().Truncate(time.Second)
		sub.PaidThrough = &end
		if start.IsZero() {
			start = s.now()
		}
		start = start.UTC().Truncate(time.Second)
		sub.CurrentPeriodStart, sub.CurrentPeriodEnd = &start, &end
		if err := s.runTo(ctx, tx, sub, end, "subscription period paid"); err != nil {
			return false, err
		}
		changed = true
	}
	if sub.LastPaidAt == nil || at.After(*sub.LastPaidAt) {
		sub.LastPaidAt = &at
		changed = true
	}
	newerFailure := sub.LastPaymentFailedAt != nil && sub.LastPaymentFailedAt.After(at)
	if (sub.Status == PastDue && !newerFailure) || sub.Status == Trialing {
		if err := s.recover(ctx, tx, sub); err != nil {
			return false, err
		}
		changed = true
	}
	return changed, nil
}

// recover makes a subscription active again, reinstating the licenses its
// dunning suspended.
func (s *Service) recover(ctx context.Context, tx Store, sub *Subscription) error {
	sub.Status = Active
	sub.PastDueSince, sub.DunningEndsAt, sub.DunningNoticeAt = nil, nil, nil
	if !sub.LicensesSuspended {
		return nil
	}
	lic := s.licenses(tx)
	for _, id := range sub.LicenseIDs {
		l, err := tx.LicensesStore().GetLicense(ctx, id)
		if err != nil {
			return err
		}
		if l.Status != licensing.LicenseSuspended || l.StatusReason != dunningReason {
			continue
		}
		if _, err := lic.ReinstateLicense(ctx, id, "subscription payment received"); err != nil {
			return err
		}
	}
	sub.LicensesSuspended = false
	return nil
}

// dunningWindow is the policy's dunning_days, or the installation's.
func (s *Service) dunningWindow(ctx context.Context, tx Store, sub *Subscription) (time.Duration, error) {
	pol, err := tx.LicensesStore().GetPolicy(ctx, sub.PolicyID)
	if err != nil {
		return 0, err
	}
	if v, ok := pol.Metadata[licensing.MetaDunningDays]; ok {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > 365 {
			// No Field here, nor in end's and the payment actions' checks:
			// the policy's stored metadata is not the request's input
			// (licensing.CheckBillingMetadata names it when a policy is saved).
			return 0, licensing.Errorf(licensing.EInvalid, "policy %s: metadata %s must be 0 to 365 days", pol.ID, licensing.MetaDunningDays)
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	return s.cfg.DunningWindow, nil
}

// pastDue opens the dunning window at at (the failure's own time; the
// start is the first notice) and lets the licenses run through it.
func (s *Service) pastDue(ctx context.Context, tx Store, sub *Subscription, at time.Time) error {
	if sub.Status == PastDue || sub.Status.ended() {
		return nil
	}
	w, err := s.dunningWindow(ctx, tx, sub)
	if err != nil {
		return err
	}
	ends := at.Add(w)
	before := clone(sub)
	sub.Status, sub.PastDueSince, sub.DunningEndsAt, sub.DunningNoticeAt = PastDue, &at, &ends, nil
	if err := s.runTo(ctx, tx, sub, ends, "subscription past due: the dunning window"); err != nil {
		return err
	}
	return s.record(ctx, tx, licensing.ActionSubscriptionPastDue, sub.ID,
		"payment failed: licenses are suspended at "+ends.Format(time.RFC3339)+" unless paid", before, sub)
}

// end stops a subscription (cancel at once, refund, provider deletion):
// its licenses expire now; ended early, they are revoked instead when the
// policy's cancel_action says so.
func (s *Service) end(ctx context.Context, tx Store, sub *Subscription, reason string, early bool) error {
	pol, err := tx.LicensesStore().GetPolicy(ctx, sub.PolicyID)
	if err != nil {
		return err
	}
	action := pol.Metadata[licensing.MetaCancelAction]
	if action != "" && action != "expire" && action != "revoke" {
		return licensing.Errorf(licensing.EInvalid, "policy %s: metadata %s must be expire or revoke", pol.ID, licensing.MetaCancelAction)
	}
	now := s.now()
	sub.Status, sub.CanceledAt, sub.CancelAtPeriodEnd = Canceled, &now, false
	sub.PastDueSince, sub.DunningEndsAt = nil, nil
	lic := s.licenses(tx)
	for _, id := range sub.LicenseIDs {
		l, err := tx.LicensesStore().GetLicense(ctx, id)
		if err != nil {
			return err
		}
		switch {
		case l.Status == licensing.LicenseRevoked:
		case action == "revoke" && early:
			_, err = lic.RevokeLicense(ctx, id, reason)
		case l.Status != licensing.LicenseExpired:
			_, err = lic.ExpireLicense(ctx, id, reason)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// ChangePlanInput moves a subscription to another policy.
type ChangePlanInput struct {
	PolicyID string `json:"policy_id"`
	Reason   string `json:"reason,omitempty"`
}

// ChangePlan moves a manual subscription and its licenses to another
// policy of the same product (licensing's change-policy path: the machines
// stay). Leaving a trial for a paid policy converts it: it becomes active
// with a first period taken as paid. A provider's subscription changes at
// its provider (proration is the provider's business), so it is refused
// here (EConflict). EInvalid, ENotFound, ESeatLimit.
func (s *Service) ChangePlan(ctx context.Context, id string, in ChangePlanInput) (*Subscription, error) {
	return s.change(ctx, id, licensing.ActionSubscriptionPlanChanged, in.Reason, func(tx Store, sub *Subscription) error {
		if err := manual(sub); err != nil {
			return err
		}
		if sub.PolicyID == in.PolicyID {
			return licensing.Errorf(licensing.EConflict, "the subscription is already on this policy").WithField("policy_id")
		}
		return s.changePlan(ctx, tx, sub, in.PolicyID, in.Reason)
	})
}

func (s *Service) changePlan(ctx context.Context, tx Store, sub *Subscription, policyID, reason string) error {
	pol, err := tx.LicensesStore().GetPolicy(ctx, policyID)
	if licensing.ErrorCode(err) == licensing.ENotFound {
		return licensing.FieldErrorf("policy_id", "policy %s does not exist", policyID)
	} else if err != nil {
		return err
	}
	_, isTrial, err := pol.Trial()
	if err != nil {
		return err
	}
	lic := s.licenses(tx)
	for _, lid := range sub.LicenseIDs {
		l, err := tx.LicensesStore().GetLicense(ctx, lid)
		if err != nil {
			return err
		}
		if l.PolicyID == pol.ID || l.Status == licensing.LicenseRevoked {
			continue
		}
		if _, err := lic.ChangePolicy(ctx, lid, pol.ID, reason); err != nil {
			return err
		}
	}
	sub.PolicyID = pol.ID
	if sub.Status == Trialing && !isTrial && sub.Provider == ProviderManual {
		start := s.now().Truncate(time.Second)
		end := next(sub.Interval, sub.IntervalDays, start)
		sub.TrialEnd = nil
		if _, err := s.paid(ctx, tx, sub, start, end, s.now()); err != nil {
			return err
		}
	}
	return nil
}

func manual(sub *Subscription) error {
	if sub.Provider != ProviderManual {
		return licensing.Errorf(licensing.EConflict, "this subscription is managed by %s: change it there (its events update Narcidi)", sub.Provider)
	}
	if sub.Status.ended() {
		return licensing.Errorf(licensing.EConflict, "the subscription is %s", sub.Status)
	}
	return nil
}

// CancelInput says how to cancel.
type CancelInput struct {
	// AtPeriodEnd lets the licenses run to the end of the paid period;
	// otherwise they expire (or are revoked, per the policy) now.
	AtPeriodEnd bool   `json:"at_period_end"`
	Reason      string `json:"reason,omitempty"`
}

// Cancel cancels a manual subscription. EConflict (ended, or a provider's).
func (s *Service) Cancel(ctx context.Context, id string, in CancelInput) (*Subscription, error) {
	return s.change(ctx, id, licensing.ActionSubscriptionCanceled, in.Reason, func(tx Store, sub *Subscription) error {
		if err := manual(sub); err != nil {
			return err
		}
		if in.AtPeriodEnd {
			if sub.CancelAtPeriodEnd {
				return licensing.Errorf(licensing.EConflict, "the subscription already ends with its period")
			}
			sub.CancelAtPeriodEnd = true
			return nil
		}
		return s.end(ctx, tx, sub, reasonOr(in.Reason, "subscription canceled"), true)
	})
}

// Resume undoes a cancellation at period end. EConflict (not marked, ended,
// a provider's).
func (s *Service) Resume(ctx context.Context, id, reason string) (*Subscription, error) {
	return s.change(ctx, id, licensing.ActionSubscriptionResumed, reason, func(tx Store, sub *Subscription) error {
		if err := manual(sub); err != nil {
			return err
		}
		if !sub.CancelAtPeriodEnd {
			return licensing.Errorf(licensing.EConflict, "the subscription is not canceled")
		}
		sub.CancelAtPeriodEnd = false
		return nil
	})
}

func reasonOr(r, def string) string {
	if r == "" {
		return def
	}
	return r
}

// sweepBatch is one page of Sweep; sweepMax bounds the subscriptions one
// run reads (the next run, minutes later, goes on).
const (
	sweepBatch = 200
	sweepMax   = 20000
)

// Sweep runs what is due by the clock (a scheduled task; several instances
// running it at once is harmless, every step re-checks under the row
// lock): dunning reminders a day before the window ends, dunning windows
// ended unpaid (licenses suspended), subscriptions canceled at period end
// whose period ended (expired: the licenses run out by their own expiry
// and the policy's grace), manual trials ended unconverted (expired), and
// trial-ending notices. It pages through every due subscription in id
// order (keyset: a row that stays due never hides the ones after it), at
// most sweepMax per run, and returns how many it changed.
func (s *Service) Sweep(ctx context.Context) (int, error) {
	now := s.now()
	n, after := 0, ""
	for read := 0; read < sweepMax; {
		due, err := s.cfg.Store.DueSubscriptions(ctx, now, now.Add(s.cfg.TrialNotice), after, sweepBatch)
		if err != nil {
			return n, err
		}
		for _, d := range due {
			err := s.cfg.Store.InTx(ctx, func(tx Store) error {
				sub, err := tx.LockSubscription(ctx, d.ID)
				if err != nil {
					return err
				}
				before := clone(sub)
				changed, err := s.sweepOne(ctx, tx, sub, now)
				if err != nil || !changed {
					return err
				}
				n++
				return s.save(ctx, tx, before, sub)
			})
			if err != nil {
				return n, err
			}
		}
		if len(due) < sweepBatch {
			break
		}
		read += len(due)
		after = due[len(due)-1].ID
	}
	return n, nil
}

func (s *Service) sweepOne(ctx context.Context, tx Store, sub *Subscription, now time.Time) (bool, error) {
	before := clone(sub)
	switch {
	case sub.Status == PastDue && sub.DunningEndsAt != nil && !now.Before(*sub.DunningEndsAt) && !sub.LicensesSuspended:
		lic := s.licenses(tx)
		for _, id := range sub.LicenseIDs {
			l, err := tx.LicensesStore().GetLicense(ctx, id)
			if err != nil {
				return false, err
			}
			if l.Status != licensing.LicenseActive {
				continue
			}
			if _, err := lic.SuspendLicense(ctx, id, dunningReason); err != nil {
				return false, err
			}
		}
		sub.LicensesSuspended = true
		return true, s.record(ctx, tx, licensing.ActionSubscriptionSuspended, sub.ID, dunningReason, before, sub)
	case sub.Status == PastDue && sub.DunningEndsAt != nil && sub.DunningNoticeAt == nil && !sub.LicensesSuspended &&
		sub.DunningEndsAt.Sub(now) <= 24*time.Hour:
		sub.DunningNoticeAt = &now
		return true, s.record(ctx, tx, licensing.ActionSubscriptionDunning, sub.ID,
			"payment still missing: licenses are suspended at "+sub.DunningEndsAt.Format(time.RFC3339), before, sub)
	case (sub.Status == Active || sub.Status == Trialing) && sub.CancelAtPeriodEnd && sub.CurrentPeriodEnd != nil && !now.Before(*sub.CurrentPeriodEnd):
		sub.Status = Expired
		return true, s.record(ctx, tx, licensing.ActionSubscriptionExpired, sub.ID, "canceled at period end", before, sub)
	case sub.Status == Trialing && sub.Provider == ProviderManual && sub.TrialEnd != nil && !now.Before(*sub.TrialEnd):
		sub.Status = Expired
		return true, s.record(ctx, tx, licensing.ActionSubscriptionExpired, sub.ID, "the trial ended", before, sub)
	case sub.Status == Trialing && sub.TrialEnd != nil && sub.TrialNoticeAt == nil && sub.TrialEnd.Sub(now) <= s.cfg.TrialNotice:
		sub.TrialNoticeAt = &now
		return true, s.record(ctx, tx, licensing.ActionTrialEnding, sub.ID, "the trial ends at "+sub.TrialEnd.Format(time.RFC3339), before, sub)
	}
	return false, nil
}
