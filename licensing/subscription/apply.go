package subscription

import (
	"context"
	"errors"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/nzilacode/narcidicontrole/licensing"
)

// raced marks a unique key another transaction took between our read and
// our insert (two first events of one checkout delivered at once): the
// whole event is applied again, and then finds the row.
type raced struct{ error }

func (r raced) Unwrap() error { return r.error }

func racedIf(err error) error {
	if licensing.ErrorCode(err) == licensing.EConflict {
		return raced{err}
	}
	return err
}

// Apply applies a provider event, once per event id, in one transaction
// (the claim of the id included: an event that fails is not claimed and
// may be delivered again). Subscription events bring the subscription to
// the provider's state (Decide) unless a newer state was applied already;
// invoice events record payments; refunds and disputes do what the
// policy's refund_action and dispute_action say. EInvalid (malformed, a
// new subscription of an unknown price), EConflict (an invoice or payment
// of a subscription not yet known: deliver it again later).
func (s *Service) Apply(ctx context.Context, ev ProviderEvent) (*Outcome, error) {
	if err := ev.check(); err != nil {
		return nil, err
	}
	ev.Created = ev.Created.UTC().Truncate(time.Second)
	ctx = licensing.WithActor(ctx, &licensing.Actor{Name: "billing:" + ev.Provider, RequestID: licensing.ActorFrom(ctx).RequestID})
	var out *Outcome
	var err error
	for range 3 {
		out, err = s.apply(ctx, &ev)
		if !errors.As(err, &raced{}) {
			break
		}
	}
	if err != nil {
		return nil, err
	}
	return out, nil
}

func (s *Service) apply(ctx context.Context, ev *ProviderEvent) (*Outcome, error) {
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
		note := EventNote{Provider: ev.Provider, EventID: ev.ID, Kind: string(ev.Kind), ProcessedAt: s.now()}
		switch ev.Kind {
		case KindCustomer:
			note.ObjectID = ev.Customer.ID
			err = s.syncCustomer(ctx, tx, ev, out)
		case KindSubscription, KindSubscriptionDeleted:
			note.ObjectID = ev.Subscription.ID
			err = s.syncSubscription(ctx, tx, ev, out)
		case KindInvoicePaid, KindPaymentFailed:
			inv := ev.Invoice
			note.ObjectID, note.PaymentRefs, note.AmountPaid, note.Currency = inv.ID, inv.PaymentRefs, inv.AmountPaid, inv.Currency
			err = s.invoice(ctx, tx, ev, out)
		case KindRefund, KindDispute:
			note.ObjectID, note.PaymentRefs = ev.Payment.ID, ev.Payment.Refs
			err = s.payment(ctx, tx, ev, out)
		}
		if err != nil {
			return err
		}
		note.SubscriptionID, note.Effect = out.SubscriptionID, out.Effect
		if out.Ignored != "" {
			note.Effect = "ignored: " + out.Ignored
		}
		note.Effect = truncate(strings.Join(append([]string{note.Effect}, out.Warnings...), "; "), 1000)
		return tx.NoteProviderEvent(ctx, note)
	})
	return out, err
}

// syncCustomer creates or updates the customer of a provider's customer
// event; an event older than the last one applied changes nothing.
func (s *Service) syncCustomer(ctx context.Context, tx Store, ev *ProviderEvent, out *Outcome) error {
	id, err := s.customer(ctx, tx, ev.Provider, ev.Customer, ev.Created)
	if err != nil {
		return err
	}
	out.Effect = "customer " + id
	return nil
}

