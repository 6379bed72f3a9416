package wiring

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/nzilacode/narcidicontrole/api"
	"github.com/nzilacode/narcidicontrole/api/billing"
	"github.com/nzilacode/narcidicontrole/licensing"
	"github.com/nzilacode/narcidicontrole/licensing/i18n"
	"github.com/nzilacode/narcidicontrole/licensing/subscription"
	"github.com/nzilacode/narcidicontrole/storage"
	"github.com/prometheus/client_golang/prometheus"
)

// BillingConfig is the subscription side of the configuration.
type BillingConfig struct {
	StripeSecret  string // NARCIDI_STRIPE_WEBHOOK_SECRET (secret)
	StripePrices  string // NARCIDI_STRIPE_PRICES: price_id=policy_id,... (checked at load)
	GenericSecret string // NARCIDI_BILLING_SECRET (secret)
	DunningDays   int    // NARCIDI_DUNNING_DAYS
	StripeMode    string // NARCIDI_STRIPE_MODE: live, test or empty
}

func billingSettings(b *BillingConfig) []setting {
	return []setting{
		{env: "NARCIDI_STRIPE_WEBHOOK_SECRET", kind: "string", help: "signing secret (whsec_...) of the Stripe webhook endpoint POST /v1/billing/stripe/webhook; empty: the endpoint answers 404", value: text(&b.StripeSecret), secret: true},
		{env: "NARCIDI_STRIPE_PRICES", kind: "mapping", help: "comma-separated price_id=policy_id: the policy each Stripe price sells", value: checked(&b.StripePrices, func(s string) error { _, err := ParsePrices(s); return err })},
		{env: "NARCIDI_BILLING_SECRET", kind: "string", help: "HMAC secret of the generic billing endpoint POST /v1/billing/events; empty: 404", value: text(&b.GenericSecret), secret: true},
		{env: "NARCIDI_STRIPE_MODE", kind: "string", help: "live or test: Stripe events of the other mode are refused (422); empty: both are taken", value: checked(&b.StripeMode, func(s string) error {
			if s != "" && s != "live" && s != "test" {
				return i18n.Say("cli.config.stripe_mode")
			}
			return nil
		})},
		{env: "NARCIDI_DUNNING_DAYS", def: "7", kind: "int", help: "days a past-due subscription keeps its licenses before they are suspended (a policy's dunning_days metadata overrides)", value: intIn(&b.DunningDays, 0, 365)},
	}
}

// ParsePrices reads NARCIDI_STRIPE_PRICES.
func ParsePrices(s string) (map[string]string, error) {
	out := map[string]string{}
	for _, pair := range strings.Split(s, ",") {
		pair = strings.TrimSpace(pair)
		if pair == "" {
			continue
		}
		price, policy, ok := strings.Cut(pair, "=")
		price, policy = strings.TrimSpace(price), strings.TrimSpace(policy)
		if !ok || price == "" || policy == "" {
			return nil, fmt.Errorf("%q is not price_id=policy_id", pair)
		}
		if _, dup := out[price]; dup {
			return nil, fmt.Errorf("price %q is mapped twice", price)
		}
		out[price] = policy
	}
	return out, nil
}

// openBilling builds the subscription service over st and the API's
// billing side.
func openBilling(st *storage.Store, svc *licensing.Services, b BillingConfig, clock licensing.Clock, reg prometheus.Registerer, log *slog.Logger) (*subscription.Service, api.Billing, error) {
	prices, err := ParsePrices(b.StripePrices)
	if err != nil {
		return nil, api.Billing{}, fmt.Errorf("NARCIDI_STRIPE_PRICES: %w", err)
	}
	dunning := time.Duration(b.DunningDays) * 24 * time.Hour
	if b.DunningDays == 0 {
		dunning = time.Nanosecond // suspend at the first sweep after a failure
	}
	subs, err := subscription.NewService(subscription.Config{Store: st.Subscriptions(), Licenses: svc.Licenses, Customers: svc.Customers,
		Clock: clock, DunningWindow: dunning, Prices: prices})
	if err != nil {
		return nil, api.Billing{}, err
	}
	metrics, err := billing.NewMetrics(reg)
	if err != nil {
		return nil, api.Billing{}, err
	}
	h := billing.New(billing.Config{Subscriptions: subs, StripeSecret: b.StripeSecret, GenericSecret: b.GenericSecret, StripeMode: b.StripeMode,
		Metrics: metrics, Logger: log})
	return subs, api.Billing{Subscriptions: subs, Endpoints: h}, nil
}

// workerSweep is the subscription sweep of `narcidi worker` (the workers'
// task TypeSubscriptionSweep). The worker reads none of the billing
// settings, and needs none: the sweep acts on the dates stored on each
// subscription (its dunning end was set from the policy or
// NARCIDI_DUNNING_DAYS by the server that recorded the failure).
func workerSweep(st *storage.Store, svc *licensing.Services, clock licensing.Clock) (func(context.Context) (int, error), error) {
	subs, err := subscription.NewService(subscription.Config{Store: st.Subscriptions(), Licenses: svc.Licenses, Customers: svc.Customers, Clock: clock})
	if err != nil {
		return nil, err
	}
	return subs.Sweep, nil
}
