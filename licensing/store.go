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

	UpdateProduct(ctx context.Context, p *Product) error
	UpdatePolicy(ctx context.Context, p *Policy) error

	CreateEntitlement(ctx context.Context, e *Entitlement) error // EConflict on duplicate code
	GetEntitlement(ctx context.Context, id string) (*Entitlement, error)
	ListEntitlements(ctx context.Context, page Page) ([]Entitlement, error)
	// MissingEntitlements returns the codes that no entitlement has.
	MissingEntitlements(ctx context.Context, codes []string) ([]string, error)

	CreateCustomer(ctx context.Context, c *Customer) error
	GetCustomer(ctx context.Context, id string) (*Customer, error)
	ListCustomers(ctx context.Context, page Page) ([]Customer, error)
	UpdateCustomer(ctx context.Context, c *Customer) error

	CreateLicense(ctx context.Context, l *License) error // EConflict on duplicate key
	GetLicense(ctx context.Context, id string) (*License, error)
	// GetLicenseByKeyHash finds a license by the hash of its key. With
	// forUpdate inside a transaction it locks the row until the transaction
	// ends, which serializes seat accounting per license.
	GetLicenseByKeyHash(ctx context.Context, keyHash string, forUpdate bool) (*License, error)
	// LockLicense locks the license row until the transaction ends.
	LockLicense(ctx context.Context, id string) (*License, error)
	ListLicenses(ctx context.Context, filter LicenseFilter, page Page) ([]License, error)
	// UpdateLicense saves every mutable field of l (not its key).
	UpdateLicense(ctx context.Context, l *License) error

	CreateMachine(ctx context.Context, m *Machine) error // EConflict if the fingerprint is taken on the license
	FindMachine(ctx context.Context, licenseID, fingerprint string) (*Machine, error)
	GetMachine(ctx context.Context, id string) (*Machine, error)
	// CountMachines counts the machines holding a seat (blocked ones do not).
	CountMachines(ctx context.Context, licenseID string) (int, error)
	ListMachines(ctx context.Context, filter MachineFilter, page Page) ([]Machine, error)
	// SetMachineStatus sets status and reason; clearHeartbeat also empties
	// the last heartbeat.
	SetMachineStatus(ctx context.Context, id string, status MachineStatus, reason string, clearHeartbeat bool, now time.Time) error
	// TouchMachine records a heartbeat and/or a lease issue at now.
	// EMachineBlocked if the machine is blocked (or gone) meanwhile.
	TouchMachine(ctx context.Context, id string, heartbeat, lease bool, ip string, now time.Time) error
	DeleteMachine(ctx context.Context, id string) error

	CreateAPIToken(ctx context.Context, t *APIToken) error
	GetAPITokenByHash(ctx context.Context, hash string) (*APIToken, error)
	CountAPITokens(ctx context.Context) (int, error)
	GetAPIToken(ctx context.Context, id string) (*APIToken, error)
	ListAPITokens(ctx context.Context, page Page) ([]APIToken, error)
	RevokeAPIToken(ctx context.Context, id string, now time.Time) error

	AppendEvent(ctx context.Context, e *Event) error
	ListEvents(ctx context.Context, filter EventFilter, page Page) ([]Event, error)

	// Stats computes the dashboard figures at now with aggregate queries.
	Stats(ctx context.Context, now time.Time) (*Stats, error)

	// Background scans (see automation.go). Each returns only what is due,
	// through an index, and each change is conditional so that several
	// workers scanning at once never both act.

	// DueExpiryNotices lists active licenses of the policy that expire
	// within days of now and have no notice for that offset and expiry yet.
	DueExpiryNotices(ctx context.Context, policyID string, days int, now time.Time, limit int) ([]License, error)
	// LicensesPastGrace lists active licenses of the policy that expired
	// before cutoff (now minus the grace period).
	LicensesPastGrace(ctx context.Context, policyID string, cutoff time.Time, limit int) ([]License, error)
	// ClaimExpiryNotice records that the notice was sent; EConflict if it
	// already was.
	ClaimExpiryNotice(ctx context.Context, licenseID string, days int, expiresAt, now time.Time) error
	// SilentMachines lists machines of the policy in status whose last
	// heartbeat is before silentSince.
	SilentMachines(ctx context.Context, policyID string, status MachineStatus, silentSince time.Time, limit int) ([]Machine, error)
	// MarkMachineOffline sets an active machine silent since before silentSince
	// offline; ENotFound if it no longer is.
	MarkMachineOffline(ctx context.Context, id string, silentSince, now time.Time) error
	// ReleaseSilentMachine deletes an offline machine silent since before
	// silentSince, freeing its seat; ENotFound if it no longer is.
	ReleaseSilentMachine(ctx context.Context, id string, silentSince time.Time) error
	SaveRollup(ctx context.Context, day string, st *Stats) error
	ListRollups(ctx context.Context, sinceDay string) ([]Rollup, error)
	// Cleanup deletes outbox entries relayed before outboxBefore and finished
	// deliveries (with their attempts) updated before deliveriesBefore.
	Cleanup(ctx context.Context, outboxBefore, deliveriesBefore time.Time) (int64, error)

	// The outbox: every AppendEvent also queues the event for the relay.

	// PendingEvents lists events not yet dispatched whose hand-off to the
	// queue is not recorded or older than staleBefore (the queue may have
	// lost it), oldest first. In a transaction on PostgreSQL the rows are
	// locked and rows locked by another relay are skipped.
	PendingEvents(ctx context.Context, staleBefore time.Time, limit int) ([]Event, error)
	MarkEventsRelayed(ctx context.Context, ids []string, now time.Time) error
	MarkEventDispatched(ctx context.Context, id string, now time.Time) error
	GetEvent(ctx context.Context, id string) (*Event, error)

	// Webhook endpoints and deliveries.
	CreateWebhook(ctx context.Context, w *WebhookEndpoint) error
	GetWebhook(ctx context.Context, id string) (*WebhookEndpoint, error)
	ListWebhooks(ctx context.Context, page Page) ([]WebhookEndpoint, error)
	UpdateWebhook(ctx context.Context, w *WebhookEndpoint) error
	DeleteWebhook(ctx context.Context, id string) error
	// WebhookFailed counts a failed attempt; at limit failures in a row it
	// disables the endpoint and reports true (once).
	WebhookFailed(ctx context.Context, id string, limit int, now time.Time) (bool, error)
	WebhookSucceeded(ctx context.Context, id string) error
	// CreateDelivery adds a delivery; EConflict if the event already has one
	// for that destination.
	CreateDelivery(ctx context.Context, d *Delivery) error
	GetDelivery(ctx context.Context, id string) (*Delivery, error)
	ListDeliveries(ctx context.Context, filter DeliveryFilter, page Page) ([]Delivery, error)
	UpdateDelivery(ctx context.Context, d *Delivery) error
	// PendingDeliveries is PendingEvents for deliveries.
	PendingDeliveries(ctx context.Context, staleBefore time.Time, limit int) ([]Delivery, error)
	MarkDeliveriesEnqueued(ctx context.Context, ids []string, now time.Time) error
	AppendAttempt(ctx context.Context, a *DeliveryAttempt) error
	ListAttempts(ctx context.Context, deliveryID string) ([]DeliveryAttempt, error)

	// Idempotency keys (see IdempotencyRecord).
	ClaimIdempotencyKey(ctx context.Context, r *IdempotencyRecord) (*IdempotencyRecord, error)
	CompleteIdempotencyKey(ctx context.Context, r *IdempotencyRecord) error
	ReleaseIdempotencyKey(ctx context.Context, owner, key string) error
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
	CustomerID    string
	ProductID     string
	PolicyID      string
	Status        LicenseStatus
	ExpiresBefore *time.Time
}

// MachineFilter narrows a machine listing.
type MachineFilter struct {
	LicenseID  string
	CustomerID string
	Status     MachineStatus
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

// IdempotencyRecord remembers the answer to a create request sent with an
// Idempotency-Key, so a retry gets the same answer instead of a duplicate.
type IdempotencyRecord struct {
	Owner       string // who sent it: the API token id
	Key         string
	RequestHash string // method, path and body: the same key with another request is refused
	Status      int    // 0 while the first request is still running
	Body        []byte
	CreatedAt   time.Time
}

// LeaseSigner signs lease claims into a compact JWS. Implemented by keys.
type LeaseSigner interface {
	SignLease(ctx context.Context, claims verifier.LeaseClaims) (string, error)
}

// Clock tells the time; injected so tests can move it.
type Clock func() time.Time
