package licensing

import (
	"context"
	"time"

	verifier "github.com/nzilacode/narcidicontrole/verifier-sdk"
)

// LeasingStore is the data the client API needs. Every method returns
// ENotFound when a row is missing, EConflict when a unique rule is broken,
// EUnavailable when the database cannot be reached, EInternal otherwise.
// Seat accounting relies on GetLicenseByKeyHash with forUpdate inside InTx:
// the license row stays locked until the transaction ends, so the seat
// count cannot be raced. Safe for concurrent use.
type LeasingStore interface {
	Tx[LeasingStore]
	EventAppender
	// TrialStore records trial claims at activation (billing.go).
	TrialStore
	// ListMeters lists a license's meters (metering.go), for the lease of
	// an activation (renewals read them with ReadLease).
	ListMeters(ctx context.Context, licenseID string) ([]Meter, error)
	// GetLicenseByKeyHash finds a license by the hash of its key (see
	// SecretHasher). With forUpdate inside a transaction it locks the row
	// until the transaction ends, which serializes seat accounting per
	// license.
	GetLicenseByKeyHash(ctx context.Context, keyHash string, forUpdate bool) (*License, error)
	// RehashLicenseKey replaces the key hash from by to if a license still
	// has from; nil when none does (a concurrent request migrated it).
	RehashLicenseKey(ctx context.Context, from, to string) error
	GetLicense(ctx context.Context, id string) (*License, error)
	GetPolicy(ctx context.Context, id string) (*Policy, error)
	GetCustomer(ctx context.Context, id string) (*Customer, error)
	// FindMachine finds the machine of fingerprint on the license (blocked
	// ones included).
	FindMachine(ctx context.Context, licenseID, fingerprint string) (*Machine, error)
	GetMachine(ctx context.Context, id string) (*Machine, error)
	// CountMachines counts the machines holding a seat (blocked ones do not).
	CountMachines(ctx context.Context, licenseID string) (int, error)
	CreateMachine(ctx context.Context, m *Machine) error // EConflict if the fingerprint is taken on the license
	// TouchMachine records a heartbeat and/or a lease issue at now.
	// EMachineBlocked if the machine is blocked (or gone) meanwhile.
	TouchMachine(ctx context.Context, id string, heartbeat, lease bool, ip string, now time.Time) error
	// DeleteMachine deletes a machine unless its offline lease runs past
	// now (EConflict): the condition is in the write, so an offline
	// activation committed after the caller's read still holds.
	DeleteMachine(ctx context.Context, id string, now time.Time) error
	// HoldOfflineSeat records that the machine's offline lease ends at
	// until (never moving an end earlier). ENotFound when the machine is
	// gone (its seat was freed meanwhile).
	HoldOfflineSeat(ctx context.Context, id string, until time.Time) error

	// ReadLease reads in one statement (one round trip) what a renewal, a
	// heartbeat or a validation needs: the license whose key hash is
	// keyHash, its policy, its customer's status and the machine of
	// fingerprint on it (Machine nil when the fingerprint holds no row),
	// and the license's meters (no statement of their own).
	// It only fetches: the caller decides (CheckUsable). It locks nothing
	// and does not try the legacy hash (see Leasing.leaseByKey). ENotFound
	// when no license has keyHash.
	ReadLease(ctx context.Context, keyHash, fingerprint string) (*LeaseView, error)
	// LastSeenRecorder takes the last-seen stamps of renewals and
	// heartbeats.
	LastSeenRecorder
	// RulesStore holds what the activation rules read and write.
	RulesStore
}

// UsabilityStaleness bounds how long after a change to a license
// (suspension, revocation), its customer (disabled) or a machine (blocked,
// deactivated) a renewal, heartbeat or validation on any instance may still
// answer from the state before it. ReadLease reads those rows from the
// database on every call (a cache may keep policies only, see
// MaxPolicyStaleness), so the bound is 0: the next call on every instance
// sees the change. A cache of them added later must keep its staleness
// within this bound, raising it only with a documented reason.
const UsabilityStaleness time.Duration = 0

