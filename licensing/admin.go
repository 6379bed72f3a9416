package licensing

import (
	"context"
	"strings"
	"time"
)

// The admin use cases beyond creation: reads scoped to the caller, edits,
// license actions, machine actions, tokens, the audit log and the dashboard.
// Every change records an audit event in its own transaction.

// EntitlementInput is what an admin gives to create an entitlement.
type EntitlementInput struct {
	Code        string `json:"code"`
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
}

// CreateEntitlement names a feature. EInvalid, EConflict.
func (s *Service) CreateEntitlement(ctx context.Context, in EntitlementInput) (*Entitlement, error) {
	if !codePattern.MatchString(in.Code) {
		return nil, Errorf(EInvalid, "code must be 1-64 lowercase letters, digits, '.', '_' or '-'")
	}
	if err := requireName(in.Name); err != nil {
		return nil, err
	}
	if len(in.Description) > 2000 {
		return nil, Errorf(EInvalid, "description is longer than 2000 characters")
	}
	e := &Entitlement{Code: in.Code, Name: strings.TrimSpace(in.Name), Description: in.Description, CreatedAt: s.clock()}
	return e, s.store.InTx(ctx, func(tx Repo) error {
		if err := tx.CreateEntitlement(ctx, e); err != nil {
			return err
		}
		return s.record(ctx, tx, ActionEntitlementCreated, "entitlement", e.ID, "", nil, e)
	})
}

// ProductPatch changes a product; nil fields stay as they are.
type ProductPatch struct {
	Name     *string            `json:"name,omitempty"`
	Metadata *map[string]string `json:"metadata,omitempty"`
}

// UpdateProduct edits a product. ENotFound, EInvalid.
func (s *Service) UpdateProduct(ctx context.Context, id string, in ProductPatch) (*Product, error) {
	var out *Product
	err := s.store.InTx(ctx, func(tx Repo) error {
		p, err := tx.GetProduct(ctx, id)
		if err != nil {
			return err
		}
		before := *p
		if in.Name != nil {
			p.Name = strings.TrimSpace(*in.Name)
		}
		if in.Metadata != nil {
			p.Metadata = *in.Metadata
		}
		if err := requireName(p.Name); err != nil {
			return err
		}
		if err := checkMetadata(p.Metadata); err != nil {
			return err
		}
		p.UpdatedAt = s.clock()
		if err := tx.UpdateProduct(ctx, p); err != nil {
			return err
		}
		out = p
		return s.record(ctx, tx, ActionProductUpdated, "product", id, "", &before, p)
	})
	return out, err
}

// PolicyPatch changes a policy; nil fields stay as they are. Licenses of
// the policy follow it from their next lease on.
type PolicyPatch struct {
	Name                   *string            `json:"name,omitempty"`
	DurationSeconds        *int64             `json:"duration_seconds,omitempty"`
	MaxMachines            *int               `json:"max_machines,omitempty"`
	Floating               *bool              `json:"floating,omitempty"`
	LeaseTTLSeconds        *int64             `json:"lease_ttl_seconds,omitempty"`
	HeartbeatWindowSeconds *int64             `json:"heartbeat_window_seconds,omitempty"`
	GraceSeconds           *int64             `json:"grace_seconds,omitempty"`
	ExpiryAction           *ExpiryAction      `json:"expiry_action,omitempty"`
	Entitlements           *[]string          `json:"entitlements,omitempty"`
	Metadata               *map[string]string `json:"metadata,omitempty"`
	ExpiryNoticeDays       *[]int             `json:"expiry_notice_days,omitempty"`
	OfflineReleaseSeconds  *int64             `json:"offline_release_seconds,omitempty"`
}

