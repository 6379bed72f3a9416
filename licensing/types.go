package licensing

import (
	"slices"
	"strings"
	"time"
)

// Product is a piece of NzilaCode software that licenses are sold for. Its ID
// is the audience of the leases issued for it.
type Product struct {
	ID        string            `json:"id"`
	Code      string            `json:"code"` // short unique name, e.g. "nzila-studio"
	Name      string            `json:"name"`
	Metadata  map[string]string `json:"metadata,omitempty"`
	CreatedAt time.Time         `json:"created_at"`
	UpdatedAt time.Time         `json:"updated_at"`
}

// ExpiryAction says what happens to a license once it is past its expiry and
// its grace period.
type ExpiryAction string

const (
	// ExpiryRestrict: the license expires and gets no new lease.
	ExpiryRestrict ExpiryAction = "restrict"
	// ExpiryAllow: the license stays usable (new leases keep being issued) but
	// is reported as expired, e.g. a perpetual fallback license whose updates end.
	ExpiryAllow ExpiryAction = "allow"
	// ExpiryRevoke: at its expiry (past grace) the license is revoked for
	// good: no lease, no download, no reinstatement by renewal.
	ExpiryRevoke ExpiryAction = "revoke"
	// ExpiryMaintain: the app keeps working (leases keep being renewed)
	// but releases published after the license's expiry are not
	// downloadable (EUpdatesExpired); older ones are.
	ExpiryMaintain ExpiryAction = "maintain"
)

// ExpiryActions are the values of Policy.ExpiryAction.
var ExpiryActions = []ExpiryAction{ExpiryRestrict, ExpiryAllow, ExpiryRevoke, ExpiryMaintain}

// EndsAtExpiry reports whether the policy's licenses stop being usable at
// their expiry plus grace (so no lease outlives that).
func (p *Policy) EndsAtExpiry() bool {
	return p.ExpiryAction == ExpiryRestrict || p.ExpiryAction == ExpiryRevoke
}

// Policy is a plan: the rules a license of a product follows.
type Policy struct {
	ID        string `json:"id"`
	ProductID string `json:"product_id"`
	Name      string `json:"name"`
	// DurationSeconds is how long a new license lasts (0: it never expires).
	DurationSeconds int64 `json:"duration_seconds"`
	// MaxMachines is the seat limit. A node-locked policy has exactly one.
	MaxMachines int  `json:"max_machines"`
	Floating    bool `json:"floating"`
	// LeaseTTLSeconds is how long a lease stays valid offline.
	LeaseTTLSeconds int64 `json:"lease_ttl_seconds"`
	// HeartbeatWindowSeconds is how long a machine may stay silent before it is
	// considered offline (0: no heartbeat required).
	HeartbeatWindowSeconds int64 `json:"heartbeat_window_seconds"`
	// GraceSeconds extends a license past its expiry before ExpiryAction applies.
	GraceSeconds int64        `json:"grace_seconds"`
	ExpiryAction ExpiryAction `json:"expiry_action"`
	// ExpiryNoticeDays are the days before expiry at which a notice goes out
	// (email and webhook), each once per expiry date. Default 30, 7 and 1.
	ExpiryNoticeDays []int `json:"expiry_notice_days"`
	// OfflineReleaseSeconds frees the seat of a machine silent for that long
	// (it must exceed the heartbeat window); 0 keeps the seat of an offline
	// machine until someone deactivates it.
	OfflineReleaseSeconds int64 `json:"offline_release_seconds"`
	// Entitlements are the feature codes every license of this policy grants.
	Entitlements []string `json:"entitlements"`
	// Rules are the activation rules beyond seats: hardware matching,
	// uniqueness, abuse limits and overage (rules.go).
	Rules     PolicyRules       `json:"rules"`
	Metadata  map[string]string `json:"metadata,omitempty"`
	CreatedAt time.Time         `json:"created_at"`
	UpdatedAt time.Time         `json:"updated_at"`
}

// Lease TTL bounds: leases are short so that a suspension takes effect
// within one lease, and not so short that apps hammer the server.
const (
	MinLeaseTTL     = 5 * time.Minute
	MaxLeaseTTL     = 30 * 24 * time.Hour
	DefaultLeaseTTL = 24 * time.Hour
)

// LeaseTTL returns the policy's lease lifetime.
func (p *Policy) LeaseTTL() time.Duration { return seconds(p.LeaseTTLSeconds) }

// HeartbeatIntervalSeconds is how often clients are told to heartbeat, in
// seconds: half the heartbeat window (at least 1), so that a heartbeat sent
// at that pace lands well inside the window and never races the offline
// scan. 0 when the policy needs no heartbeat.
func (p *Policy) HeartbeatIntervalSeconds() int {
	if p.HeartbeatWindowSeconds <= 0 {
		return 0
	}
	return int(max(min(p.HeartbeatWindowSeconds, MaxDurationSeconds)/2, 1))
}

// CustomerStatus is whether a customer may use its licenses.
type CustomerStatus string

