package licensing

import (
	"context"
	"fmt"
	"net/mail"
	"slices"
	"strings"

	"github.com/nzilacode/narcidicontrole/licensing/i18n"
)

// CustomersStore is the data the customers service needs. Every method
// returns ENotFound when the row is missing, EUnavailable when the database
// cannot be reached, EInternal otherwise. CreateCustomer gives the row its
// id; UpdateCustomer saves every mutable field. Safe for concurrent use.
type CustomersStore interface {
	Tx[CustomersStore]
	EventAppender
	CreateCustomer(ctx context.Context, c *Customer) error
	GetCustomer(ctx context.Context, id string) (*Customer, error)
	// LockCustomer reads a customer and locks its row until the
	// transaction ends: an edit writes back what it read (storage/doc.go).
	LockCustomer(ctx context.Context, id string) (*Customer, error)
	ListCustomers(ctx context.Context, page Page) ([]Customer, error)
	// SearchCustomers finds customers whose name, email or contacts
	// contain q (any case) or whose id is q, a page at a time by id.
	SearchCustomers(ctx context.Context, q string, page Page) ([]Customer, error)
	UpdateCustomer(ctx context.Context, c *Customer) error
}

// Customers manages who licenses are sold to. Reads are scoped: a customer
// token sees only its own customer. Safe for concurrent use.
type Customers struct {
	core
	store CustomersStore
}

// NewCustomers builds the customers service.
func NewCustomers(store CustomersStore, clock Clock) *Customers {
	return &Customers{core: newCore(clock), store: store}
}

// CustomerInput is what an admin gives to create a customer.
// Alike Customer in types.go: kept apart as LicenseInput is from License.
type CustomerInput struct {
	Name     string    `json:"name"`
	Email    string    `json:"email"`
	Contacts []Contact `json:"contacts,omitempty"`
	// Permissions of the customer's own tokens (at most CustomerPermissions);
	// default: DefaultCustomerPermissions.
	Permissions []Permission      `json:"permissions,omitempty"`
	Metadata    map[string]string `json:"metadata,omitempty"`
	// Language is one of the server's languages ("en", "pt-PT", "pt-BR"),
	// TimeZone an IANA name ("Africa/Luanda"): as in CustomerPatch.
	Language string `json:"language,omitempty"`
	TimeZone string `json:"time_zone,omitempty"`
}

// CreateCustomer validates and stores a customer. EInvalid.
func (s *Customers) CreateCustomer(ctx context.Context, in CustomerInput) (*Customer, error) {
	if in.Permissions == nil {
		in.Permissions = slices.Clone(DefaultCustomerPermissions)
	}
	now := s.clock()
	c := &Customer{Name: strings.TrimSpace(in.Name), Email: in.Email, Status: CustomerActive, Contacts: in.Contacts,
		Permissions: in.Permissions, Metadata: in.Metadata, Language: in.Language, TimeZone: in.TimeZone, CreatedAt: now, UpdatedAt: now}
	if err := validateCustomer(c); err != nil {
		return nil, err
	}
	if err := normalizeLocale(c); err != nil {
		return nil, err
	}
	return c, s.store.InTx(ctx, func(tx CustomersStore) error {
		if err := tx.CreateCustomer(ctx, c); err != nil {
			return err
		}
		return s.record(ctx, tx, ActionCustomerCreated, "customer", c.ID, "", nil, c)
	})
}

// validateEmail checks an address; field is its JSON name, label its name
// in the message.
func validateEmail(field, label, email string) error {
	if a, err := mail.ParseAddress(email); err != nil || a.Address != email {
		return FieldErrorf(field, "%s is not a valid address", label)
	}
	return nil
}

func validateCustomer(c *Customer) error {
	if err := requireName(c.Name); err != nil {
		return err
	}
	if c.Email != "" {
		if err := validateEmail("email", "email", c.Email); err != nil {
			return err
		}
	}
	if c.Status != CustomerActive && c.Status != CustomerDisabled {
		return FieldErrorf("status", "status must be %q or %q", CustomerActive, CustomerDisabled)
	}
	if len(c.Contacts) > 20 {
		return FieldErrorf("contacts", "at most 20 contacts")
	}
	for i, ct := range c.Contacts {
		if err := validateEmail(fmt.Sprintf("contacts.%d.email", i), "contact email", ct.Email); err != nil {
			return err
		}
		if len(ct.Name) > 200 || len(ct.Role) > 64 {
			return FieldErrorf(fmt.Sprintf("contacts.%d", i), "contact name or role is too long")
		}
	}
	if c.Contacts == nil {
		c.Contacts = []Contact{}
	}
	for _, p := range c.Permissions {
		if !slices.Contains(CustomerPermissions, p) {
			return FieldErrorf("permissions", "permission %q cannot be given to a customer (allowed: %v)", p, CustomerPermissions)
		}
	}
	slices.Sort(c.Permissions)
	c.Permissions = slices.Compact(c.Permissions)
	return checkMetadata(c.Metadata)
}

