package licensing

import (
	"context"
	"slices"
	"time"
)

// The activation rules of a policy (rules.go) as Leasing applies them,
// inside Activate's transaction with the license row locked: matching a
// drifted machine, uniqueness, the abuse caps, and the seat count with
// overage.

// takeSeat is Activate for a fingerprint that holds no row on the license:
// a machine matched by its components keeps its seat (its fingerprint
// moves); otherwise a new seat is taken if uniqueness, the activation cap
// and the seats (overage included) allow. created reports a new seat.
func (s *Leasing) takeSeat(ctx context.Context, tx LeasingStore, lic *License, pol *Policy, req MachineRequest, now time.Time) (_ *Machine, created bool, _ error) {
	appCtx := WithActor(ctx, &Actor{Name: "app", LicenseID: lic.ID, RequestID: ActorFrom(ctx).RequestID})
	// A fingerprint takes seats one license at a time: a uniqueness check
	// sees every seat another activation of it took, whatever the scope
	// of that license's policy (its seat is only ever taken here).
	if err := tx.LockFingerprint(ctx, req.Fingerprint); err != nil {
		return nil, false, err
	}
	if m, err := s.matchDrifted(appCtx, tx, lic, pol, req, now); m != nil || err != nil {
		return m, false, err
	}
	r := pol.Rules
	if r.Uniqueness != UniquePerLicense {
		taken, err := tx.FingerprintElsewhere(ctx, lic, req.Fingerprint, r.Uniqueness)
		if err != nil {
			return nil, false, err
		}
		if taken {
			return nil, false, Errorf(EFingerprintTaken, "this machine already holds a seat on another license (uniqueness: %s)", r.Uniqueness)
		}
	}
	if err := capReached(ctx, tx, lic, SeatActivation, r.MaxActivations, r.LimitPeriodSeconds, now); err != nil {
		return nil, false, err
	}
	n, err := tx.CountMachines(ctx, lic.ID)
	if err != nil {
		return nil, false, err
	}
	seats := lic.Seats(pol)
	if limit := r.SeatCap(seats); n >= limit {
		if limit > seats {
			return nil, false, Errorf(ESeatLimit, "all %d machine seats of the license and its overage of %d are taken", seats, limit-seats)
		}
		return nil, false, Errorf(ESeatLimit, "all %d machine seats of the license are taken", seats)
	}
	if err := s.checkTrial(ctx, tx, lic, pol, req.Fingerprint, now); err != nil {
		return nil, false, err
	}
	m := &Machine{
		LicenseID: lic.ID, Fingerprint: req.Fingerprint, Name: req.Name, Hostname: req.Hostname,
		Platform: req.Platform, IP: req.IP, Status: MachineActive, LastHeartbeat: &now, LastLeaseAt: &now,
		Components: req.Components, CreatedAt: now, UpdatedAt: now,
	}
	if err := tx.CreateMachine(ctx, m); err != nil {
		return nil, false, err
	}
	if r.MaxActivations > 0 {
		if err := tx.RecordSeatEvent(ctx, lic.ID, SeatActivation, now); err != nil {
			return nil, false, err
		}
	}
	if err := s.record(appCtx, tx, ActionMachineActivated, "machine", m.ID, "", nil, m); err != nil {
		return nil, false, err
	}
	if n == seats { // this seat is the first beyond the license's seats
		over := map[string]any{"license_id": lic.ID, "seats": seats, "machines": n + 1, "seat_cap": r.SeatCap(seats)}
		if err := s.record(appCtx, tx, ActionLicenseOverageEntered, "license", lic.ID, "", nil, over); err != nil {
			return nil, false, err
		}
	}
	return m, true, nil
}

