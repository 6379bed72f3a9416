package licensing

import (
	"context"
	"regexp"
	"slices"
	"strings"
	"time"
)

// CatalogStore is the data the catalog needs: products, policies and
// entitlements. Every method returns ENotFound when a row is missing,
// EConflict when a unique rule is broken (product and entitlement codes),
// EUnavailable when the database cannot be reached, EInternal otherwise.
// Create methods give the row its id (NewID) when empty; Update methods save
// every mutable field of the row (all columns but id, product and
// created_at), ENotFound if it is gone. Safe for concurrent use.
type CatalogStore interface {
	Tx[CatalogStore]
	EventAppender
	CreateProduct(ctx context.Context, p *Product) error
	GetProduct(ctx context.Context, id string) (*Product, error)
	// LockProduct, LockPolicy and LockEntitlement read a row and lock it
	// until the transaction ends: an edit writes back what it read
	// (storage/doc.go).
	LockProduct(ctx context.Context, id string) (*Product, error)
	LockPolicy(ctx context.Context, id string) (*Policy, error)
	LockEntitlement(ctx context.Context, id string) (*Entitlement, error)
	ListProducts(ctx context.Context, page Page) ([]Product, error)
	UpdateProduct(ctx context.Context, p *Product) error
	CreatePolicy(ctx context.Context, p *Policy) error
	GetPolicy(ctx context.Context, id string) (*Policy, error)
	ListPolicies(ctx context.Context, filter PolicyFilter, page Page) ([]Policy, error)
	UpdatePolicy(ctx context.Context, p *Policy) error
	CreateEntitlement(ctx context.Context, e *Entitlement) error
	GetEntitlement(ctx context.Context, id string) (*Entitlement, error)
	ListEntitlements(ctx context.Context, page Page) ([]Entitlement, error)
	UpdateEntitlement(ctx context.Context, e *Entitlement) error
	// MissingEntitlements returns the codes that no entitlement has, or
	// whose entitlement is retired.
	MissingEntitlements(ctx context.Context, codes []string) ([]string, error)
	// RetireEntitlement stamps retired_at (only that column).
	RetireEntitlement(ctx context.Context, id string, at time.Time) error
	// StripEntitlement removes code from every policy and license that
	// grants it (their entitlements and updated_at columns only, each row
	// locked while it changes) and returns the ids of those changed.
	StripEntitlement(ctx context.Context, code string, now time.Time) (policies, licenses []string, err error)
}

// Catalog manages what is sold: products, their policies (plans) and the
// entitlements (named features) policies and licenses grant. Every change
// records an audit event in its own transaction. Safe for concurrent use.
type Catalog struct {
	core
	store CatalogStore
}

// NewCatalog builds the catalog service.
func NewCatalog(store CatalogStore, clock Clock) *Catalog {
	return &Catalog{core: newCore(clock), store: store}
}

// Product returns a product. ENotFound.
func (s *Catalog) Product(ctx context.Context, id string) (*Product, error) {
	return s.store.GetProduct(ctx, id)
}

// Products lists products by id.
func (s *Catalog) Products(ctx context.Context, page Page) ([]Product, error) {
	return s.store.ListProducts(ctx, page)
}

// Policy returns a policy. ENotFound.
func (s *Catalog) Policy(ctx context.Context, id string) (*Policy, error) {
	return s.store.GetPolicy(ctx, id)
}

// Policies lists policies by id.
func (s *Catalog) Policies(ctx context.Context, f PolicyFilter, page Page) ([]Policy, error) {
	return s.store.ListPolicies(ctx, f, page)
}

// Entitlement returns an entitlement. ENotFound.
func (s *Catalog) Entitlement(ctx context.Context, id string) (*Entitlement, error) {
	return s.store.GetEntitlement(ctx, id)
}

// Entitlements lists entitlements by id.
func (s *Catalog) Entitlements(ctx context.Context, page Page) ([]Entitlement, error) {
	return s.store.ListEntitlements(ctx, page)
}

// MissingEntitlements returns the codes of codes that name no entitlement
// (for other domains that refer to entitlements, such as releases).
func (s *Catalog) MissingEntitlements(ctx context.Context, codes []string) ([]string, error) {
	return s.store.MissingEntitlements(ctx, codes)
}

