package licensing

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"time"
)

// LicensesStore is the data license administration needs. Every method
// returns ENotFound when a row is missing, EConflict when a unique rule is
// broken (a license key), EUnavailable when the database cannot be reached,
// EInternal otherwise. Callers that change seats or a license lock the
// license row first (LockLicense, inside InTx): that serializes seat
// accounting per license with Leasing.Activate. Safe for concurrent use.
type LicensesStore interface {
	Tx[LicensesStore]
	EventAppender
	GetPolicy(ctx context.Context, id string) (*Policy, error)
	GetCustomer(ctx context.Context, id string) (*Customer, error)
	// MissingEntitlements returns the codes that no entitlement has.
	MissingEntitlements(ctx context.Context, codes []string) ([]string, error)

	CreateLicense(ctx context.Context, l *License) error // EConflict on duplicate key
	// GetLicenseByKeyHash finds a license by key hash (see SecretHasher).
	GetLicenseByKeyHash(ctx context.Context, keyHash string, forUpdate bool) (*License, error)
	GetLicense(ctx context.Context, id string) (*License, error)
	// LockLicense reads the license and locks its row until the
	// transaction ends (call it inside InTx).
	LockLicense(ctx context.Context, id string) (*License, error)
	ListLicenses(ctx context.Context, filter LicenseFilter, page Page) ([]License, error)
	// LastEvent returns the latest event of action on a target, nil when
	// there is none.
	LastEvent(ctx context.Context, targetType, targetID, action string) (*Event, error)
	// UpdateLicense saves every mutable field of l (not its key).
	UpdateLicense(ctx context.Context, l *License) error
	// SetLicenseKey replaces a license's key hash and hint (RotateKey):
	// the only way a license's key changes. EConflict when another license
	// has the hash.
	SetLicenseKey(ctx context.Context, id, keyHash, keyHint string) error
	// SetLicenseSeats sets a license's own seat count (nil: its policy's):
	// the only way it changes (UpdateLicense leaves it).
	SetLicenseSeats(ctx context.Context, id string, seats *int) error
	// SetLicenseOverrides sets a license's own seat count and rule
	// overrides (rules.go) together: the one write of its overrides.
	SetLicenseOverrides(ctx context.Context, id string, seats *int, o LicenseOverrides) error

	GetMachine(ctx context.Context, id string) (*Machine, error)
	ListMachines(ctx context.Context, filter MachineFilter, page Page) ([]Machine, error)
	// CountMachines counts the machines holding a seat (blocked ones do not).
	CountMachines(ctx context.Context, licenseID string) (int, error)
	// SetMachineStatus sets status and reason; clearHeartbeat also empties
	// the last heartbeat.
	SetMachineStatus(ctx context.Context, id string, status MachineStatus, reason string, clearHeartbeat bool, now time.Time) error
	DeleteMachine(ctx context.Context, id string, now time.Time) error
}

// Licenses is license administration: creating licenses, their life cycle
// (suspend, reinstate, revoke, extend, change policy, transfer) and the
// machines on them (deactivate, block, unblock, reset heartbeat). Reads and
// changes are scoped: a customer token sees only its own. Every change goes
// through changeLicense (or the machine equivalents) and records an audit
// event in the same transaction. Safe for concurrent use.
type Licenses struct {
	core
	store   LicensesStore
	secrets *SecretHasher
}

// NewLicenses builds the license administration service. secrets hashes
// license keys (the same as Leasing's).
func NewLicenses(store LicensesStore, clock Clock, secrets *SecretHasher) *Licenses {
	return &Licenses{core: newCore(clock), store: store, secrets: mustHasher(secrets)}
}

