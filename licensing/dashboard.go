package licensing

import (
	"context"
	"time"
)

// The console's overview: the dashboard figures (Stats) and what an
// operator watches beside them — lease renewals per day from the telemetry
// roll-ups, and the health of the webhook deliveries.

// DashboardStore is the reads of the overview beyond Stats (part of
// AutomationStore). Errors as AutomationStore's.
type DashboardStore interface {
	// DailyUse sums the telemetry roll-ups of every license per UTC day
	// from from to to (YYYY-MM-DD, both included), oldest first; days
	// without telemetry are absent.
	DailyUse(ctx context.Context, from, to string) ([]DayUse, error)
	// DeliveryHealth counts deliveries pending and failed, and webhook
	// endpoints, disabled ones apart.
	DeliveryHealth(ctx context.Context) (*DeliveryHealth, error)
}

// DayUse is the answered client calls of one UTC day over every license.
type DayUse struct {
	Day         string `json:"day"`
	Activations int    `json:"activations"`
	Renewals    int    `json:"renewals"`
}

// DeliveryHealth is the state of the outgoing webhooks and emails.
type DeliveryHealth struct {
	Pending int `json:"pending"`
	// Failed deliveries gave up after their attempts (redeliver them).
	Failed            int `json:"failed"`
	Endpoints         int `json:"endpoints"`
	EndpointsDisabled int `json:"endpoints_disabled"`
}

// Overview is what the console's overview page shows.
type Overview struct {
	Stats
	// RenewalsPerDay is the lease renewals the SDKs made, over the days
	// of Stats.ActivationsPerDay (telemetry: written behind, so a few
	// seconds late).
	RenewalsPerDay []DayCount     `json:"renewals_per_day"`
	Deliveries     DeliveryHealth `json:"deliveries"`
}

// Overview computes the dashboard figures with the renewals per day and
// the delivery health.
func (s *Automation) Overview(ctx context.Context) (*Overview, error) {
	st, err := s.store.Stats(ctx, s.clock())
	if err != nil {
		return nil, err
	}
	o := &Overview{Stats: *st}
	days := st.ActivationsPerDay
	if len(days) > 0 {
		use, err := s.store.DailyUse(ctx, days[0].Day, days[len(days)-1].Day)
		if err != nil {
			return nil, err
		}
		byDay := make(map[string]int, len(use))
		for _, u := range use {
			byDay[u.Day] = u.Renewals
		}
		for _, d := range days {
			o.RenewalsPerDay = append(o.RenewalsPerDay, DayCount{Day: d.Day, Count: byDay[d.Day]})
		}
	}
	h, err := s.store.DeliveryHealth(ctx)
	if err != nil {
		return nil, err
	}
	o.Deliveries = *h
	return o, nil
}

// ExpiringFilter is the filter of the licenses behind Stats' "expiring in
// days" counts: active, expiring in [now, now+days), with this service's
// clock, so the count and the list agree.
func (s *Automation) ExpiringFilter(days int) LicenseFilter {
	now := s.clock().UTC()
	before := now.Add(time.Duration(days) * 24 * time.Hour)
	return LicenseFilter{Status: LicenseActive, ExpiresAfter: &now, ExpiresBefore: &before}
}
