package console

import (
	"html/template"
	"net/url"
	"slices"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/nzilacode/narcidicontrole/licensing"
)

// The delivery log of every webhook, newest first, with filters: what
// went out lately is on the first page.

var deliveryRoutes = []Route{
	{"deliveries", "GET", "/deliveries", licensing.ReadWebhooks, (*Console).deliveries},
}

var deliveryStatuses = []string{string(licensing.DeliveryPending), string(licensing.DeliveryDelivered), string(licensing.DeliveryFailed)}

type deliveriesData struct {
	Deliveries []licensing.Delivery
	Webhooks   map[string]string // id → URL, for the filter and the rows
	Hooks      []licensing.WebhookEndpoint
	Actions    []string
	Statuses   []string
	Filters    url.Values
	Next       template.URL
}

func (cn *Console) deliveries(c *fiber.Ctx) error {
	ctx := c.UserContext()
	d := deliveriesData{Actions: licensing.Actions, Statuses: deliveryStatuses, Filters: url.Values{}, Webhooks: map[string]string{}}
	for _, k := range []string{"webhook", "action", "status", "since", "until"} {
		d.Filters.Set(k, strings.TrimSpace(c.Query(k)))
	}
	if s := d.Filters.Get("status"); s != "" && !slices.Contains(deliveryStatuses, s) {
		return cn.fail(c, licensing.FieldErrorf("status", "status must be pending, delivered or failed"))
	}
	f := licensing.DeliveryFilter{EndpointID: d.Filters.Get("webhook"), Action: d.Filters.Get("action"),
		Status: licensing.DeliveryStatus(d.Filters.Get("status")), Newest: true}
	var err error
	if f.Since, err = formTime("since", d.Filters.Get("since"), false); err != nil {
		return cn.fail(c, err)
	}
	if f.Until, err = formTime("until", d.Filters.Get("until"), true); err != nil {
		return cn.fail(c, err)
	}
	if d.Deliveries, err = cn.cfg.Services.Notifications.Deliveries(ctx, f, licensing.Page{After: c.Query("after"), Limit: PageSize}); err != nil {
		return cn.fail(c, err)
	}
	if d.Hooks, err = cn.cfg.Services.Notifications.Webhooks(ctx, licensing.Page{Limit: licensing.MaxPageLimit}); err != nil {
		return cn.fail(c, err)
	}
	for _, w := range d.Hooks {
		d.Webhooks[w.ID] = w.URL
	}
	d.Next = nextPage(d.Deliveries, func(x *licensing.Delivery) string { return x.ID }, d.Filters)
	return cn.render(c, fiber.StatusOK, "deliveries", "console.page.deliveries", d)
}
