package console

import (
	"html/template"
	"net/url"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/nzilacode/narcidicontrole/licensing"
)

// confirmation is a state-changing action that a second page confirms:
// the first POST shows what will happen, the second (confirm=yes) does it.
// Every area's actions (licenses, machines, releases, webhooks, tokens,
// users) go through confirm, so the pattern is written once.
type confirmation struct {
	Action string // the verb on the button: "block"
	Target string // what it acts on, as a person knows it: "the machine build-01"
	Detail string // more of what will happen: "by 30 days"
	Path   string // where the confirmed form posts (the same action)
	Cancel string // where Cancel goes
	// NeedReason refuses the action without a reason (it goes into the
	// audit log); Reason is the form's, trimmed.
	NeedReason bool
	Reason     string
	Fields     []field // other form values carried to the second POST
}

type field struct{ Name, Value string }

// confirm decides the first step of an action: it answers (done=true) with
// an error page when a needed reason is missing, or with the confirmation
// page when the form is not confirmed yet; done=false means run it now.
func (cn *Console) confirm(c *fiber.Ctx, cf confirmation) (done bool, err error) {
	if cf.NeedReason && cf.Reason == "" {
		return true, cn.fail(c, errNoReason)
	}
	if c.FormValue("confirm") == "yes" {
		return false, nil
	}
	return true, cn.render(c, fiber.StatusOK, "confirm", "console.page.confirm", cf, "action", word(printer(c), "console.verb.", cf.Action))
}

// errNoReason refuses an action without a reason (the services take
// none; the console asks for one).
var errNoReason = licensing.FieldErrorf("reason", "give a reason: it goes into the audit log")

// reason is the trimmed reason field of a form.
func reason(c *fiber.Ctx) string { return strings.TrimSpace(c.FormValue("reason")) }

// nextPage is the query of the page after items (keyset pagination on the
// last id, the filters kept), or "" when items did not fill a page. It is a
// template.URL so that html/template keeps its = and & (it would escape a
// string after the ?, and the link would lose its filters).
func nextPage[T any](items []T, id func(*T) string, filters url.Values) template.URL {
	if len(items) < PageSize {
		return ""
	}
	q := url.Values{}
	for k, v := range filters {
		if len(v) > 0 && v[0] != "" {
			q[k] = v
		}
	}
	q.Set("after", id(&items[len(items)-1]))
	return template.URL(q.Encode())
}
