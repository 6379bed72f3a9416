// Package licensing is Narcidi's domain: products, policies (plans),
// customers, licenses and the machines they run on, and the rules that tie
// them together (activation within the seat limit, lease issuing,
// suspension, expiry, notifications).
//
// The use cases are split into services by concern, each with its own
// constructor and its own narrow store interface (a contract that says what
// each method returns and what callers guarantee):
//
//   - Catalog (catalog.go, CatalogStore): products, policies, entitlements.
//   - Customers (customers.go, CustomersStore): customers.
//   - Licenses (licenses.go, LicensesStore): license administration and
//     the machines on licenses.
//   - Leasing (leasing.go, offline.go, LeasingStore): the client API —
//     activate, renew, heartbeat, deactivate, validate — and air-gapped
//     activation.
//   - Access (access.go, AccessStore): authentication and API tokens.
//   - Notifications (webhooks.go, delivery.go, NotificationsStore): the
//     audit log, webhook endpoints, fan-out and deliveries.
//   - Automation (automation.go, AutomationStore): scans, dashboard
//     figures and roll-ups, clean-up, and the outbox relay.
//   - Insights (licensing/insights, insights.Store): telemetry of the
//     client API (Leasing hands it to a TelemetryRecorder, telemetry.go)
//     and the models learnt from it.
//
// Releases are their own domain package (licensing/release). Services
// bundles them all for the composition root (cmd/narcidi).
//
// Where a new rule goes: a rule about whether a license may be used now
// goes in CheckUsable (leasing.go), which every client route and release
// downloads call; a rule about one concern goes in that concern's service,
// and the data it needs is added to that service's store interface (and
// implemented in storage, whose views.go checks each interface at compile
// time). A new event action is declared in events.go and added to Actions,
// the one registry webhooks subscribe from (a test walks every Action*
// constant). The shared internals stay unexported in core.go: the clock,
// record (the audit event written in the change's transaction, which also
// feeds the outbox), changeLicense (the one path for license changes) and
// NewID, the one id generator.
//
// The package holds the one error vocabulary (errors.go) and the interfaces
// it needs from the outside (the stores, LeaseSigner, SecretBox, Clock). It
// imports only the standard library, google/uuid and the verifier SDK, whose
// LeaseClaims type is the wire contract of a lease. Adapters (storage, keys,
// api, workers) implement or call it; only cmd/narcidi wires them together.
//
// Look-alikes, kept apart on purpose: a record (Policy), what an admin
// gives to create it (PolicyInput) and to change it (PolicyPatch, the
// license's LicenseOverrides) list the same JSON fields, each what its
// caller may set; the services are built alike (core, store, secrets) and
// their Update* methods run alike (lock in a transaction, keep "before",
// change, record), each over its own record. Logic they share is a
// function here (checkEntitlements, checkMetadata, record), not a copy.
package licensing