// MaxPolicyStaleness bounds how long after a change to a policy (its
// expiry action, grace, lease TTL, entitlements...) a renewal, heartbeat or
// validation on any instance may still use the policy as it was: a server
// may keep policies in a cache (NARCIDI_LEASE_CACHE_TTL, at most this),
// dropped at once on the instance that made the change and, with Redis,
// on the others; without Redis (or when a message is lost) the TTL alone
// bounds it. Seat accounting never reads a cached policy.
const MaxPolicyStaleness = 5 * time.Second

// LeaseView is what LeasingStore.ReadLease returns. Its License carries
// its overrides (rules.go) and seat count; only Activate accounts seats,
// from the locked row.
type LeaseView struct {
	License        *License
	Policy         *Policy
	CustomerStatus CustomerStatus
	Machine        *Machine // nil: the fingerprint holds no row on the license
	// Meters are the license's meters, by entitlement, read in the same
	// statement (their Entitlement, Uses, MaxUses and Total: what a lease
	// carries); nil when it has none.
	Meters []Meter
}

// customer is the part of the customer CheckUsable reads.
func (v *LeaseView) customer() *Customer {
	return &Customer{ID: v.License.CustomerID, Status: v.CustomerStatus}
}

// Sighting is one sign of life of a machine: a heartbeat, and a lease
// issued too when Lease is set.
type Sighting struct {
	MachineID string
	At        time.Time
	Lease     bool   // a lease was issued at At (sets last_lease_at)
	IP        string // "" keeps the machine's IP
}

// LastSeenMaxDelay bounds how long a LastSeenRecorder may hold a stamp
// before writing it, on a running process.
const LastSeenMaxDelay = time.Second

// LastSeenMargin is what the offline scan adds to every silence it judges
// (see Automation.ScanOffline): a stamp still held by a recorder, on this
// process or another, is at most LastSeenMaxDelay old, and the margin
// leaves 4 s more for the write itself and clock skew between instances.
const LastSeenMargin = LastSeenMaxDelay + 4*time.Second

// LastSeenRecorder records sightings: last_heartbeat at At, last_lease_at
// at At when Lease, the IP when given, and the machine back to active if
// it was offline. A blocked machine stays blocked and a deleted one stays
// deleted (the write is conditional). The write may come later, in
// batches: at most LastSeenMaxDelay after RecordSeen on a running process,
// and before the recorder's Close returns on a clean stop; a crash may
// lose the stamps of the last LastSeenMaxDelay (the leases were signed:
// the machines only look silent for that long, which LastSeenMargin
// covers). A recorder that writes at once (inside a transaction, or with
// no batcher) answers EMachineBlocked when the machine is blocked or gone
// meanwhile; a batching one cannot tell and answers nil. Safe for
// concurrent use.
type LastSeenRecorder interface {
	RecordSeen(ctx context.Context, s Sighting) error
}

// LeaseSigner signs lease claims into a compact JWS. Implemented by keys.
type LeaseSigner interface {
	SignLease(ctx context.Context, claims verifier.LeaseClaims) (string, error)
}

// Leasing is the client API: what an app does with its license key
// (activate, renew, heartbeat, deactivate, validate) and the air-gapped
// activation an admin relays. Safe for concurrent use.
type Leasing struct {
	core
	store   LeasingStore
	signer  LeaseSigner
	issuer  string
	secrets *SecretHasher

	// telemetry takes uses and refusals (nil: none kept; telemetry.go).
	telemetry TelemetryRecorder
}

// NewLeasing builds the leasing service. issuer goes into every lease's
// "iss" claim; secrets hashes license keys (the same as Licenses').
func NewLeasing(store LeasingStore, signer LeaseSigner, clock Clock, issuer string, secrets *SecretHasher) *Leasing {
	return &Leasing{core: newCore(clock), store: store, signer: signer, issuer: issuer, secrets: mustHasher(secrets)}
}