var codePattern = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,63}$`)

// ProductInput is what an admin gives to create a product.
type ProductInput struct {
	Code     string            `json:"code"`
	Name     string            `json:"name"`
	Metadata map[string]string `json:"metadata,omitempty"`
}

// CreateProduct validates and stores a new product. EInvalid, EConflict.
func (s *Catalog) CreateProduct(ctx context.Context, in ProductInput) (*Product, error) {
	if !codePattern.MatchString(in.Code) {
		return nil, FieldErrorf("code", "code must be 1-64 lowercase letters, digits, '.', '_' or '-'")
	}
	if err := requireName(in.Name); err != nil {
		return nil, err
	}
	if err := checkMetadata(in.Metadata); err != nil {
		return nil, err
	}
	now := s.clock()
	p := &Product{Code: in.Code, Name: strings.TrimSpace(in.Name), Metadata: in.Metadata, CreatedAt: now, UpdatedAt: now}
	return p, s.store.InTx(ctx, func(tx CatalogStore) error {
		if err := tx.CreateProduct(ctx, p); err != nil {
			return err
		}
		return s.record(ctx, tx, ActionProductCreated, "product", p.ID, "", nil, p)
	})
}

// PolicyInput is what an admin gives to create a policy. Zero values take
// the documented defaults.
//
// Alike Policy in types.go: kept apart because the input has no id, times
// or state, and zero values here mean the documented defaults.
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
	// Rules are the activation rules (matching, uniqueness, abuse
	// limits, overage); absent: the defaults, today's behaviour.
	Rules *PolicyRules `json:"rules,omitempty"`
}

// CreatePolicy validates and stores a policy of an existing product.
// Defaults: one machine, node-locked, 24h leases, restrict on expiry.
// EInvalid, ENotFound (product).
func (s *Catalog) CreatePolicy(ctx context.Context, in PolicyInput) (*Policy, error) {
	if err := required("product_id", in.ProductID); err != nil {
		return nil, err
	}
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
	if err := validatePolicyRules(in.DurationSeconds, in.GraceSeconds, in.HeartbeatWindowSeconds, in.LeaseTTLSeconds, in.OfflineReleaseSeconds, in.MaxMachines, in.Floating, in.ExpiryAction); err != nil {
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
	var rules PolicyRules
	if in.Rules != nil {
		rules = *in.Rules
	}
	if err := rules.Validate(); err != nil {
		return nil, err
	}
	ents, err := checkEntitlements(ctx, s.store, in.Entitlements)
	if err != nil {
		return nil, err
	}
	if err := checkMetadata(in.Metadata); err != nil {
		return nil, err
	}
	if err := CheckBillingMetadata(in.Metadata); err != nil {
		return nil, err
	}
	if _, err := s.store.GetProduct(ctx, in.ProductID); err != nil {
		return nil, missing(err, "product_id")
	}
	now := s.clock()
	p := &Policy{
		ProductID: in.ProductID, Name: strings.TrimSpace(in.Name), DurationSeconds: in.DurationSeconds,
		MaxMachines: in.MaxMachines, Floating: in.Floating, LeaseTTLSeconds: in.LeaseTTLSeconds,
		HeartbeatWindowSeconds: in.HeartbeatWindowSeconds, GraceSeconds: in.GraceSeconds,
		ExpiryAction: in.ExpiryAction, Entitlements: ents, Metadata: in.Metadata, CreatedAt: now, UpdatedAt: now,
		ExpiryNoticeDays: notices, OfflineReleaseSeconds: in.OfflineReleaseSeconds, Rules: rules,
	}
	return p, s.store.InTx(ctx, func(tx CatalogStore) error {
		if err := tx.CreatePolicy(ctx, p); err != nil {
			return err
		}
		return s.record(ctx, tx, ActionPolicyCreated, "policy", p.ID, "", nil, p)
	})
}

func validatePolicyRules(duration, grace, heartbeat, ttl, offlineRelease int64, maxMachines int, floating bool, action ExpiryAction) error {
	for _, d := range []struct {
		field string
		v     int64
	}{
		{"duration_seconds", duration}, {"grace_seconds", grace},
		{"heartbeat_window_seconds", heartbeat}, {"offline_release_seconds", offlineRelease},
	} {
		if err := checkSeconds(d.field, d.v); err != nil {
			return err
		}
	}
	switch {
	case maxMachines < 1 || maxMachines > 100000:
		return FieldErrorf("max_machines", "max_machines must be between 1 and 100000")
	case !floating && maxMachines != 1:
		return FieldErrorf("max_machines", "a node-locked policy (floating=false) has exactly one machine; set floating=true for more")
	case ttl < int64(MinLeaseTTL/time.Second) || ttl > int64(MaxLeaseTTL/time.Second):
		return FieldErrorf("lease_ttl_seconds", "lease_ttl_seconds must be between %d and %d", int64(MinLeaseTTL/time.Second), int64(MaxLeaseTTL/time.Second))
	case !slices.Contains(ExpiryActions, action):
		return FieldErrorf("expiry_action", "expiry_action must be %q, %q, %q or %q", ExpiryRestrict, ExpiryAllow, ExpiryRevoke, ExpiryMaintain)
	}
	return nil
}

// EntitlementInput is what an admin gives to create an entitlement.
type EntitlementInput struct {
	Code        string `json:"code"`
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
}

// CreateEntitlement names a feature. EInvalid, EConflict.
func (s *Catalog) CreateEntitlement(ctx context.Context, in EntitlementInput) (*Entitlement, error) {
	if !codePattern.MatchString(in.Code) {
		return nil, FieldErrorf("code", "code must be 1-64 lowercase letters, digits, '.', '_' or '-'")
	}
	if err := checkEntitlementText(in.Name, in.Description); err != nil {
		return nil, err
	}
	e := &Entitlement{Code: in.Code, Name: strings.TrimSpace(in.Name), Description: in.Description, CreatedAt: s.clock()}
	return e, s.store.InTx(ctx, func(tx CatalogStore) error {
		if err := tx.CreateEntitlement(ctx, e); err != nil {
			return err
		}
		return s.record(ctx, tx, ActionEntitlementCreated, "entitlement", e.ID, "", nil, e)
	})
}

// EntitlementPatch changes an entitlement's name and description; nil
// fields stay as they are. Its code cannot change: policies, licenses and
// releases refer to it.
type EntitlementPatch struct {
	Name        *string `json:"name,omitempty"`
	Description *string `json:"description,omitempty"`
}

// UpdateEntitlement renames or redescribes an entitlement. ENotFound,
// EInvalid.
//
// Alike ChangePolicyEntitlements (entitlements.go) and the other Update*:
// lock in a transaction, keep "before", change, audit. Kept apart because
// each locks, checks and audits its own record.
func (s *Catalog) UpdateEntitlement(ctx context.Context, id string, in EntitlementPatch) (*Entitlement, error) {
	var out *Entitlement
	err := s.store.InTx(ctx, func(tx CatalogStore) error {
		e, err := tx.LockEntitlement(ctx, id)
		if err != nil {
			return err
		}
		before := *e
		if in.Name != nil {
			e.Name = strings.TrimSpace(*in.Name)
		}
		if in.Description != nil {
			e.Description = *in.Description
		}
		if err := checkEntitlementText(e.Name, e.Description); err != nil {
			return err
		}
		if err := tx.UpdateEntitlement(ctx, e); err != nil {
			return err
		}
		out = e
		return s.record(ctx, tx, ActionEntitlementUpdated, "entitlement", id, "", &before, e)
	})
	return out, err
}

func checkEntitlementText(name, description string) error {
	if err := requireName(name); err != nil {
		return err
	}
	if len(description) > 2000 {
		return FieldErrorf("description", "description is longer than 2000 characters")
	}
	return nil
}

// ProductPatch changes a product; nil fields stay as they are.
type ProductPatch struct {
	Name     *string            `json:"name,omitempty"`
	Metadata *map[string]string `json:"metadata,omitempty"`
}

// UpdateProduct edits a product. ENotFound, EInvalid.
func (s *Catalog) UpdateProduct(ctx context.Context, id string, in ProductPatch) (*Product, error) {
	var out *Product
	err := s.store.InTx(ctx, func(tx CatalogStore) error {
		p, err := tx.LockProduct(ctx, id)
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
//
// Alike LicenseOverrides in rules.go (the rule fields): kept apart because
// a policy's patch also renames, reseats and re-entitles, and a license
// overrides only its rules, stored as a JSON column.
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
	// Rules replace the policy's activation rules as a whole.
	Rules *PolicyRules `json:"rules,omitempty"`
}

// UpdatePolicy edits a policy. ENotFound, EInvalid.
func (s *Catalog) UpdatePolicy(ctx context.Context, id string, in PolicyPatch) (*Policy, error) {
	var ents []string
	if in.Entitlements != nil {
		var err error
		if ents, err = checkEntitlements(ctx, s.store, *in.Entitlements); err != nil {
			return nil, err
		}
	}
	var out *Policy
	err := s.store.InTx(ctx, func(tx CatalogStore) error {
		p, err := tx.LockPolicy(ctx, id)
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
		if in.Rules != nil {
			r := *in.Rules
			if err := r.Validate(); err != nil {
				return err
			}
			p.Rules = r
		}
		if err := requireName(p.Name); err != nil {
			return err
		}
		if err := validatePolicyRules(p.DurationSeconds, p.GraceSeconds, p.HeartbeatWindowSeconds, p.LeaseTTLSeconds, p.OfflineReleaseSeconds, p.MaxMachines, p.Floating, p.ExpiryAction); err != nil {
			return err
		}
		if err := checkMetadata(p.Metadata); err != nil {
			return err
		}
		if err := CheckBillingMetadata(p.Metadata); err != nil {
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
