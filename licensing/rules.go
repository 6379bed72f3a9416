package licensing

import (
	"context"
	"encoding/json"
	"math"
	"slices"
	"time"
)

// MatchingRule says how many of a machine's hardware components must match
// for an activation with a new fingerprint to be the same machine (its
// fingerprint moves, it keeps its seat) rather than a new one.
type MatchingRule string

const (
	// MatchExact (the default) is today's behaviour: only the fingerprint
	// names the machine, components are kept but never matched.
	MatchExact MatchingRule = ""
	MatchAny   MatchingRule = "any"  // one component in common
	MatchTwo   MatchingRule = "two"  // two components in common
	MatchMost  MatchingRule = "most" // more than half of the known machine's components
	MatchAll   MatchingRule = "all"  // every component of the known machine
)

// UniquenessScope says where a fingerprint may hold one seat only.
type UniquenessScope string

const (
	UniquePerLicense      UniquenessScope = ""             // default: once per license (today)
	UniquePerPolicy       UniquenessScope = "policy"       // once across the policy's licenses
	UniquePerProduct      UniquenessScope = "product"      // once across the product's licenses
	UniquePerInstallation UniquenessScope = "installation" // once on this whole server
)

// Overage factors a policy may allow on top of its seats.
var OverageFactors = []float64{1.25, 1.5, 2}

// Component bounds: a machine reports a handful (board, disk, MAC, OS
// install id); the caps keep a request from storing or matching thousands.
const (
	MaxComponents   = 16
	MaxComponentLen = 128
)

// ActivationLimits are the anti-abuse caps of a policy (a license may
// override each). 0 means no cap. Seats taken and freed are recorded
// (seat_events) only while a cap applies, so a cap counts from when it
// was set.
type ActivationLimits struct {
	// MaxActivations caps new seats taken per rolling LimitPeriodSeconds.
	MaxActivations int `json:"max_activations,omitempty" jsonschema:"minimum=0,maximum=1000000"`
	// MaxDeactivations caps seats freed per rolling LimitPeriodSeconds.
	MaxDeactivations int `json:"max_deactivations,omitempty" jsonschema:"minimum=0,maximum=1000000"`
	// LimitPeriodSeconds is the rolling window of both caps (required
	// with a cap).
	LimitPeriodSeconds int64 `json:"limit_period_seconds,omitempty" jsonschema:"minimum=0"`
	// MinSeatHoldSeconds is how long a seat is held before it can be
	// freed by the app (seat hopping).
	MinSeatHoldSeconds int64 `json:"min_seat_hold_seconds,omitempty" jsonschema:"minimum=0"`
}

// PolicyRules are the activation rules of a policy beyond its seats.
type PolicyRules struct {
	Matching   MatchingRule    `json:"matching,omitempty" jsonschema:"enum=,enum=any,enum=two,enum=most,enum=all"`
	Uniqueness UniquenessScope `json:"uniqueness,omitempty" jsonschema:"enum=,enum=license,enum=policy,enum=product,enum=installation"`
	ActivationLimits
	// OverageFactor allows seats × factor (1.25, 1.5 or 2); 0 or 1: none.
	OverageFactor float64 `json:"overage_factor,omitempty"`
	// OverageSeats allows seats + N (not with OverageFactor).
	OverageSeats int `json:"overage_seats,omitempty" jsonschema:"minimum=0,maximum=100000"`
}

