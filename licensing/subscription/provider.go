package subscription

import (
	"context"
	"strings"
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
	// PriceID is mapped to a policy by the configured prices; PolicyID
	// names one directly (the generic endpoint).
	PriceID           string     `json:"price_id,omitempty"`
	PolicyID          string     `json:"policy_id,omitempty"`
	Status            Status     `json:"status"`
	Interval          Interval   `json:"interval"`
	IntervalDays      int        `json:"interval_days,omitempty"`
	PeriodStart       time.Time  `json:"period_start"`
	PeriodEnd         time.Time  `json:"period_end"`
	CancelAtPeriodEnd bool       `json:"cancel_at_period_end"`
	TrialEnd          *time.Time `json:"trial_end,omitempty"`
	// NarcidiID links the provider's subscription to an existing Narcidi
	// one (e.g. a trial being converted: its licenses and machines stay).
	NarcidiID string `json:"narcidi_subscription_id,omitempty"`
}

// ProviderInvoice is a provider's invoice of a subscription.
type ProviderInvoice struct {
	ID             string    `json:"id"`
	SubscriptionID string    `json:"subscription_id"`
	PeriodStart    time.Time `json:"period_start"`
	PeriodEnd      time.Time `json:"period_end"`
}

// Outcome is what Apply did.
type Outcome struct {
	// Duplicate: the event id was applied before (nothing done).
	Duplicate bool `json:"duplicate,omitempty"`
	// Ignored says why the event changed nothing (stale, irrelevant).
	Ignored        string `json:"ignored,omitempty"`
	SubscriptionID string `json:"subscription_id,omitempty"`
}

func (e *ProviderEvent) check() error {
	switch {
	case e.Provider == "" || len(e.Provider) > 32:
		return licensing.Errorf(licensing.EInvalid, "provider is required")
	case e.ID == "" || len(e.ID) > 255:
		return licensing.Errorf(licensing.EInvalid, "id is required (at most 255 characters)")
	case e.Created.IsZero():
		return licensing.Errorf(licensing.EInvalid, "created is required")
	}
	switch e.Kind {
	case KindCustomer:
		if e.Customer == nil || e.Customer.ID == "" {
			return licensing.Errorf(licensing.EInvalid, "a customer event needs customer.id")
		}
	case KindSubscription, KindSubscriptionDeleted:
		if e.Subscription == nil || e.Subscription.ID == "" || e.Subscription.CustomerID == "" {
			return licensing.Errorf(licensing.EInvalid, "a subscription event needs subscription.id and subscription.customer_id")
		}
	case KindInvoicePaid, KindPaymentFailed:
		if e.Invoice == nil || e.Invoice.SubscriptionID == "" {
			return licensing.Errorf(licensing.EInvalid, "an invoice event needs invoice.subscription_id")
		}
	default:
		return licensing.Errorf(licensing.EInvalid, "unknown event type %q", e.Kind)
	}
	return nil
}