// LicenseInput is what an admin gives to create a license.
// Alike License in types.go: kept apart because the input holds only what
// an admin chooses (no id, hint, status or times).
type LicenseInput struct {
	PolicyID   string `json:"policy_id"`
	CustomerID string `json:"customer_id"`
	// Key is optional: a key is generated when empty.
	Key  string `json:"key,omitempty"`
	Name string `json:"name,omitempty"`
	// ExpiresAt overrides the expiry computed from the policy's duration.
	ExpiresAt    *time.Time        `json:"expires_at,omitempty"`
	Entitlements []string          `json:"entitlements,omitempty"`
	Metadata     map[string]string `json:"metadata,omitempty"`
	// Overrides are the license's own values for its policy's rules.
	Overrides *OverridesInput `json:"overrides,omitempty"`
}

// CreatedLicense is a new license with its clear key, which is shown once
// and never stored.
type CreatedLicense struct {
	License
	Key string `json:"key"`
}

// CreateLicense creates a license for a customer under a policy (whose
// product it takes). EInvalid, ENotFound (policy, customer), EConflict (key).
func (s *Licenses) CreateLicense(ctx context.Context, in LicenseInput) (*CreatedLicense, error) {
	if err := required("policy_id", in.PolicyID); err != nil {
		return nil, err
	}
	if err := required("customer_id", in.CustomerID); err != nil {
		return nil, err
	}
	if in.ExpiresAt != nil {
		if err := checkExpiry("expires_at", *in.ExpiresAt); err != nil {
			return nil, err
		}
	}
	key, err := s.licenseKey(ctx, in.Key)
	if err != nil {
		return nil, err
	}
	// The entitlement and metadata checks run in this order for a policy
	// too (CreatePolicy): alike calls of the shared checks, not a copy.
	ents, err := checkEntitlements(ctx, s.store, in.Entitlements)
	if err != nil {
		return nil, err
	}
	if err := checkMetadata(in.Metadata); err != nil {
		return nil, err
	}
	if len(in.Name) > 200 {
		return nil, FieldErrorf("name", "name is longer than 200 characters")
	}
	var over OverridesInput
	if in.Overrides != nil {
		over = *in.Overrides
	}
	if err := validateOverrides(&over.LicenseOverrides, over.Seats); err != nil {
		return nil, err
	}
	if a := ActorFrom(ctx); a.Role == RoleCustomer && a.CustomerID != in.CustomerID {
		return nil, Errorf(EForbidden, "a customer token cannot create licenses for another customer")
	}
	policy, err := s.store.GetPolicy(ctx, in.PolicyID)
	if err != nil {
		return nil, missing(err, "policy_id")
	}
	if _, err := s.store.GetCustomer(ctx, in.CustomerID); err != nil {
		return nil, missing(err, "customer_id")
	}
	now := s.clock()
	expires := in.ExpiresAt
	if expires == nil && policy.DurationSeconds > 0 {
		t, err := expiryAfter("the policy's duration_seconds", now, policy.DurationSeconds)
		if err != nil {
			return nil, err
		}
		expires = &t
	}
	if expires != nil {
		t := expires.UTC().Truncate(time.Second)
		expires = &t
	}
	l := &License{
		KeyHash: s.secrets.Hash(key), KeyHint: KeyHint(key), ProductID: policy.ProductID, PolicyID: policy.ID,
		CustomerID: in.CustomerID, Name: in.Name, Status: LicenseActive, ExpiresAt: expires,
		Entitlements: ents, Metadata: in.Metadata, CreatedAt: now, UpdatedAt: now,
		SeatsOverride: over.Seats, Overrides: over.LicenseOverrides,
	}
	err = s.store.InTx(ctx, func(tx LicensesStore) error {
		if err := tx.CreateLicense(ctx, l); err != nil {
			return err
		}
		return s.record(ctx, tx, ActionLicenseCreated, "license", l.ID, "", nil, l)
	})
	if err != nil {
		return nil, err
	}
	l.MaxMachines, l.Effective = l.Seats(policy), l.EffectiveView(policy)
	return &CreatedLicense{License: *l, Key: key}, nil
}