// Validate checks the rules, naming the field at fault (under prefix).
func (r *PolicyRules) Validate() error {
	if r.Uniqueness == "license" {
		r.Uniqueness = UniquePerLicense
	}
	if r.OverageFactor == 1 {
		r.OverageFactor = 0
	}
	switch {
	case !slices.Contains([]MatchingRule{MatchExact, MatchAny, MatchTwo, MatchMost, MatchAll}, r.Matching):
		return FieldErrorf("rules.matching", "matching must be one of any, two, most, all (or empty: the fingerprint only)")
	case !slices.Contains([]UniquenessScope{UniquePerLicense, UniquePerPolicy, UniquePerProduct, UniquePerInstallation}, r.Uniqueness):
		return FieldErrorf("rules.uniqueness", "uniqueness must be one of license, policy, product, installation")
	case r.OverageFactor != 0 && !slices.Contains(OverageFactors, r.OverageFactor):
		return FieldErrorf("rules.overage_factor", "overage_factor must be 1 (none), 1.25, 1.5 or 2")
	case r.OverageSeats < 0 || r.OverageSeats > 100000:
		return FieldErrorf("rules.overage_seats", "overage_seats must be between 0 and 100000")
	case r.OverageSeats > 0 && r.OverageFactor != 0:
		return FieldErrorf("rules.overage_seats", "give overage_factor or overage_seats, not both")
	}
	return r.ActivationLimits.validate("rules.")
}

func (l *ActivationLimits) validate(prefix string) error {
	for _, c := range []struct {
		field string
		v     int
	}{{"max_activations", l.MaxActivations}, {"max_deactivations", l.MaxDeactivations}} {
		if c.v < 0 || c.v > 1_000_000 {
			return FieldErrorf(prefix+c.field, "%s must be between 0 and 1000000", c.field)
		}
	}
	for _, c := range []struct {
		field string
		v     int64
	}{{"limit_period_seconds", l.LimitPeriodSeconds}, {"min_seat_hold_seconds", l.MinSeatHoldSeconds}} {
		if err := checkSeconds(prefix+c.field, c.v); err != nil {
			return err
		}
	}
	if (l.MaxActivations > 0 || l.MaxDeactivations > 0) && l.LimitPeriodSeconds == 0 {
		return FieldErrorf(prefix+"limit_period_seconds", "limit_period_seconds is required with max_activations or max_deactivations")
	}
	return nil
}

// SeatCap is how many machines may hold a seat when the license's seats
// are seats: the seats plus the overage the rules allow (rounded down).
func (r *PolicyRules) SeatCap(seats int) int {
	switch {
	case r.OverageFactor > 1:
		return int(math.Floor(float64(seats) * r.OverageFactor))
	case r.OverageSeats > 0:
		return seats + r.OverageSeats
	}
	return seats
}

// NormalizeComponents trims, de-duplicates and sorts a machine's component
// fingerprints, refusing more than MaxComponents or one longer than
// MaxComponentLen (field: components).
func NormalizeComponents(in []string) ([]string, error) {
	if len(in) > MaxComponents {
		return nil, FieldErrorf("components", "components holds at most %d entries", MaxComponents)
	}
	for _, c := range in {
		if len(c) > MaxComponentLen {
			return nil, FieldErrorf("components", "each component is at most %d characters", MaxComponentLen)
		}
	}
	out := normalizeCodes(in)
	if len(out) == 0 {
		return nil, nil
	}
	return out, nil
}

// ComponentsMatch says whether a machine that reports got is, under rule,
// the known machine whose components are known. MatchExact never matches
// (only the fingerprint does), nor does a machine with no components.
func ComponentsMatch(rule MatchingRule, known, got []string) bool {
	if len(known) == 0 || len(got) == 0 {
		return false
	}
	n := 0
	for _, c := range known {
		if slices.Contains(got, c) {
			n++
		}
	}
	switch rule {
	case MatchAny:
		return n >= 1
	case MatchTwo:
		return n >= 2
	case MatchMost:
		return n*2 > len(known)
	case MatchAll:
		return n == len(known)
	}
	return false
}

// LicenseOverrides are a license's own values for rules of its policy; nil
// fields follow the policy. The seat count is License.SeatsOverride.
type LicenseOverrides struct {
	LeaseTTLSeconds        *int64        `json:"lease_ttl_seconds,omitempty"`
	HeartbeatWindowSeconds *int64        `json:"heartbeat_window_seconds,omitempty"`
	GraceSeconds           *int64        `json:"grace_seconds,omitempty"`
	ExpiryAction           *ExpiryAction `json:"expiry_action,omitempty"`
	MaxActivations         *int          `json:"max_activations,omitempty"`
	MaxDeactivations       *int          `json:"max_deactivations,omitempty"`
	LimitPeriodSeconds     *int64        `json:"limit_period_seconds,omitempty"`
	MinSeatHoldSeconds     *int64        `json:"min_seat_hold_seconds,omitempty"`
}

