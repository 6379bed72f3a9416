package console

import (
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/nzilacode/narcidicontrole/licensing"
)

// The header's search box: one query looked up as a key (or its last 4
// characters), a customer's name or email, and a machine's fingerprint
// prefix, each a bounded store query, shown on one results page.

var searchRoutes = []Route{
	{"search", "GET", "/search", licensing.ReadLicenses, (*Console).search},
}

// searchShown is how many results of each kind the page shows.
const searchShown = 20

type searchData struct {
	Query     string
	Licenses  []licensing.License
	Customers []licensing.Customer
	Machines  []licensing.Machine
	Names     *labels
	// Searched lists the kinds looked in (those the user may read).
	Searched []string
}

// minFingerprint is the shortest fingerprint prefix searched: shorter ones
// match too much to be what someone pasted.
const minFingerprint = 6

func (cn *Console) search(c *fiber.Ctx) error {
	ctx, a := c.UserContext(), current(c).Actor
	d := searchData{Query: strings.TrimSpace(c.Query("q")), Names: cn.labels(c)}
	if d.Query == "" {
		return cn.render(c, fiber.StatusOK, "search", "console.page.search", d)
	}
	var err error
	page := licensing.Page{Limit: searchShown}
	if looksLikeKey(d.Query) {
		hint := keyHint(d.Query)
		d.Searched = append(d.Searched, printer(c).T("console.search.keys"))
		if d.Licenses, err = cn.cfg.Services.Licenses.Licenses(ctx, licensing.LicenseFilter{KeyHint: hint}, page); err != nil {
			return cn.fail(c, err)
		}
	}
	if a.Allows(licensing.ReadCustomers) {
		d.Searched = append(d.Searched, printer(c).T("console.search.customers"))
		if d.Customers, err = cn.cfg.Services.Customers.SearchCustomers(ctx, d.Query, page); err != nil {
			return cn.fail(c, err)
		}
	}
	if a.Allows(licensing.ReadMachines) && len(d.Query) >= minFingerprint && !strings.ContainsAny(d.Query, " @") {
		d.Searched = append(d.Searched, printer(c).T("console.search.fingerprints"))
		if d.Machines, err = cn.cfg.Services.Licenses.Machines(ctx, licensing.MachineFilter{FingerprintPrefix: d.Query}, page); err != nil {
			return cn.fail(c, err)
		}
	}
	// One license found by its key: go there.
	if len(d.Licenses) == 1 && len(d.Customers) == 0 && len(d.Machines) == 0 {
		return cn.redirect(c, Prefix+"/licenses/"+d.Licenses[0].ID)
	}
	return cn.render(c, fiber.StatusOK, "search", "console.page.search_for", d, "query", d.Query)
}

// looksLikeKey: 4 characters (a key's hint, as read out) or a whole key
// (at least MinKeyLength, no space or @): a name is not searched as a key.
func looksLikeKey(q string) bool {
	return len(q) == 4 || (len(q) >= licensing.MinKeyLength && !strings.ContainsAny(q, " @"))
}