// SuspendLicense blocks a license: it gets no new lease until reinstated.
// Leases already issued stay valid until they end (they are offline tokens).
// An expired license can be suspended too: under a policy whose expiry
// action is allow it is still in use, and suspending is how to stop that
// without revoking it for good. ENotFound, EConflict (suspended or revoked).
func (s *Licenses) SuspendLicense(ctx context.Context, id, reason string) (*License, error) {
	return s.Suspend(ctx, id, SuspendInput{Reason: reason})
}

// SuspendInput says why a license is suspended, to two audiences.
type SuspendInput struct {
	// Reason is internal: the audit log and the admins' alert mails keep it;
	// the customer never sees it.
	Reason string `json:"reason,omitempty" jsonschema:"description=internal: kept in the audit log and the admins' mails; the customer never sees it,maxLength=500"`
	// Message, optional, is for the customer: the portal shows it while the
	// license stays suspended and the customer's alert mail carries it.
	Message string `json:"message,omitempty" jsonschema:"description=optional message to the customer: shown in the portal while the license is suspended and mailed to the customer,maxLength=500"`
}

// suspension is the after-snapshot of a license.suspended event: the
// license plus the message to the customer, which lives only in the event
// (the audit log is where the portal and the mailer read it).
type suspension struct {
	*License
	CustomerMessage string `json:"customer_message,omitempty"`
}

// Suspend is SuspendLicense with a message to the customer beside the
// internal reason. EInvalid (either longer than 500 characters), ENotFound,
// EConflict (suspended or revoked).
func (s *Licenses) Suspend(ctx context.Context, id string, in SuspendInput) (*License, error) {
	in.Message = strings.TrimSpace(in.Message)
	if len(in.Message) > 500 {
		return nil, FieldErrorf("message", "message is longer than 500 characters")
	}
	from := []LicenseStatus{LicenseActive, LicenseExpired}
	return changeLicenseAs(ctx, s.core, s.store, id, ActionLicenseSuspended, in.Reason, func(tx LicensesStore, l *License) (any, error) {
		if !slices.Contains(from, l.Status) {
			return nil, Errorf(EConflict, "the license is %s; this action needs it %v", l.Status, from)
		}
		l.Status, l.StatusReason = LicenseSuspended, in.Reason
		return suspension{License: l, CustomerMessage: in.Message}, nil
	})
}

// CustomerMessage is the message to the customer given when the license was
// suspended, "" when it is not suspended or none was given. The caller must
// be allowed to see the license.
func (s *Licenses) CustomerMessage(ctx context.Context, l *License) (string, error) {
	if l.Status != LicenseSuspended {
		return "", nil
	}
	if err := visible(ctx, l.CustomerID, "license"); err != nil {
		return "", err
	}
	e, err := s.store.LastEvent(ctx, "license", l.ID, ActionLicenseSuspended)
	if err != nil || e == nil {
		return "", err
	}
	return SuspensionMessage(e), nil
}

// SuspensionMessage reads the message to the customer from a
// license.suspended event ("" when it has none).
func SuspensionMessage(e *Event) string {
	var v struct {
		CustomerMessage string `json:"customer_message"`
	}
	if e.Action != ActionLicenseSuspended || json.Unmarshal(e.After, &v) != nil {
		return ""
	}
	return v.CustomerMessage
}

// RevokeLicense ends a license for good: no lease, no reinstatement.
// ENotFound, EConflict (already revoked).
func (s *Licenses) RevokeLicense(ctx context.Context, id, reason string) (*License, error) {
	return s.transition(ctx, id, []LicenseStatus{LicenseActive, LicenseSuspended, LicenseExpired}, LicenseRevoked, ActionLicenseRevoked, reason)
}

