package licensing

import (
	"context"
	"time"
	"unicode/utf8"

	verifier "github.com/nzilacode/narcidicontrole/verifier-sdk"
)

// Meter counts the uses of something sold by use on one license: the
// whole license (Entitlement empty) or one of its entitlements. Uses are
// counted per period (an admin's reset, or the start of each subscription
// period, sets them back to 0); Total counts every use ever accepted and
// never goes down.
type Meter struct {
	ID          string `json:"id"`
	LicenseID   string `json:"license_id"`
	Entitlement string `json:"entitlement,omitempty"`
	// Uses are the uses counted in this period; MaxUses bounds them (0: no
	// bound).
	Uses    int64 `json:"uses"`
	MaxUses int64 `json:"max_uses"`
	// Total is every use ever counted, across resets: a monotonic counter.
	Total       int64     `json:"total"`
	PeriodStart time.Time `json:"period_start"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
}

// Remaining is how many uses the meter still allows in this period, -1
// when it has no bound.
func (m *Meter) Remaining() int64 {
	if m.MaxUses == 0 {
		return -1
	}
	return max(m.MaxUses-m.Uses, 0)
}

// Bounds of meters and their increments.
const (
	MaxMeterUses        = 1_000_000_000_000 // a meter's max_uses
	MaxIncrement        = 1_000_000         // uses in one increment or report
	MaxUseIDLength      = 128               // bytes of a client-chosen increment id
	MaxMetersPerLicense = 50                // meters on one license
)

// MetersStore is the data metering needs. Every method returns ENotFound
// when a row is missing, EConflict when a unique rule is broken (one meter
// per license and entitlement), EUnavailable when the database cannot be
// reached, EInternal otherwise. Safe for concurrent use.
type MetersStore interface {
	Tx[MetersStore]
	EventAppender
	GetLicense(ctx context.Context, id string) (*License, error)
	GetPolicy(ctx context.Context, id string) (*Policy, error)
	// MissingEntitlements returns the codes that no (unretired)
	// entitlement has.
	MissingEntitlements(ctx context.Context, codes []string) ([]string, error)
	CreateMeter(ctx context.Context, m *Meter) error
	GetMeter(ctx context.Context, id string) (*Meter, error)
	// FindMeter is the meter of a license and entitlement ("" for the
	// license's own).
	FindMeter(ctx context.Context, licenseID, entitlement string) (*Meter, error)
	ListMeters(ctx context.Context, licenseID string) ([]Meter, error)
	// SpendUseID records that the increment useID of meter was counted;
	// false when it already was (a replay). Inside the transaction of the
	// increment, so a refused increment leaves no record.
	SpendUseID(ctx context.Context, meterID, useID string, uses int64, now time.Time) (bool, error)
	// AddUses adds n to the meter's uses and total in one conditional
	// update: when bounded is true and the uses would pass max_uses, no
	// row changes and it answers EMeterExhausted.
	AddUses(ctx context.Context, meterID string, n int64, bounded bool, now time.Time) error
	// ResetMeter sets uses to 0 and period_start to at; with ifBefore, only
	// when the period started before at (a period's reset applied twice
	// resets once).
	ResetMeter(ctx context.Context, id string, at time.Time, ifBefore bool) (bool, error)
	// SetMeterMax sets max_uses (only that column and updated_at).
	SetMeterMax(ctx context.Context, id string, maxUses int64, now time.Time) error
}

// UsableFunc checks that a license key may be used now by the machine of
// fingerprint (Leasing.Usable).
type UsableFunc func(ctx context.Context, ref LicenseRef, fingerprint string) (*License, *Policy, error)

// Metering keeps the meters of licenses: admins create, bound and reset
// them; apps spend uses through the client API. Safe for concurrent use.
type Metering struct {
	core
	store  MetersStore
	usable UsableFunc
}

// NewMetering builds the metering service; usable checks client calls.
func NewMetering(store MetersStore, usable UsableFunc, clock Clock) *Metering {
	return &Metering{core: newCore(clock), store: store, usable: usable}
}

// MeterInput creates a meter on a license.
type MeterInput struct {
	// Entitlement is the code of the entitlement the meter counts ("":
	// the license itself); the license must grant it.
	Entitlement string `json:"entitlement,omitempty"`
	MaxUses     int64  `json:"max_uses"`
}

// CreateMeter adds a meter to a license. ENotFound, EInvalid, EConflict
// (the license has a meter of that entitlement already).
func (s *Metering) CreateMeter(ctx context.Context, licenseID string, in MeterInput) (*Meter, error) {
	if err := checkMaxUses(in.MaxUses); err != nil {
		return nil, err
	}
	lic, err := s.store.GetLicense(ctx, licenseID)
	if err != nil {
		return nil, err
	}
	if err := visible(ctx, lic.CustomerID, "license"); err != nil {
		return nil, err
	}
	if in.Entitlement != "" {
		if _, err := checkEntitlementsField(ctx, s.store, "entitlement", []string{in.Entitlement}); err != nil {
			return nil, err
		}
		pol, err := s.store.GetPolicy(ctx, lic.PolicyID)
		if err != nil {
			return nil, err
		}
		if !grantsEntitlement(pol, lic, in.Entitlement) {
			return nil, FieldErrorf("entitlement", "the license does not grant %q: attach it first", in.Entitlement)
		}
	}
	have, err := s.store.ListMeters(ctx, licenseID)
	if err != nil {
		return nil, err
	}
	if len(have) >= MaxMetersPerLicense {
		return nil, FieldErrorf("entitlement", "a license has at most %d meters", MaxMetersPerLicense)
	}
	now := s.clock()
	m := &Meter{LicenseID: licenseID, Entitlement: in.Entitlement, MaxUses: in.MaxUses, PeriodStart: now, CreatedAt: now, UpdatedAt: now}
	return m, s.store.InTx(ctx, func(tx MetersStore) error {
		if err := tx.CreateMeter(ctx, m); err != nil {
			return err
		}
		return s.record(ctx, tx, ActionMeterCreated, "license", licenseID, "", nil, m)
	})
}

func checkMaxUses(n int64) error {
	if n < 0 || n > MaxMeterUses {
		return FieldErrorf("max_uses", "max_uses must be between 0 (no bound) and %d", int64(MaxMeterUses))
	}
	return nil
}

func grantsEntitlement(pol *Policy, lic *License, code string) bool {
	for _, c := range EffectiveEntitlements(pol, lic) {
		if c == code {
			return true
		}
	}
	return false
}

// Meters lists a license's meters. ENotFound.
func (s *Metering) Meters(ctx context.Context, licenseID string) ([]Meter, error) {
	lic, err := s.store.GetLicense(ctx, licenseID)
	if err != nil {
		return nil, err
	}
	if err := visible(ctx, lic.CustomerID, "license"); err != nil {
		return nil, err
	}
	return s.store.ListMeters(ctx, licenseID)
}

// Meter returns one meter. ENotFound.
func (s *Metering) Meter(ctx context.Context, id string) (*Meter, error) {
	m, err := s.store.GetMeter(ctx, id)
	if err != nil {
		return nil, err
	}
	lic, err := s.store.GetLicense(ctx, m.LicenseID)
	if err != nil {
		return nil, err
	}
	return m, visible(ctx, lic.CustomerID, "meter")
}

// MeterPatch changes a meter's bound.
type MeterPatch struct {
	MaxUses *int64 `json:"max_uses,omitempty"`
}

// UpdateMeter changes a meter's bound (uses already counted stay).
// ENotFound, EInvalid.
func (s *Metering) UpdateMeter(ctx context.Context, id string, in MeterPatch) (*Meter, error) {
	if in.MaxUses == nil {
		return nil, FieldErrorf("max_uses", "max_uses is required")
	}
	if err := checkMaxUses(*in.MaxUses); err != nil {
		return nil, err
	}
	return s.change(ctx, id, ActionMeterUpdated, "", func(tx MetersStore, m *Meter, now time.Time) error {
		return tx.SetMeterMax(ctx, id, *in.MaxUses, now)
	})
}

// ResetMeter starts a new period of a meter: its uses go back to 0 (its
// total stays). ENotFound.
func (s *Metering) ResetMeter(ctx context.Context, id, reason string) (*Meter, error) {
	if len(reason) > 500 {
		return nil, FieldErrorf("reason", "reason is longer than 500 characters")
	}
	return s.change(ctx, id, ActionMeterReset, reason, func(tx MetersStore, m *Meter, now time.Time) error {
		_, err := tx.ResetMeter(ctx, id, now, false)
		return err
	})
}

// change applies fn to meter id in a transaction and records action with
// the meter before and after.
func (s *Metering) change(ctx context.Context, id, action, reason string, fn func(tx MetersStore, m *Meter, now time.Time) error) (*Meter, error) {
	var out *Meter
	err := s.store.InTx(ctx, func(tx MetersStore) error {
		m, err := tx.GetMeter(ctx, id)
		if err != nil {
			return err
		}
		lic, err := tx.GetLicense(ctx, m.LicenseID)
		if err != nil {
			return err
		}
		if err := visible(ctx, lic.CustomerID, "meter"); err != nil {
			return err
		}
		if err := fn(tx, m, s.clock()); err != nil {
			return err
		}
		if out, err = tx.GetMeter(ctx, id); err != nil {
			return err
		}
		return s.record(ctx, tx, action, "license", m.LicenseID, reason, m, out)
	})
	return out, err
}

// ResetPeriod starts a new period on every meter of a license whose
// period began before start (a subscription's new period). Replays of the
// same period reset nothing more. It returns how many meters it reset.
func (s *Metering) ResetPeriod(ctx context.Context, licenseID string, start time.Time) (int, error) {
	n := 0
	err := s.store.InTx(ctx, func(tx MetersStore) error {
		ms, err := tx.ListMeters(ctx, licenseID)
		if err != nil {
			return err
		}
		for _, m := range ms {
			ok, err := tx.ResetMeter(ctx, m.ID, start, true)
			if err != nil {
				return err
			}
			if ok {
				n++
				after := m
				after.Uses, after.PeriodStart = 0, start
				if err := s.record(ctx, tx, ActionMeterReset, "license", licenseID, "new subscription period", &m, &after); err != nil {
					return err
				}
			}
		}
		return nil
	})
	return n, err
}

// UseRequest is an app's increment of a meter, as the SDK sends it
// (verifier.UseRequest): the license key and the machine's fingerprint
// (which must hold a seat), the meter (its entitlement code, "" for the
// license's own), how many uses, and an id the app chooses so that a
// retried request is counted once. Report marks uses already spent
// offline out of a lease's allowance: they are counted even past the bound
// (they happened), once. The wire type itself, not a copy of its fields:
// licensing already speaks the SDK's lease and meter claims.
type UseRequest = verifier.UseRequest

// UseResult is the meter after an increment; Replayed says the id was
// counted before (nothing was added this time).
type UseResult struct {
	Meter    *Meter `json:"meter"`
	Replayed bool   `json:"replayed"`
}

// Use spends uses of a meter, atomically and idempotently: an increment
// whose id was counted before adds nothing (Replayed), and one that would
// pass the bound adds nothing and answers EMeterExhausted (unless it is a
// report of offline uses). EInvalid (id, uses), ENotFound (key, meter),
// ENotEntitled (the license no longer grants the meter's entitlement),
// and the refusals of Leasing.Usable.
func (s *Metering) Use(ctx context.Context, in UseRequest) (*UseResult, error) {
	if in.Uses == 0 {
		in.Uses = 1
	}
	switch {
	case in.ID == "":
		return nil, FieldErrorf("id", "id is required: a value the app chooses per increment, so a retry is counted once")
	case len(in.ID) > MaxUseIDLength || !utf8.ValidString(in.ID):
		return nil, FieldErrorf("id", "id must be valid UTF-8 of at most %d bytes", MaxUseIDLength)
	case in.Uses < 1 || in.Uses > MaxIncrement:
		return nil, FieldErrorf("uses", "uses must be between 1 and %d", MaxIncrement)
	case in.Fingerprint == "":
		return nil, FieldErrorf("fingerprint", "fingerprint is required")
	case len(in.Meter) > 64:
		return nil, FieldErrorf("meter", "meter is an entitlement code of at most 64 characters")
	}
	lic, pol, err := s.usable(ctx, LicenseRef{Key: in.LicenseKey}, in.Fingerprint)
	if err != nil {
		return nil, err
	}
	m, err := s.store.FindMeter(ctx, lic.ID, in.Meter)
	if ErrorCode(err) == ENotFound {
		return nil, Errorf(ENotFound, "the license has no meter %q", in.Meter).WithField("meter")
	}
	if err != nil {
		return nil, err
	}
	if m.Entitlement != "" && !grantsEntitlement(pol, lic, m.Entitlement) {
		return nil, Errorf(ENotEntitled, "the license no longer grants %q", m.Entitlement)
	}
	out := &UseResult{}
	err = s.store.InTx(ctx, func(tx MetersStore) error {
		now := s.clock()
		fresh, err := tx.SpendUseID(ctx, m.ID, in.ID, in.Uses, now)
		if err != nil {
			return err
		}
		if !fresh {
			out.Replayed = true
			return nil
		}
		return tx.AddUses(ctx, m.ID, in.Uses, !in.Report, now)
	})
	if err != nil {
		return nil, err
	}
	if out.Meter, err = s.store.GetMeter(ctx, m.ID); err != nil {
		return nil, err
	}
	return out, nil
}

// meterClaims are the meter claims of a lease of a license with meters
// ms: what each meter still allows and its monotonic total.
func meterClaims(ms []Meter) []verifier.MeterClaim {
	if len(ms) == 0 {
		return nil
	}
	out := make([]verifier.MeterClaim, len(ms))
	for i, m := range ms {
		out[i] = verifier.MeterClaim{Meter: m.Entitlement, Remaining: m.Remaining(), Counter: m.Total}
	}
	return out
}
