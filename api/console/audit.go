package console

import (
	"html/template"
	"net/url"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/nzilacode/narcidicontrole/licensing"
)

var auditRoutes = []Route{
	{"audit", "GET", "/audit", licensing.ReadEvents, (*Console).audit},
}

type auditData struct {
	Events  []licensing.Event
	Actions []string
	Filters url.Values
	Next    template.URL
	Names   *labels
	Query   template.URL // the filters, for the CSV export
}

// audit is the audit log with the API's filters (action, target, actor,
// time range), newest first, a page at a time. The actor filter takes the
// log's label (user:<id>, token:<id>) or a console user's email.
func (cn *Console) audit(c *fiber.Ctx) error {
	ctx := c.UserContext()
	d := auditData{Actions: licensing.Actions, Filters: url.Values{}, Names: cn.labels(c)}
	for _, k := range auditFilters {
		d.Filters.Set(k, strings.TrimSpace(c.Query(k)))
	}
	d.Query = template.URL(nonEmpty(d.Filters).Encode())
	f, err := cn.eventFilter(c, d.Filters)
	if err != nil {
		return cn.fail(c, err)
	}
	if d.Events, err = cn.cfg.Services.Notifications.Events(ctx, f, licensing.Page{After: c.Query("after"), Limit: PageSize}); err != nil {
		return cn.fail(c, err)
	}
	d.Next = nextPage(d.Events, func(e *licensing.Event) string { return e.ID }, d.Filters)
	return cn.render(c, fiber.StatusOK, "audit", "console.page.audit", d)
}

// auditFilters are the audit page's filters (and its export's).
var auditFilters = []string{"action", "target_type", "target_id", "actor", "since", "until"}

// nonEmpty is v without its empty values.
func nonEmpty(v url.Values) url.Values {
	out := url.Values{}
	for k, vs := range v {
		if len(vs) > 0 && vs[0] != "" {
			out[k] = vs
		}
	}
	return out
}

// eventFilter reads the audit filters, newest first.
func (cn *Console) eventFilter(c *fiber.Ctx, q url.Values) (licensing.EventFilter, error) {
	ctx := c.UserContext()
	f := licensing.EventFilter{Action: q.Get("action"), TargetType: q.Get("target_type"),
		TargetID: q.Get("target_id"), Actor: q.Get("actor"), Newest: true}
	if strings.Contains(f.Actor, "@") {
		u, err := cn.cfg.Users.UserByEmail(ctx, f.Actor)
		if licensing.ErrorCode(err) == licensing.ENotFound {
			return f, licensing.FieldErrorf("actor", "no console user has the email %s", f.Actor)
		} else if err != nil {
			return f, err
		}
		f.Actor = "user:" + u.ID
	}
	var err error
	if f.Since, err = formTime("since", q.Get("since"), false); err != nil {
		return f, err
	}
	f.Until, err = formTime("until", q.Get("until"), true)
	return f, err
}

// formTime reads a date (2026-05-01) or a date and time (2026-05-01T10:30,
// as datetime-local inputs send it), in UTC. A date as the end of a range
// includes that whole day (the filter's end is exclusive). field is the
// form's name of s, which a refusal names.
func formTime(field, s string, end bool) (*time.Time, error) {
	if s == "" {
		return nil, nil
	}
	if t, err := time.Parse("2006-01-02T15:04", s); err == nil {
		return &t, nil
	}
	t, err := time.Parse("2006-01-02", s)
	if err != nil {
		return nil, licensing.Errorf(licensing.EInvalid, "dates are like 2026-05-01 or 2026-05-01T10:30 (UTC)").WithField(field)
	}
	if end {
		t = t.AddDate(0, 0, 1)
	}
	return &t, nil
}
