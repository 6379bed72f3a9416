package console

import (
	"html/template"
	"net/url"
	"path"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/nzilacode/narcidicontrole/licensing"
)

// Machines: the same permissions as the API's routes. Blocking and
// unblocking act on the license's seats (licenses:write), deactivating on
// the machine (machines:write).
var machineRoutes = []Route{
	{"machines", "GET", "/machines", licensing.ReadMachines, (*Console).machines},
	{"machine", "GET", "/machines/:machine", licensing.ReadMachines, (*Console).machine},
	{"machineBlock", "POST", "/machines/:machine/block", licensing.WriteLicenses, (*Console).machineAction},
	{"machineUnblock", "POST", "/machines/:machine/unblock", licensing.WriteLicenses, (*Console).machineAction},
	{"machineDeactivate", "POST", "/machines/:machine/deactivate", licensing.WriteMachines, (*Console).machineAction},
}

var machineStatuses = []string{string(licensing.MachineActive), string(licensing.MachineOffline), string(licensing.MachineBlocked)}

type machinesData struct {
	Machines []licensing.Machine
	Statuses []string
	License  string
	Customer string
	Status   string
	Done     string
	Next     template.URL
	Names    *labels
	Query    template.URL // the filters, for the CSV export
}

func (cn *Console) machines(c *fiber.Ctx) error {
	d := machinesData{Statuses: machineStatuses, License: strings.TrimSpace(c.Query("license")),
		Customer: strings.TrimSpace(c.Query("customer")), Status: c.Query("status"), Done: c.Query("done")}
	f := licensing.MachineFilter{LicenseID: d.License, CustomerID: d.Customer, Status: licensing.MachineStatus(d.Status)}
	ms, err := cn.cfg.Services.Licenses.Machines(c.UserContext(), f, licensing.Page{After: c.Query("after"), Limit: PageSize})
	if err != nil {
		return cn.fail(c, err)
	}
	d.Machines, d.Names = ms, cn.labels(c)
	d.Query = template.URL(nonEmpty(url.Values{"license": {d.License}, "customer": {d.Customer}, "status": {d.Status}}).Encode())
	d.Next = nextPage(ms, func(m *licensing.Machine) string { return m.ID },
		url.Values{"license": {d.License}, "customer": {d.Customer}, "status": {d.Status}})
	return cn.render(c, fiber.StatusOK, "machines", "console.page.machines", d)
}

type machineData struct {
	Machine *licensing.Machine
	License *licensing.License
	Done    string
	Actions []string
}

func (cn *Console) machine(c *fiber.Ctx) error {
	ctx := c.UserContext()
	m, err := cn.cfg.Services.Licenses.Machine(ctx, c.Params("machine"))
	if err != nil {
		return cn.fail(c, err)
	}
	d := machineData{Machine: m, Done: c.Query("done")}
	a := current(c).Actor
	if a.Allows(licensing.ReadLicenses) {
		if d.License, err = cn.cfg.Services.Licenses.License(ctx, m.LicenseID); err != nil {
			return cn.fail(c, err)
		}
	}
	if a.Allows(licensing.WriteLicenses) {
		if m.Status == licensing.MachineBlocked {
			d.Actions = append(d.Actions, "unblock")
		} else {
			d.Actions = append(d.Actions, "block")
		}
	}
	if a.Allows(licensing.WriteMachines) && m.Status != licensing.MachineBlocked {
		d.Actions = append(d.Actions, "deactivate")
	}
	return cn.render(c, fiber.StatusOK, "machine", "console.page.machine", d, "name", machineName(m))
}

func machineName(m *licensing.Machine) string {
	for _, s := range []string{m.Name, m.Hostname} {
		if s != "" {
			return s
		}
	}
	return m.Fingerprint
}

// machineAction blocks, unblocks or deactivates a machine, with a reason
// and a confirmation. Unblocking and deactivating remove the machine's
// record, so they return to the license's machines.
func (cn *Console) machineAction(c *fiber.Ctx) error {
	ctx, id, action := c.UserContext(), c.Params("machine"), path.Base(c.Path())
	m, err := cn.cfg.Services.Licenses.Machine(ctx, id)
	if err != nil {
		return cn.fail(c, err)
	}
	cf := confirmation{Action: action, Target: printer(c).T("console.target.machine", "name", machineName(m)), Path: c.Path(), Cancel: Prefix + "/machines/" + id,
		NeedReason: true, Reason: reason(c)}
	switch action {
	case "block":
		cf.Detail = "(it loses its seat and cannot activate again until unblocked)"
	case "deactivate":
		cf.Detail = "(its seat is freed; it may activate again)"
	}
	if done, err := cn.confirm(c, cf); done {
		return err
	}
	switch action {
	case "block":
		if _, err = cn.cfg.Services.Licenses.BlockMachine(ctx, id, cf.Reason); err == nil {
			return cn.redirect(c, Prefix+"/machines/"+id+"?done=block")
		}
	case "unblock":
		err = cn.cfg.Services.Licenses.UnblockMachine(ctx, id, cf.Reason)
	case "deactivate":
		err = cn.cfg.Services.Licenses.DeactivateMachine(ctx, id, cf.Reason)
	}
	if err != nil {
		return cn.fail(c, err)
	}
	return cn.redirect(c, Prefix+"/machines?"+url.Values{"license": {m.LicenseID}, "done": {action}}.Encode())
}
