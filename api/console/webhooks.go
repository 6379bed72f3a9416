package console

import (
	"html/template"
	"net/url"
	"slices"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/nzilacode/narcidicontrole/licensing"
)

// Webhooks: endpoints, their delivery log and redelivery, with the API's
// permissions (webhooks:read / webhooks:write). "new" is before
// ":webhook" so it is not taken for an id.
var webhookRoutes = []Route{
	{"webhooks", "GET", "/webhooks", licensing.ReadWebhooks, (*Console).webhooks},
	{"webhookNew", "GET", "/webhooks/new", licensing.WriteWebhooks, (*Console).webhookNew},
	{"webhookCreate", "POST", "/webhooks", licensing.WriteWebhooks, (*Console).webhookCreate},
	{"webhook", "GET", "/webhooks/:webhook", licensing.ReadWebhooks, (*Console).webhook},
	{"webhookEdit", "GET", "/webhooks/:webhook/edit", licensing.WriteWebhooks, (*Console).webhookEdit},
	{"webhookUpdate", "POST", "/webhooks/:webhook", licensing.WriteWebhooks, (*Console).webhookUpdate},
	{"webhookDelete", "POST", "/webhooks/:webhook/delete", licensing.WriteWebhooks, (*Console).webhookDelete},
	{"webhookTest", "POST", "/webhooks/:webhook/test", licensing.WriteWebhooks, (*Console).webhookTest},
	{"delivery", "GET", "/deliveries/:delivery", licensing.ReadWebhooks, (*Console).delivery},
	{"deliveryRedeliver", "POST", "/deliveries/:delivery/redeliver", licensing.WriteWebhooks, (*Console).redeliver},
}

type webhooksData struct {
	Webhooks []licensing.WebhookEndpoint
	Done     string
	Next     template.URL
}

func (cn *Console) webhooks(c *fiber.Ctx) error {
	ws, err := cn.cfg.Services.Notifications.Webhooks(c.UserContext(), licensing.Page{After: c.Query("after"), Limit: PageSize})
	if err != nil {
		return cn.fail(c, err)
	}
	return cn.render(c, fiber.StatusOK, "webhooks", "console.page.webhooks", webhooksData{Webhooks: ws, Done: c.Query("done"),
		Next: nextPage(ws, func(w *licensing.WebhookEndpoint) string { return w.ID }, nil)})
}

// webhookForm is the create and edit form: the events of the registry
// (licensing.Actions) as checkboxes, "*" for all.
type webhookForm struct {
	formError
	Webhook *licensing.WebhookEndpoint // nil when creating
	URL     string
	Desc    string
	Events  []eventBox
	Enabled bool
}

type eventBox struct {
	Name    string
	Checked bool
}

func newWebhookForm(w *licensing.WebhookEndpoint, url, desc string, events []string, enabled bool) webhookForm {
	f := webhookForm{Webhook: w, URL: url, Desc: desc, Enabled: enabled}
	for _, a := range append([]string{"*"}, licensing.Actions...) {
		f.Events = append(f.Events, eventBox{a, slices.Contains(events, a)})
	}
	return f
}

func (cn *Console) webhookNew(c *fiber.Ctx) error {
	return cn.render(c, fiber.StatusOK, "webhook-form", "console.page.webhook_new", newWebhookForm(nil, "", "", nil, true))
}

// formEvents are the checked event boxes.
func formEvents(c *fiber.Ctx) []string {
	var out []string
	for _, v := range c.Request().PostArgs().PeekMulti("events") {
		out = append(out, string(v))
	}
	return out
}

// webhookCreate registers an endpoint and shows its signing secret, once:
// the page is the answer to the POST, never at a URL that can be reloaded.
func (cn *Console) webhookCreate(c *fiber.Ctx) error {
	in := licensing.WebhookInput{URL: strings.TrimSpace(c.FormValue("url")), Description: strings.TrimSpace(c.FormValue("description")), EventTypes: formEvents(c)}
	w, err := cn.cfg.Services.Notifications.CreateWebhook(c.UserContext(), in)
	if licensing.ErrorCode(err) == licensing.EInvalid {
		f := newWebhookForm(nil, in.URL, in.Description, in.EventTypes, true)
		f.formError = refusal(err)
		return cn.render(c, fiber.StatusUnprocessableEntity, "webhook-form", "console.page.webhook_new", f)
	} else if err != nil {
		return cn.fail(c, err)
	}
	return cn.render(c, fiber.StatusCreated, "webhook-secret", "console.page.webhook_created", w)
}

type webhookData struct {
	Webhook    *licensing.WebhookEndpoint
	Deliveries []licensing.Delivery
	Status     string
	Statuses   []string
	Done       string
	Next       template.URL
}

