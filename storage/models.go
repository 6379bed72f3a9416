package storage

import (
	"encoding/json"
	"time"

	"github.com/nzilacode/narcidicontrole/licensing"
)

// Rows as stored. Lists and maps are JSON text, which both databases hold
// the same way. Domain types never carry gorm tags; these do.

type productRow struct {
	ID        string `gorm:"primaryKey"`
	Code      string
	Name      string
	Metadata  map[string]string `gorm:"serializer:json"`
	CreatedAt time.Time
	UpdatedAt time.Time
}

func (productRow) TableName() string { return "products" }

type policyRow struct {
	ID                     string `gorm:"primaryKey"`
	ProductID              string
	Name                   string
	DurationSeconds        int64
	MaxMachines            int
	Floating               bool
	LeaseTTLSeconds        int64 `gorm:"column:lease_ttl_seconds"`
	HeartbeatWindowSeconds int64
	GraceSeconds           int64
	ExpiryAction           string
	Entitlements           []string          `gorm:"serializer:json"`
	Metadata               map[string]string `gorm:"serializer:json"`
	ExpiryNoticeDays       []int             `gorm:"serializer:json"`
	OfflineReleaseSeconds  int64
	Rules                  licensing.PolicyRules `gorm:"serializer:json"`
	CreatedAt              time.Time
	UpdatedAt              time.Time
}

func (policyRow) TableName() string { return "policies" }

