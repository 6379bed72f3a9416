package licensing

import "slices"

// Permission names one kind of access to one kind of resource.
type Permission string

const (
	ReadCatalog    Permission = "catalog:read" // products, policies, entitlements
	WriteCatalog   Permission = "catalog:write"
	ReadCustomers  Permission = "customers:read"
	WriteCustomers Permission = "customers:write"
	ReadLicenses   Permission = "licenses:read"
	WriteLicenses  Permission = "licenses:write"
	ReadMachines   Permission = "machines:read"
	WriteMachines  Permission = "machines:write"
	ReadTokens     Permission = "tokens:read"
	WriteTokens    Permission = "tokens:write"
	ReadEvents     Permission = "events:read"
	ReadDashboard  Permission = "dashboard:read"
	ReadWebhooks   Permission = "webhooks:read" // endpoints and their delivery log
	WriteWebhooks  Permission = "webhooks:write"
	ManageQueues   Permission = "queues:manage" // the queue monitor (asynqmon)
	ReadReleases   Permission = "releases:read"
	WriteReleases  Permission = "releases:write"
)

// Subscription permissions (licensing/subscription).
const (
	ReadSubscriptions  Permission = "subscriptions:read"
	WriteSubscriptions Permission = "subscriptions:write" // create, change plan, cancel, resume
)

// RotateLicenseKeys replaces a license's key and shows the new one once
// (Licenses.RotateKey). Its own permission, not licenses:write, so that a
// customer record can grant it to its tokens (the portal) without more.
const RotateLicenseKeys Permission = "licenses:rotate-key"

// WriteContacts lets a customer edit its own contacts in the portal
// (Customers.UpdateContacts). Contacts get the customer's alerts and may
// sign in to the portal, so an admin grants it on purpose: it is not in
// DefaultCustomerPermissions.
const WriteContacts Permission = "customers:contacts"

// ReadInsights reads the insights: scores (churn and block risk, upgrade
// fit, suspected sharing) with their reasons. Not given to customers: a
// score is NzilaCode's judgement of the customer.
const ReadInsights Permission = "insights:read"

// grants is the whole authorization table. Anything not listed is denied.
// A customer token's permissions are further cut down to what its customer
// record allows (see Actor.Allows), and its reach to its own customer.
var grants = map[Role][]Permission{
	RoleAdmin: {ReadCatalog, WriteCatalog, ReadCustomers, WriteCustomers, ReadLicenses, WriteLicenses,
		ReadMachines, WriteMachines, ReadTokens, WriteTokens, ReadEvents, ReadDashboard, ReadWebhooks, WriteWebhooks, ManageQueues,
		ReadReleases, WriteReleases, ReadSubscriptions, WriteSubscriptions, RotateLicenseKeys, ReadInsights},
	RoleSupport: {ReadCatalog, ReadCustomers, WriteCustomers, ReadLicenses, WriteLicenses,
		ReadMachines, WriteMachines, ReadEvents, ReadDashboard, ReadWebhooks,
		ReadReleases, ReadSubscriptions, RotateLicenseKeys, ReadInsights},
	RoleReadOnly: {ReadCatalog, ReadCustomers, ReadLicenses, ReadMachines, ReadEvents, ReadDashboard, ReadWebhooks,
		ReadReleases, ReadSubscriptions, ReadInsights},
	RoleCustomer: CustomerPermissions,
}

// CustomerPermissions is the most a customer's own tokens can be given:
// seeing its licenses and machines, freeing its machines' seats, and
// replacing its licenses' keys.
var CustomerPermissions = []Permission{ReadCustomers, ReadLicenses, ReadMachines, WriteMachines, RotateLicenseKeys, WriteContacts}

// DefaultCustomerPermissions are a new customer's when none are given: all
// but RotateLicenseKeys, which hands a working key to whoever holds the
// token, so an admin grants it on purpose.
var DefaultCustomerPermissions = []Permission{ReadCustomers, ReadLicenses, ReadMachines, WriteMachines}

// Roles lists every role.
var Roles = []Role{RoleAdmin, RoleSupport, RoleReadOnly, RoleCustomer}

// Allows reports whether role r has permission p. Unknown roles have none.
func (r Role) Allows(p Permission) bool { return slices.Contains(grants[r], p) }

func (r Role) valid() bool { _, ok := grants[r]; return ok }

// Actor is who is making a request: an API token, or an app holding a
// license key (client API). It travels in the context and is written into
// every audit event.
type Actor struct {
	TokenID string
	// UserID is set for a console user's session (licensing/users).
	UserID    string
	Name      string
	Role      Role   // "" for an app using a license key
	LicenseID string // for an app: the license whose key it used
	// CustomerID scopes a customer token: it sees only this customer's data.
	CustomerID string
	// customerPerms is the customer record's permissions, for customer tokens.
	customerPerms []Permission
	RequestID     string
}

// Allows reports whether the actor may use permission p.
func (a *Actor) Allows(p Permission) bool {
	if !a.Role.Allows(p) {
		return false
	}
	return a.Role != RoleCustomer || slices.Contains(a.customerPerms, p)
}

// Label is how the actor appears in the audit log.
func (a *Actor) Label() string {
	switch {
	case a.TokenID != "":
		return "token:" + a.TokenID
	case a.UserID != "":
		return "user:" + a.UserID
	case a.Role == RoleCustomer && a.CustomerID != "":
		return "customer:" + a.CustomerID // a portal session (licensing/portal)
	case a.LicenseID != "":
		return "license:" + a.LicenseID
	}
	return "system"
}

// CustomerActor is a customer acting for itself without a token (a portal
// session): scoped to c and bounded by c's permissions like its tokens.
// name is who signed in (an email), for the audit log.
func CustomerActor(c *Customer, name string) *Actor {
	return &Actor{Name: name, Role: RoleCustomer, CustomerID: c.ID, customerPerms: slices.Clone(c.Permissions)}
}
