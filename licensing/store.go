package licensing

import (
	"context"
	"time"

	verifier "github.com/nzilacode/narcidicontrole/verifier-sdk"
)

// Repo is the data access the domain needs. Every method takes ctx first and
// returns domain errors: ENotFound when a row is missing, EConflict when a
// unique rule is broken, EUnavailable when the database cannot be reached,
// EInternal otherwise. Implementations are safe for concurrent use.
type Repo interface {
	CreateProduct(ctx context.Context, p *Product) error // EConflict on duplicate code
	GetProduct(ctx context.Context, id string) (*Product, error)
	ListProducts(ctx context.Context, page Page) ([]Product, error)

	CreatePolicy(ctx context.Context, p *Policy) error
	GetPolicy(ctx context.Context, id string) (*Policy, error)
	ListPolicies(ctx context.Context, filter PolicyFilter, page Page) ([]Policy, error)

	CreateCustomer(ctx context.Context, c *Customer) error
	GetCustomer(ctx context.Context, id string) (*Customer, error)
	ListCustomers(ctx context.Context, page Page) ([]Customer, error)

	CreateLicense(ctx context.Context, l *License) error // EConflict on duplicate key
	GetLicense(ctx context.Context, id string) (*License, error)
	// GetLicenseByKeyHash finds a license by the hash of its key. With
	// forUpdate inside a transaction it locks the row until the transaction
	// ends, which serializes seat accounting per license.
	GetLicenseByKeyHash(ctx context.Context, keyHash string, forUpdate bool) (*License, error)
	// LockLicense locks the license row until the transaction ends.
	LockLicense(ctx context.Context, id string) (*License, error)
	ListLicenses(ctx context.Context, filter LicenseFilter, page Page) ([]License, error)
	// UpdateLicenseStatus sets status and reason; EConflict if the stored
	// status is not from (optimistic check).
	UpdateLicenseStatus(ctx context.Context, id string, from, to LicenseStatus, reason string, now time.Time) error

	CreateMachine(ctx context.Context, m *Machine) error // EConflict if the fingerprint is taken on the license
	FindMachine(ctx context.Context, licenseID, fingerprint string) (*Machine, error)
	CountMachines(ctx context.Context, licenseID string) (int, error)
	ListMachines(ctx context.Context, licenseID string, page Page) ([]Machine, error)
	// TouchMachine records a heartbeat and/or a lease issue at now.
	TouchMachine(ctx context.Context, id string, heartbeat, lease bool, ip string, now time.Time) error
	DeleteMachine(ctx context.Context, id string) error

	CreateAPIToken(ctx context.Context, t *APIToken) error
	GetAPITokenByHash(ctx context.Context, hash string) (*APIToken, error)
	CountAPITokens(ctx context.Context) (int, error)
}

// Store is a Repo that can run a function in one database transaction. The
// Repo passed to fn is bound to the transaction; fn's error rolls it back.
type Store interface {
	Repo
	InTx(ctx context.Context, fn func(tx Repo) error) error
	// Ping reports whether the database is reachable (EUnavailable if not).
	Ping(ctx context.Context) error
}

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
	CustomerID string
	ProductID  string
	PolicyID   string
	Status     LicenseStatus
}

// LeaseSigner signs lease claims into a compact JWS. Implemented by keys.
type LeaseSigner interface {
	SignLease(ctx context.Context, claims verifier.LeaseClaims) (string, error)
}

// Clock tells the time; injected so tests can move it.
type Clock func() time.Time
