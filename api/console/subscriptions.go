package console

import (
	"slices"
	"strconv"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/nzilacode/narcidicontrole/licensing"
	"github.com/nzilacode/narcidicontrole/licensing/subscription"
)

// The billing side of the console: a customer's subscriptions with their
// provider state, the invoices and events seen and what each did to the
// licenses; and the subscription settings of the policy form (trial,
// dunning, cancel, refund and dispute), kept in the policy's metadata.

var subscriptionRoutes = []Route{
	{"customerSubscriptions", "GET", "/customers/:id/subscriptions", licensing.ReadSubscriptions, (*Console).customerSubscriptions},
}

// WithSubscriptions gives the console the subscription service (nil: the
// subscriptions page says they are not configured).
func (cn *Console) WithSubscriptions(s *subscription.Service) *Console {
	cn.cfg.Subscriptions = s
	return cn
}

// eventsShown bounds the events listed per subscription.
const eventsShown = 50

type subscriptionRow struct {
	subscription.Subscription
	Policy string // its name, or its id when unreadable
	Events []subscription.EventNote
}

type subscriptionsData struct {
	Customer      *licensing.Customer
	Subscriptions []subscriptionRow
	Configured    bool
	More          bool
}

func (cn *Console) customerSubscriptions(c *fiber.Ctx) error {
	ctx := c.UserContext()
	cu, err := cn.cfg.Services.Customers.Customer(ctx, c.Params("id"))
	if err != nil {
		return cn.fail(c, err)
	}
	d := subscriptionsData{Customer: cu, Configured: cn.cfg.Subscriptions != nil}
	if d.Configured {
		subs, err := cn.cfg.Subscriptions.Subscriptions(ctx, subscription.Filter{CustomerID: cu.ID}, licensing.Page{Limit: PageSize})
		if err != nil {
			return cn.fail(c, err)
		}
		d.More = len(subs) == PageSize
		for _, s := range subs {
			row := subscriptionRow{Subscription: s, Policy: s.PolicyID}
			if p, err := cn.cfg.Services.Catalog.Policy(ctx, s.PolicyID); err == nil {
				row.Policy = p.Name
			}
			if row.Events, err = cn.cfg.Subscriptions.Events(ctx, s.ID, eventsShown); err != nil {
				return cn.fail(c, err)
			}
			d.Subscriptions = append(d.Subscriptions, row)
		}
	}
	return cn.render(c, fiber.StatusOK, "subscriptions", "console.page.subscriptions", d, "name", cu.Name)
}

// subscriptionsOf are the customer's subscriptions (only those billing
// licenseID when it is set), for the customer and license pages; nil
// when subscriptions are not configured or the user may not read them.
func (cn *Console) subscriptionsOf(c *fiber.Ctx, customerID, licenseID string) ([]subscription.Subscription, error) {
	if cn.cfg.Subscriptions == nil || !current(c).Actor.Allows(licensing.ReadSubscriptions) {
		return nil, nil
	}
	subs, err := cn.cfg.Subscriptions.Subscriptions(c.UserContext(), subscription.Filter{CustomerID: customerID}, licensing.Page{Limit: PageSize})
	if err != nil || licenseID == "" {
		return subs, err
	}
	return slices.DeleteFunc(subs, func(s subscription.Subscription) bool { return !slices.Contains(s.LicenseIDs, licenseID) }), nil
}

// The policy form's subscription settings and the metadata key of each.
var (
	billingFields = []string{"trial_days", "trial_start", "dunning_days", "cancel_action", "refund_action", "dispute_action", "offline_max_days"}
	billingKeys   = map[string]string{"trial_start": licensing.MetaTrialStart, "dunning_days": licensing.MetaDunningDays,
		"cancel_action": licensing.MetaCancelAction, "refund_action": licensing.MetaRefundAction, "dispute_action": licensing.MetaDisputeAction}
)

// billingValues adds the policy's subscription settings to its form.
func billingValues(f form, md map[string]string) form {
	f.Values["trial_days"] = ""
	if v, ok := md[licensing.MetaTrialSeconds]; ok {
		if n, err := strconv.ParseInt(v, 10, 64); err == nil {
			f.Values["trial_days"] = inUnit(n, day)
		}
	}
	for field, key := range billingKeys {
		f.Values[field] = md[key]
	}
	f.Values["offline_max_days"] = ""
	if n, err := strconv.ParseInt(md[licensing.OfflineTTLMetadata], 10, 64); err == nil {
		f.Values["offline_max_days"] = inUnit(n, day)
	}
	return f
}

// billingMetadata is md with the form's subscription settings (an empty
// field removes its key), checked by licensing's rule.
func billingMetadata(f *form, md map[string]string) (map[string]string, error) {
	out := map[string]string{}
	for k, v := range md {
		out[k] = v
	}
	delete(out, licensing.MetaTrialSeconds)
	if f.V("trial_days") != "" {
		secs, err := f.number("trial_days", "Trial (days)", day)
		if err != nil {
			return nil, err
		}
		if secs <= 0 {
			return nil, f.invalid("trial_days", "A trial lasts more than 0 days (empty: not a trial)")
		}
		out[licensing.MetaTrialSeconds] = strconv.FormatInt(secs, 10)
	}
	delete(out, licensing.OfflineTTLMetadata)
	if f.V("offline_max_days") != "" {
		secs, err := f.number("offline_max_days", "Offline leases last at most (days)", day)
		if err != nil {
			return nil, err
		}
		if maxDays := int64(licensing.MaxLeaseTTL / time.Second); secs < 1 || secs > maxDays {
			return nil, f.invalid("offline_max_days", "Offline leases last at most (days) must be more than 0 and at most %s days (empty: the longest lease)", inUnit(maxDays, day))
		}
		out[licensing.OfflineTTLMetadata] = strconv.FormatInt(secs, 10)
	}
	for field, key := range billingKeys {
		if v := f.V(field); v != "" {
			out[key] = v
		} else {
			delete(out, key)
		}
	}
	if err := licensing.CheckBillingMetadata(out); err != nil {
		return nil, f.invalid("trial_days", "%s", licensing.ErrorMessage(err))
	}
	return out, nil
}

// billingChanged reports whether a subscription setting of the form
// differs from old's.
func billingChanged(f, old form) bool {
	for _, field := range billingFields {
		if f.V(field) != old.V(field) {
			return true
		}
	}
	return false
}