// ReinstateLicense lifts a suspension. The license comes back active; one
// past its expiry and grace is used exactly as an expired one (License.Check
// reads the dates) and the next expiry scan marks it expired again.
// ENotFound, EConflict (not suspended).
func (s *Licenses) ReinstateLicense(ctx context.Context, id, reason string) (*License, error) {
	return s.transition(ctx, id, []LicenseStatus{LicenseSuspended}, LicenseActive, ActionLicenseReinstated, reason)
}

func (s *Licenses) transition(ctx context.Context, id string, from []LicenseStatus, to LicenseStatus, action, reason string) (*License, error) {
	return s.change(ctx, id, action, reason, func(tx LicensesStore, l *License) error {
		if !slices.Contains(from, l.Status) {
			return Errorf(EConflict, "the license is %s; this action needs it %v", l.Status, from)
		}
		l.Status, l.StatusReason = to, reason
		return nil
	})
}

// License returns a license the caller may see. ENotFound.
func (s *Licenses) License(ctx context.Context, id string) (*License, error) {
	l, err := s.store.GetLicense(ctx, id)
	if err != nil {
		return nil, err
	}
	if err := visible(ctx, l.CustomerID, "license"); err != nil {
		return nil, err
	}
	return l, s.withSeats(ctx, []*License{l})
}

// change is changeLicense for the licenses of this service, the answer
// with its seats in force (withSeats).
func (s *Licenses) change(ctx context.Context, id, action, reason string, fn func(tx LicensesStore, l *License) error) (*License, error) {
	l, err := changeLicense(ctx, s.core, s.store, id, action, reason, fn)
	if err != nil {
		return nil, err
	}
	return l, s.withSeats(ctx, []*License{l})
}

// withSeats fills in the seat limit in force of licenses read (their own
// count or their policy's), reading each policy once.
func (s *Licenses) withSeats(ctx context.Context, ls []*License) error {
	pols := map[string]*Policy{}
	for _, l := range ls {
		p, ok := pols[l.PolicyID]
		if !ok {
			var err error
			if p, err = s.store.GetPolicy(ctx, l.PolicyID); err != nil {
				return err
			}
			pols[l.PolicyID] = p
		}
		l.MaxMachines, l.Effective = l.Seats(p), l.EffectiveView(p)
	}
	return nil
}

// Licenses lists licenses; a customer token sees only its own.
func (s *Licenses) Licenses(ctx context.Context, f LicenseFilter, page Page) ([]License, error) {
	if f.ExpiresBefore != nil {
		if err := checkTime("expires_before", *f.ExpiresBefore, LatestTime); err != nil {
			return nil, err
		}
	}
	if a := ActorFrom(ctx); a.Role == RoleCustomer {
		if f.CustomerID != "" && f.CustomerID != a.CustomerID {
			return []License{}, nil
		}
		f.CustomerID = a.CustomerID
	}
	ls, err := s.store.ListLicenses(ctx, f, page)
	if err != nil {
		return nil, err
	}
	ptrs := make([]*License, len(ls))
	for i := range ls {
		ptrs[i] = &ls[i]
	}
	return ls, s.withSeats(ctx, ptrs)
}

// LicensePatch changes a license's descriptive fields and its overrides of
// its policy's rules (in overrides: a member set to null clears that
// override).
type LicensePatch struct {
	Name      *string            `json:"name,omitempty"`
	Metadata  *map[string]string `json:"metadata,omitempty"`
	Overrides *OverridesPatch    `json:"overrides,omitempty"`
}

