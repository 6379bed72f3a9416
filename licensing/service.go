package licensing

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/hex"
	"net/mail"
	"regexp"
	"slices"
	"strings"
	"time"

	verifier "github.com/nzilacode/narcidicontrole/verifier-sdk"
)

// Service runs Narcidi's use cases over a Store. It is safe for concurrent use.
type Service struct {
	store  Store
	signer LeaseSigner
	now    Clock
	issuer string
	hooks  webhookSettings
}

// NewService builds a Service. issuer goes into every lease's "iss" claim.
func NewService(store Store, signer LeaseSigner, clock Clock, issuer string) *Service {
	if clock == nil {
		clock = time.Now
	}
	return &Service{store: store, signer: signer, now: clock, issuer: issuer}
}

// Store returns the service's store, for read-only listings done by adapters.
func (s *Service) Store() Store { return s.store }

func (s *Service) clock() time.Time { return s.now().UTC().Truncate(time.Microsecond) }

var codePattern = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,63}$`)

// ProductInput is what an admin gives to create a product.
type ProductInput struct {
	Code     string            `json:"code"`
	Name     string            `json:"name"`
	Metadata map[string]string `json:"metadata,omitempty"`
}

// CreateProduct validates and stores a new product. EInvalid, EConflict.
func (s *Service) CreateProduct(ctx context.Context, in ProductInput) (*Product, error) {
	if !codePattern.MatchString(in.Code) {
		return nil, Errorf(EInvalid, "code must be 1-64 lowercase letters, digits, '.', '_' or '-'")
	}
	if err := requireName(in.Name); err != nil {
		return nil, err
	}
	if err := checkMetadata(in.Metadata); err != nil {
		return nil, err
	}
	now := s.clock()
	p := &Product{Code: in.Code, Name: strings.TrimSpace(in.Name), Metadata: in.Metadata, CreatedAt: now, UpdatedAt: now}
	return p, s.store.InTx(ctx, func(tx Repo) error {
		if err := tx.CreateProduct(ctx, p); err != nil {
			return err
		}
		return s.record(ctx, tx, ActionProductCreated, "product", p.ID, "", nil, p)
	})
}

// PolicyInput is what an admin gives to create a policy. Zero values take
// the documented defaults.
type PolicyInput struct {
	ProductID              string            `json:"product_id"`
	Name                   string            `json:"name"`
	DurationSeconds        int64             `json:"duration_seconds"`
	MaxMachines            int               `json:"max_machines"`
	Floating               bool              `json:"floating"`
	LeaseTTLSeconds        int64             `json:"lease_ttl_seconds"`
	HeartbeatWindowSeconds int64             `json:"heartbeat_window_seconds"`
	GraceSeconds           int64             `json:"grace_seconds"`
	ExpiryAction           ExpiryAction      `json:"expiry_action"`
	Entitlements           []string          `json:"entitlements"`
	Metadata               map[string]string `json:"metadata,omitempty"`
	// ExpiryNoticeDays default to 30, 7 and 1; [] sends none.
	ExpiryNoticeDays      *[]int `json:"expiry_notice_days,omitempty"`
	OfflineReleaseSeconds int64  `json:"offline_release_seconds,omitempty"`
}

// CreatePolicy validates and stores a policy of an existing product.
// Defaults: one machine, node-locked, 24h leases, restrict on expiry.
// EInvalid, ENotFound (product).
func (s *Service) CreatePolicy(ctx context.Context, in PolicyInput) (*Policy, error) {
	if err := requireName(in.Name); err != nil {
		return nil, err
	}
	if in.MaxMachines == 0 {
		in.MaxMachines = 1
	}
	if in.LeaseTTLSeconds == 0 {
		in.LeaseTTLSeconds = int64(DefaultLeaseTTL / time.Second)
	}
	if in.ExpiryAction == "" {
		in.ExpiryAction = ExpiryRestrict
	}
	if err := validatePolicyRules(in.DurationSeconds, in.GraceSeconds, in.HeartbeatWindowSeconds, in.LeaseTTLSeconds, in.MaxMachines, in.Floating, in.ExpiryAction); err != nil {
		return nil, err
	}
	notices := DefaultExpiryNoticeDays
	if in.ExpiryNoticeDays != nil {
		notices = *in.ExpiryNoticeDays
	}
	notices, err := normalizeNoticeDays(notices)
	if err != nil {
		return nil, err
	}
	if err := validateOfflineRelease(in.OfflineReleaseSeconds, in.HeartbeatWindowSeconds); err != nil {
		return nil, err
	}
	ents, err := s.checkEntitlements(ctx, in.Entitlements)
	if err != nil {
		return nil, err
	}
	if err := checkMetadata(in.Metadata); err != nil {
		return nil, err
	}
	if _, err := s.store.GetProduct(ctx, in.ProductID); err != nil {
		return nil, err
	}
	now := s.clock()
	p := &Policy{
		ProductID: in.ProductID, Name: strings.TrimSpace(in.Name), DurationSeconds: in.DurationSeconds,
		MaxMachines: in.MaxMachines, Floating: in.Floating, LeaseTTLSeconds: in.LeaseTTLSeconds,
		HeartbeatWindowSeconds: in.HeartbeatWindowSeconds, GraceSeconds: in.GraceSeconds,
		ExpiryAction: in.ExpiryAction, Entitlements: ents, Metadata: in.Metadata, CreatedAt: now, UpdatedAt: now,
		ExpiryNoticeDays: notices, OfflineReleaseSeconds: in.OfflineReleaseSeconds,
	}
	return p, s.store.InTx(ctx, func(tx Repo) error {
		if err := tx.CreatePolicy(ctx, p); err != nil {
			return err
		}
		return s.record(ctx, tx, ActionPolicyCreated, "policy", p.ID, "", nil, p)
	})
}

func validatePolicyRules(duration, grace, heartbeat, ttl int64, maxMachines int, floating bool, action ExpiryAction) error {
	switch {
	case duration < 0, grace < 0, heartbeat < 0:
		return Errorf(EInvalid, "durations must not be negative")
	case maxMachines < 1 || maxMachines > 100000:
		return Errorf(EInvalid, "max_machines must be between 1 and 100000")
	case !floating && maxMachines != 1:
		return Errorf(EInvalid, "a node-locked policy (floating=false) has exactly one machine; set floating=true for more")
	case ttl < int64(MinLeaseTTL/time.Second) || ttl > int64(MaxLeaseTTL/time.Second):
		return Errorf(EInvalid, "lease_ttl_seconds must be between %d and %d", int64(MinLeaseTTL/time.Second), int64(MaxLeaseTTL/time.Second))
	case action != ExpiryRestrict && action != ExpiryAllow:
		return Errorf(EInvalid, "expiry_action must be %q or %q", ExpiryRestrict, ExpiryAllow)
	}
	return nil
}

// CustomerInput is what an admin gives to create a customer.
type CustomerInput struct {
	Name     string    `json:"name"`
	Email    string    `json:"email"`
	Contacts []Contact `json:"contacts,omitempty"`
	// Permissions of the customer's own tokens; default: all of CustomerPermissions.
	Permissions []Permission      `json:"permissions,omitempty"`
	Metadata    map[string]string `json:"metadata,omitempty"`
}

// CreateCustomer validates and stores a customer. EInvalid.
func (s *Service) CreateCustomer(ctx context.Context, in CustomerInput) (*Customer, error) {
	if in.Permissions == nil {
		in.Permissions = CustomerPermissions
	}
	now := s.clock()
	c := &Customer{Name: strings.TrimSpace(in.Name), Email: in.Email, Status: CustomerActive, Contacts: in.Contacts,
		Permissions: in.Permissions, Metadata: in.Metadata, CreatedAt: now, UpdatedAt: now}
	if err := validateCustomer(c); err != nil {
		return nil, err
	}
	return c, s.store.InTx(ctx, func(tx Repo) error {
		if err := tx.CreateCustomer(ctx, c); err != nil {
			return err
		}
		return s.record(ctx, tx, ActionCustomerCreated, "customer", c.ID, "", nil, c)
	})
}

func validateEmail(field, email string) error {
	if a, err := mail.ParseAddress(email); err != nil || a.Address != email {
		return Errorf(EInvalid, "%s is not a valid address", field)
	}
	return nil
}

func validateCustomer(c *Customer) error {
	if err := requireName(c.Name); err != nil {
		return err
	}
	if c.Email != "" {
		if err := validateEmail("email", c.Email); err != nil {
			return err
		}
	}
	if c.Status != CustomerActive && c.Status != CustomerDisabled {
		return Errorf(EInvalid, "status must be %q or %q", CustomerActive, CustomerDisabled)
	}
	if len(c.Contacts) > 20 {
		return Errorf(EInvalid, "at most 20 contacts")
	}
	for _, ct := range c.Contacts {
		if err := validateEmail("contact email", ct.Email); err != nil {
			return err
		}
		if len(ct.Name) > 200 || len(ct.Role) > 64 {
			return Errorf(EInvalid, "contact name or role is too long")
		}
	}
	if c.Contacts == nil {
		c.Contacts = []Contact{}
	}
	for _, p := range c.Permissions {
		if !slices.Contains(CustomerPermissions, p) {
			return Errorf(EInvalid, "permission %q cannot be given to a customer (allowed: %v)", p, CustomerPermissions)
		}
	}
	slices.Sort(c.Permissions)
	c.Permissions = slices.Compact(c.Permissions)
	return checkMetadata(c.Metadata)
}

// LicenseInput is what an admin gives to create a license.
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
}

// CreatedLicense is a new license with its clear key, which is shown once
// and never stored.
type CreatedLicense struct {
	License
	Key string `json:"key"`
}

// MinKeyLength is the shortest license key accepted when an admin supplies one.
const MinKeyLength = 16

// CreateLicense creates a license for a customer under a policy (whose
// product it takes). EInvalid, ENotFound (policy, customer), EConflict (key).
func (s *Service) CreateLicense(ctx context.Context, in LicenseInput) (*CreatedLicense, error) {
	key := in.Key
	if key == "" {
		key = NewLicenseKey()
	} else if len(key) < MinKeyLength || len(key) > 256 || strings.TrimSpace(key) != key {
		return nil, Errorf(EInvalid, "a supplied key must be %d to 256 characters, without surrounding spaces", MinKeyLength)
	}
	ents, err := s.checkEntitlements(ctx, in.Entitlements)
	if err != nil {
		return nil, err
	}
	if err := checkMetadata(in.Metadata); err != nil {
		return nil, err
	}
	if len(in.Name) > 200 {
		return nil, Errorf(EInvalid, "name is longer than 200 characters")
	}
	policy, err := s.store.GetPolicy(ctx, in.PolicyID)
	if err != nil {
		return nil, err
	}
	if _, err := s.store.GetCustomer(ctx, in.CustomerID); err != nil {
		return nil, err
	}
	if a := ActorFrom(ctx); a.Role == RoleCustomer && a.CustomerID != in.CustomerID {
		return nil, Errorf(EForbidden, "a customer token cannot create licenses for another customer")
	}
	now := s.clock()
	expires := in.ExpiresAt
	if expires == nil && policy.DurationSeconds > 0 {
		t := now.Add(time.Duration(policy.DurationSeconds) * time.Second)
		expires = &t
	}
	if expires != nil {
		t := expires.UTC().Truncate(time.Second)
		expires = &t
	}
	l := &License{
		KeyHash: HashSecret(key), KeyHint: key[len(key)-4:], ProductID: policy.ProductID, PolicyID: policy.ID,
		CustomerID: in.CustomerID, Name: in.Name, Status: LicenseActive, ExpiresAt: expires,
		Entitlements: ents, Metadata: in.Metadata, CreatedAt: now, UpdatedAt: now,
	}
	err = s.store.InTx(ctx, func(tx Repo) error {
		if err := tx.CreateLicense(ctx, l); err != nil {
			return err
		}
		return s.record(ctx, tx, ActionLicenseCreated, "license", l.ID, "", nil, l)
	})
	if err != nil {
		return nil, err
	}
	return &CreatedLicense{License: *l, Key: key}, nil
}

// SuspendLicense blocks a license: it gets no new lease until reinstated.
// Leases already issued stay valid until they end (they are offline tokens).
// ENotFound, EConflict (not active).
func (s *Service) SuspendLicense(ctx context.Context, id, reason string) (*License, error) {
	return s.transition(ctx, id, []LicenseStatus{LicenseActive}, LicenseSuspended, ActionLicenseSuspended, reason)
}

// RevokeLicense ends a license for good: no lease, no reinstatement.
// ENotFound, EConflict (already revoked).
func (s *Service) RevokeLicense(ctx context.Context, id, reason string) (*License, error) {
	return s.transition(ctx, id, []LicenseStatus{LicenseActive, LicenseSuspended, LicenseExpired}, LicenseRevoked, ActionLicenseRevoked, reason)
}

// ReinstateLicense lifts a suspension. ENotFound, EConflict (not suspended).
func (s *Service) ReinstateLicense(ctx context.Context, id, reason string) (*License, error) {
	return s.transition(ctx, id, []LicenseStatus{LicenseSuspended}, LicenseActive, ActionLicenseReinstated, reason)
}

func (s *Service) transition(ctx context.Context, id string, from []LicenseStatus, to LicenseStatus, action, reason string) (*License, error) {
	return s.changeLicense(ctx, id, action, reason, func(tx Repo, l *License) error {
		if !slices.Contains(from, l.Status) {
			return Errorf(EConflict, "the license is %s; this action needs it %v", l.Status, from)
		}
		l.Status, l.StatusReason = to, reason
		return nil
	})
}

// changeLicense is the one path for admin changes to a license: lock it,
// check the caller may see it, apply change, save, and record the event with
// before and after, all in one transaction.
func (s *Service) changeLicense(ctx context.Context, id, action, reason string, change func(tx Repo, l *License) error) (*License, error) {
	if len(reason) > 500 {
		return nil, Errorf(EInvalid, "reason is longer than 500 characters")
	}
	var out *License
	err := s.store.InTx(ctx, func(tx Repo) error {
		l, err := tx.LockLicense(ctx, id)
		if err != nil {
			return err
		}
		if err := visible(ctx, l.CustomerID, "license"); err != nil {
			return err
		}
		before := *l
		if err := change(tx, l); err != nil {
			return err
		}
		l.UpdatedAt = s.clock()
		if err := tx.UpdateLicense(ctx, l); err != nil {
			return err
		}
		out = l
		return s.record(ctx, tx, action, "license", l.ID, reason, &before, l)
	})
	return out, err
}

// visible hides another customer's data from a customer token (as not found,
// so ids cannot be probed).
func visible(ctx context.Context, customerID, what string) error {
	if a := ActorFrom(ctx); a.Role == RoleCustomer && a.CustomerID != customerID {
		return Errorf(ENotFound, "%s not found", what)
	}
	return nil
}

// MachineRequest is a client's call about one machine of a license.
type MachineRequest struct {
	Key         string
	Fingerprint string
	Name        string
	Hostname    string
	Platform    string
	IP          string
}

func (r *MachineRequest) validate() error {
	switch {
	case r.Key == "" || len(r.Key) > 256:
		return Errorf(EInvalid, "license_key is required (at most 256 characters)")
	case len(r.Fingerprint) < 8 || len(r.Fingerprint) > 256:
		return Errorf(EInvalid, "fingerprint is required (8 to 256 characters)")
	case len(r.Name) > 200, len(r.Hostname) > 255, len(r.Platform) > 100:
		return Errorf(EInvalid, "name, hostname or platform is too long")
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
}

// Activate binds the machine's fingerprint to the license, taking a seat,
// and issues a lease. Activating a fingerprint that already holds a seat
// issues a fresh lease on the same seat. The seat limit holds under any
// concurrency: the license row is locked for the whole transaction.
// EInvalid, ENotFound, ESeatLimit, ELicenseSuspended/Revoked/Expired, EForbidden.
func (s *Service) Activate(ctx context.Context, req MachineRequest) (*Grant, error) {
	if err := req.validate(); err != nil {
		return nil, err
	}
	var g *Grant
	err := s.store.InTx(ctx, func(tx Repo) error {
		now := s.clock()
		lic, pol, err := s.usableLicense(ctx, tx, req.Key, true, now)
		if err != nil {
			return err
		}
		m, err := tx.FindMachine(ctx, lic.ID, req.Fingerprint)
		created := false
		switch {
		case err == nil:
			if m.Status == MachineBlocked {
				return errBlocked
			}
			if err := tx.TouchMachine(ctx, m.ID, false, true, req.IP, now); err != nil {
				return err
			}
		case ErrorCode(err) == ENotFound:
			n, err := tx.CountMachines(ctx, lic.ID)
			if err != nil {
				return err
			}
			if n >= pol.MaxMachines {
				return Errorf(ESeatLimit, "all %d machine seats of the license are taken", pol.MaxMachines)
			}
			m = &Machine{
				LicenseID: lic.ID, Fingerprint: req.Fingerprint, Name: req.Name, Hostname: req.Hostname,
				Platform: req.Platform, IP: req.IP, Status: MachineActive, LastHeartbeat: &now, LastLeaseAt: &now,
				CreatedAt: now, UpdatedAt: now,
			}
			if err := tx.CreateMachine(ctx, m); err != nil {
				return err
			}
			ctx := WithActor(ctx, &Actor{Name: "app", LicenseID: lic.ID, RequestID: ActorFrom(ctx).RequestID})
			if err := s.record(ctx, tx, ActionMachineActivated, "machine", m.ID, "", nil, m); err != nil {
				return err
			}
			created = true
		default:
			return err
		}
		g, err = s.sign(ctx, lic, pol, m, now)
		if g != nil {
			g.Created = created
		}
		return err
	})
	return g, err
}

// Renew issues a new lease to a machine that holds a seat. The license must
// still be usable: a suspended, revoked or expired license gets no new lease.
// EInvalid, ENotFound, ENotActivated, ELicense*.
func (s *Service) Renew(ctx context.Context, req MachineRequest) (*Grant, error) {
	if err := req.validate(); err != nil {
		return nil, err
	}
	now := s.clock()
	lic, pol, err := s.usableLicense(ctx, s.store, req.Key, false, now)
	if err != nil {
		return nil, err
	}
	m, err := s.seat(ctx, lic, req.Fingerprint)
	if err != nil {
		return nil, err
	}
	if err := s.store.TouchMachine(ctx, m.ID, false, true, req.IP, now); err != nil {
		return nil, err
	}
	return s.sign(ctx, lic, pol, m, now)
}

// Heartbeat records that a machine is alive. It returns the time of the
// heartbeat and when the next one is due (zero when the policy needs none).
func (s *Service) Heartbeat(ctx context.Context, req MachineRequest) (*Machine, time.Time, error) {
	if err := req.validate(); err != nil {
		return nil, time.Time{}, err
	}
	now := s.clock()
	lic, pol, err := s.usableLicense(ctx, s.store, req.Key, false, now)
	if err != nil {
		return nil, time.Time{}, err
	}
	m, err := s.seat(ctx, lic, req.Fingerprint)
	if err != nil {
		return nil, time.Time{}, err
	}
	if err := s.store.TouchMachine(ctx, m.ID, true, false, req.IP, now); err != nil {
		return nil, time.Time{}, err
	}
	m.LastHeartbeat, m.Status = &now, MachineActive
	var next time.Time
	if pol.HeartbeatWindowSeconds > 0 {
		next = now.Add(time.Duration(pol.HeartbeatWindowSeconds) * time.Second)
	}
	return m, next, nil
}

// Deactivate removes the machine from the license, freeing its seat. It is
// allowed whatever the license's status: giving a seat back is always fine.
// EInvalid, ENotFound, ENotActivated.
func (s *Service) Deactivate(ctx context.Context, req MachineRequest) error {
	if err := req.validate(); err != nil {
		return err
	}
	lic, err := s.store.GetLicenseByKeyHash(ctx, HashSecret(req.Key), false)
	if err != nil {
		return licenseKeyNotFound(err)
	}
	m, err := s.seat(ctx, lic, req.Fingerprint)
	if err != nil {
		return err
	}
	ctx = WithActor(ctx, &Actor{Name: "app", LicenseID: lic.ID, RequestID: ActorFrom(ctx).RequestID})
	return s.removeMachine(ctx, m.ID, ActionMachineDeactivated, "deactivated by the app")
}

// Validation is the answer to an online check.
type Validation struct {
	Valid   bool
	Code    string // one of verifier.Validation*
	Detail  string
	License *License
}

// Validate checks a license key (and, when given, that the fingerprint holds
// a seat) without changing anything. Only infrastructure failures are errors.
func (s *Service) Validate(ctx context.Context, key, fingerprint string) (*Validation, error) {
	if key == "" || len(key) > 256 || len(fingerprint) > 256 {
		return nil, Errorf(EInvalid, "license_key is required (at most 256 characters)")
	}
	now := s.clock()
	lic, err := s.store.GetLicenseByKeyHash(ctx, HashSecret(key), false)
	if ErrorCode(err) == ENotFound {
		return &Validation{Code: verifier.ValidationNotFound, Detail: "no license has this key"}, nil
	} else if err != nil {
		return nil, err
	}
	pol, err := s.store.GetPolicy(ctx, lic.PolicyID)
	if err != nil {
		return nil, err
	}
	v := &Validation{License: lic}
	if err := lic.Check(pol, now); err != nil {
		v.Code, v.Detail = validationCode(ErrorCode(err)), ErrorMessage(err)
		return v, nil
	}
	if fingerprint != "" {
		if _, err := s.seat(ctx, lic, fingerprint); err != nil {
			if c := ErrorCode(err); c != ENotActivated && c != EMachineBlocked {
				return nil, err
			}
			v.Code, v.Detail = verifier.ValidationNotActivated, ErrorMessage(err)
			return v, nil
		}
	}
	v.Valid, v.Code, v.Detail = true, verifier.ValidationValid, "the license is valid"
	return v, nil
}

func validationCode(c Code) string {
	switch c {
	case ELicenseSuspended:
		return verifier.ValidationSuspended
	case ELicenseRevoked:
		return verifier.ValidationRevoked
	default:
		return verifier.ValidationExpired
	}
}

// usableLicense loads the license of key and its policy and checks that it
// may get a lease at now.
func (s *Service) usableLicense(ctx context.Context, r Repo, key string, lock bool, now time.Time) (*License, *Policy, error) {
	lic, err := r.GetLicenseByKeyHash(ctx, HashSecret(key), lock)
	if err != nil {
		return nil, nil, licenseKeyNotFound(err)
	}
	pol, err := r.GetPolicy(ctx, lic.PolicyID)
	if err != nil {
		return nil, nil, err
	}
	if err := lic.Check(pol, now); err != nil {
		return nil, nil, err
	}
	cus, err := r.GetCustomer(ctx, lic.CustomerID)
	if err != nil {
		return nil, nil, err
	}
	if cus.Status != CustomerActive {
		return nil, nil, Errorf(EForbidden, "the customer's account is disabled")
	}
	return lic, pol, nil
}

func licenseKeyNotFound(err error) error {
	if ErrorCode(err) == ENotFound {
		return Errorf(ENotFound, "no license has this key")
	}
	return err
}

// seat finds the machine of fingerprint on the license.
func (s *Service) seat(ctx context.Context, lic *License, fingerprint string) (*Machine, error) {
	m, err := s.store.FindMachine(ctx, lic.ID, fingerprint)
	if ErrorCode(err) == ENotFound {
		return nil, Errorf(ENotActivated, "this machine is not activated on the license")
	}
	if err == nil && m.Status == MachineBlocked {
		return nil, errBlocked
	}
	return m, err
}

var errBlocked = Errorf(EMachineBlocked, "this machine is blocked on the license")

// sign issues a lease for machine m. The lease never outlives the license
// when the policy restricts on expiry.
func (s *Service) sign(ctx context.Context, lic *License, pol *Policy, m *Machine, now time.Time) (*Grant, error) {
	exp := now.Add(pol.LeaseTTL())
	var licExp int64
	if lic.ExpiresAt != nil {
		licExp = lic.ExpiresAt.Unix()
		end := lic.ExpiresAt.Add(time.Duration(pol.GraceSeconds) * time.Second)
		if pol.ExpiryAction == ExpiryRestrict && end.Before(exp) {
			exp = end
		}
	}
	claims := verifier.LeaseClaims{
		Issuer: s.issuer, Subject: m.ID, Audience: lic.ProductID, ID: randomID(),
		IssuedAt: now.Unix(), NotBefore: now.Unix(), Expiry: exp.Unix(),
		License: lic.ID, Policy: pol.ID, Customer: lic.CustomerID, Machine: m.ID,
		Fingerprint: m.Fingerprint, Entitlements: EffectiveEntitlements(pol, lic), LicenseExpiry: licExp,
	}
	tok, err := s.signer.SignLease(ctx, claims)
	if err != nil {
		return nil, Wrap(EInternal, err, "could not sign the lease")
	}
	return &Grant{Lease: tok, ExpiresAt: time.Unix(claims.Expiry, 0).UTC(), License: lic, Policy: pol, Machine: m}, nil
}

// Authenticate resolves a bearer token to the actor it stands for.
// EUnauthorized for an unknown, expired or revoked token; EForbidden for a
// customer token whose customer is disabled.
func (s *Service) Authenticate(ctx context.Context, secret string) (*Actor, error) {
	if secret == "" || len(secret) > 256 {
		return nil, Errorf(EUnauthorized, "a valid bearer token is required")
	}
	t, err := s.store.GetAPITokenByHash(ctx, HashSecret(secret))
	if ErrorCode(err) == ENotFound {
		return nil, Errorf(EUnauthorized, "a valid bearer token is required")
	} else if err != nil {
		return nil, err
	}
	if !t.Usable(s.clock()) {
		return nil, Errorf(EUnauthorized, "the token is expired or revoked")
	}
	a := &Actor{TokenID: t.ID, Name: t.Name, Role: t.Role, CustomerID: t.CustomerID}
	if t.Role == RoleCustomer {
		c, err := s.store.GetCustomer(ctx, t.CustomerID)
		if err != nil {
			return nil, err
		}
		if c.Status != CustomerActive {
			return nil, Errorf(EForbidden, "the customer's account is disabled")
		}
		a.customerPerms = c.Permissions
	}
	return a, nil
}

// BootstrapAdminToken makes sure an admin can get in on first run. When a
// secret is given (NARCIDI_ADMIN_TOKEN) it is registered if not yet known;
// otherwise, when no token exists at all, one is generated and returned so
// it can be shown once. It returns "" when nothing was generated.
func (s *Service) BootstrapAdminToken(ctx context.Context, secret string) (string, error) {
	var generated string
	err := s.store.InTx(ctx, func(tx Repo) error {
		if secret != "" {
			if len(secret) < 24 {
				return Errorf(EInvalid, "the bootstrap admin token must be at least 24 characters")
			}
			if _, err := tx.GetAPITokenByHash(ctx, HashSecret(secret)); err == nil {
				return nil
			} else if ErrorCode(err) != ENotFound {
				return err
			}
		} else {
			n, err := tx.CountAPITokens(ctx)
			if err != nil || n > 0 {
				return err
			}
			secret = NewAPITokenSecret()
			generated = secret
		}
		return tx.CreateAPIToken(ctx, &APIToken{Name: "bootstrap admin", Role: RoleAdmin, Hash: HashSecret(secret), CreatedAt: s.clock()})
	})
	return generated, err
}

// HashSecret is how license keys and API tokens are stored: SHA-256, hex.
// Both are long random strings, so a fast hash is enough to make a stolen
// database useless for authenticating.
func HashSecret(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

var keyEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

// NewLicenseKey returns a fresh random license key: 150 bits in five
// groups, e.g. NZL-ABCDEF-GHIJK2-...
func NewLicenseKey() string {
	b := make([]byte, 20)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+)
	s := keyEncoding.EncodeToString(b)[:30]
	parts := []string{"NZL"}
	for i := 0; i < 30; i += 6 {
		parts = append(parts, s[i:i+6])
	}
	return strings.Join(parts, "-")
}

// NewAPITokenSecret returns a fresh random API token (256 bits).
func NewAPITokenSecret() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return "nzt_" + strings.ToLower(keyEncoding.EncodeToString(b))
}

func randomID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func requireName(name string) error {
	if n := len(strings.TrimSpace(name)); n == 0 || n > 200 {
		return Errorf(EInvalid, "name is required (at most 200 characters)")
	}
	return nil
}

// checkEntitlements normalizes codes and checks that each names an
// existing entitlement.
func (s *Service) checkEntitlements(ctx context.Context, in []string) ([]string, error) {
	out := normalizeCodes(in)
	if len(out) > 100 {
		return nil, Errorf(EInvalid, "at most 100 entitlements")
	}
	for _, e := range out {
		if !codePattern.MatchString(e) {
			return nil, Errorf(EInvalid, "entitlement %q must be lowercase letters, digits, '.', '_' or '-'", e)
		}
	}
	if len(out) == 0 {
		return out, nil
	}
	missing, err := s.store.MissingEntitlements(ctx, out)
	if err != nil {
		return nil, err
	}
	if len(missing) > 0 {
		return nil, Errorf(EInvalid, "unknown entitlements %v: create them first (POST /v1/entitlements)", missing)
	}
	return out, nil
}

func checkMetadata(m map[string]string) error {
	if len(m) > 50 {
		return Errorf(EInvalid, "at most 50 metadata entries")
	}
	for k, v := range m {
		if k == "" || len(k) > 64 || len(v) > 1000 {
			return Errorf(EInvalid, "metadata keys are 1-64 characters and values at most 1000")
		}
	}
	return nil
}