// customer returns the Narcidi customer of a provider's customer, creating
// (and linking) it on first sight. at is the time of a customer event
// carrying its name and email (zero: a subscription naming only its id,
// which creates a placeholder the customer's own event fills in later).
func (s *Service) customer(ctx context.Context, tx Store, provider string, pc *ProviderCustomer, at time.Time) (string, error) {
	name, email := strings.TrimSpace(pc.Name), strings.TrimSpace(pc.Email)
	id, err := tx.ProviderCustomer(ctx, provider, pc.ID)
	if err == nil {
		if at.IsZero() || (name == "" && email == "") {
			return id, nil
		}
		newer, err := tx.TouchCustomerLink(ctx, provider, pc.ID, at)
		if err != nil || !newer {
			return id, err
		}
		c, err := tx.CustomersStore().GetCustomer(ctx, id)
		if err != nil {
			return "", err
		}
		var patch licensing.CustomerPatch
		if name != "" && name != c.Name {
			n := truncate(name, 200)
			patch.Name = &n
		}
		if email != "" && email != c.Email {
			patch.Email = &email
		}
		if patch.Name == nil && patch.Email == nil {
			return id, nil
		}
		_, err = s.cfg.Customers.Within(tx.CustomersStore()).UpdateCustomer(ctx, id, patch)
		return id, err
	} else if licensing.ErrorCode(err) != licensing.ENotFound {
		return "", err
	}
	if name == "" {
		name = provider + " customer " + pc.ID
	}
	c, err := s.cfg.Customers.Within(tx.CustomersStore()).CreateCustomer(ctx, licensing.CustomerInput{
		Name: truncate(name, 200), Email: email, Metadata: map[string]string{provider + "_customer_id": truncate(pc.ID, 1000)}})
	if err != nil {
		return "", err
	}
	if err := tx.LinkCustomer(ctx, provider, pc.ID, c.ID, s.now()); err != nil {
		return "", racedIf(err)
	}
	if !at.IsZero() {
		_, err = tx.TouchCustomerLink(ctx, provider, pc.ID, at)
	}
	return c.ID, err
}

// syncSubscription brings the subscription of a provider's subscription
// event to the state it carries (creating it on first sight).
func (s *Service) syncSubscription(ctx context.Context, tx Store, ev *ProviderEvent, out *Outcome) error {
	ps := ev.Subscription
	if ev.Kind == KindSubscriptionDeleted && !ps.Status.ended() {
		ps.Status = Canceled
	}
	if ps.Interval == "" {
		ps.Interval = Month
	}
	if err := checkInterval(ps.Interval, ps.IntervalDays); err != nil {
		return err
	}
	sub, err := s.findProvider(ctx, tx, ev.Provider, ps)
	if licensing.ErrorCode(err) == licensing.ENotFound {
		if ps.Status.ended() {
			out.Ignored = "an ended subscription never seen before"
			return nil
		}
		if sub, err = s.createFromProvider(ctx, tx, ev); err != nil {
			return err
		}
	} else if err != nil {
		return err
	}
	out.SubscriptionID = sub.ID
	return s.converge(ctx, tx, sub, ev, out)
}

// createFromProvider records a provider's subscription seen for the first
// time: incomplete and without licenses until converge gives it the
// provider's state. A price mapped to no policy is refused (EInvalid):
// nothing is created.
func (s *Service) createFromProvider(ctx context.Context, tx Store, ev *ProviderEvent) (*Subscription, error) {
	ps := ev.Subscription
	d := Decide(ps, s.cfg.Prices, ev.Created, 0)
	if d.PolicyID == "" {
		return nil, licensing.Errorf(licensing.EInvalid, "unknown price %q: map it to a policy (NARCIDI_STRIPE_PRICES)", strings.Join(d.Unmapped, ","))
	}
	if _, err := tx.LicensesStore().GetPolicy(ctx, d.PolicyID); licensing.ErrorCode(err) == licensing.ENotFound {
		return nil, licensing.Errorf(licensing.EInvalid, "policy %s does not exist", d.PolicyID)
	} else if err != nil {
		return nil, err
	}
	customerID, err := s.customer(ctx, tx, ev.Provider, &ProviderCustomer{ID: ps.CustomerID}, time.Time{})
	if err != nil {
		return nil, err
	}
	now := s.now()
	sub := &Subscription{CustomerID: customerID, PolicyID: d.PolicyID, Interval: ps.Interval, IntervalDays: ps.IntervalDays, Status: Incomplete,
		Provider: ev.Provider, ProviderCustomerID: ps.CustomerID, ProviderSubscriptionID: ps.ID, LicenseIDs: []string{}, CreatedAt: now, UpdatedAt: now}
	if err := tx.CreateSubscription(ctx, sub); err != nil {
		return nil, racedIf(err)
	}
	return sub, s.record(ctx, tx, licensing.ActionSubscriptionCreated, sub.ID, "seen at "+ev.Provider, nil, sub)
}

