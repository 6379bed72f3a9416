package console

import (
	"bytes"
	"encoding/csv"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/nzilacode/narcidicontrole/licensing"
)

// CSV exports of the lists, with the list page's filters: the same
// service calls a page at a time until the end or exportLimit rows.

var exportRoutes = []Route{
	{"exportLicenses", "GET", "/export/licenses.csv", licensing.ReadLicenses, (*Console).exportLicenses},
	{"exportMachines", "GET", "/export/machines.csv", licensing.ReadMachines, (*Console).exportMachines},
	{"exportCustomers", "GET", "/export/customers.csv", licensing.ReadCustomers, (*Console).exportCustomers},
	{"exportAudit", "GET", "/export/audit.csv", licensing.ReadEvents, (*Console).exportAudit},
}

// exportLimit bounds an export (the file is built in memory): past it the
// last line says the file is cut.
const exportLimit = 100_000

// csvFile collects an export's rows.
type csvFile struct {
	buf  bytes.Buffer
	w    *csv.Writer
	rows int
}

func newCSV(header ...string) *csvFile {
	f := &csvFile{}
	f.w = csv.NewWriter(&f.buf)
	f.w.Write(header) //nolint:errcheck // a bytes.Buffer does not fail; Flush reports
	return f
}

// row writes one line; cells a spreadsheet would run as a formula (=, +,
// -, @ first) are quoted with a leading apostrophe.
func (f *csvFile) row(cells ...string) {
	for i, s := range cells {
		if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
			cells[i] = "'" + s
		}
	}
	f.w.Write(cells) //nolint:errcheck // see newCSV
	f.rows++
}

func (f *csvFile) full() bool { return f.rows >= exportLimit }

func (cn *Console) sendCSV(c *fiber.Ctx, name string, f *csvFile) error {
	if f.full() {
		f.w.Write([]string{"(cut at " + strconv.Itoa(exportLimit) + " rows: narrow the filters)"}) //nolint:errcheck // see newCSV
	}
	f.w.Flush()
	if err := f.w.Error(); err != nil {
		return cn.fail(c, err)
	}
	c.Set(fiber.HeaderContentType, "text/csv; charset=utf-8")
	c.Set(fiber.HeaderContentDisposition, `attachment; filename="`+name+"-"+time.Now().UTC().Format("20060102")+`.csv"`)
	return c.Send(f.buf.Bytes())
}

// each pages through list until it returns less than a page or f is full.
func each[T any](f *csvFile, list func(after string) ([]T, error), id func(*T) string, write func(*T)) error {
	after := ""
	for !f.full() {
		items, err := list(after)
		if err != nil {
			return err
		}
		for i := range items {
			if f.full() {
				break
			}
			write(&items[i])
		}
		if len(items) < licensing.MaxPageLimit {
			return nil
		}
		after = id(&items[len(items)-1])
	}
	return nil
}

func stamp(t *time.Time) string {
	if t == nil {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

func (cn *Console) exportLicenses(c *fiber.Ctx) error {
	ctx := c.UserContext()
	f, err := cn.licenseFilter(c)
	if err != nil {
		return cn.fail(c, err)
	}
	names := cn.labels(c)
	out := newCSV("id", "key_hint", "name", "product", "customer", "customer_id", "status", "expires_at", "created_at")
	err = each(out, func(after string) ([]licensing.License, error) {
		return cn.cfg.Services.Licenses.Licenses(ctx, f, licensing.Page{After: after, Limit: licensing.MaxPageLimit})
	}, func(l *licensing.License) string { return l.ID }, func(l *licensing.License) {
		out.row(l.ID, l.KeyHint, l.Name, names.Product(l.ProductID), names.Customer(l.CustomerID), l.CustomerID, string(l.Status), stamp(l.ExpiresAt), stamp(&l.CreatedAt))
	})
	if err != nil {
		return cn.fail(c, err)
	}
	return cn.sendCSV(c, "licenses", out)
}

func (cn *Console) exportMachines(c *fiber.Ctx) error {
	ctx := c.UserContext()
	f := licensing.MachineFilter{LicenseID: strings.TrimSpace(c.Query("license")), CustomerID: strings.TrimSpace(c.Query("customer")),
		Status: licensing.MachineStatus(c.Query("status"))}
	names := cn.labels(c)
	out := newCSV("id", "name", "hostname", "fingerprint", "platform", "status", "last_heartbeat", "ip", "license", "license_id")
	err := each(out, func(after string) ([]licensing.Machine, error) {
		return cn.cfg.Services.Licenses.Machines(ctx, f, licensing.Page{After: after, Limit: licensing.MaxPageLimit})
	}, func(m *licensing.Machine) string { return m.ID }, func(m *licensing.Machine) {
		out.row(m.ID, m.Name, m.Hostname, m.Fingerprint, m.Platform, string(m.Status), stamp(m.LastHeartbeat), m.IP, names.License(m.LicenseID), m.LicenseID)
	})
	if err != nil {
		return cn.fail(c, err)
	}
	return cn.sendCSV(c, "machines", out)
}

func (cn *Console) exportCustomers(c *fiber.Ctx) error {
	ctx := c.UserContext()
	q := strings.TrimSpace(c.Query("q"))
	out := newCSV("id", "name", "email", "status", "contacts", "created_at")
	err := each(out, func(after string) ([]licensing.Customer, error) {
		page := licensing.Page{After: after, Limit: licensing.MaxPageLimit}
		if q == "" {
			return cn.cfg.Services.Customers.Customers(ctx, page)
		}
		return cn.cfg.Services.Customers.SearchCustomers(ctx, q, page)
	}, func(cu *licensing.Customer) string { return cu.ID }, func(cu *licensing.Customer) {
		var contacts []string
		for _, ct := range cu.Contacts {
			contacts = append(contacts, strings.TrimSpace(ct.Name+" <"+ct.Email+">"))
		}
		out.row(cu.ID, cu.Name, cu.Email, string(cu.Status), strings.Join(contacts, "; "), stamp(&cu.CreatedAt))
	})
	if err != nil {
		return cn.fail(c, err)
	}
	return cn.sendCSV(c, "customers", out)
}

func (cn *Console) exportAudit(c *fiber.Ctx) error {
	ctx := c.UserContext()
	q := url.Values{}
	for _, k := range auditFilters {
		q.Set(k, strings.TrimSpace(c.Query(k)))
	}
	f, err := cn.eventFilter(c, q)
	if err != nil {
		return cn.fail(c, err)
	}
	names := cn.labels(c)
	out := newCSV("time", "action", "target_type", "target_id", "target", "actor", "actor_name", "reason", "request_id")
	err = each(out, func(after string) ([]licensing.Event, error) {
		return cn.cfg.Services.Notifications.Events(ctx, f, licensing.Page{After: after, Limit: licensing.MaxPageLimit})
	}, func(e *licensing.Event) string { return e.ID }, func(e *licensing.Event) {
		out.row(stamp(&e.Time), e.Action, e.TargetType, e.TargetID, names.Target(e.TargetType, e.TargetID).Name, e.Actor, e.ActorName, e.Reason, e.RequestID)
	})
	if err != nil {
		return cn.fail(c, err)
	}
	return cn.sendCSV(c, "audit", out)
}