// IsZero reports whether no value is overridden.
func (o LicenseOverrides) IsZero() bool { return o == LicenseOverrides{} }

// EffectivePolicy is what a license follows: its policy with the license's
// overrides applied, and the names of the overridden values.
type EffectivePolicy struct {
	Seats                  int          `json:"seats"`
	SeatCap                int          `json:"seat_cap"` // seats plus the overage allowed
	LeaseTTLSeconds        int64        `json:"lease_ttl_seconds"`
	HeartbeatWindowSeconds int64        `json:"heartbeat_window_seconds"`
	GraceSeconds           int64        `json:"grace_seconds"`
	ExpiryAction           ExpiryAction `json:"expiry_action"`
	ActivationLimits
	Overridden []string `json:"overridden"`
}

// WithOverrides returns a copy of p with l's overrides applied (seats
// included), and the names of the values l overrides. Every rule that
// reads a license's policy reads this copy.
func (l *License) WithOverrides(p *Policy) (*Policy, []string) {
	e := *p
	var names []string
	o := l.Overrides
	apply := func(name string, dst *int64, v *int64) {
		if v != nil {
			*dst, names = *v, append(names, name)
		}
	}
	if l.SeatsOverride != nil {
		e.MaxMachines, names = *l.SeatsOverride, append(names, "seats")
	}
	apply("lease_ttl_seconds", &e.LeaseTTLSeconds, o.LeaseTTLSeconds)
	apply("heartbeat_window_seconds", &e.HeartbeatWindowSeconds, o.HeartbeatWindowSeconds)
	apply("grace_seconds", &e.GraceSeconds, o.GraceSeconds)
	if o.ExpiryAction != nil {
		e.ExpiryAction, names = *o.ExpiryAction, append(names, "expiry_action")
	}
	if o.MaxActivations != nil {
		e.Rules.MaxActivations, names = *o.MaxActivations, append(names, "max_activations")
	}
	if o.MaxDeactivations != nil {
		e.Rules.MaxDeactivations, names = *o.MaxDeactivations, append(names, "max_deactivations")
	}
	apply("limit_period_seconds", &e.Rules.LimitPeriodSeconds, o.LimitPeriodSeconds)
	apply("min_seat_hold_seconds", &e.Rules.MinSeatHoldSeconds, o.MinSeatHoldSeconds)
	return &e, names
}

// EffectiveView is WithOverrides as the API shows it.
func (l *License) EffectiveView(p *Policy) *EffectivePolicy {
	e, names := l.WithOverrides(p)
	if names == nil {
		names = []string{}
	}
	return &EffectivePolicy{
		Seats: e.MaxMachines, SeatCap: e.Rules.SeatCap(e.MaxMachines), LeaseTTLSeconds: e.LeaseTTLSeconds,
		HeartbeatWindowSeconds: e.HeartbeatWindowSeconds, GraceSeconds: e.GraceSeconds, ExpiryAction: e.ExpiryAction,
		ActivationLimits: e.Rules.ActivationLimits, Overridden: names,
	}
}