// converge brings sub to the provider's state of ev (Decide), unless a
// newer state was applied: the plan (over seats if need be), the licenses'
// expiry, dunning, suspension or end. Every step runs only when it
// changes something, and the subscription is saved and audited only then.
func (s *Service) converge(ctx context.Context, tx Store, sub *Subscription, ev *ProviderEvent, out *Outcome) error {
	ps := *ev.Subscription
	if older(sub, ps.PeriodEnd.UTC(), ev.Created, ps.Status) {
		out.Ignored = "older than the state applied"
		return nil
	}
	// A past-due state from before the last payment, of a period that
	// payment covered, does not reopen dunning.
	if ps.Status == PastDue && sub.LastPaidAt != nil && !ev.Created.After(*sub.LastPaidAt) &&
		sub.PaidThrough != nil && !sub.PaidThrough.Before(ps.PeriodEnd) {
		ps.Status = Active
	}
	before := clone(sub)
	window, err := s.dunningWindow(ctx, tx, sub)
	if err != nil {
		return err
	}
	since := ev.Created
	if sub.PastDueSince != nil {
		since = *sub.PastDueSince
	}
	d := Decide(&ps, s.cfg.Prices, since, window)
	for _, p := range d.Unmapped {
		out.Warnings = append(out.Warnings, "price "+p+" is mapped to no policy: the plan stays")
	}
	sub.ProviderUpdatedAt = &ev.Created
	sub.Provider, sub.ProviderSubscriptionID, sub.ProviderCustomerID = ev.Provider, ps.ID, ps.CustomerID
	sub.Interval, sub.IntervalDays = ps.Interval, ps.IntervalDays
	if !ps.PeriodEnd.IsZero() {
		st, en := ps.PeriodStart.UTC().Truncate(time.Second), ps.PeriodEnd.UTC().Truncate(time.Second)
		sub.CurrentPeriodStart, sub.CurrentPeriodEnd = &st, &en
	}
	sub.TrialEnd, sub.CancelAt = utcSecond(ps.TrialEnd), utcSecond(ps.CancelAt)
	if d.Seats > 0 {
		sub.Seats = d.Seats
	}
	var effects []string
	action := licensing.ActionSubscriptionUpdated
	if sub.CancelAtPeriodEnd != ps.CancelAtPeriodEnd {
		sub.CancelAtPeriodEnd = ps.CancelAtPeriodEnd
		action = map[bool]string{true: licensing.ActionSubscriptionCanceled, false: licensing.ActionSubscriptionResumed}[ps.CancelAtPeriodEnd]
	}
	if d.PolicyID != "" && d.PolicyID != sub.PolicyID {
		moved, err := s.movePolicy(ctx, tx, sub, d.PolicyID, "plan changed at "+ev.Provider, out)
		if err != nil {
			return err
		}
		if moved {
			action = licensing.ActionSubscriptionPlanChanged
			effects = append(effects, "plan changed")
		}
	}
	switch d.Access {
	case AccessNone:
		sub.Status = Incomplete
	case AccessOn:
		if err := s.accessOn(ctx, tx, sub, d, ev, window); err != nil {
			return err
		}
	case AccessSuspended:
		sub.Status = Unpaid
		if err := s.suspend(ctx, tx, sub); err != nil {
			return err
		}
	case AccessEnded:
		if err := s.endAt(ctx, tx, sub, d, ev.Provider); err != nil {
			return err
		}
		action = licensing.ActionSubscriptionCanceled
		if sub.Status == Expired {
			action = licensing.ActionSubscriptionExpired
		}
	}
	// The licenses' seats follow the quantity billed (a new license got
	// them in ensureLicenses); machines freed or taken since the last
	// state, a plan or quantity change: the over-seats flag follows.
	reseated, err := s.applySeats(ctx, tx, sub)
	if err != nil {
		return err
	}
	if reseated {
		effects = append(effects, "seats "+strconv.Itoa(sub.Seats))
	}
	if sub.OverSeats, err = s.seatsOver(ctx, tx, sub); err != nil {
		return err
	}
	if sub.OverSeats > 0 && (moved(before, sub) || reseated) {
		out.Warnings = append(out.Warnings, "the licenses hold more machines than their seats: the customer must free some")
		flagged := clone(sub)
		flagged.OverSeats = before.OverSeats
		if err := s.record(ctx, tx, licensing.ActionSubscriptionOverSeats, sub.ID,
			"the plan or quantity allows fewer machines than in use: deactivate machines to free seats", flagged, sub); err != nil {
			return err
		}
	}
	if sameState(before, sub) {
		// Nothing changed, but the state's time did: keep it, so an older
		// state delivered later is known as older.
		out.Effect = "no change"
		return s.save(ctx, tx, before, sub)
	}
	if err := s.save(ctx, tx, before, sub); err != nil {
		return err
	}
	effects = append(effects, "status "+string(sub.Status))
	if d.Access == AccessOn && !d.RunsTo.IsZero() {
		effects = append(effects, "licenses run to "+d.RunsTo.Format(time.RFC3339))
	}
	out.Effect = strings.Join(effects, ", ")
	return s.record(ctx, tx, action, sub.ID, "synced from "+ev.Provider, before, sub)
}

