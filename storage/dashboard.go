package storage

import (
	"context"

	"github.com/nzilacode/narcidicontrole/licensing"
)

// The overview's reads (licensing.DashboardStore): aggregate queries, each
// served by an index (telemetry_days' primary key starts with the day;
// deliveries are kept short by the clean-up).

var _ licensing.DashboardStore = (*Store)(nil)

// DailyUse sums every roll-up row: each use is counted in one row (its
// machine's, or its license's when it named no machine; insights.Day).
func (s *Store) DailyUse(ctx context.Context, from, to string) ([]licensing.DayUse, error) {
	var rows []struct {
		Day                   string
		Activations, Renewals int64
	}
	err := s.q(ctx).Table("telemetry_days").Select("day, sum(activations) AS activations, sum(renewals) AS renewals").
		Where("day >= ? AND day <= ?", from, to).Group("day").Order("day").Scan(&rows).Error
	if err != nil {
		return nil, translate(err)
	}
	out := make([]licensing.DayUse, len(rows))
	for i, r := range rows {
		out[i] = licensing.DayUse{Day: r.Day, Activations: int(r.Activations), Renewals: int(r.Renewals)}
	}
	return out, nil
}

func (s *Store) DeliveryHealth(ctx context.Context) (*licensing.DeliveryHealth, error) {
	var groups []struct {
		K string
		N int
	}
	if err := s.q(ctx).Model(&deliveryRow{}).Select("status AS k, count(*) AS n").
		Where("status IN ?", []string{string(licensing.DeliveryPending), string(licensing.DeliveryFailed)}).
		Group("status").Scan(&groups).Error; err != nil {
		return nil, translate(err)
	}
	h := &licensing.DeliveryHealth{}
	for _, g := range groups {
		switch licensing.DeliveryStatus(g.K) {
		case licensing.DeliveryPending:
			h.Pending = g.N
		case licensing.DeliveryFailed:
			h.Failed = g.N
		}
	}
	groups = nil
	if err := s.q(ctx).Model(&webhookRow{}).Select("CASE WHEN enabled THEN 'enabled' ELSE 'disabled' END AS k, count(*) AS n").
		Group("k").Scan(&groups).Error; err != nil {
		return nil, translate(err)
	}
	for _, g := range groups {
		h.Endpoints += g.N
		if g.K == "disabled" {
			h.EndpointsDisabled = g.N
		}
	}
	return h, nil
}
