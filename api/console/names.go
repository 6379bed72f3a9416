package console

import (
	"context"
	"slices"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/nzilacode/narcidicontrole/licensing"
)

// People pick and read customers, products and licenses by name: the
// pages show names linked to the records, and the forms that take a
// customer pick it from a list the server narrows by a search (no script:
// the search is a submit button of the same form).

// pickerSize is how many customers a picker offers.
const pickerSize = 20

// picker is the "customer-picker" template's data: a search field (Query)
// and a select of the customers it finds (Matches), Chosen selected.
type picker struct {
	Field   string // the select's name: customer_id
	Label   string
	Query   string
	Matches []licensing.Customer
	Chosen  string
	Bad     bool
	// Optional offers "any customer" (filters) instead of requiring one.
	Optional bool
	// Fits reports whether Chosen, as sent, is among the customers the
	// query finds: a form sent with a query its choice does not fit (typed,
	// but Find not pressed) is drawn again rather than acting on a
	// customer the person did not mean.
	Fits bool
}

// customerPicker finds the customers matching query (the first ones by
// name when it is empty) with the store's bounded search, keeping chosen
// among them. A query that finds exactly one customer chooses it.
func (cn *Console) customerPicker(ctx context.Context, field, label, query, chosen string) (picker, error) {
	p := picker{Field: field, Label: label, Query: strings.TrimSpace(query), Chosen: chosen}
	found, err := cn.cfg.Services.Customers.SearchCustomers(ctx, p.Query, licensing.Page{Limit: pickerSize})
	if err != nil {
		return p, err
	}
	slices.SortStableFunc(found, func(a, b licensing.Customer) int {
		return strings.Compare(strings.ToLower(a.Name), strings.ToLower(b.Name))
	})
	p.Matches = found
	p.Fits = p.Query == "" || slices.ContainsFunc(found, func(c licensing.Customer) bool { return c.ID == p.Chosen })
	if p.Query != "" && len(found) == 1 {
		p.Chosen = found[0].ID
	}
	if p.Chosen != "" && !slices.ContainsFunc(found, func(c licensing.Customer) bool { return c.ID == p.Chosen }) {
		cu, err := cn.cfg.Services.Customers.Customer(ctx, p.Chosen)
		switch {
		case err == nil:
			p.Matches = append([]licensing.Customer{*cu}, p.Matches...)
		case licensing.ErrorCode(err) != licensing.ENotFound:
			return p, err
		}
	}
	return p, nil
}

// pickedFits refuses a customer chosen that the search typed beside it
// does not find (the search was typed, Find not pressed): the form comes
// back with the narrowed list rather than acting on another customer.
func (cn *Console) pickedFits(c *fiber.Ctx, query, chosen string) error {
	if strings.TrimSpace(query) == "" || !current(c).Actor.Allows(licensing.ReadCustomers) {
		return nil
	}
	p, err := cn.customerPicker(c.UserContext(), "", "", query, chosen)
	if err != nil || p.Fits {
		return err
	}
	return licensing.FieldErrorf("customer_id", "the customer chosen is not one of those matching “%s”: choose in the narrowed list", p.Query)
}

// searching reports whether the form was sent by its "Find" button: the
// page is drawn again with the narrowed list, nothing is done.
func searching(c *fiber.Ctx) bool { return c.FormValue("find") != "" }

// labels resolves the ids a page shows to what people call them, one
// lookup per distinct id of the page (a page holds at most PageSize rows).
type labels struct {
	cn        *Console
	ctx       context.Context
	customers map[string]string
	products  map[string]string
	licenses  map[string]string
	canCust   bool
	canLic    bool
	canCat    bool
	canUsers  bool
}

func (cn *Console) labels(c *fiber.Ctx) *labels {
	a := current(c).Actor
	return &labels{cn: cn, ctx: c.UserContext(), customers: map[string]string{}, products: map[string]string{}, licenses: map[string]string{},
		canCust: a.Allows(licensing.ReadCustomers), canLic: a.Allows(licensing.ReadLicenses), canCat: a.Allows(licensing.ReadCatalog), canUsers: a.Allows(licensing.ReadTokens)}
}

// Customer is the customer's name ("" when it cannot be read).
func (n *labels) Customer(id string) string {
	return remembered(n.customers, id, n.canCust, func() string {
		if cu, err := n.cn.cfg.Services.Customers.Customer(n.ctx, id); err == nil {
			return cu.Name
		}
		return ""
	})
}

// Product is the product's name.
func (n *labels) Product(id string) string {
	return remembered(n.products, id, n.canCat, func() string {
		if p, err := n.cn.cfg.Services.Catalog.Product(n.ctx, id); err == nil {
			return p.Name
		}
		return ""
	})
}

// License is "…ABCD" (its key hint), with its name when it has one.
func (n *labels) License(id string) string {
	return remembered(n.licenses, id, n.canLic, func() string {
		l, err := n.cn.cfg.Services.Licenses.License(n.ctx, id)
		if err != nil {
			return ""
		}
		if l.Name == "" {
			return "…" + l.KeyHint
		}
		return "…" + l.KeyHint + " " + l.Name
	})
}

// remembered is the label of id in seen, else look's, read once per page
// ("" when the reader may not read it: readable false).
func remembered(seen map[string]string, id string, readable bool, look func() string) string {
	if id == "" || !readable {
		return ""
	}
	s, ok := seen[id]
	if !ok {
		s = look()
		seen[id] = s
	}
	return s
}

// target is an audit event's target as a link and a name.
type target struct {
	Type, ID, Name, Href string
}

// Target names an event's target and links it when the console has a
// page for it.
func (n *labels) Target(typ, id string) target {
	t := target{Type: typ, ID: id}
	switch typ {
	case "license":
		t.Name, t.Href = n.License(id), Prefix+"/licenses/"+id
	case "customer":
		t.Name, t.Href = n.Customer(id), Prefix+"/customers/"+id
	case "product":
		t.Name, t.Href = n.Product(id), Prefix+"/products/"+id
	case "policy":
		if n.canCat {
			if p, err := n.cn.cfg.Services.Catalog.Policy(n.ctx, id); err == nil {
				t.Name = p.Name
			}
		}
		t.Href = Prefix + "/policies/" + id
	case "machine":
		if !n.canLic {
			break
		}
		if m, err := n.cn.cfg.Services.Licenses.Machine(n.ctx, id); err == nil {
			t.Name = machineName(m)
		}
		t.Href = Prefix + "/machines/" + id
	case "user":
		if u, err := n.cn.cfg.Users.User(n.ctx, id); n.canUsers && err == nil {
			t.Name = u.Email
		}
		t.Href = Prefix + "/users/" + id
	}
	if t.Name == "" {
		// Gone or not readable: the id, and no link to a 404.
		t.Href = ""
	}
	return t
}