// UpdateLicense edits a license's name, metadata and overrides. Lowering
// its seats below the machines in use is refused (ESeatLimit), as a
// downgrade is. EInvalid (naming the field), ENotFound, ESeatLimit.
func (s *Licenses) UpdateLicense(ctx context.Context, id string, in LicensePatch) (*License, error) {
	return s.change(ctx, id, ActionLicenseUpdated, "", func(tx LicensesStore, l *License) error {
		set(&l.Name, in.Name)
		set(&l.Metadata, in.Metadata)
		if len(l.Name) > 200 {
			return FieldErrorf("name", "name is longer than 200 characters")
		}
		if err := checkMetadata(l.Metadata); err != nil {
			return err
		}
		if in.Overrides == nil {
			return nil
		}
		seats, o := l.SeatsOverride, l.Overrides
		in.Overrides.apply(&o, &seats)
		if err := validateOverrides(&o, seats); err != nil {
			return err
		}
		if seats != nil && (l.SeatsOverride == nil || *seats < *l.SeatsOverride) {
			n, err := tx.CountMachines(ctx, l.ID)
			if err != nil {
				return err
			}
			if n > *seats {
				// About the machines and the seats: the input is the seats.
				return Errorf(ESeatLimit, "the license has %d machines and seats would be %d: deactivate machines first", n, *seats).WithField("seats")
			}
		}
		if err := tx.SetLicenseOverrides(ctx, l.ID, seats, o); err != nil {
			return err
		}
		l.SeatsOverride, l.Overrides = seats, o
		return nil
	})
}

// ExtendInput says how far to extend a license: to a date, by a duration,
// or (neither) by its policy's duration.
type ExtendInput struct {
	ExpiresAt       *time.Time `json:"expires_at,omitempty"`
	DurationSeconds int64      `json:"duration_seconds,omitempty"`
	Reason          string     `json:"reason,omitempty"`
}

// ExtendLicense renews a license: its expiry moves later (from the current
// expiry, or from now if that has passed) and an expired license becomes
// active again. ENotFound, EInvalid, EConflict (revoked).
func (s *Licenses) ExtendLicense(ctx context.Context, id string, in ExtendInput) (*License, error) {
	if in.ExpiresAt != nil && in.DurationSeconds != 0 {
		return nil, FieldErrorf("expires_at", "give expires_at or duration_seconds, not both")
	}
	if err := checkSeconds("duration_seconds", in.DurationSeconds); err != nil {
		return nil, err
	}
	if in.ExpiresAt != nil {
		if err := checkExpiry("expires_at", *in.ExpiresAt); err != nil {
			return nil, err
		}
	}
	now := s.clock()
	return s.change(ctx, id, ActionLicenseRenewed, in.Reason, func(tx LicensesStore, l *License) error {
		if l.Status == LicenseRevoked {
			return Errorf(EConflict, "a revoked license cannot be renewed")
		}
		from := now
		if l.ExpiresAt != nil && l.ExpiresAt.After(now) {
			from = *l.ExpiresAt
		}
		var until time.Time
		var err error
		switch {
		case in.ExpiresAt != nil:
			until = in.ExpiresAt.UTC().Truncate(time.Second)
			if !until.After(now) {
				return FieldErrorf("expires_at", "expires_at must be in the future")
			}
		case in.DurationSeconds > 0:
			if until, err = expiryAfter("duration_seconds", from, in.DurationSeconds); err != nil {
				return err
			}
		default:
			p, err := tx.GetPolicy(ctx, l.PolicyID)
			if err != nil {
				return err
			}
			if p.DurationSeconds == 0 {
				return FieldErrorf("duration_seconds", "the policy has no duration: give expires_at or duration_seconds")
			}
			if until, err = expiryAfter("the policy's duration_seconds", from, p.DurationSeconds); err != nil {
				return err
			}
		}
		until = until.Truncate(time.Second)
		l.ExpiresAt = &until
		if l.Status == LicenseExpired {
			l.Status, l.StatusReason = LicenseActive, in.Reason
		}
		return nil
	})
}

// ChangePolicy moves a license to another policy of the same product (an
// upgrade or downgrade). Its seat limit and entitlements follow from the next
// lease on; a license's own seats (SeatsOverride, a billed quantity) stay.
// A downgrade below the machines in use is refused (ESeatLimit): deactivate
// machines first.
func (s *Licenses) ChangePolicy(ctx context.Context, id, policyID, reason string) (*License, error) {
	l, _, err := s.changePolicy(ctx, id, policyID, reason, false)
	return l, err
}