// accessOn applies a state with access: dunning opened or closed, licenses
// created if none yet, reinstated if dunning suspended them, and run to
// exactly d.RunsTo (shorter too: a cancel date, a trial shorter than
// assumed).
func (s *Service) accessOn(ctx context.Context, tx Store, sub *Subscription, d Decision, ev *ProviderEvent, window time.Duration) error {
	if d.Status == PastDue {
		if sub.PastDueSince == nil {
			since, ends := ev.Created, ev.Created.Add(window)
			before := clone(sub)
			sub.PastDueSince, sub.DunningEndsAt, sub.DunningNoticeAt = &since, &ends, nil
			sub.Status = PastDue
			if err := s.record(ctx, tx, licensing.ActionSubscriptionPastDue, sub.ID,
				"payment failed: licenses are suspended at "+ends.Format(time.RFC3339)+" unless paid", before, sub); err != nil {
				return err
			}
		}
	} else if sub.PastDueSince != nil || sub.LicensesSuspended {
		if err := s.recover(ctx, tx, sub); err != nil {
			return err
		}
	}
	sub.Status = d.Status
	if sub.LicensesSuspended {
		// Past due with the window over: the sweep suspended them; only a
		// payment brings them back.
		return nil
	}
	if err := s.ensureLicenses(ctx, tx, sub, d.RunsTo); err != nil {
		return err
	}
	return s.runExactly(ctx, tx, sub, d.RunsTo, "subscription "+string(d.Status)+" at "+sub.Provider)
}

// ensureLicenses creates the subscription's license when it has none (a
// subscription seen incomplete that now runs).
func (s *Service) ensureLicenses(ctx context.Context, tx Store, sub *Subscription, to time.Time) error {
	if len(sub.LicenseIDs) > 0 || !to.After(s.now()) {
		return nil
	}
	cl, err := s.licenses(tx).CreateLicense(ctx, licensing.LicenseInput{PolicyID: sub.PolicyID, CustomerID: sub.CustomerID, ExpiresAt: &to})
	if err != nil {
		return err
	}
	sub.LicenseIDs = []string{cl.ID}
	_, err = s.applySeats(ctx, tx, sub)
	return err
}

// applySeats gives sub's licenses the seats its quantity buys (sub.Seats
// units of the policy's seats; one unit is the policy's own count, no
// override). A quantity below the machines in use is applied all the same
// (seatsOver flags it). changed reports whether a license's seats moved.
func (s *Service) applySeats(ctx context.Context, tx Store, sub *Subscription) (changed bool, _ error) {
	if sub.Seats < 1 {
		return false, nil // not a provider's quantity (created in Narcidi)
	}
	pol, err := tx.LicensesStore().GetPolicy(ctx, sub.PolicyID)
	if err != nil {
		return false, err
	}
	var want *int
	if n := sub.Seats * pol.MaxMachines; sub.Seats > 1 {
		want = &n
	}
	for _, id := range sub.LicenseIDs {
		l, err := tx.LicensesStore().GetLicense(ctx, id)
		if err != nil {
			return false, err
		}
		if l.Status == licensing.LicenseRevoked || l.PolicyID != pol.ID || licensing.SameSeats(l.SeatsOverride, want) {
			continue
		}
		if _, _, err := s.licenses(tx).SetSeatsOverSeats(ctx, id, want, "seats billed at "+sub.Provider+": "+strconv.Itoa(sub.Seats)); err != nil {
			return false, err
		}
		changed = true
	}
	return changed, nil
}