// UpdatePolicy edits a policy. ENotFound, EInvalid.
func (s *Service) UpdatePolicy(ctx context.Context, id string, in PolicyPatch) (*Policy, error) {
	var ents []string
	if in.Entitlements != nil {
		var err error
		if ents, err = s.checkEntitlements(ctx, *in.Entitlements); err != nil {
			return nil, err
		}
	}
	var out *Policy
	err := s.store.InTx(ctx, func(tx Repo) error {
		p, err := tx.GetPolicy(ctx, id)
		if err != nil {
			return err
		}
		before := *p
		set(&p.Name, in.Name)
		set(&p.DurationSeconds, in.DurationSeconds)
		set(&p.MaxMachines, in.MaxMachines)
		set(&p.Floating, in.Floating)
		set(&p.LeaseTTLSeconds, in.LeaseTTLSeconds)
		set(&p.HeartbeatWindowSeconds, in.HeartbeatWindowSeconds)
		set(&p.GraceSeconds, in.GraceSeconds)
		set(&p.ExpiryAction, in.ExpiryAction)
		set(&p.Metadata, in.Metadata)
		set(&p.OfflineReleaseSeconds, in.OfflineReleaseSeconds)
		if in.ExpiryNoticeDays != nil {
			days, err := normalizeNoticeDays(*in.ExpiryNoticeDays)
			if err != nil {
				return err
			}
			p.ExpiryNoticeDays = days
		}
		if err := validateOfflineRelease(p.OfflineReleaseSeconds, p.HeartbeatWindowSeconds); err != nil {
			return err
		}
		if in.Entitlements != nil {
			p.Entitlements = ents
		}
		if err := requireName(p.Name); err != nil {
			return err
		}
		if err := validatePolicyRules(p.DurationSeconds, p.GraceSeconds, p.HeartbeatWindowSeconds, p.LeaseTTLSeconds, p.MaxMachines, p.Floating, p.ExpiryAction); err != nil {
			return err
		}
		if err := checkMetadata(p.Metadata); err != nil {
			return err
		}
		p.UpdatedAt = s.clock()
		if err := tx.UpdatePolicy(ctx, p); err != nil {
			return err
		}
		out = p
		return s.record(ctx, tx, ActionPolicyUpdated, "policy", id, "", &before, p)
	})
	return out, err
}

func set[T any](dst *T, v *T) {
	if v != nil {
		*dst = *v
	}
}

// CustomerPatch changes a customer; nil fields stay as they are.
type CustomerPatch struct {
	Name        *string            `json:"name,omitempty"`
	Email       *string            `json:"email,omitempty"`
	Status      *CustomerStatus    `json:"status,omitempty"`
	Contacts    *[]Contact         `json:"contacts,omitempty"`
	Permissions *[]Permission      `json:"permissions,omitempty"`
	Metadata    *map[string]string `json:"metadata,omitempty"`
}

// Customer returns a customer the caller may see. ENotFound.
func (s *Service) Customer(ctx context.Context, id string) (*Customer, error) {
	if err := visible(ctx, id, "customer"); err != nil {
		return nil, err
	}
	return s.store.GetCustomer(ctx, id)
}

// Customers lists customers; a customer token sees only its own.
func (s *Service) Customers(ctx context.Context, page Page) ([]Customer, error) {
	if a := ActorFrom(ctx); a.Role == RoleCustomer {
		c, err := s.store.GetCustomer(ctx, a.CustomerID)
		if err != nil || page.After != "" {
			return []Customer{}, err
		}
		return []Customer{*c}, nil
	}
	return s.store.ListCustomers(ctx, page)
}

// UpdateCustomer edits a customer (disabling one stops its licenses from
// getting leases and its tokens from working). ENotFound, EInvalid.
func (s *Service) UpdateCustomer(ctx context.Context, id string, in CustomerPatch) (*Customer, error) {
	var out *Customer
	err := s.store.InTx(ctx, func(tx Repo) error {
		c, err := tx.GetCustomer(ctx, id)
		if err != nil {
			return err
		}
		before := *c
		set(&c.Name, in.Name)
		set(&c.Email, in.Email)
		set(&c.Status, in.Status)
		set(&c.Contacts, in.Contacts)
		set(&c.Permissions, in.Permissions)
		set(&c.Metadata, in.Metadata)
		c.Name = strings.TrimSpace(c.Name)
		if err := validateCustomer(c); err != nil {
			return err
		}
		c.UpdatedAt = s.clock()
		if err := tx.UpdateCustomer(ctx, c); err != nil {
			return err
		}
		out = c
		return s.record(ctx, tx, ActionCustomerUpdated, "customer", id, "", &before, c)
	})
	return out, err
}

// License returns a license the caller may see. ENotFound.
func (s *Service) License(ctx context.Context, id string) (*License, error) {
	l, err := s.store.GetLicense(ctx, id)
	if err != nil {
		return nil, err
	}
	return l, visible(ctx, l.CustomerID, "license")
}

// Licenses lists licenses; a customer token sees only its own.
func (s *Service) Licenses(ctx context.Context, f LicenseFilter, page Page) ([]License, error) {
	if a := ActorFrom(ctx); a.Role == RoleCustomer {
		if f.CustomerID != "" && f.CustomerID != a.CustomerID {
			return []License{}, nil
		}
		f.CustomerID = a.CustomerID
	}
	return s.store.ListLicenses(ctx, f, page)
}

// LicensePatch changes a license's descriptive fields.
type LicensePatch struct {
	Name     *string            `json:"name,omitempty"`
	Metadata *map[string]string `json:"metadata,omitempty"`
}