// MachineRequest is a client's call about one machine of a license.
type MachineRequest struct {
	Key         string
	Fingerprint string
	Name        string
	Hostname    string
	Platform    string
	IP          string
	// AppVersion and ClockTampering are telemetry the SDK may send
	// (optional): the app's version, kept in the daily roll-ups, and the
	// clock tampering it saw since its last renewal, kept as an event.
	AppVersion     string
	ClockTampering *ClockTampering
	// Components are the machine's hardware component fingerprints
	// (optional; at most MaxComponents), matched under the policy's
	// MatchingRule when the fingerprint is new on the license.
	Components []string
}

func (r *MachineRequest) validate() error {
	r.Key = NormalizeKey(r.Key)
	comps, err := NormalizeComponents(r.Components)
	if err != nil {
		return err
	}
	r.Components = comps
	switch {
	case r.Key == "" || len(r.Key) > 256:
		return FieldErrorf("license_key", "license_key is required (at most 256 characters)")
	case len(r.Fingerprint) < 8 || len(r.Fingerprint) > 256:
		return FieldErrorf("fingerprint", "fingerprint is required (8 to 256 characters)")
	case len(r.Name) > 200:
		return FieldErrorf("name", "name is too long (at most 200 characters)")
	case len(r.Hostname) > 255:
		return FieldErrorf("hostname", "hostname is too long (at most 255 characters)")
	case len(r.Platform) > 100:
		return FieldErrorf("platform", "platform is too long (at most 100 characters)")
	case len(r.AppVersion) > 64:
		return FieldErrorf("app_version", "app_version is too long (at most 64 characters)")
	case r.ClockTampering != nil && (r.ClockTampering.Count < 0 || r.ClockTampering.Count > 1_000_000):
		return FieldErrorf("clock_tampering.count", "clock_tampering.count must be between 0 and 1000000")
	}
	return nil
}

// Grant is a signed lease and what it was issued for.
type Grant struct {
	Lease     string
	ExpiresAt time.Time
	License   *License
	Policy    *Policy
	Machine   *Machine
	// Created is true when the activation took a new seat.
	Created bool
	// Overage is how many machines the license has beyond its seats
	// (within the overage its policy allows); 0 when not over.
	Overage int
}

// Activate binds the machine's fingerprint to the license, taking a seat,
// and issues a lease. Activating a fingerprint that already holds a seat
// issues a fresh lease on the same seat. The seat limit holds under any
// concurrency: the license row is locked for the whole transaction. The
// policy's activation rules (rules.go, activation.go) apply to a new
// fingerprint: matching, uniqueness, the activation cap, the overage.
// EInvalid, ENotFound, ESeatLimit, ELicenseSuspended/Revoked/Expired, EForbidden,
// EFingerprintTaken, EActivationLimited.
func (s *Leasing) Activate(ctx context.Context, req MachineRequest) (*Grant, error) {
	if err := req.validate(); err != nil {
		return nil, err
	}
	var (
		g      *Grant
		seen   *License // for telemetry
		seenM  *Machine
		seenAt time.Time
	)
	err := s.store.InTx(ctx, func(tx LeasingStore) error {
		now := s.clock()
		lic, pol, err := s.usableLicense(ctx, tx, req.Key, true, now)
		if err != nil {
			return err
		}
		seen, seenAt = lic, now
		m, err := tx.FindMachine(ctx, lic.ID, req.Fingerprint)
		seenM = m
		created := false
		switch {
		case err == nil:
			if m.Status == MachineBlocked {
				return errBlocked
			}
			// An activation is a sign of life, as a heartbeat is.
			if err := tx.TouchMachine(ctx, m.ID, true, true, req.IP, now); err != nil {
				return err
			}
			if err := keepComponents(ctx, tx, m, req.Components); err != nil {
				return err
			}
			m.LastHeartbeat, m.LastLeaseAt, m.Status = &now, &now, MachineActive
		case ErrorCode(err) == ENotFound:
			if m, created, err = s.takeSeat(ctx, tx, lic, pol, req, now); err != nil {
				return err
			}
		default:
			return err
		}
		over, err := s.overage(ctx, tx, lic, pol)
		if err != nil {
			return err
		}
		meters, err := tx.ListMeters(ctx, lic.ID)
		if err != nil {
			return err
		}
		g, err = s.sign(ctx, lic, pol, m, now, over, meters)
		if g != nil {
			g.Created = created
		}
		return err
	})
	if err != nil {
		s.noteRefusal(UseActivation, err, seen, seenM, req, seenAt)
		s.recordRefusal(ctx, seen, err, seenAt)
	} else {
		s.noteUse(Use{Kind: UseActivation, LicenseID: g.License.ID, MachineID: g.Machine.ID, At: seenAt, IP: req.IP, Platform: g.Machine.Platform, AppVersion: req.AppVersion})
	}
	return g, err
}