// validateOverrides checks l's overrides against the bounds of a policy
// (field names under "overrides.").
func validateOverrides(o *LicenseOverrides, seats *int) error {
	if seats != nil && (*seats < 1 || *seats > 100000) {
		return FieldErrorf("overrides.seats", "seats must be between 1 and 100000")
	}
	for _, c := range []struct {
		field string
		v     *int64
	}{{"grace_seconds", o.GraceSeconds}, {"heartbeat_window_seconds", o.HeartbeatWindowSeconds}} {
		if c.v != nil {
			if err := checkSeconds("overrides."+c.field, *c.v); err != nil {
				return err
			}
		}
	}
	if t := o.LeaseTTLSeconds; t != nil && (*t < int64(MinLeaseTTL/time.Second) || *t > int64(MaxLeaseTTL/time.Second)) {
		return FieldErrorf("overrides.lease_ttl_seconds", "lease_ttl_seconds must be between %d and %d", int64(MinLeaseTTL/time.Second), int64(MaxLeaseTTL/time.Second))
	}
	if a := o.ExpiryAction; a != nil && !slices.Contains(ExpiryActions, *a) {
		return FieldErrorf("overrides.expiry_action", "expiry_action must be %q, %q, %q or %q", ExpiryRestrict, ExpiryAllow, ExpiryRevoke, ExpiryMaintain)
	}
	lim := ActivationLimits{}
	for _, c := range []struct {
		dst *int
		v   *int
	}{{&lim.MaxActivations, o.MaxActivations}, {&lim.MaxDeactivations, o.MaxDeactivations}} {
		if c.v != nil {
			*c.dst = *c.v
		}
	}
	for _, c := range []struct {
		dst *int64
		v   *int64
	}{{&lim.LimitPeriodSeconds, o.LimitPeriodSeconds}, {&lim.MinSeatHoldSeconds, o.MinSeatHoldSeconds}} {
		if c.v != nil {
			*c.dst = *c.v
		}
	}
	// The period may come from the policy: only bounds are checked here.
	period := lim.LimitPeriodSeconds
	lim.LimitPeriodSeconds = max(period, 1)
	if err := lim.validate("overrides."); err != nil {
		return err
	}
	if period < 0 {
		return FieldErrorf("overrides.limit_period_seconds", "limit_period_seconds must be between 0 and %d (100 years)", MaxDurationSeconds)
	}
	return nil
}

// Nullable is a field of a PATCH body with three states: absent (Set
// false: unchanged), null (Set, Value nil: cleared) or a value.
type Nullable[T any] struct {
	Set   bool
	Value *T
}

// UnmarshalJSON records that the member was given; null clears.
func (n *Nullable[T]) UnmarshalJSON(b []byte) error {
	n.Set = true
	if string(b) == "null" {
		n.Value = nil
		return nil
	}
	n.Value = new(T)
	return json.Unmarshal(b, n.Value)
}

// MarshalJSON writes the value (null when cleared or absent).
func (n Nullable[T]) MarshalJSON() ([]byte, error) { return json.Marshal(n.Value) }

// NullableOf returns a zero T, for schema generators.
func (Nullable[T]) NullableOf() any { var v T; return v }

// apply sets *dst per n's state.
func (n Nullable[T]) apply(dst **T) {
	if n.Set {
		*dst = n.Value
	}
}

// OverridesPatch changes a license's overrides: an absent member stays,
// null clears the override (the policy's value applies again), a value
// sets it.
type OverridesPatch struct {
	Seats                  Nullable[int]          `json:"seats"`
	LeaseTTLSeconds        Nullable[int64]        `json:"lease_ttl_seconds"`
	HeartbeatWindowSeconds Nullable[int64]        `json:"heartbeat_window_seconds"`
	GraceSeconds           Nullable[int64]        `json:"grace_seconds"`
	ExpiryAction           Nullable[ExpiryAction] `json:"expiry_action"`
	MaxActivations         Nullable[int]          `json:"max_activations"`
	MaxDeactivations       Nullable[int]          `json:"max_deactivations"`
	LimitPeriodSeconds     Nullable[int64]        `json:"limit_period_seconds"`
	MinSeatHoldSeconds     Nullable[int64]        `json:"min_seat_hold_seconds"`
}

func (p *OverridesPatch) apply(o *LicenseOverrides, seats **int) {
	p.Seats.apply(seats)
	p.LeaseTTLSeconds.apply(&o.LeaseTTLSeconds)
	p.HeartbeatWindowSeconds.apply(&o.HeartbeatWindowSeconds)
	p.GraceSeconds.apply(&o.GraceSeconds)
	p.ExpiryAction.apply(&o.ExpiryAction)
	p.MaxActivations.apply(&o.MaxActivations)
	p.MaxDeactivations.apply(&o.MaxDeactivations)
	p.LimitPeriodSeconds.apply(&o.LimitPeriodSeconds)
	p.MinSeatHoldSeconds.apply(&o.MinSeatHoldSeconds)
}