const (
	CustomerActive   CustomerStatus = "active"
	CustomerDisabled CustomerStatus = "disabled"
)

// Contact is a person to reach at a customer (alerts go to them).
type Contact struct {
	Name  string `json:"name"`
	Email string `json:"email"`
	Role  string `json:"role,omitempty"` // e.g. "billing", "technical"
}

// Customer is a client of NzilaCode who holds licenses.
type Customer struct {
	ID       string         `json:"id"`
	Name     string         `json:"name"`
	Email    string         `json:"email"`
	Status   CustomerStatus `json:"status"`
	Contacts []Contact      `json:"contacts"`
	// Permissions bound what the customer's own API tokens may do (a subset
	// of CustomerPermissions).
	Permissions []Permission      `json:"permissions"`
	Metadata    map[string]string `json:"metadata,omitempty"`
	// Language is the customer's language ("pt-PT", a catalog of
	// licensing/i18n; "" for none: the reader's browser, then the server
	// default): the portal and every mail to the customer use it.
	Language string `json:"language,omitempty"`
	// TimeZone is the IANA name ("Africa/Luanda") of the customer's dates
	// and times ("" for UTC).
	TimeZone  string    `json:"time_zone,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Entitlement names a feature that policies and licenses grant by its code.
type Entitlement struct {
	ID          string    `json:"id"`
	Code        string    `json:"code"`
	Name        string    `json:"name"`
	Description string    `json:"description,omitempty"`
	CreatedAt   time.Time `json:"created_at"`
	// RetiredAt is when the entitlement was retired: no policy or license
	// grants it since, none may be given it again, and it stays for the
	// audit log and old leases to name.
	RetiredAt *time.Time `json:"retired_at,omitempty"`
}

// LicenseStatus is the stored state of a license. Expiry by date is computed
// (see License.Check) so a license becomes expired at its time even before a
// worker records it.
type LicenseStatus string

const (
	LicenseActive    LicenseStatus = "active"
	LicenseSuspended LicenseStatus = "suspended"
	LicenseExpired   LicenseStatus = "expired"
	LicenseRevoked   LicenseStatus = "revoked"
)

// Valid reports whether s is one of the license statuses (a filter value
// from a caller, for one, may not be).
func (s LicenseStatus) Valid() bool {
	return slices.Contains([]LicenseStatus{LicenseActive, LicenseSuspended, LicenseExpired, LicenseRevoked}, s)
}

// License grants a customer the use of a product under a policy.
//
// The key itself is a secret: only its hash is stored (KeyHash), and the
// clear key is returned once, when the license is created.
type License struct {
	ID         string        `json:"id"`
	KeyHash    string        `json:"-"`
	KeyHint    string        `json:"key_hint"` // last characters of the key, to tell keys apart
	ProductID  string        `json:"product_id"`
	PolicyID   string        `json:"policy_id"`
	CustomerID string        `json:"customer_id"`
	Name       string        `json:"name,omitempty"`
	Status     LicenseStatus `json:"status"`
	// StatusReason is why the license was last suspended or revoked.
	StatusReason string     `json:"status_reason,omitempty"`
	ExpiresAt    *time.Time `json:"expires_at,omitempty"`
	// Entitlements granted on top of the policy's.
	Entitlements []string          `json:"entitlements"`
	Metadata     map[string]string `json:"metadata,omitempty"`
	// SeatsOverride is the license's own seat count, set when a billing
	// provider's quantity differs from the policy's seats (nil: the
	// policy's). MaxMachines is the seat limit in force (Seats), filled
	// in on the license's reads for the API; it is never stored.
	SeatsOverride *int `json:"seats_override,omitempty"`
	MaxMachines   int  `json:"max_machines,omitempty"`
	// Overrides are the license's own values for its policy's rules
	// (the seat count is SeatsOverride).
	Overrides LicenseOverrides `json:"overrides"`
	// Effective is the policy the license follows, overrides applied,
	// filled in on the license's reads for the API; never stored.
	Effective *EffectivePolicy `json:"effective,omitempty"`
	CreatedAt time.Time        `json:"created_at"`
	UpdatedAt time.Time        `json:"updated_at"`
}

// Seats is the license's seat limit under policy p: its own count when it
// has one, else the policy's.
func (l *License) Seats(p *Policy) int { // SeatsOverride, else the policy's
	if l.SeatsOverride != nil {
		return *l.SeatsOverride
	}
	return p.MaxMachines
}

// Check says whether the license may get a new lease at now under policy p,
// returning a domain error with the reason when it may not.
func (l *License) Check(p *Policy, now time.Time) error {
	p, _ = l.WithOverrides(p)
	switch l.Status {
	case LicenseSuspended:
		return Errorf(ELicenseSuspended, "the license is suspended")
	case LicenseRevoked:
		return Errorf(ELicenseRevoked, "the license is revoked")
	}
	if l.Status == LicenseExpired || l.PastGrace(p, now) {
		switch p.ExpiryAction {
		case ExpiryAllow, ExpiryMaintain:
			return nil
		case ExpiryRevoke:
			return Errorf(ELicenseRevoked, "the license was revoked at its expiry")
		}
		return Errorf(ELicenseExpired, "the license expired")
	}
	return nil
}

// UpdatesUntil is the last publication time of a release the license may
// download: its expiry under a maintaining policy (releases after it
// answer EUpdatesExpired), nil when no such bound applies.
func (l *License) UpdatesUntil(p *Policy) *time.Time {
	if p.ExpiryAction != ExpiryMaintain || l.ExpiresAt == nil {
		return nil
	}
	t := *l.ExpiresAt
	return &t
}

// PastGrace reports whether now is after the license's expiry plus the
// policy's grace period.
func (l *License) PastGrace(p *Policy, now time.Time) bool {
	if l.ExpiresAt == nil {
		return false
	}
	p, _ = l.WithOverrides(p)
	return now.After(l.ExpiresAt.Add(seconds(p.GraceSeconds)))
}

// EffectiveEntitlements is the sorted union of the policy's and the license's
// entitlements.
func EffectiveEntitlements(p *Policy, l *License) []string {
	all := make([]string, 0, len(p.Entitlements)+len(l.Entitlements))
	all = append(all, p.Entitlements...)
	all = append(all, l.Entitlements...)
	slices.Sort(all)
	return slices.Compact(all)
}

// MachineStatus is whether a machine is seen alive.
type MachineStatus string

const (
	MachineActive  MachineStatus = "active"
	MachineOffline MachineStatus = "offline"
	// MachineBlocked: an admin banned this fingerprint from the license. A
	// blocked machine holds no seat and cannot activate again until unblocked.
	MachineBlocked MachineStatus = "blocked"
)

// Valid reports whether s is one of the machine statuses.
func (s MachineStatus) Valid() bool {
	return slices.Contains([]MachineStatus{MachineActive, MachineOffline, MachineBlocked}, s)
}

// Machine is one device a license is activated on, bound by its fingerprint.
// It holds one seat of the license until deactivated.
type Machine struct {
	ID            string        `json:"id"`
	LicenseID     string        `json:"license_id"`
	Fingerprint   string        `json:"fingerprint"`
	Name          string        `json:"name,omitempty"`
	Hostname      string        `json:"hostname,omitempty"`
	Platform      string        `json:"platform,omitempty"`
	IP            string        `json:"ip,omitempty"`
	Status        MachineStatus `json:"status"`
	LastHeartbeat *time.Time    `json:"last_heartbeat,omitempty"`
	LastLeaseAt   *time.Time    `json:"last_lease_at,omitempty"`
	StatusReason  string        `json:"status_reason,omitempty"`
	// OfflineUntil is when the lease of its last offline activation ends:
	// until then its seat cannot be freed (the machine keeps working
	// without network, so a freed seat would be a second one).
	OfflineUntil *time.Time `json:"offline_until,omitempty"`
	// Components are the hardware component fingerprints the machine
	// reported (hashed by the SDK), matched under the policy's
	// MatchingRule when its fingerprint changes.
	Components []string  `json:"components,omitempty"`
	CreatedAt  time.Time `json:"created_at"`
	UpdatedAt  time.Time `json:"updated_at"`
}

// Role is what an API token may do. Deny by default: a role grants only what
// Allows says.
type Role string

const (
	RoleAdmin    Role = "admin"
	RoleSupport  Role = "support"
	RoleReadOnly Role = "read-only"
	RoleCustomer Role = "customer"
)

// (Role and ExpiryAction are alike by shape: a string type and its named
// values, as every enum of the package.)

// APIToken is a credential for the admin API. Only the hash of the secret is
// stored.
type APIToken struct {
	ID         string `json:"id"`
	Name       string `json:"name"`
	Role       Role   `json:"role"`
	CustomerID string `json:"customer_id,omitempty"` // for RoleCustomer
	Hash       string `json:"-"`
	// Bootstrap marks the token BootstrapAdminToken made (from
	// NARCIDI_ADMIN_TOKEN or generated on first run): a new configured
	// secret replaces it.
	Bootstrap bool       `json:"bootstrap,omitempty"`
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
	RevokedAt *time.Time `json:"revoked_at,omitempty"`
	CreatedAt time.Time  `json:"created_at"`
	// LastUsedAt is when the token last authenticated a request, to
	// TokenUseResolution (absent: never since it was made).
	LastUsedAt *time.Time `json:"last_used_at,omitempty"`
}

// TokenUseResolution is how fresh APIToken.LastUsedAt is kept: a request
// writes it only when the stored time is older, so a busy token costs
// one write a minute, not one per request.
const TokenUseResolution = time.Minute

// Usable reports whether the token may authenticate at now.
func (t *APIToken) Usable(now time.Time) bool {
	if t.RevokedAt != nil {
		return false
	}
	return t.ExpiresAt == nil || now.Before(*t.ExpiresAt)
}

// normalizeCodes trims, drops empties, sorts and de-duplicates feature codes.
func normalizeCodes(in []string) []string {
	out := make([]string, 0, len(in))
	for _, s := range in {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}