// Renew issues a new lease to a machine that holds a seat. The license must
// still be usable: a suspended, revoked or expired license gets no new lease.
// EInvalid, ENotFound, ENotActivated, ELicense*.
func (s *Leasing) Renew(ctx context.Context, req MachineRequest) (*Grant, error) {
	if err := req.validate(); err != nil {
		return nil, err
	}
	now := s.clock()
	v, err := s.usableSeat(ctx, req, now)
	if err != nil {
		s.noteRefusal(UseRenewal, err, v.license(), v.machine(), req, now)
		return nil, err
	}
	// A renewal is a sign of life: apps that renew and never heartbeat
	// (verifier.Manager) must not be marked offline and lose their seat.
	m := v.Machine
	if err := s.store.RecordSeen(ctx, Sighting{MachineID: m.ID, At: now, Lease: true, IP: req.IP}); err != nil {
		return nil, err
	}
	m.LastHeartbeat, m.LastLeaseAt, m.Status = &now, &now, MachineActive
	if req.IP != "" {
		m.IP = req.IP
	}
	s.noteUse(Use{Kind: UseRenewal, LicenseID: v.License.ID, MachineID: m.ID, At: now, IP: req.IP, Platform: m.Platform, AppVersion: req.AppVersion})
	s.noteTampering(req, v.License.ID, m.ID, now)
	over, err := s.overage(ctx, s.store, v.License, v.Policy)
	if err != nil {
		return nil, err
	}
	// The meters came with the read: a renewal costs no meter statement.
	return s.sign(ctx, v.License, v.Policy, m, now, over, v.Meters)
}

// Heartbeat records that a machine is alive. It returns the time of the
// heartbeat and when the next one is due (zero when the policy needs none).
func (s *Leasing) Heartbeat(ctx context.Context, req MachineRequest) (*Machine, time.Time, error) {
	if err := req.validate(); err != nil {
		return nil, time.Time{}, err
	}
	now := s.clock()
	v, err := s.usableSeat(ctx, req, now)
	if err != nil {
		s.noteRefusal(UseHeartbeat, err, v.license(), v.machine(), req, now)
		return nil, time.Time{}, err
	}
	m := v.Machine
	if err := s.store.RecordSeen(ctx, Sighting{MachineID: m.ID, At: now, IP: req.IP}); err != nil {
		return nil, time.Time{}, err
	}
	m.LastHeartbeat, m.Status = &now, MachineActive
	if req.IP != "" {
		m.IP = req.IP
	}
	s.noteUse(Use{Kind: UseHeartbeat, LicenseID: v.License.ID, MachineID: m.ID, At: now, IP: req.IP, Platform: m.Platform, AppVersion: req.AppVersion})
	var next time.Time
	if v.Policy.HeartbeatWindowSeconds > 0 {
		next = now.Add(seconds(v.Policy.HeartbeatWindowSeconds))
	}
	return m, next, nil
}