// matchDrifted finds, under the policy's matching rule, the machine of the
// license that a request with a new fingerprint is: the first (oldest)
// whose components match. Its fingerprint and components move to the
// request's and machine.fingerprint_changed records it. nil when none
// matches (or the rule is the default, fingerprint only).
func (s *Leasing) matchDrifted(ctx context.Context, tx LeasingStore, lic *License, pol *Policy, req MachineRequest, now time.Time) (*Machine, error) {
	if pol.Rules.Matching == MatchExact || len(req.Components) == 0 {
		return nil, nil
	}
	ms, err := tx.MachinesWithComponents(ctx, lic.ID)
	if err != nil {
		return nil, err
	}
	for i := range ms {
		m := &ms[i]
		if !ComponentsMatch(pol.Rules.Matching, m.Components, req.Components) {
			continue
		}
		before := *m
		if err := tx.MoveMachine(ctx, m.ID, m.Fingerprint, req.Fingerprint, req.Components, now); err != nil {
			return nil, err
		}
		if err := tx.TouchMachine(ctx, m.ID, true, true, req.IP, now); err != nil {
			return nil, err
		}
		m.Fingerprint, m.Components, m.UpdatedAt = req.Fingerprint, req.Components, now
		m.LastHeartbeat, m.LastLeaseAt, m.Status = &now, &now, MachineActive
		if err := s.record(ctx, tx, ActionMachineFingerprintChanged, "machine", m.ID, "matched by its components ("+string(pol.Rules.Matching)+")", &before, m); err != nil {
			return nil, err
		}
		return m, nil
	}
	return nil, nil
}

// keepComponents stores the components a known machine reports when they
// changed (an old client sends none: they stay).
func keepComponents(ctx context.Context, tx LeasingStore, m *Machine, comps []string) error {
	if len(comps) == 0 || slices.Equal(m.Components, comps) {
		return nil
	}
	if err := tx.SetMachineComponents(ctx, m.ID, comps); err != nil {
		return err
	}
	m.Components = comps
	return nil
}

// capReached answers EActivationLimited when the license already had max
// events of kind in the rolling period (max 0: no cap).
func capReached(ctx context.Context, tx RulesStore, lic *License, kind SeatEventKind, max int, periodSeconds int64, now time.Time) error {
	if max <= 0 || periodSeconds <= 0 {
		return nil
	}
	n, err := tx.CountSeatEvents(ctx, lic.ID, kind, now.Add(-seconds(periodSeconds)))
	if err != nil {
		return err
	}
	if n >= max {
		return Errorf(EActivationLimited, "the license had %d %ss in the last %s, its limit", n, kind, seconds(periodSeconds))
	}
	return nil
}

// overage is how many machines the license has beyond its seats, counted
// only when its policy allows an overage (else 0 without a query).
func (s *Leasing) overage(ctx context.Context, r LeasingStore, lic *License, pol *Policy) (int, error) {
	seats := lic.Seats(pol)
	if pol.Rules.SeatCap(seats) <= seats {
		return 0, nil
	}
	n, err := r.CountMachines(ctx, lic.ID)
	if err != nil {
		return 0, err
	}
	return max(n-seats, 0), nil
}

// RefusalEventEvery bounds how often a refused activation writes its event
// (license.activation_limited, license.seat_limit_reached) per license: a
// client retrying in a loop must not flood webhooks.
const RefusalEventEvery = time.Hour

// recordRefusal writes the event of an activation or deactivation refused
// by the seats or the abuse caps, outside the refused transaction (which
// rolled back), at most once per RefusalEventEvery (or the cap's period
// when longer) per license. Best effort: the refusal stands either way.
func (s *Leasing) recordRefusal(ctx context.Context, lic *License, refusal error, now time.Time) {
	if lic == nil {
		return
	}
	var action string
	switch ErrorCode(refusal) {
	case EActivationLimited:
		action = ActionLicenseActivationLimited
	case ESeatLimit:
		action = ActionLicenseSeatLimitReached
	default:
		return
	}
	ctx = WithActor(ctx, &Actor{Name: "app", LicenseID: lic.ID, RequestID: ActorFrom(ctx).RequestID})
	_ = s.store.InTx(ctx, func(tx LeasingStore) error {
		if _, err := tx.GetLicenseByKeyHash(ctx, lic.KeyHash, true); err != nil {
			return err
		}
		last, err := tx.LastEvent(ctx, "license", lic.ID, action)
		if err != nil {
			return err
		}
		if last != nil && now.Sub(last.Time) < RefusalEventEvery {
			return nil
		}
		return s.record(ctx, tx, action, "license", lic.ID, ErrorMessage(refusal), nil, map[string]any{"license_id": lic.ID, "code": ErrorCode(refusal)})
	})
}