// CustomerPatch changes a customer; nil fields stay as they are.
type CustomerPatch struct {
	Name        *string            `json:"name,omitempty"`
	Email       *string            `json:"email,omitempty"`
	Status      *CustomerStatus    `json:"status,omitempty"`
	Contacts    *[]Contact         `json:"contacts,omitempty"`
	Permissions *[]Permission      `json:"permissions,omitempty"`
	Metadata    *map[string]string `json:"metadata,omitempty"`
	// Language is one of the server's languages ("en", "pt-PT", "pt-BR";
	// "" clears it), TimeZone an IANA name ("Africa/Luanda"; "" is UTC).
	Language *string `json:"language,omitempty"`
	TimeZone *string `json:"time_zone,omitempty"`
}

// Customer returns a customer the caller may see. ENotFound.
func (s *Customers) Customer(ctx context.Context, id string) (*Customer, error) {
	if err := visible(ctx, id, "customer"); err != nil {
		return nil, err
	}
	return s.store.GetCustomer(ctx, id)
}

// Customers lists customers; a customer token sees only its own.
func (s *Customers) Customers(ctx context.Context, page Page) ([]Customer, error) {
	if a := ActorFrom(ctx); a.Role == RoleCustomer {
		c, err := s.store.GetCustomer(ctx, a.CustomerID)
		if err != nil || page.After != "" {
			return []Customer{}, err
		}
		return []Customer{*c}, nil
	}
	return s.store.ListCustomers(ctx, page)
}

// SearchCustomers finds customers by part of their name, email or a
// contact (or their id), a page at a time; a customer token finds only its
// own.
func (s *Customers) SearchCustomers(ctx context.Context, q string, page Page) ([]Customer, error) {
	found, err := s.store.SearchCustomers(ctx, q, page)
	if a := ActorFrom(ctx); a.Role == RoleCustomer {
		found = slices.DeleteFunc(found, func(c Customer) bool { return c.ID != a.CustomerID })
	}
	return found, err
}

// UpdateCustomer edits a customer (disabling one stops its licenses from
// getting leases and its tokens from working). ENotFound, EInvalid.
func (s *Customers) UpdateCustomer(ctx context.Context, id string, in CustomerPatch) (*Customer, error) {
	var out *Customer
	err := s.store.InTx(ctx, func(tx CustomersStore) error {
		c, err := tx.LockCustomer(ctx, id)
		if err != nil {
			return err
		}
		before := *c
		set(&c.Name, in.Name)
		set(&c.Email, in.Email)
		set(&c.Status, in.Status)
		set(&c.Contacts, in.Contacts)
		set(&c.Permissions, in.Permissions)
		set(&c.Metadata, in.Metadata)
		set(&c.Language, in.Language)
		set(&c.TimeZone, in.TimeZone)
		c.Name = strings.TrimSpace(c.Name)
		if err := validateCustomer(c); err != nil {
			return err
		}
		if err := normalizeLocale(c); err != nil {
			return err
		}
		c.UpdatedAt = s.clock()
		if err := tx.UpdateCustomer(ctx, c); err != nil {
			return err
		}
		out = c
		return s.record(ctx, tx, ActionCustomerUpdated, "customer", id, "", &before, c)
	})
	return out, err
}

// UpdateContacts replaces a customer's contacts: the portal's edit, for a
// customer whose record grants WriteContacts (staff edit them with
// UpdateCustomer). Nothing else of the record changes, so a customer cannot
// raise its own permissions or status. ENotFound (another customer's too),
// EForbidden, EInvalid.
func (s *Customers) UpdateContacts(ctx context.Context, id string, contacts []Contact) (*Customer, error) {
	if err := visible(ctx, id, "customer"); err != nil {
		return nil, err
	}
	if a := ActorFrom(ctx); a.Role == RoleCustomer && !a.Allows(WriteContacts) {
		return nil, Errorf(EForbidden, "your account may not edit its contacts")
	}
	return s.UpdateCustomer(ctx, id, CustomerPatch{Contacts: &contacts})
}

// normalizeLocale checks and writes canonically a customer's language and
// time zone. EInvalid naming the field.
func normalizeLocale(c *Customer) error {
	lang, err := i18n.Normalize(c.Language)
	if err != nil {
		return FieldErrorf("language", "%v", err)
	}
	zone, err := i18n.NormalizeZone(c.TimeZone)
	if err != nil {
		return FieldErrorf("time_zone", "%v", err)
	}
	c.Language, c.TimeZone = lang, zone
	return nil
}

// SetLocale sets a customer's language and time zone: the portal's
// Language page, for the signed-in customer (nothing else of the record
// changes). ENotFound (another customer's too), EInvalid.
func (s *Customers) SetLocale(ctx context.Context, id, language, zone string) (*Customer, error) {
	if err := visible(ctx, id, "customer"); err != nil {
		return nil, err
	}
	return s.UpdateCustomer(ctx, id, CustomerPatch{Language: &language, TimeZone: &zone})
}
