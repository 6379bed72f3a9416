package insights

import (
	"context"
	"time"

	"github.com/nzilacode/narcidicontrole/licensing"
)

// DefaultRetention is how long telemetry is kept when the configuration
// says nothing (NARCIDI_TELEMETRY_RETENTION).
const DefaultRetention = 180 * 24 * time.Hour

// Service reads and prunes the telemetry. Safe for concurrent use.
type Service struct {
	store     Store
	clock     licensing.Clock
	retention time.Duration
}

// NewService builds the service over store; retention <= 0 means
// DefaultRetention, clock nil means time.Now.
func NewService(store Store, clock licensing.Clock, retention time.Duration) *Service {
	if clock == nil {
		clock = time.Now
	}
	if retention <= 0 {
		retention = DefaultRetention
	}
	return &Service{store: store, clock: clock, retention: retention}
}

// Retention is how long telemetry is kept.
func (s *Service) Retention() time.Duration { return s.retention }

// Cleanup deletes the telemetry older than the retention (a step of the
// daily clean-up); it returns how many rows went. Deletes are conditional
// on age only, so several workers may run it at once.
func (s *Service) Cleanup(ctx context.Context) (int, error) {
	n, err := s.store.DeleteBefore(ctx, s.clock().Add(-s.retention))
	return int(n), err
}

// Usage lists a license's roll-ups (its own and its machines') of the
// last days days, today included.
func (s *Service) Usage(ctx context.Context, licenseID string, days int) ([]Day, error) {
	now := s.clock().UTC()
	from := now.AddDate(0, 0, -(days - 1))
	return s.store.Days(ctx, licenseID, from.Format(DayLayout), now.Format(DayLayout))
}

// Refusals lists a license's refusals of the last days days.
func (s *Service) Refusals(ctx context.Context, licenseID string, days int) ([]RefusalEvent, error) {
	now := s.clock()
	return s.store.Refusals(ctx, licenseID, now.AddDate(0, 0, -days), now.Add(time.Nanosecond))
}