// changePolicy is ChangePolicy; with overSeats a downgrade below the
// machines in use is made all the same, and over says by how many machines
// the license is then over its seats.
func (s *Licenses) changePolicy(ctx context.Context, id, policyID, reason string, overSeats bool) (_ *License, over int, _ error) {
	if err := required("policy_id", policyID); err != nil {
		return nil, 0, err
	}
	l, err := s.change(ctx, id, ActionLicensePolicyChange, reason, func(tx LicensesStore, l *License) error {
		p, err := tx.GetPolicy(ctx, policyID)
		if err != nil {
			return refersTo(err, "policy_id", "policy", policyID)
		}
		if p.ProductID != l.ProductID {
			return FieldErrorf("policy_id", "the new policy is of another product")
		}
		n, err := tx.CountMachines(ctx, l.ID)
		if err != nil {
			return err
		}
		// A license's own seat count (a billed quantity) stays: the new
		// policy's seats apply only where it has none.
		if seats := l.Seats(p); n > seats {
			if !overSeats {
				return Errorf(ESeatLimit, "the license has %d machines and the new policy allows %d: deactivate machines first", n, seats).WithField("policy_id")
			}
			over = n - seats
		}
		l.PolicyID = p.ID
		return nil
	})
	return l, over, err
}

// TransferLicense gives a license to another customer. Its machines stay.
func (s *Licenses) TransferLicense(ctx context.Context, id, customerID, reason string) (*License, error) {
	if err := required("customer_id", customerID); err != nil {
		return nil, err
	}
	return s.change(ctx, id, ActionLicenseTransferred, reason, func(tx LicensesStore, l *License) error {
		c, err := tx.GetCustomer(ctx, customerID)
		if err != nil {
			return refersTo(err, "customer_id", "customer", customerID)
		}
		if c.ID == l.CustomerID {
			return Errorf(EConflict, "the license already belongs to this customer").WithField("customer_id")
		}
		l.CustomerID = c.ID
		return nil
	})
}

