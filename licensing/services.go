package licensing

// Stores are the narrow stores of every service, as one database offers
// them (storage.Stores builds this from a storage.Store).
type Stores struct {
	Catalog       CatalogStore
	Customers     CustomersStore
	Licenses      LicensesStore
	Leasing       LeasingStore
	Access        AccessStore
	Notifications NotificationsStore
	Automation    AutomationStore
	Metering      MetersStore
}

// Deps are what the services need besides their stores.
type Deps struct {
	// Signer signs leases (nil in processes that issue none, such as the
	// worker: Activate then fails with EInternal).
	Signer LeaseSigner
	Clock  Clock // nil: time.Now
	// Issuer goes into every lease's "iss" claim.
	Issuer string
	// Box seals webhook signing secrets (nil: webhooks cannot be created).
	Box SecretBox
	// AllowPrivate lets webhooks point at loopback or private networks.
	AllowPrivate bool
	// Secrets hashes license keys and API tokens for storage. Every
	// process over one database must use the same (cmd/narcidi derives it
	// from the master key). nil: a random key for these Services only,
	// for tests and tools whose data lives and dies with them.
	Secrets *SecretHasher
	// Telemetry takes the client API's uses and refusals (nil: none kept).
	Telemetry TelemetryRecorder
}

// Services is every domain service, wired over one set of stores. It is a
// plain bundle for the composition root (cmd/narcidi) and tests; each
// adapter takes only the services it calls.
type Services struct {
	Catalog       *Catalog
	Customers     *Customers
	Licenses      *Licenses
	Leasing       *Leasing
	Access        *Access
	Notifications *Notifications
	Automation    *Automation
	Metering      *Metering
}

// NewServices builds every service over st with d.
func NewServices(st Stores, d Deps) *Services {
	if d.Secrets == nil {
		d.Secrets = newEphemeralHasher()
	}
	leasing := NewLeasing(st.Leasing, d.Signer, d.Clock, d.Issuer, d.Secrets)
	leasing.telemetry = d.Telemetry
	return &Services{
		Catalog:       NewCatalog(st.Catalog, d.Clock),
		Customers:     NewCustomers(st.Customers, d.Clock),
		Licenses:      NewLicenses(st.Licenses, d.Clock, d.Secrets),
		Leasing:       leasing,
		Access:        NewAccess(st.Access, d.Clock, d.Secrets),
		Notifications: NewNotifications(st.Notifications, d.Box, d.AllowPrivate, d.Clock),
		Automation:    NewAutomation(st.Automation, d.Clock),
		Metering:      NewMetering(st.Metering, leasing.Usable, d.Clock),
	}
}
