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
}

// audit is the audit log with the API's filters (action, target, actor,
// time range), oldest first, a page at a time. The actor filter takes the
// log's label (user:<id>, token:<id>) or a console user's email.
func (cn *Console) audit(c *fiber.Ctx) error {
	ctx := c.UserContext()
	d := auditData{Actions: licensing.Actions, Filters: url.Values{}}
	for _, k := range []string{"action", "target_type", "target_id", "actor", "since", "until"} {
		d.Filters.Set(k, strings.TrimSpace(c.Query(k)))
	}
	f := licensing.EventFilter{Action: d.Filters.Get("action"), TargetType: d.Filters.Get("target_type"),
		TargetID: d.Filters.Get("target_id"), Actor: d.Filters.Get("actor")}
	if strings.Contains(f.Actor, "@") {
		u, err := cn.cfg.Users.UserByEmail(ctx, f.Actor)
		if licensing.ErrorCode(err) == licensing.ENotFound {
			return cn.fail(c, licensing.Errorf(licensing.EInvalid, "no console user has the email %s", f.Actor))
		} else if err != nil {
			return cn.fail(c, err)
		}
		f.Actor = "user:" + u.ID
	}
	var err error
	if f.Since, err = formTime(d.Filters.Get("since"), false); err != nil {
		return cn.fail(c, err)
	}
	if f.Until, err = formTime(d.Filters.Get("until"), true); err != nil {
		return cn.fail(c, err)
	}
	if d.Events, err = cn.cfg.Services.Notifications.Events(ctx, f, licensing.Page{After: c.Query("after"), Limit: PageSize}); err != nil {
		return cn.fail(c, err)
	}
	d.Next = nextPage(d.Events, func(e *licensing.Event) string { return e.ID }, d.Filters)
	return cn.render(c, fiber.StatusOK, "audit", "Audit log", d)
}

// formTime reads a date (2026-05-01) or a date and time (2026-05-01T10:30,
// as datetime-local inputs send it), in UTC. A date as the end of a range
// includes that whole day (the filter's end is exclusive).
func formTime(s string, end bool) (*time.Time, error) {
	if s == "" {
		return nil, nil
	}
	if t, err := time.Parse("2006-01-02T15:04", s); err == nil {
		return &t, nil
	}
	t, err := time.Parse("2006-01-02", s)
	if err != nil {
		return nil, licensing.Errorf(licensing.EInvalid, "dates are like 2026-05-01 or 2026-05-01T10:30 (UTC)")
	}
	if end {
		t = t.AddDate(0, 0, 1)
	}
	return &t, nil
}