// runExactly moves every governed license's expiry to to (later or
// earlier), waking an expired one; a revoked license is left alone, and a
// date already past changes nothing (the licenses run out by themselves).
func (s *Service) runExactly(ctx context.Context, tx Store, sub *Subscription, to time.Time, reason string) error {
	if !to.After(s.now()) {
		return nil
	}
	if sub.CurrentPeriodStart != nil {
		if err := s.resetMeters(ctx, tx, sub, *sub.CurrentPeriodStart); err != nil {
			return err
		}
	}
	for _, id := range sub.LicenseIDs {
		l, err := tx.LicensesStore().GetLicense(ctx, id)
		if err != nil {
			return err
		}
		if l.Status == licensing.LicenseRevoked || (l.ExpiresAt != nil && l.ExpiresAt.Equal(to) && l.Status != licensing.LicenseExpired) {
			continue
		}
		if _, err := s.licenses(tx).ExtendLicense(ctx, id, licensing.ExtendInput{ExpiresAt: &to, Reason: reason}); err != nil {
			return err
		}
	}
	return nil
}

// suspend suspends the active licenses for the subscription's dunning (a
// payment reinstates them).
func (s *Service) suspend(ctx context.Context, tx Store, sub *Subscription) error {
	if sub.LicensesSuspended {
		return nil
	}
	for _, id := range sub.LicenseIDs {
		l, err := tx.LicensesStore().GetLicense(ctx, id)
		if err != nil {
			return err
		}
		if l.Status != licensing.LicenseActive {
			continue
		}
		if _, err := s.licenses(tx).SuspendLicense(ctx, id, dunningReason); err != nil {
			return err
		}
	}
	sub.LicensesSuspended = true
	return nil
}

// endAt ends a subscription the provider ended (canceled, a trial paused
// or deleted unpaid): its licenses end now (expired or revoked, as
// cancel_action says), grace included: the provider said it is over.
// Expired when it ran to the end of its period, canceled when it ended
// early; paused stays paused (the provider may resume it).
func (s *Service) endAt(ctx context.Context, tx Store, sub *Subscription, d Decision, provider string) error {
	if sub.Status.ended() {
		return nil
	}
	at := d.EndsAt
	if at.IsZero() {
		at = s.now().Truncate(time.Second)
	}
	ranOut := sub.CurrentPeriodEnd != nil && !at.Before(*sub.CurrentPeriodEnd)
	if err := s.end(ctx, tx, sub, "subscription ended at "+provider, !ranOut); err != nil {
		return err
	}
	switch {
	case d.Status == Paused:
		sub.Status = Paused
	case ranOut:
		sub.Status = Expired
	}
	return nil
}

func moved(before, after *Subscription) bool { return before.PolicyID != after.PolicyID }

// seatsOver counts the machines sub's licenses hold beyond their seats
// (their own count, else their policy's).
func (s *Service) seatsOver(ctx context.Context, tx Store, sub *Subscription) (int, error) {
	over := 0
	for _, id := range sub.LicenseIDs {
		l, err := tx.LicensesStore().GetLicense(ctx, id)
		if err != nil {
			return 0, err
		}
		pol, err := tx.LicensesStore().GetPolicy(ctx, l.PolicyID)
		if err != nil {
			return 0, err
		}
		n, err := tx.LicensesStore().CountMachines(ctx, id)
		if err != nil {
			return 0, err
		}
		over += max(n-l.Seats(pol), 0)
	}
	return over, nil
}