func (cn *Console) webhook(c *fiber.Ctx) error {
	ctx, id := c.UserContext(), c.Params("webhook")
	w, err := cn.cfg.Services.Notifications.Webhook(ctx, id)
	if err != nil {
		return cn.fail(c, err)
	}
	d := webhookData{Webhook: w, Status: c.Query("status"), Done: c.Query("done"),
		Statuses: []string{string(licensing.DeliveryPending), string(licensing.DeliveryDelivered), string(licensing.DeliveryFailed)}}
	if d.Status != "" && !slices.Contains(d.Statuses, d.Status) {
		return cn.fail(c, licensing.FieldErrorf("status", "status must be pending, delivered or failed"))
	}
	f := licensing.DeliveryFilter{EndpointID: id, Status: licensing.DeliveryStatus(d.Status), Newest: true}
	if d.Deliveries, err = cn.cfg.Services.Notifications.Deliveries(ctx, f, licensing.Page{After: c.Query("after"), Limit: PageSize}); err != nil {
		return cn.fail(c, err)
	}
	d.Next = nextPage(d.Deliveries, func(x *licensing.Delivery) string { return x.ID }, url.Values{"status": {d.Status}})
	return cn.render(c, fiber.StatusOK, "webhook", "console.page.webhook", d, "url", w.URL)
}

func (cn *Console) webhookEdit(c *fiber.Ctx) error {
	w, err := cn.cfg.Services.Notifications.Webhook(c.UserContext(), c.Params("webhook"))
	if err != nil {
		return cn.fail(c, err)
	}
	return cn.render(c, fiber.StatusOK, "webhook-form", "console.page.webhook_edit", newWebhookForm(w, w.URL, w.Description, w.EventTypes, w.Enabled))
}

// webhookUpdate saves the edit form: every field is sent, an unchecked
// "enabled" box disables the endpoint.
func (cn *Console) webhookUpdate(c *fiber.Ctx) error {
	ctx, id := c.UserContext(), c.Params("webhook")
	u, desc, events, enabled := strings.TrimSpace(c.FormValue("url")), strings.TrimSpace(c.FormValue("description")), formEvents(c), c.FormValue("enabled") == "on"
	w, err := cn.cfg.Services.Notifications.UpdateWebhook(ctx, id, licensing.WebhookPatch{URL: &u, Description: &desc, EventTypes: &events, Enabled: &enabled})
	if licensing.ErrorCode(err) == licensing.EInvalid {
		w, gerr := cn.cfg.Services.Notifications.Webhook(ctx, id)
		if gerr != nil {
			return cn.fail(c, gerr)
		}
		f := newWebhookForm(w, u, desc, events, enabled)
		f.formError = refusal(err)
		return cn.render(c, fiber.StatusUnprocessableEntity, "webhook-form", "console.page.webhook_edit", f)
	} else if err != nil {
		return cn.fail(c, err)
	}
	return cn.redirect(c, Prefix+"/webhooks/"+w.ID+"?done=saved")
}

func (cn *Console) webhookDelete(c *fiber.Ctx) error {
	ctx, id := c.UserContext(), c.Params("webhook")
	w, err := cn.cfg.Services.Notifications.Webhook(ctx, id)
	if err != nil {
		return cn.fail(c, err)
	}
	cf := confirmation{Action: "delete", Target: printer(c).T("console.target.webhook", "url", w.URL), Detail: printer(c).T("console.detail.webhook_delete"), Path: c.Path(), Cancel: Prefix + "/webhooks/" + id}
	if done, err := cn.confirm(c, cf); done {
		return err
	}
	if err := cn.cfg.Services.Notifications.DeleteWebhook(ctx, id); err != nil {
		return cn.fail(c, err)
	}
	return cn.redirect(c, Prefix+"/webhooks?done=deleted")
}

// webhookTest sends a webhook.test event to the endpoint through the real
// delivery path (outbox, queue, signature, attempt log): its delivery shows
// in the list below once the relay has handed it over.
func (cn *Console) webhookTest(c *fiber.Ctx) error {
	id := c.Params("webhook")
	if _, err := cn.cfg.Services.Notifications.SendTestEvent(c.UserContext(), id); err != nil {
		return cn.fail(c, err)
	}
	return cn.redirect(c, Prefix+"/webhooks/"+id+"?done=test")
}

type deliveryData struct {
	Delivery  *licensing.Delivery
	Done      string
	Redeliver bool
}

func (cn *Console) delivery(c *fiber.Ctx) error {
	d, err := cn.cfg.Services.Notifications.Delivery(c.UserContext(), c.Params("delivery"))
	if err != nil {
		return cn.fail(c, err)
	}
	return cn.render(c, fiber.StatusOK, "delivery", "console.page.delivery", deliveryData{Delivery: d, Done: c.Query("done"),
		Redeliver: d.Status != licensing.DeliveryPending && current(c).Actor.Allows(licensing.WriteWebhooks)}, "action", d.Action)
}

// redeliver puts a finished delivery back in line (the relay sends it:
// the attempt log grows as it is tried). The reason is optional, as in
// the API.
func (cn *Console) redeliver(c *fiber.Ctx) error {
	ctx, id := c.UserContext(), c.Params("delivery")
	d, err := cn.cfg.Services.Notifications.Delivery(ctx, id)
	if err != nil {
		return cn.fail(c, err)
	}
	cf := confirmation{Action: "redeliver", Target: printer(c).T("console.target.delivery", "action", d.Action), Detail: printer(c).N("console.detail.redeliver", licensing.RedeliveryAttempts), Path: c.Path(),
		Cancel: Prefix + "/deliveries/" + id, Reason: reason(c)}
	if done, err := cn.confirm(c, cf); done {
		return err
	}
	if _, err := cn.cfg.Services.Notifications.Redeliver(ctx, id, cf.Reason); err != nil {
		return cn.fail(c, err)
	}
	return cn.redirect(c, Prefix+"/deliveries/"+id+"?done=redeliver")
}