// OverridesInput is the overrides given when a license is created.
type OverridesInput struct {
	Seats *int `json:"seats,omitempty"`
	LicenseOverrides
}

// SeatEventKind is what seat_events records: a seat taken or freed.
type SeatEventKind string

const (
	SeatActivation   SeatEventKind = "activation"
	SeatDeactivation SeatEventKind = "deactivation"
)

// RulesStore is the data the activation rules need, part of LeasingStore.
// Callers hold the license row lock (Activate, Deactivate) so counts and
// moves are exact per license.
type RulesStore interface {
	// RecordSeatEvent notes a seat taken or freed on a license at at.
	RecordSeatEvent(ctx context.Context, licenseID string, kind SeatEventKind, at time.Time) error
	// CountSeatEvents counts the license's events of kind after since.
	CountSeatEvents(ctx context.Context, licenseID string, kind SeatEventKind, since time.Time) (int, error)
	// MachinesWithComponents lists the license's machines holding a seat
	// that have components, oldest first.
	MachinesWithComponents(ctx context.Context, licenseID string) ([]Machine, error)
	// MoveMachine gives machine id the fingerprint to (and components) if
	// it still has from and is not blocked; EConflict otherwise.
	MoveMachine(ctx context.Context, id, from, to string, components []string, now time.Time) error
	// SetMachineComponents replaces a machine's components.
	SetMachineComponents(ctx context.Context, id string, components []string) error
	// LockFingerprint serializes, until the transaction ends, the
	// activations of a new seat for fingerprint on every license, so that
	// the uniqueness check (FingerprintElsewhere) and the new seat of two
	// activations on two licenses cannot interleave. Call it inside InTx,
	// after the license row lock (always in that order: no deadlock).
	LockFingerprint(ctx context.Context, fingerprint string) error
	// FingerprintElsewhere reports whether the fingerprint holds a seat on
	// another license within scope (policy, product, installation); false
	// for the per-license scope.
	FingerprintElsewhere(ctx context.Context, lic *License, fingerprint string, scope UniquenessScope) (bool, error)
	// LastEvent returns the latest event of action on a target, nil when
	// there is none.
	LastEvent(ctx context.Context, targetType, targetID, action string) (*Event, error)
}

// MarshalJSON writes only the members given (a null for a cleared one),
// so a client sending a patch it built does not clear the others.
func (p OverridesPatch) MarshalJSON() ([]byte, error) {
	m := map[string]any{}
	for name, n := range p.members() {
		if n.set() {
			m[name] = n.value()
		}
	}
	return json.Marshal(m)
}

type nullable interface {
	set() bool
	value() any
}

func (n Nullable[T]) set() bool { return n.Set }
func (n Nullable[T]) value() any {
	if n.Value == nil {
		return nil
	}
	return *n.Value
}

func (p *OverridesPatch) members() map[string]nullable {
	return map[string]nullable{
		"seats": p.Seats, "lease_ttl_seconds": p.LeaseTTLSeconds, "heartbeat_window_seconds": p.HeartbeatWindowSeconds,
		"grace_seconds": p.GraceSeconds, "expiry_action": p.ExpiryAction, "max_activations": p.MaxActivations,
		"max_deactivations": p.MaxDeactivations, "limit_period_seconds": p.LimitPeriodSeconds, "min_seat_hold_seconds": p.MinSeatHoldSeconds,
	}
}

// Input is the patch as the overrides of a new license (cleared members
// and absent ones alike are not overridden); nil when it sets none.
func (p OverridesPatch) Input() *OverridesInput {
	var in OverridesInput
	p.apply(&in.LicenseOverrides, &in.Seats)
	if in.Seats == nil && in.LicenseOverrides.IsZero() {
		return nil
	}
	return &in
}

// Overrides reports whether the license overrides the value name (for the
// console's license page).
func (e *EffectivePolicy) Overrides(name string) bool { return slices.Contains(e.Overridden, name) }