// movePolicy moves sub and its licenses to policyID as the provider
// decided: a downgrade below the machines in use is made all the same
// (converge flags it over seats). A policy that does not exist is a warning; the
// plan stays.
func (s *Service) movePolicy(ctx context.Context, tx Store, sub *Subscription, policyID, reason string, out *Outcome) (bool, error) {
	pol, err := tx.LicensesStore().GetPolicy(ctx, policyID)
	if licensing.ErrorCode(err) == licensing.ENotFound {
		out.Warnings = append(out.Warnings, "policy "+policyID+" does not exist: the plan stays")
		return false, nil
	} else if err != nil {
		return false, err
	}
	for _, lid := range sub.LicenseIDs {
		l, err := tx.LicensesStore().GetLicense(ctx, lid)
		if err != nil {
			return false, err
		}
		if l.PolicyID == pol.ID || l.Status == licensing.LicenseRevoked {
			continue
		}
		// Over seats or not: converge recounts once the seats follow the
		// new plan's (applySeats) and flags it.
		if _, _, err := s.licenses(tx).ChangePolicyOverSeats(ctx, lid, pol.ID, reason); err != nil {
			return false, err
		}
	}
	sub.PolicyID = pol.ID
	return true, nil
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
	before := clone(sub)
	if ev.Kind == KindPaymentFailed {
		if sub.LastPaidAt != nil && !ev.Created.After(*sub.LastPaidAt) {
			out.Ignored = "a later payment succeeded"
			return nil
		}
		if sub.LastPaymentFailedAt == nil || ev.Created.After(*sub.LastPaymentFailedAt) {
			sub.LastPaymentFailedAt = &ev.Created
		}
		switch sub.Status {
		case Active, Trialing:
			if err := s.pastDue(ctx, tx, sub, ev.Created); err != nil {
				return err
			}
			out.Effect = "past due: dunning until " + sub.DunningEndsAt.Format(time.RFC3339)
		default:
			// Incomplete (no license runs yet), already past due, unpaid or
			// paused: the subscription's own state says more.
			out.Effect = "payment failure recorded"
		}
		if sameState(before, sub) {
			out.Ignored = "already recorded"
			return nil
		}
		return s.save(ctx, tx, before, sub)
	}
	if sub.LastPaidAt == nil || ev.Created.After(*sub.LastPaidAt) {
		sub.LastPaidAt = &ev.Created
	}
	renewed := false
	// A $0 invoice of a trial pays for nothing: the trial stays a trial.
	if !inv.PeriodEnd.IsZero() && !(inv.AmountPaid == 0 && sub.Status == Trialing) {
		end := inv.PeriodEnd.UTC().Truncate(time.Second)
		if sub.PaidThrough == nil || end.After(*sub.PaidThrough) {
			sub.PaidThrough, renewed = &end, true
		}
	}
	newerFailure := sub.LastPaymentFailedAt != nil && sub.LastPaymentFailedAt.After(ev.Created)
	covers := sub.PaidThrough != nil && (sub.CurrentPeriodEnd == nil || !sub.PaidThrough.Before(*sub.CurrentPeriodEnd))
	if (sub.Status == PastDue || sub.Status == Unpaid) && !newerFailure && covers {
		if err := s.recover(ctx, tx, sub); err != nil {
			return err
		}
	}
	// The first payment of a subscription seen incomplete provisions it
	// (Stripe's signal to), whether or not its update to active came yet.
	if sub.Status == Incomplete && inv.AmountPaid > 0 && covers {
		sub.Status = Active
		if err := s.ensureLicenses(ctx, tx, sub, *sub.PaidThrough); err != nil {
			return err
		}
	}
	if renewed && sub.Status != Trialing {
		to := *sub.PaidThrough
		if sub.CancelAt != nil && sub.CancelAt.Before(to) {
			to = *sub.CancelAt
		}
		if err := s.runTo(ctx, tx, sub, to, "subscription period paid"); err != nil {
			return err
		}
		if err := s.resetMeters(ctx, tx, sub, inv.PeriodStart); err != nil {
			return err
		}
	}
	if sameState(before, sub) {
		out.Ignored = "this period is already paid"
		return nil
	}
	if err := s.save(ctx, tx, before, sub); err != nil {
		return err
	}
	if !renewed {
		out.Effect = "payment recorded"
		return s.record(ctx, tx, licensing.ActionSubscriptionUpdated, sub.ID, "payment received", before, sub)
	}
	out.Effect = "paid through " + sub.PaidThrough.Format(time.RFC3339)
	return s.record(ctx, tx, licensing.ActionSubscriptionRenewed, sub.ID, "paid through "+sub.PaidThrough.Format(time.RFC3339), before, sub)
}