// Deactivate removes the machine from the license, freeing its seat. It is
// allowed whatever the license's status, within the policy's abuse rules:
// a seat younger than its minimum hold (ESeatHeld) or past the
// deactivation cap (EActivationLimited) stays.
// EInvalid, ENotFound, ENotActivated, ESeatHeld, EActivationLimited.
func (s *Leasing) Deactivate(ctx context.Context, req MachineRequest) error {
	if err := req.validate(); err != nil {
		return err
	}
	var seen *License
	err := s.store.InTx(ctx, func(tx LeasingStore) error {
		// The license row is locked, as in Activate, so the deactivation
		// cap counts exactly.
		lic, err := s.secrets.licenseByKey(ctx, tx, req.Key, true)
		if err != nil {
			return licenseKeyNotFound(err)
		}
		seen = lic
		m, err := tx.FindMachine(ctx, lic.ID, req.Fingerprint)
		switch {
		case ErrorCode(err) == ENotFound:
			return errNotActivated
		case err != nil:
			return err
		case m.Status == MachineBlocked:
			return errBlocked
		}
		pol, err := tx.GetPolicy(ctx, lic.PolicyID)
		if err != nil {
			return err
		}
		pol, _ = lic.WithOverrides(pol)
		now := s.clock()
		if hold := pol.Rules.MinSeatHoldSeconds; hold > 0 && now.Before(m.CreatedAt.Add(seconds(hold))) {
			return Errorf(ESeatHeld, "the seat was taken at %s and is held at least %s", m.CreatedAt.Format(time.RFC3339), seconds(hold))
		}
		if err := capReached(ctx, tx, lic, SeatDeactivation, pol.Rules.MaxDeactivations, pol.Rules.LimitPeriodSeconds, now); err != nil {
			return err
		}
		if pol.Rules.MaxDeactivations > 0 {
			if err := tx.RecordSeatEvent(ctx, lic.ID, SeatDeactivation, now); err != nil {
				return err
			}
		}
		ctx := WithActor(ctx, &Actor{Name: "app", LicenseID: lic.ID, RequestID: ActorFrom(ctx).RequestID})
		return removeMachine(ctx, s.core, boundLeasing{tx}, m.ID, ActionMachineDeactivated, "deactivated by the app")
	})
	if ErrorCode(err) == EActivationLimited {
		s.recordRefusal(ctx, seen, err, s.clock())
	}
	return err
}

// boundLeasing is a leasing store already inside a transaction: InTx runs
// fn in it.
type boundLeasing struct{ LeasingStore }

func (b boundLeasing) InTx(_ context.Context, fn func(tx LeasingStore) error) error {
	return fn(b.LeasingStore)
}

// Validation is the answer to an online check.
type Validation struct {
	Valid   bool
	Code    string // one of verifier.Validation*
	Detail  string
	License *License
}

// Validate checks a license key (and, when given, that the fingerprint holds
// a seat) without changing anything: valid exactly when Usable finds
// nothing wrong. A refusal is Valid false with a verifier.Validation* code;
// a disabled customer is answered as suspended (every license of the
// customer is, in effect), with a detail that says so. Only infrastructure
// failures are errors.
func (s *Leasing) Validate(ctx context.Context, key, fingerprint string) (*Validation, error) {
	key = NormalizeKey(key)
	if key == "" || len(key) > 256 || len(fingerprint) > 256 {
		return nil, FieldErrorf("license_key", "license_key is required (at most 256 characters)")
	}
	lic, _, err := s.Usable(ctx, LicenseRef{Key: key}, fingerprint)
	v := &Validation{License: lic}
	if lic != nil {
		s.noteUse(Use{Kind: UseValidation, LicenseID: lic.ID, At: s.clock()})
	}
	switch c := ErrorCode(err); c {
	case "":
		v.Valid, v.Code, v.Detail = true, verifier.ValidationValid, "the license is valid"
	case ENotFound:
		v.Code, v.Detail = verifier.ValidationNotFound, "no license has this key"
	case ENotActivated, EMachineBlocked:
		v.Code, v.Detail = verifier.ValidationNotActivated, ErrorMessage(err)
	case ELicenseSuspended, EForbidden: // EForbidden: the customer is disabled
		v.Code, v.Detail = verifier.ValidationSuspended, ErrorMessage(err)
	case ELicenseRevoked:
		v.Code, v.Detail = verifier.ValidationRevoked, ErrorMessage(err)
	case ELicenseExpired:
		v.Code, v.Detail = verifier.ValidationExpired, ErrorMessage(err)
	default:
		return nil, err
	}
	return v, nil
}