// UpdateLicense edits a license's name and metadata.
func (s *Service) UpdateLicense(ctx context.Context, id string, in LicensePatch) (*License, error) {
	return s.changeLicense(ctx, id, ActionLicenseUpdated, "", func(_ Repo, l *License) error {
		set(&l.Name, in.Name)
		set(&l.Metadata, in.Metadata)
		if len(l.Name) > 200 {
			return Errorf(EInvalid, "name is longer than 200 characters")
		}
		return checkMetadata(l.Metadata)
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
func (s *Service) ExtendLicense(ctx context.Context, id string, in ExtendInput) (*License, error) {
	if in.ExpiresAt != nil && in.DurationSeconds != 0 {
		return nil, Errorf(EInvalid, "give expires_at or duration_seconds, not both")
	}
	if in.DurationSeconds < 0 {
		return nil, Errorf(EInvalid, "duration_seconds must be positive")
	}
	now := s.clock()
	return s.changeLicense(ctx, id, ActionLicenseRenewed, in.Reason, func(tx Repo, l *License) error {
		if l.Status == LicenseRevoked {
			return Errorf(EConflict, "a revoked license cannot be renewed")
		}
		from := now
		if l.ExpiresAt != nil && l.ExpiresAt.After(now) {
			from = *l.ExpiresAt
		}
		var until time.Time
		switch {
		case in.ExpiresAt != nil:
			until = in.ExpiresAt.UTC().Truncate(time.Second)
			if !until.After(now) {
				return Errorf(EInvalid, "expires_at must be in the future")
			}
		case in.DurationSeconds > 0:
			until = from.Add(time.Duration(in.DurationSeconds) * time.Second)
		default:
			p, err := tx.GetPolicy(ctx, l.PolicyID)
			if err != nil {
				return err
			}
			if p.DurationSeconds == 0 {
				return Errorf(EInvalid, "the policy has no duration: give expires_at or duration_seconds")
			}
			until = from.Add(time.Duration(p.DurationSeconds) * time.Second)
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
// lease on. A downgrade below the machines in use is refused (ESeatLimit):
// deactivate machines first.
func (s *Service) ChangePolicy(ctx context.Context, id, policyID, reason string) (*License, error) {
	return s.changeLicense(ctx, id, ActionLicensePolicyChange, reason, func(tx Repo, l *License) error {
		p, err := tx.GetPolicy(ctx, policyID)
		if ErrorCode(err) == ENotFound {
			return Errorf(EInvalid, "policy %s does not exist", policyID)
		} else if err != nil {
			return err
		}
		if p.ProductID != l.ProductID {
			return Errorf(EInvalid, "the new policy is of another product")
		}
		n, err := tx.CountMachines(ctx, l.ID)
		if err != nil {
			return err
		}
		if n > p.MaxMachines {
			return Errorf(ESeatLimit, "the license has %d machines and the new policy allows %d: deactivate machines first", n, p.MaxMachines)
		}
		l.PolicyID = p.ID
		return nil
	})
}

// TransferLicense gives a license to another customer. Its machines stay.
func (s *Service) TransferLicense(ctx context.Context, id, customerID, reason string) (*License, error) {
	return s.changeLicense(ctx, id, ActionLicenseTransferred, reason, func(tx Repo, l *License) error {
		c, err := tx.GetCustomer(ctx, customerID)
		if ErrorCode(err) == ENotFound {
			return Errorf(EInvalid, "customer %s does not exist", customerID)
		} else if err != nil {
			return err
		}
		if c.ID == l.CustomerID {
			return Errorf(EConflict, "the license already belongs to this customer")
		}
		l.CustomerID = c.ID
		return nil
	})
}

// Machine returns a machine the caller may see. ENotFound.
func (s *Service) Machine(ctx context.Context, id string) (*Machine, error) {
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
func (s *Service) Machines(ctx context.Context, f MachineFilter, page Page) ([]Machine, error) {
	if a := ActorFrom(ctx); a.Role == RoleCustomer {
		if f.CustomerID != "" && f.CustomerID != a.CustomerID {
			return []Machine{}, nil
		}
		f.CustomerID = a.CustomerID
	}
	return s.store.ListMachines(ctx, f, page)
}

// DeactivateMachine removes a machine, freeing its seat.
func (s *Service) DeactivateMachine(ctx context.Context, id, reason string) error {
	if _, err := s.Machine(ctx, id); err != nil {
		return err
	}
	return s.removeMachine(ctx, id, ActionMachineDeactivated, reason)
}

func (s *Service) removeMachine(ctx context.Context, id, action, reason string) error {
	return s.store.InTx(ctx, func(tx Repo) error {
		m, err := tx.GetMachine(ctx, id)
		if err != nil {
			return err
		}
		if err := tx.DeleteMachine(ctx, id); err != nil {
			return err
		}
		return s.record(ctx, tx, action, "machine", id, reason, m, nil)
	})
}

// BlockMachine bans the machine's fingerprint from its license: it loses
// its seat, gets no lease, and cannot activate again until unblocked.
func (s *Service) BlockMachine(ctx context.Context, id, reason string) (*Machine, error) {
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
func (s *Service) UnblockMachine(ctx context.Context, id, reason string) error {
	m, err := s.Machine(ctx, id)
	if err != nil {
		return err
	}
	if m.Status != MachineBlocked {
		return Errorf(EConflict, "the machine is not blocked")
	}
	return s.removeMachine(ctx, id, ActionMachineUnblocked, reason)
}

// ResetHeartbeat forgets the machine's last heartbeat, so monitoring starts
// afresh (e.g. after a planned outage).
func (s *Service) ResetHeartbeat(ctx context.Context, id string) (*Machine, error) {
	return s.changeMachine(ctx, id, ActionMachineHeartbeatRst, "", func(m *Machine) error {
		if m.Status == MachineBlocked {
			return Errorf(EConflict, "the machine is blocked")
		}
		m.Status, m.LastHeartbeat = MachineActive, nil
		return nil
	}, true)
}

func (s *Service) changeMachine(ctx context.Context, id, action, reason string, change func(*Machine) error, clearHeartbeat bool) (*Machine, error) {
	if len(reason) > 500 {
		return nil, Errorf(EInvalid, "reason is longer than 500 characters")
	}
	m0, err := s.Machine(ctx, id)
	if err != nil {
		return nil, err
	}
	var out *Machine
	err = s.store.InTx(ctx, func(tx Repo) error {
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

// TokenInput is what an admin gives to create an API token.
type TokenInput struct {
	Name       string     `json:"name"`
	Role       Role       `json:"role"`
	CustomerID string     `json:"customer_id,omitempty"`
	ExpiresAt  *time.Time `json:"expires_at,omitempty"`
}

// CreatedToken is a new token with its secret, shown once.
type CreatedToken struct {
	Token  APIToken `json:"token"`
	Secret string   `json:"secret"`
}

// CreateToken issues an API token. EInvalid, ENotFound (customer).
func (s *Service) CreateToken(ctx context.Context, in TokenInput) (*CreatedToken, error) {
	if err := requireName(in.Name); err != nil {
		return nil, err
	}
	if !in.Role.valid() {
		return nil, Errorf(EInvalid, "role must be one of %v", Roles)
	}
	if (in.Role == RoleCustomer) != (in.CustomerID != "") {
		return nil, Errorf(EInvalid, "customer_id is required for the customer role and only for it")
	}
	now := s.clock()
	if in.ExpiresAt != nil && !in.ExpiresAt.After(now) {
		return nil, Errorf(EInvalid, "expires_at must be in the future")
	}
	if in.CustomerID != "" {
		if _, err := s.store.GetCustomer(ctx, in.CustomerID); ErrorCode(err) == ENotFound {
			return nil, Errorf(EInvalid, "customer %s does not exist", in.CustomerID)
		} else if err != nil {
			return nil, err
		}
	}
	secret := NewAPITokenSecret()
	t := APIToken{Name: strings.TrimSpace(in.Name), Role: in.Role, CustomerID: in.CustomerID, Hash: HashSecret(secret), ExpiresAt: in.ExpiresAt, CreatedAt: now}
	err := s.store.InTx(ctx, func(tx Repo) error {
		if err := tx.CreateAPIToken(ctx, &t); err != nil {
			return err
		}
		return s.record(ctx, tx, ActionTokenCreated, "token", t.ID, "", nil, &t)
	})
	if err != nil {
		return nil, err
	}
	return &CreatedToken{Token: t, Secret: secret}, nil
}

// RevokeToken stops a token from working at once. ENotFound, EConflict.
func (s *Service) RevokeToken(ctx context.Context, id string) error {
	return s.store.InTx(ctx, func(tx Repo) error {
		t, err := tx.GetAPIToken(ctx, id)
		if err != nil {
			return err
		}
		if t.RevokedAt != nil {
			return Errorf(EConflict, "the token is already revoked")
		}
		now := s.clock()
		if err := tx.RevokeAPIToken(ctx, id, now); err != nil {
			return err
		}
		after := *t
		after.RevokedAt = &now
		return s.record(ctx, tx, ActionTokenRevoked, "token", id, "", t, &after)
	})
}

// Dashboard computes the dashboard figures.
func (s *Service) Dashboard(ctx context.Context) (*Stats, error) {
	return s.store.Stats(ctx, s.clock())
}