// Apply applies a provider event, once per event id, in one transaction
// (the claim of the id included: an event that fails is not claimed and
// may be delivered again). EInvalid (malformed, unknown price), EConflict
// (an invoice of a subscription not yet known: deliver it again later).
func (s *Service) Apply(ctx context.Context, ev ProviderEvent) (*Outcome, error) {
	if err := ev.check(); err != nil {
		return nil, err
	}
	ev.Created = ev.Created.UTC().Truncate(time.Second)
	ctx = licensing.WithActor(ctx, &licensing.Actor{Name: "billing:" + ev.Provider, RequestID: licensing.ActorFrom(ctx).RequestID})
	out := &Outcome{}
	err := s.cfg.Store.InTx(ctx, func(tx Store) error {
		fresh, err := tx.ClaimProviderEvent(ctx, ev.Provider, ev.ID, string(ev.Kind), s.now())
		if err != nil {
			return err
		}
		if !fresh {
			out.Duplicate = true
			return nil
		}
		switch ev.Kind {
		case KindCustomer:
			_, err = s.customer(ctx, tx, ev.Provider, ev.Customer)
		case KindSubscription:
			err = s.syncSubscription(ctx, tx, &ev, out)
		case KindSubscriptionDeleted:
			err = s.deleted(ctx, tx, &ev, out)
		case KindInvoicePaid, KindPaymentFailed:
			err = s.invoice(ctx, tx, &ev, out)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// customer returns the Narcidi customer of a provider's customer, creating
// (and linking) it on first sight.
func (s *Service) customer(ctx context.Context, tx Store, provider string, pc *ProviderCustomer) (string, error) {
	id, err := tx.ProviderCustomer(ctx, provider, pc.ID)
	if err == nil || licensing.ErrorCode(err) != licensing.ENotFound {
		return id, err
	}
	name := strings.TrimSpace(pc.Name)
	if name == "" {
		name = provider + " customer " + pc.ID
	}
	c, err := s.cfg.Customers.Within(tx.CustomersStore()).CreateCustomer(ctx, licensing.CustomerInput{
		Name: truncate(name, 200), Email: pc.Email, Metadata: map[string]string{provider + "_customer_id": truncate(pc.ID, 1000)}})
	if err != nil {
		return "", err
	}
	return c.ID, tx.LinkCustomer(ctx, provider, pc.ID, c.ID, s.now())
}

// policyOf resolves the policy of a provider's subscription.
func (s *Service) policyOf(ps *ProviderSubscription) (string, error) {
	if ps.PolicyID != "" {
		return ps.PolicyID, nil
	}
	if p, ok := s.cfg.Prices[ps.PriceID]; ok {
		return p, nil
	}
	return "", licensing.Errorf(licensing.EInvalid, "unknown price %q: map it to a policy (NARCIDI_STRIPE_PRICES)", ps.PriceID)
}

func stale(sub *Subscription, at time.Time) bool {
	return sub.ProviderUpdatedAt != nil && at.Before(*sub.ProviderUpdatedAt)
}

func (s *Service) syncSubscription(ctx context.Context, tx Store, ev *ProviderEvent, out *Outcome) error {
	ps := ev.Subscription
	policyID, err := s.policyOf(ps)
	if err != nil {
		return err
	}
	if ps.Interval == "" {
		ps.Interval = Month
	}
	if err := checkInterval(ps.Interval, ps.IntervalDays); err != nil {
		return err
	}
	sub, err := s.findProvider(ctx, tx, ev.Provider, ps)
	if licensing.ErrorCode(err) == licensing.ENotFound {
		return s.createFromProvider(ctx, tx, ev, policyID, out)
	} else if err != nil {
		return err
	}
	out.SubscriptionID = sub.ID
	if stale(sub, ev.Created) {
		out.Ignored = "older than the last update applied"
		return nil
	}
	before := *sub
	sub.ProviderUpdatedAt = &ev.Created
	sub.Provider, sub.ProviderSubscriptionID, sub.ProviderCustomerID = ev.Provider, ps.ID, ps.CustomerID
	sub.Interval, sub.IntervalDays = ps.Interval, ps.IntervalDays
	if !ps.PeriodEnd.IsZero() {
		st, en := ps.PeriodStart.UTC(), ps.PeriodEnd.UTC()
		sub.CurrentPeriodStart, sub.CurrentPeriodEnd = &st, &en
	}
	sub.TrialEnd = ps.TrialEnd
	action := licensing.ActionSubscriptionUpdated
	if sub.CancelAtPeriodEnd != ps.CancelAtPeriodEnd {
		sub.CancelAtPeriodEnd = ps.CancelAtPeriodEnd
		action = map[bool]string{true: licensing.ActionSubscriptionCanceled, false: licensing.ActionSubscriptionResumed}[ps.CancelAtPeriodEnd]
	}
	if sub.PolicyID != policyID {
		if err := s.changePlan(ctx, tx, sub, policyID, "plan changed at "+ev.Provider); err != nil {
			return err
		}
		action = licensing.ActionSubscriptionPlanChanged
	}
	if before.ProviderSubscriptionID == "" && ps.Status == Active && !ps.PeriodEnd.IsZero() {
		// First link of an existing subscription (a trial converted): the
		// provider's active period is paid, as for one seen created.
		sub.TrialEnd = nil
		if _, err := s.paid(ctx, tx, sub, ps.PeriodStart, ps.PeriodEnd, ev.Created); err != nil {
			return err
		}
	} else if err := s.moveTo(ctx, tx, sub, ps, ev); err != nil {
		return err
	}
	if err := s.save(ctx, tx, sub); err != nil {
		return err
	}
	return s.record(ctx, tx, action, sub.ID, "", &before, sub)
}

// findProvider finds (locked) the subscription of ps: by the provider's id,
// else by the Narcidi id it carries (a link, e.g. a trial converted).
func (s *Service) findProvider(ctx context.Context, tx Store, provider string, ps *ProviderSubscription) (*Subscription, error) {
	sub, err := tx.FindByProvider(ctx, provider, ps.ID, true)
	if licensing.ErrorCode(err) != licensing.ENotFound || ps.NarcidiID == "" {
		return sub, err
	}
	sub, err = tx.LockSubscription(ctx, ps.NarcidiID)
	if err != nil {
		return nil, err
	}
	if sub.ProviderSubscriptionID != "" && (sub.Provider != provider || sub.ProviderSubscriptionID != ps.ID) {
		return nil, licensing.Errorf(licensing.EConflict, "subscription %s is linked to another provider subscription", sub.ID)
	}
	return sub, nil
}

// moveTo follows the provider's status.
func (s *Service) moveTo(ctx context.Context, tx Store, sub *Subscription, ps *ProviderSubscription, ev *ProviderEvent) error {
	switch ps.Status {
	case Trialing:
		if sub.Status != Trialing && sub.Status != Active {
			return nil
		}
		sub.Status = Trialing
		if ps.TrialEnd != nil {
			return s.runTo(ctx, tx, sub, ps.TrialEnd.UTC().Truncate(time.Second), "trial")
		}
	case Active:
		if sub.Status == PastDue || sub.Status == Trialing {
			// Paid (the invoice event says for which period).
			return s.recover(ctx, tx, sub)
		}
	case PastDue:
		return s.pastDue(ctx, tx, sub)
	case Canceled, Expired:
		return s.finish(ctx, tx, sub, ev.Provider)
	}
	return nil
}

// finish ends a subscription the provider ended: expired when its paid
// period is over (the licenses run out by themselves), canceled with its
// licenses ended now when it ended early.
func (s *Service) finish(ctx context.Context, tx Store, sub *Subscription, provider string) error {
	if sub.Status.ended() {
		return nil
	}
	if sub.PaidThrough == nil || !s.now().Before(*sub.PaidThrough) {
		sub.Status = Expired
		return nil
	}
	return s.end(ctx, tx, sub, "subscription ended at "+provider)
}

func (s *Service) createFromProvider(ctx context.Context, tx Store, ev *ProviderEvent, policyID string, out *Outcome) error {
	ps := ev.Subscription
	if ps.Status.ended() {
		out.Ignored = "an ended subscription never seen before"
		return nil
	}
	customerID, err := s.customer(ctx, tx, ev.Provider, &ProviderCustomer{ID: ps.CustomerID})
	if err != nil {
		return err
	}
	in := CreateInput{CustomerID: customerID, PolicyID: policyID, Interval: ps.Interval, IntervalDays: ps.IntervalDays}
	c, err := s.create(ctx, tx, in, ev.Provider, ps.CustomerID, ps.ID)
	if err != nil {
		return err
	}
	sub := &c.Subscription
	out.SubscriptionID = sub.ID
	// The provider's dates replace the ones create assumed.
	before := *sub
	sub.ProviderUpdatedAt = &ev.Created
	sub.PaidThrough, sub.LastPaidAt = nil, nil
	if !ps.PeriodEnd.IsZero() {
		st, en := ps.PeriodStart.UTC(), ps.PeriodEnd.UTC()
		sub.CurrentPeriodStart, sub.CurrentPeriodEnd = &st, &en
	}
	sub.TrialEnd, sub.CancelAtPeriodEnd = ps.TrialEnd, ps.CancelAtPeriodEnd
	sub.Status = ps.Status
	switch ps.Status {
	case Active:
		if !ps.PeriodEnd.IsZero() {
			if _, err := s.paid(ctx, tx, sub, ps.PeriodStart, ps.PeriodEnd, ev.Created); err != nil {
				return err
			}
		}
	case Trialing:
		if ps.TrialEnd != nil {
			if err := s.runTo(ctx, tx, sub, ps.TrialEnd.UTC().Truncate(time.Second), "trial"); err != nil {
				return err
			}
		}
	case PastDue:
		sub.Status = Active
		if err := s.pastDue(ctx, tx, sub); err != nil {
			return err
		}
	}
	if err := s.save(ctx, tx, sub); err != nil {
		return err
	}
	return s.record(ctx, tx, licensing.ActionSubscriptionUpdated, sub.ID, "synced from "+ev.Provider, &before, sub)
}

func (s *Service) deleted(ctx context.Context, tx Store, ev *ProviderEvent, out *Outcome) error {
	sub, err := tx.FindByProvider(ctx, ev.Provider, ev.Subscription.ID, true)
	if licensing.ErrorCode(err) == licensing.ENotFound {
		out.Ignored = "unknown subscription"
		return nil
	} else if err != nil {
		return err
	}
	out.SubscriptionID = sub.ID
	if sub.Status.ended() {
		out.Ignored = "already ended"
		return nil
	}
	before := *sub
	sub.ProviderUpdatedAt = &ev.Created
	if err := s.finish(ctx, tx, sub, ev.Provider); err != nil {
		return err
	}
	if err := s.save(ctx, tx, sub); err != nil {
		return err
	}
	action := licensing.ActionSubscriptionCanceled
	if sub.Status == Expired {
		action = licensing.ActionSubscriptionExpired
	}
	return s.record(ctx, tx, action, sub.ID, "ended at "+ev.Provider, &before, sub)
}

func (s *Service) invoice(ctx context.Context, tx Store, ev *ProviderEvent, out *Outcome) error {
	inv := ev.Invoice
	sub, err := tx.FindByProvider(ctx, ev.Provider, inv.SubscriptionID, true)
	if licensing.ErrorCode(err) == licensing.ENotFound {
		// Its subscription event is still on its way: refuse, so the
		// provider delivers this one again later.
		return licensing.Errorf(licensing.EConflict, "subscription %s is not known yet: deliver the event again later", inv.SubscriptionID)
	} else if err != nil {
		return err
	}
	out.SubscriptionID = sub.ID
	if sub.Status.ended() {
		out.Ignored = "the subscription has ended"
		return nil
	}
	before := *sub
	if ev.Kind == KindPaymentFailed {
		if sub.LastPaidAt != nil && !ev.Created.After(*sub.LastPaidAt) {
			out.Ignored = "a later payment succeeded"
			return nil
		}
		sub.LastPaymentFailedAt = &ev.Created
		if err := s.pastDue(ctx, tx, sub); err != nil {
			return err
		}
		return s.save(ctx, tx, sub)
	}
	if inv.PeriodEnd.IsZero() {
		return licensing.Errorf(licensing.EInvalid, "invoice.period_end is required")
	}
	changed, err := s.paid(ctx, tx, sub, inv.PeriodStart, inv.PeriodEnd, ev.Created)
	if err != nil {
		return err
	}
	if !changed {
		out.Ignored = "this period is already paid"
		return nil
	}
	if err := s.save(ctx, tx, sub); err != nil {
		return err
	}
	return s.record(ctx, tx, licensing.ActionSubscriptionRenewed, sub.ID, "paid through "+sub.PaidThrough.Format(time.RFC3339), &before, sub)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}