// LicenseRef names a license by its key or by its id (as a lease does).
type LicenseRef struct {
	Key string
	ID  string
}

// Usable loads the license of ref and checks, without changing anything,
// that it may be used now (CheckUsable) and, when fingerprint is given,
// that the machine holds a seat on it. It is the check behind Validate and
// release downloads. ENotFound (no such license), ELicenseSuspended,
// ELicenseRevoked, ELicenseExpired, EForbidden (customer disabled),
// ENotActivated or EMachineBlocked (fingerprint). On a refusal of a license
// that exists, the license is returned with the error.
func (s *Leasing) Usable(ctx context.Context, ref LicenseRef, fingerprint string) (*License, *Policy, error) {
	if ref.Key != "" {
		v, err := s.leaseByKey(ctx, ref.Key, fingerprint)
		if err != nil {
			return nil, nil, err
		}
		if err := CheckUsable(v.License, v.Policy, v.customer(), s.clock()); err != nil {
			return v.License, nil, err
		}
		if fingerprint != "" {
			if err := seatOf(v.Machine); err != nil {
				return v.License, nil, err
			}
		}
		return v.License, v.Policy, nil
	}
	lic, err := s.store.GetLicense(ctx, ref.ID)
	if err != nil {
		return nil, nil, err
	}
	pol, cus, err := licenseContext(ctx, s.store, lic)
	if err != nil {
		return nil, nil, err
	}
	if err := CheckUsable(lic, pol, cus, s.clock()); err != nil {
		return lic, nil, err
	}
	if fingerprint != "" {
		if _, err := s.seat(ctx, lic, fingerprint); err != nil {
			return lic, nil, err
		}
	}
	return lic, pol, nil
}

// usableSeat reads, in one round trip, the license of req's key with its
// policy, customer status and the machine of req's fingerprint, and checks
// that the license may be used at now (CheckUsable) and that the machine
// holds a seat (ENotActivated, EMachineBlocked). Renew and Heartbeat.
func (s *Leasing) usableSeat(ctx context.Context, req MachineRequest, now time.Time) (*LeaseView, error) {
	v, err := s.leaseByKey(ctx, req.Key, req.Fingerprint)
	if err != nil {
		return nil, err
	}
	// On a refusal v goes back too, for telemetry; callers check err first.
	if err := CheckUsable(v.License, v.Policy, v.customer(), now); err != nil {
		return v, err
	}
	if err := seatOf(v.Machine); err != nil {
		return v, err
	}
	return v, nil
}

// leaseByKey is ReadLease by a clear key (normalised here). A miss with
// the keyed hash goes through licenseByKey, which finds and migrates a row
// still holding the legacy hash; the keyed read is then done again. So
// every known key costs one statement once migrated. ENotFound.
func (s *Leasing) leaseByKey(ctx context.Context, key, fingerprint string) (*LeaseView, error) {
	keyed := s.secrets.Hash(NormalizeKey(key))
	v, err := s.store.ReadLease(ctx, keyed, fingerprint)
	if ErrorCode(err) == ENotFound {
		if _, err := s.secrets.licenseByKey(ctx, s.store, key, false); err != nil {
			return nil, licenseKeyNotFound(err)
		}
		v, err = s.store.ReadLease(ctx, keyed, fingerprint)
		err = licenseKeyNotFound(err)
	}
	if err == nil && v.Policy != nil {
		// The license's overrides (lease TTL, grace, expiry action...)
		// apply to everything a renewal or a validation decides.
		v.Policy, _ = v.License.WithOverrides(v.Policy)
	}
	return v, err
}

// seatOf answers whether m (as ReadLease found it) holds a seat.
func seatOf(m *Machine) error {
	switch {
	case m == nil:
		return errNotActivated
	case m.Status == MachineBlocked:
		return errBlocked
	}
	return nil
}

var errNotActivated = Errorf(ENotActivated, "this machine is not activated on the license")