type customerRow struct {
	ID          string `gorm:"primaryKey"`
	Name        string
	Email       string
	Status      string
	Contacts    []licensing.Contact    `gorm:"serializer:json"`
	Permissions []licensing.Permission `gorm:"serializer:json"`
	Metadata    map[string]string      `gorm:"serializer:json"`
	Language    string
	TimeZone    string
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

func (customerRow) TableName() string { return "customers" }

type licenseRow struct {
	ID           string `gorm:"primaryKey"`
	KeyHash      string
	KeyHint      string
	ProductID    string
	PolicyID     string
	CustomerID   string
	Name         string
	Status       string
	StatusReason string
	ExpiresAt    *time.Time
	Entitlements []string          `gorm:"serializer:json"`
	Metadata     map[string]string `gorm:"serializer:json"`
	// SeatsOverride is the license's own seat count (NULL: the policy's).
	SeatsOverride *int
	Overrides     licensing.LicenseOverrides `gorm:"serializer:json"`
	CreatedAt     time.Time
	UpdatedAt     time.Time
}

func (licenseRow) TableName() string { return "licenses" }

type machineRow struct {
	ID            string `gorm:"primaryKey"`
	LicenseID     string
	Fingerprint   string
	Name          string
	Hostname      string
	Platform      string
	IP            string `gorm:"column:ip"`
	Status        string
	LastHeartbeat *time.Time
	LastLeaseAt   *time.Time
	StatusReason  string
	OfflineUntil  *time.Time
	Components    []string `gorm:"serializer:json"`
	CreatedAt     time.Time
	UpdatedAt     time.Time
}

func (machineRow) TableName() string { return "machines" }

type entitlementRow struct {
	ID          string `gorm:"primaryKey"`
	Code        string
	Name        string
	Description string
	CreatedAt   time.Time
	RetiredAt   *time.Time // 0023
}

func (entitlementRow) TableName() string { return "entitlements" }

type eventRow struct {
	ID         string `gorm:"primaryKey"`
	Time       time.Time
	Action     string
	TargetType string
	TargetID   string
	Actor      string
	ActorName  string
	Reason     string
	Before     *string
	After      *string
	RequestID  string
}

func (eventRow) TableName() string { return "events" }

type idempotencyRow struct {
	Owner       string `gorm:"primaryKey"`
	Key         string `gorm:"column:idem_key;primaryKey"`
	RequestHash string
	Status      int
	Body        []byte
	CreatedAt   time.Time
}

func (idempotencyRow) TableName() string { return "idempotency_keys" }

func rawOrNil(s *string) json.RawMessage {
	if s == nil || *s == "" {
		return nil
	}
	return json.RawMessage(*s)
}

func stringOrNil(r json.RawMessage) *string {
	if len(r) == 0 {
		return nil
	}
	s := string(r)
	return &s
}

func eventFromRow(r *eventRow) *licensing.Event {
	return &licensing.Event{ID: r.ID, Time: utc(r.Time), Action: r.Action, TargetType: r.TargetType, TargetID: r.TargetID,
		Actor: r.Actor, ActorName: r.ActorName, Reason: r.Reason, Before: rawOrNil(r.Before), After: rawOrNil(r.After), RequestID: r.RequestID}
}

func eventToRow(e *licensing.Event) *eventRow {
	return &eventRow{ID: e.ID, Time: e.Time, Action: e.Action, TargetType: e.TargetType, TargetID: e.TargetID,
		Actor: e.Actor, ActorName: e.ActorName, Reason: e.Reason, Before: stringOrNil(e.Before), After: stringOrNil(e.After), RequestID: e.RequestID}
}

type apiTokenRow struct {
	ID         string `gorm:"primaryKey"`
	Name       string
	Role       string
	CustomerID string
	Hash       string
	Bootstrap  bool
	ExpiresAt  *time.Time
	RevokedAt  *time.Time
	CreatedAt  time.Time
	LastUsedAt *time.Time
}

func (apiTokenRow) TableName() string { return "api_tokens" }

// utc normalizes times read back from either database.
func utc(t time.Time) time.Time { return t.UTC() }

func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

func emptyMapIfNil(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}

func productFromRow(r *productRow) *licensing.Product {
	return &licensing.Product{ID: r.ID, Code: r.Code, Name: r.Name, Metadata: r.Metadata, CreatedAt: utc(r.CreatedAt), UpdatedAt: utc(r.UpdatedAt)}
}

func productToRow(p *licensing.Product) *productRow {
	return &productRow{ID: p.ID, Code: p.Code, Name: p.Name, Metadata: emptyMapIfNil(p.Metadata), CreatedAt: p.CreatedAt, UpdatedAt: p.UpdatedAt}
}

func policyFromRow(r *policyRow) *licensing.Policy {
	return &licensing.Policy{
		ID: r.ID, ProductID: r.ProductID, Name: r.Name, DurationSeconds: r.DurationSeconds, MaxMachines: r.MaxMachines,
		Floating: r.Floating, LeaseTTLSeconds: r.LeaseTTLSeconds, HeartbeatWindowSeconds: r.HeartbeatWindowSeconds,
		GraceSeconds: r.GraceSeconds, ExpiryAction: licensing.ExpiryAction(r.ExpiryAction), Entitlements: nonNil(r.Entitlements),
		Metadata: r.Metadata, CreatedAt: utc(r.CreatedAt), UpdatedAt: utc(r.UpdatedAt),
		ExpiryNoticeDays: nonNil(r.ExpiryNoticeDays), OfflineReleaseSeconds: r.OfflineReleaseSeconds, Rules: r.Rules,
	}
}

func policyToRow(p *licensing.Policy) *policyRow {
	return &policyRow{
		ID: p.ID, ProductID: p.ProductID, Name: p.Name, DurationSeconds: p.DurationSeconds, MaxMachines: p.MaxMachines,
		Floating: p.Floating, LeaseTTLSeconds: p.LeaseTTLSeconds, HeartbeatWindowSeconds: p.HeartbeatWindowSeconds,
		GraceSeconds: p.GraceSeconds, ExpiryAction: string(p.ExpiryAction), Entitlements: nonNil(p.Entitlements),
		Metadata: emptyMapIfNil(p.Metadata), CreatedAt: p.CreatedAt, UpdatedAt: p.UpdatedAt,
		ExpiryNoticeDays: nonNil(p.ExpiryNoticeDays), OfflineReleaseSeconds: p.OfflineReleaseSeconds, Rules: p.Rules,
	}
}

func customerFromRow(r *customerRow) *licensing.Customer {
	return &licensing.Customer{ID: r.ID, Name: r.Name, Email: r.Email, Status: licensing.CustomerStatus(r.Status),
		Contacts: nonNil(r.Contacts), Permissions: nonNil(r.Permissions), Metadata: r.Metadata,
		Language: r.Language, TimeZone: r.TimeZone, CreatedAt: utc(r.CreatedAt), UpdatedAt: utc(r.UpdatedAt)}
}

func customerToRow(c *licensing.Customer) *customerRow {
	return &customerRow{ID: c.ID, Name: c.Name, Email: c.Email, Status: string(c.Status), Contacts: nonNil(c.Contacts),
		Permissions: nonNil(c.Permissions), Metadata: emptyMapIfNil(c.Metadata), Language: c.Language, TimeZone: c.TimeZone,
		CreatedAt: c.CreatedAt, UpdatedAt: c.UpdatedAt}
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

func licenseFromRow(r *licenseRow) *licensing.License {
	return &licensing.License{
		ID: r.ID, KeyHash: r.KeyHash, KeyHint: r.KeyHint, ProductID: r.ProductID, PolicyID: r.PolicyID, CustomerID: r.CustomerID,
		Name: r.Name, Status: licensing.LicenseStatus(r.Status), StatusReason: r.StatusReason, ExpiresAt: utcPtr(r.ExpiresAt),
		Entitlements: nonNil(r.Entitlements), Metadata: r.Metadata, SeatsOverride: r.SeatsOverride, Overrides: r.Overrides, CreatedAt: utc(r.CreatedAt), UpdatedAt: utc(r.UpdatedAt),
	}
}

func licenseToRow(l *licensing.License) *licenseRow {
	return &licenseRow{
		ID: l.ID, KeyHash: l.KeyHash, KeyHint: l.KeyHint, ProductID: l.ProductID, PolicyID: l.PolicyID, CustomerID: l.CustomerID,
		Name: l.Name, Status: string(l.Status), StatusReason: l.StatusReason, ExpiresAt: l.ExpiresAt,
		Entitlements: nonNil(l.Entitlements), Metadata: emptyMapIfNil(l.Metadata), SeatsOverride: l.SeatsOverride, Overrides: l.Overrides, CreatedAt: l.CreatedAt, UpdatedAt: l.UpdatedAt,
	}
}

func machineFromRow(r *machineRow) *licensing.Machine {
	return &licensing.Machine{
		ID: r.ID, LicenseID: r.LicenseID, Fingerprint: r.Fingerprint, Name: r.Name, Hostname: r.Hostname, Platform: r.Platform,
		IP: r.IP, Status: licensing.MachineStatus(r.Status), LastHeartbeat: utcPtr(r.LastHeartbeat), LastLeaseAt: utcPtr(r.LastLeaseAt),
		StatusReason: r.StatusReason, OfflineUntil: utcPtr(r.OfflineUntil), Components: nilIfEmpty(r.Components), CreatedAt: utc(r.CreatedAt), UpdatedAt: utc(r.UpdatedAt),
	}
}

func machineToRow(m *licensing.Machine) *machineRow {
	return &machineRow{
		ID: m.ID, LicenseID: m.LicenseID, Fingerprint: m.Fingerprint, Name: m.Name, Hostname: m.Hostname, Platform: m.Platform,
		IP: m.IP, Status: string(m.Status), LastHeartbeat: m.LastHeartbeat, LastLeaseAt: m.LastLeaseAt, StatusReason: m.StatusReason,
		OfflineUntil: m.OfflineUntil, Components: nonNil(m.Components), CreatedAt: m.CreatedAt, UpdatedAt: m.UpdatedAt,
	}
}

func apiTokenFromRow(r *apiTokenRow) *licensing.APIToken {
	return &licensing.APIToken{ID: r.ID, Name: r.Name, Role: licensing.Role(r.Role), CustomerID: r.CustomerID, Hash: r.Hash, Bootstrap: r.Bootstrap, ExpiresAt: utcPtr(r.ExpiresAt), RevokedAt: utcPtr(r.RevokedAt), CreatedAt: utc(r.CreatedAt), LastUsedAt: utcPtr(r.LastUsedAt)}
}

func apiTokenToRow(t *licensing.APIToken) *apiTokenRow {
	return &apiTokenRow{ID: t.ID, Name: t.Name, Role: string(t.Role), CustomerID: t.CustomerID, Hash: t.Hash, Bootstrap: t.Bootstrap, ExpiresAt: t.ExpiresAt, RevokedAt: t.RevokedAt, CreatedAt: t.CreatedAt, LastUsedAt: t.LastUsedAt}
}

// nilIfEmpty reads an empty stored list as none (the domain's omitempty
// lists, such as a machine's components).
func nilIfEmpty[T any](s []T) []T {
	if len(s) == 0 {
		return nil
	}
	return s
}
