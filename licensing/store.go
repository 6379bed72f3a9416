package licensing

import (
	"time"
)

// Page is cursor pagination: items after the cursor (an id), at most Limit.
type Page struct {
	After string
	Limit int
}

// MaxPageLimit bounds list sizes.
const MaxPageLimit = 200

// Normalize fills defaults and clamps the limit.
func (p Page) Normalize() Page {
	if p.Limit <= 0 {
		p.Limit = 50
	}
	if p.Limit > MaxPageLimit {
		p.Limit = MaxPageLimit
	}
	return p
}

// PolicyFilter narrows a policy listing.
type PolicyFilter struct {
	ProductID string
}

// LicenseFilter narrows a license listing.
type LicenseFilter struct {
	// KeyHint keeps the licenses whose key ends with these 4 characters
	// (License.KeyHint): how a person finds a key they were read out.
	KeyHint       string
	CustomerID    string
	ProductID     string
	PolicyID      string
	Status        LicenseStatus
	ExpiresBefore *time.Time
	// ExpiresAfter keeps licenses expiring at or after it.
	ExpiresAfter *time.Time
}

// MachineFilter narrows a machine listing.
type MachineFilter struct {
	LicenseID  string
	CustomerID string
	Status     MachineStatus
	// FingerprintPrefix keeps machines whose fingerprint starts with it.
	FingerprintPrefix string
}

// Stats are the figures of the dashboard.
type Stats struct {
	LicensesByStatus map[LicenseStatus]int `json:"licenses_by_status"`
	MachinesByStatus map[MachineStatus]int `json:"machines_by_status"`
	ExpiringIn7Days  int                   `json:"expiring_in_7_days"`
	ExpiringIn30Days int                   `json:"expiring_in_30_days"`
	// ActivationsPerDay covers the last 30 days, oldest first, days without
	// activations included with 0.
	ActivationsPerDay []DayCount `json:"activations_per_day"`
	ComputedAt        time.Time  `json:"computed_at"`
}

// DayCount is a count for one UTC day (YYYY-MM-DD).
type DayCount struct {
	Day   string `json:"day"`
	Count int    `json:"count"`
}

// Clock tells the time; injected so tests can move it.
type Clock func() time.Time