// Refund and dispute actions (policy metadata refund_action and
// dispute_action).
const (
	PaymentActionNothing = "nothing"
	PaymentActionSuspend = "suspend"
	PaymentActionEnd     = "end"
)

// payment applies a refund or dispute of a subscription's payment as the
// policy says; it is audited whatever the action, nothing included.
func (s *Service) payment(ctx context.Context, tx Store, ev *ProviderEvent, out *Outcome) error {
	p := ev.Payment
	if ev.Kind == KindRefund && !p.Full {
		out.Ignored = "a partial refund"
		return nil
	}
	id, err := tx.SubscriptionOfPayment(ctx, ev.Provider, p.Refs)
	if licensing.ErrorCode(err) == licensing.ENotFound {
		out.Ignored = "a payment of no subscription seen"
		return nil
	} else if err != nil {
		return err
	}
	sub, err := tx.LockSubscription(ctx, id)
	if err != nil {
		return err
	}
	out.SubscriptionID = sub.ID
	pol, err := tx.LicensesStore().GetPolicy(ctx, sub.PolicyID)
	if err != nil {
		return err
	}
	key, action, event, what := licensing.MetaRefundAction, PaymentActionEnd, licensing.ActionSubscriptionRefunded, "payment refunded"
	if ev.Kind == KindDispute {
		key, action, event, what = licensing.MetaDisputeAction, PaymentActionSuspend, licensing.ActionSubscriptionDisputed, "payment disputed"
	}
	if v, ok := pol.Metadata[key]; ok {
		action = v
	}
	before := clone(sub)
	switch action {
	case PaymentActionNothing:
	case PaymentActionSuspend:
		for _, lid := range sub.LicenseIDs {
			l, err := tx.LicensesStore().GetLicense(ctx, lid)
			if err != nil {
				return err
			}
			if l.Status != licensing.LicenseActive {
				continue
			}
			if _, err := s.licenses(tx).SuspendLicense(ctx, lid, what+" at "+ev.Provider); err != nil {
				return err
			}
		}
	case PaymentActionEnd:
		if !sub.Status.ended() {
			if err := s.end(ctx, tx, sub, what+" at "+ev.Provider, true); err != nil {
				return err
			}
		}
	default:
		return licensing.Errorf(licensing.EInvalid, "policy %s: metadata %s must be nothing, suspend or end", pol.ID, key)
	}
	out.Effect = what + ": " + action
	if !sameState(before, sub) {
		if err := s.save(ctx, tx, before, sub); err != nil {
			return err
		}
	}
	return s.record(ctx, tx, event, sub.ID, what+" ("+p.ID+"): "+key+" is "+action, before, sub)
}

// findProvider finds (locked) the subscription of ps: by the provider's id,
// else by the Narcidi id it carries (a link, e.g. a trial being converted:
// its licenses and machines stay).
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

// clone copies a subscription deep enough that changing one leaves the
// other as read.
func clone(sub *Subscription) *Subscription {
	c := *sub
	c.LicenseIDs = slices.Clone(sub.LicenseIDs)
	return &c
}

// sameState reports whether nothing but bookkeeping differs.
func sameState(a, b *Subscription) bool {
	x, y := *a, *b
	x.UpdatedAt, y.UpdatedAt = time.Time{}, time.Time{}
	x.ProviderUpdatedAt, y.ProviderUpdatedAt = nil, nil
	return reflect.DeepEqual(normal(&x), normal(&y))
}

func normal(s *Subscription) *Subscription {
	for _, p := range []**time.Time{&s.CurrentPeriodStart, &s.CurrentPeriodEnd, &s.PaidThrough, &s.CanceledAt, &s.TrialEnd, &s.TrialNoticeAt,
		&s.PastDueSince, &s.DunningEndsAt, &s.DunningNoticeAt, &s.LastPaidAt, &s.LastPaymentFailedAt, &s.CancelAt} {
		if *p != nil {
			t := (*p).UTC()
			*p = &t
		}
	}
	if len(s.LicenseIDs) == 0 {
		s.LicenseIDs = nil
	}
	if len(s.Metadata) == 0 {
		s.Metadata = nil
	}
	return s
}

func utcSecond(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC().Truncate(time.Second)
	return &u
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}