// usableLicense loads the license of key, its policy and customer, and
// checks that it may be used at now (CheckUsable). With lock (inside a
// transaction) the license row stays locked until the transaction ends.
func (s *Leasing) usableLicense(ctx context.Context, r LeasingStore, key string, lock bool, now time.Time) (*License, *Policy, error) {
	lic, err := s.secrets.licenseByKey(ctx, r, key, lock)
	if err != nil {
		return nil, nil, licenseKeyNotFound(err)
	}
	pol, cus, err := licenseContext(ctx, r, lic)
	if err != nil {
		return nil, nil, err
	}
	if err := CheckUsable(lic, pol, cus, now); err != nil {
		return nil, nil, err
	}
	return lic, pol, nil
}

// licenseContext loads what CheckUsable needs besides the license.
func licenseContext(ctx context.Context, r LeasingStore, lic *License) (*Policy, *Customer, error) {
	pol, err := r.GetPolicy(ctx, lic.PolicyID)
	if err != nil {
		return nil, nil, err
	}
	cus, err := r.GetCustomer(ctx, lic.CustomerID)
	if err != nil {
		return nil, nil, err
	}
	pol, _ = lic.WithOverrides(pol)
	return pol, cus, nil
}

// CheckUsable is the one answer to "may this license be used now?" (get a
// lease, renew, heartbeat, be valid, download a release): it is not
// suspended, revoked or expired past its grace under a restricting policy
// (ELicenseSuspended, ELicenseRevoked, ELicenseExpired), and its customer is
// active (EForbidden). A new rule about usability goes here, so every
// client route and downloads follow it at once.
func CheckUsable(lic *License, pol *Policy, cus *Customer, now time.Time) error {
	if err := lic.Check(pol, now); err != nil {
		return err
	}
	if cus.Status != CustomerActive {
		return Errorf(EForbidden, "the customer's account is disabled")
	}
	return nil
}

func licenseKeyNotFound(err error) error {
	if ErrorCode(err) == ENotFound {
		return Errorf(ENotFound, "no license has this key")
	}
	return err
}

// seat finds the machine of fingerprint on the license.
func (s *Leasing) seat(ctx context.Context, lic *License, fingerprint string) (*Machine, error) {
	m, err := s.store.FindMachine(ctx, lic.ID, fingerprint)
	if ErrorCode(err) == ENotFound {
		return nil, errNotActivated
	}
	if err == nil && m.Status == MachineBlocked {
		return nil, errBlocked
	}
	return m, err
}

var errBlocked = Errorf(EMachineBlocked, "this machine is blocked on the license")

// sign issues a lease for machine m, carrying the license's meters. The
// lease never outlives the license when the policy restricts on expiry.
func (s *Leasing) sign(ctx context.Context, lic *License, pol *Policy, m *Machine, now time.Time, overage int, meters []Meter) (*Grant, error) {
	exp := now.Add(pol.LeaseTTL())
	var licExp int64
	if lic.ExpiresAt != nil {
		licExp = lic.ExpiresAt.Unix()
		end := lic.ExpiresAt.Add(seconds(pol.GraceSeconds))
		if pol.EndsAtExpiry() && end.Before(exp) {
			exp = end
		}
	}
	claims := verifier.LeaseClaims{
		Issuer: s.issuer, Subject: m.ID, Audience: lic.ProductID, ID: NewID(),
		IssuedAt: now.Unix(), NotBefore: now.Unix(), Expiry: exp.Unix(),
		License: lic.ID, Policy: pol.ID, Customer: lic.CustomerID, Machine: m.ID,
		Fingerprint: m.Fingerprint, Entitlements: EffectiveEntitlements(pol, lic), LicenseExpiry: licExp,
		Overage: int64(overage),
		Meters:  meterClaims(meters),
	}
	tok, err := s.signer.SignLease(ctx, claims)
	if err != nil {
		return nil, Wrap(EInternal, err, "could not sign the lease")
	}
	return &Grant{Lease: tok, ExpiresAt: time.Unix(claims.Expiry, 0).UTC(), License: lic, Policy: pol, Machine: m, Overage: overage}, nil
}
