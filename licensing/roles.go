package licensing

// Permission names one kind of access to one kind of resource.
type Permission string

const (
	ReadCatalog   Permission = "catalog:read" // products and policies
	WriteCatalog  Permission = "catalog:write"
	ReadCustomers Permission = "customers:read"
	WriteCustomer Permission = "customers:write"
	ReadLicenses  Permission = "licenses:read" // licenses and their machines
	WriteLicenses Permission = "licenses:write"
)

// grants is the whole authorization table. Anything not listed is denied.
// Customer tokens get no admin permission here: their scoped access comes
// with the full admin API.
var grants = map[Role]map[Permission]bool{
	RoleAdmin: {
		ReadCatalog: true, WriteCatalog: true, ReadCustomers: true, WriteCustomer: true,
		ReadLicenses: true, WriteLicenses: true,
	},
	RoleSupport: {
		ReadCatalog: true, ReadCustomers: true, WriteCustomer: true, ReadLicenses: true, WriteLicenses: true,
	},
	RoleReadOnly: {
		ReadCatalog: true, ReadCustomers: true, ReadLicenses: true,
	},
}

// Allows reports whether role r has permission p. Unknown roles have none.
func (r Role) Allows(p Permission) bool { return grants[r][p] }