// Machine returns a machine the caller may see. ENotFound.
func (s *Licenses) Machine(ctx context.Context, id string) (*Machine, error) {
	m, err := s.store.GetMachine(ctx, id)
	if err != nil {
		return nil, err
	}
	if a := ActorFrom(ctx); a.Role == RoleCustomer {
		l, err := s.store.GetLicense(ctx, m.LicenseID)
		if err != nil {
			return nil, err
		}
		if err := visible(ctx, l.CustomerID, "machine"); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// Machines lists machines; a customer token sees only its own.
func (s *Licenses) Machines(ctx context.Context, f MachineFilter, page Page) ([]Machine, error) {
	if a := ActorFrom(ctx); a.Role == RoleCustomer {
		if f.CustomerID != "" && f.CustomerID != a.CustomerID {
			return []Machine{}, nil
		}
		f.CustomerID = a.CustomerID
	}
	return s.store.ListMachines(ctx, f, page)
}

// DeactivateMachine removes a machine, freeing its seat.
func (s *Licenses) DeactivateMachine(ctx context.Context, id, reason string) error {
	if _, err := s.Machine(ctx, id); err != nil {
		return err
	}
	return removeMachine(ctx, s.core, s.store, id, ActionMachineDeactivated, reason)
}

// BlockMachine bans the machine's fingerprint from its license: it loses
// its seat, gets no lease, and cannot activate again until unblocked.
func (s *Licenses) BlockMachine(ctx context.Context, id, reason string) (*Machine, error) {
	return s.changeMachine(ctx, id, ActionMachineBlocked, reason, func(m *Machine) error {
		if m.Status == MachineBlocked {
			return Errorf(EConflict, "the machine is already blocked")
		}
		m.Status, m.StatusReason = MachineBlocked, reason
		return nil
	}, false)
}

// UnblockMachine lifts the ban: the machine record is removed, so the
// fingerprint may activate again (taking a seat if one is free).
func (s *Licenses) UnblockMachine(ctx context.Context, id, reason string) error {
	m, err := s.Machine(ctx, id)
	if err != nil {
		return err
	}
	if m.Status != MachineBlocked {
		return Errorf(EConflict, "the machine is not blocked")
	}
	return removeMachine(ctx, s.core, s.store, id, ActionMachineUnblocked, reason)
}

// ResetHeartbeat forgets the machine's last heartbeat, so monitoring starts
// afresh (e.g. after a planned outage).
func (s *Licenses) ResetHeartbeat(ctx context.Context, id string) (*Machine, error) {
	return s.changeMachine(ctx, id, ActionMachineHeartbeatRst, "", func(m *Machine) error {
		if m.Status == MachineBlocked {
			return Errorf(EConflict, "the machine is blocked")
		}
		m.Status, m.LastHeartbeat = MachineActive, nil
		return nil
	}, true)
}

func (s *Licenses) changeMachine(ctx context.Context, id, action, reason string, change func(*Machine) error, clearHeartbeat bool) (*Machine, error) {
	if len(reason) > 500 {
		return nil, FieldErrorf("reason", "reason is longer than 500 characters")
	}
	m0, err := s.Machine(ctx, id)
	if err != nil {
		return nil, err
	}
	var out *Machine
	err = s.store.InTx(ctx, func(tx LicensesStore) error {
		// Seat accounting is serialized per license, as in Activate.
		if _, err := tx.LockLicense(ctx, m0.LicenseID); err != nil {
			return err
		}
		m, err := tx.GetMachine(ctx, id)
		if err != nil {
			return err
		}
		before := *m
		if err := change(m); err != nil {
			return err
		}
		now := s.clock()
		if err := tx.SetMachineStatus(ctx, id, m.Status, m.StatusReason, clearHeartbeat, now); err != nil {
			return err
		}
		m.UpdatedAt = now
		out = m
		return s.record(ctx, tx, action, "machine", id, reason, &before, m)
	})
	return out, err
}

// ActionLicenseKeyRotated: a license was given a new key (the old one stops
// working). The event holds the new key's hint, never the key.
const ActionLicenseKeyRotated = "license.key_rotated"

// RotateKey gives a license a new generated key and returns it, in clear,
// this once: only its keyed hash is stored (the SecretHasher's, as for a
// created license), and the audit event, hence the outbox and webhooks,
// carry only its hint. The old key stops working at once: activations,
// renewals and validations with it answer invalid_license. Machines keep
// their seats and renew with the new key.
//
// It is how the key of a license created by a billing provider's event
// (a Stripe subscription not linked to a Narcidi one) is obtained: nothing
// else ever shows that key. A customer token may rotate its own licenses'
// keys when its customer record grants RotateLicenseKeys. ENotFound,
// EConflict (revoked).
func (s *Licenses) RotateKey(ctx context.Context, id, reason string) (*CreatedLicense, error) {
	key := NewLicenseKey()
	hash, hint := s.secrets.Hash(key), KeyHint(key)
	l, err := s.change(ctx, id, ActionLicenseKeyRotated, reasonOr(reason, "license key rotated"), func(tx LicensesStore, l *License) error {
		if l.Status == LicenseRevoked {
			return Errorf(EConflict, "the license is revoked: its key cannot be replaced")
		}
		if err := tx.SetLicenseKey(ctx, l.ID, hash, hint); err != nil {
			return err
		}
		l.KeyHash, l.KeyHint = hash, hint
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &CreatedLicense{License: *l, Key: key}, nil
}

func reasonOr(reason, def string) string {
	if reason == "" {
		return def
	}
	return reason
}
