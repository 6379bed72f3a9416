package storage

import (
	"context"
	"encoding/json"
	"time"

	"github.com/nzilacode/narcidicontrole/licensing"
	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// Rows of the automation tables (migration 0004_automation).

type outboxRow struct {
	EventID      string `gorm:"primaryKey"`
	CreatedAt    time.Time
	RelayedAt    *time.Time
	DispatchedAt *time.Time
}

func (outboxRow) TableName() string { return "outboxes" }

type expiryNoticeRow struct {
	LicenseID string    `gorm:"primaryKey"`
	Days      int       `gorm:"primaryKey"`
	ExpiresAt time.Time `gorm:"primaryKey"`
	SentAt    time.Time
}

func (expiryNoticeRow) TableName() string { return "expiry_notices" }

type webhookRow struct {
	ID                  string `gorm:"primaryKey"`
	URL                 string `gorm:"column:url"`
	Description         string
	EventTypes          []string `gorm:"serializer:json"`
	Enabled             bool
	DisabledReason      string
	ConsecutiveFailures int
	SealedSecret        []byte
	CreatedAt           time.Time
	UpdatedAt           time.Time
}

func (webhookRow) TableName() string { return "webhook_endpoints" }

type deliveryRow struct {
	ID             string `gorm:"primaryKey"`
	EventID        string
	Action         string
	Channel        string
	EndpointID     string
	Status         string
	Attempts       int
	AttemptLimit   int
	Generation     int
	LastStatusCode int
	LastError      string
	EnqueuedAt     *time.Time
	DeliveredAt    *time.Time
	CreatedAt      time.Time
	UpdatedAt      time.Time
}

func (deliveryRow) TableName() string { return "deliveries" }

type attemptRow struct {
	ID           string `gorm:"primaryKey"`
	DeliveryID   string
	Number       int
	At           time.Time
	StatusCode   int
	Error        string
	DurationMS   int64 `gorm:"column:duration_ms"`
	RequestBody  string
	ResponseBody string
}

func (attemptRow) TableName() string { return "delivery_attempts" }

type rollupRow struct {
	Day        string `gorm:"primaryKey"`
	Stats      string
	ComputedAt time.Time
}

func (rollupRow) TableName() string { return "dashboard_rollups" }

func webhookFromRow(r *webhookRow) *licensing.WebhookEndpoint {
	return &licensing.WebhookEndpoint{ID: r.ID, URL: r.URL, Description: r.Description, EventTypes: nonNil(r.EventTypes), Enabled: r.Enabled,
		DisabledReason: r.DisabledReason, ConsecutiveFailures: r.ConsecutiveFailures, SealedSecret: r.SealedSecret,
		CreatedAt: utc(r.CreatedAt), UpdatedAt: utc(r.UpdatedAt)}
}

func webhookToRow(w *licensing.WebhookEndpoint) *webhookRow {
	return &webhookRow{ID: w.ID, URL: w.URL, Description: w.Description, EventTypes: nonNil(w.EventTypes), Enabled: w.Enabled,
		DisabledReason: w.DisabledReason, ConsecutiveFailures: w.ConsecutiveFailures, SealedSecret: w.SealedSecret,
		CreatedAt: w.CreatedAt, UpdatedAt: w.UpdatedAt}
}

func deliveryFromRow(r *deliveryRow) *licensing.Delivery {
	return &licensing.Delivery{ID: r.ID, EventID: r.EventID, Action: r.Action, Channel: licensing.DeliveryChannel(r.Channel), EndpointID: r.EndpointID,
		Status: licensing.DeliveryStatus(r.Status), Attempts: r.Attempts, AttemptLimit: r.AttemptLimit, Generation: r.Generation,
		LastStatusCode: r.LastStatusCode, LastError: r.LastError, EnqueuedAt: utcPtr(r.EnqueuedAt), DeliveredAt: utcPtr(r.DeliveredAt),
		CreatedAt: utc(r.CreatedAt), UpdatedAt: utc(r.UpdatedAt)}
}

func deliveryToRow(d *licensing.Delivery) *deliveryRow {
	return &deliveryRow{ID: d.ID, EventID: d.EventID, Action: d.Action, Channel: string(d.Channel), EndpointID: d.EndpointID,
		Status: string(d.Status), Attempts: d.Attempts, AttemptLimit: d.AttemptLimit, Generation: d.Generation,
		LastStatusCode: d.LastStatusCode, LastError: d.LastError, EnqueuedAt: d.EnqueuedAt, DeliveredAt: d.DeliveredAt,
		CreatedAt: d.CreatedAt, UpdatedAt: d.UpdatedAt}
}

func attemptFromRow(r *attemptRow) *licensing.DeliveryAttempt {
	return &licensing.DeliveryAttempt{ID: r.ID, DeliveryID: r.DeliveryID, Number: r.Number, At: utc(r.At), StatusCode: r.StatusCode, Error: r.Error, DurationMS: r.DurationMS,
		RequestBody: r.RequestBody, ResponseBody: r.ResponseBody}
}

// Scans.

// The scans order by the column of their partial index (not by id as
// listings do), so that PostgreSQL walks that index over what is due
// instead of the primary key over everything.

func (s *Store) DueExpiryNotices(ctx context.Context, policyID string, days int, now time.Time, limit int) ([]licensing.License, error) {
	q := s.q(ctx).Where("status = ? AND expires_at > ? AND expires_at <= ? AND policy_id = ?",
		string(licensing.LicenseActive), now.UTC(), now.Add(time.Duration(days)*24*time.Hour).UTC(), policyID).
		Where("NOT EXISTS (SELECT 1 FROM expiry_notices n WHERE n.license_id = licenses.id AND n.days = ? AND n.expires_at = licenses.expires_at)", days).
		Order("expires_at").Limit(limit)
	return findRows(q, licenseFromRow)
}

func (s *Store) LicensesPastGrace(ctx context.Context, policyID string, cutoff time.Time, limit int) ([]licensing.License, error) {
	q := s.q(ctx).Where("status = ? AND expires_at < ? AND policy_id = ?", string(licensing.LicenseActive), cutoff.UTC(), policyID).
		Where(s.notOverridden("licenses")).Order("expires_at").Limit(limit)
	return findRows(q, licenseFromRow)
}

// noOverrides is the text of licenses.overrides when a license overrides
// none of its policy's values (LicenseOverrides{} as its serializer writes
// it, and the column's default).
const noOverrides = "{}"

// notOverridden is the condition on table's overrides column that keeps
// the licenses overriding nothing (every license on a schema before 0022).
// Seats alone (seats_override) change no scan.
func (s *Store) notOverridden(table string) string {
	if s.preRules != nil && s.preRules.Load() {
		return "1 = 1"
	}
	return table + ".overrides = '" + noOverrides + "'"
}

func (s *Store) OverriddenLicenses(ctx context.Context, expiredBefore time.Time, afterID string, limit int) ([]licensing.License, error) {
	if s.preRules != nil && s.preRules.Load() {
		return nil, nil
	}
	q := s.q(ctx).Where("overrides <> ? AND id > ?", noOverrides, afterID)
	if !expiredBefore.IsZero() {
		q = q.Where("status = ? AND expires_at < ?", string(licensing.LicenseActive), expiredBefore.UTC())
	}
	return findRows(q.Order("id").Limit(limit), licenseFromRow)
}

func (s *Store) ClaimExpiryNotice(ctx context.Context, licenseID string, days int, expiresAt, now time.Time) error {
	return s.create(ctx, &expiryNoticeRow{LicenseID: licenseID, Days: days, ExpiresAt: expiresAt.UTC(), SentAt: now})
}

func (s *Store) SilentMachines(ctx context.Context, f licensing.SilentFilter, limit int) ([]licensing.Machine, error) {
	q := s.q(ctx).Where("status = ? AND last_heartbeat < ?", string(f.Status), f.SilentSince.UTC())
	if f.LicenseID != "" {
		q = q.Where("license_id = ?", f.LicenseID)
	} else {
		q = q.Where("license_id IN (SELECT id FROM licenses WHERE policy_id = ? AND "+s.notOverridden("licenses")+")", f.PolicyID)
	}
	return findRows(q.Order("last_heartbeat").Limit(limit), machineFromRow)
}

func (s *Store) MarkMachineOffline(ctx context.Context, id string, silentSince, now time.Time) error {
	res := s.q(ctx).Model(&machineRow{}).Where("id = ? AND status = ? AND last_heartbeat < ?", id, string(licensing.MachineActive), silentSince.UTC()).
		Updates(map[string]any{"status": string(licensing.MachineOffline), "status_reason": "missed its heartbeat", "updated_at": now})
	return affected(res, errorf(licensing.ENotFound, "machine not found or no longer silent"))
}

func (s *Store) ReleaseSilentMachine(ctx context.Context, id string, silentSince time.Time) error {
	res := s.q(ctx).Where("id = ? AND status = ? AND last_heartbeat < ?", id, string(licensing.MachineOffline), silentSince.UTC()).Delete(&machineRow{})
	return affected(res, errorf(licensing.ENotFound, "machine not found or no longer silent"))
}

func (s *Store) SaveRollup(ctx context.Context, day string, st *licensing.Stats) error {
	b, err := json.Marshal(st)
	if err != nil {
		return wrap(licensing.EInternal, err, "could not encode the roll-up")
	}
	row := rollupRow{Day: day, Stats: string(b), ComputedAt: st.ComputedAt}
	return translate(s.q(ctx).Clauses(clause.OnConflict{Columns: []clause.Column{{Name: "day"}}, DoUpdates: clause.AssignmentColumns([]string{"stats", "computed_at"})}).Create(&row).Error)
}

func (s *Store) ListRollups(ctx context.Context, sinceDay string) ([]licensing.Rollup, error) {
	var rows []rollupRow
	if err := s.q(ctx).Where("day >= ?", sinceDay).Order("day").Find(&rows).Error; err != nil {
		return nil, translate(err)
	}
	out := make([]licensing.Rollup, 0, len(rows))
	for _, r := range rows {
		var st licensing.Stats
		if err := json.Unmarshal([]byte(r.Stats), &st); err != nil {
			return nil, wrap(licensing.EInternal, err, "a stored roll-up is unreadable")
		}
		out = append(out, licensing.Rollup{Day: r.Day, Stats: st})
	}
	return out, nil
}

func (s *Store) Cleanup(ctx context.Context, outboxBefore, deliveriesBefore time.Time) (int64, error) {
	var n int64
	err := s.InTx(ctx, func(r *Store) error {
		tx := r.q(ctx)
		res := tx.Where("dispatched_at < ?", outboxBefore.UTC()).Delete(&outboxRow{})
		if res.Error != nil {
			return translate(res.Error)
		}
		n += res.RowsAffected
		done := tx.Model(&deliveryRow{}).Select("id").Where("status <> ? AND updated_at < ?", string(licensing.DeliveryPending), deliveriesBefore.UTC())
		if err := tx.Where("delivery_id IN (?)", done).Delete(&attemptRow{}).Error; err != nil {
			return translate(err)
		}
		res = tx.Where("status <> ? AND updated_at < ?", string(licensing.DeliveryPending), deliveriesBefore.UTC()).Delete(&deliveryRow{})
		n += res.RowsAffected
		return translate(res.Error)
	})
	return n, err
}

// The outbox.

// lockPending adds FOR UPDATE SKIP LOCKED on PostgreSQL, so relays in
// several processes split the pending rows instead of all taking the same.
// SQLite has one writer, which serializes relays anyway.
func (s *Store) lockPending(q *gorm.DB) *gorm.DB {
	if s.postgres {
		return q.Clauses(clause.Locking{Strength: "UPDATE", Options: "SKIP LOCKED"})
	}
	return q
}

func (s *Store) PendingEvents(ctx context.Context, staleBefore time.Time, limit int) ([]licensing.Event, error) {
	var ids []string
	q := s.q(ctx).Model(&outboxRow{}).Select("event_id").Where("dispatched_at IS NULL AND (relayed_at IS NULL OR relayed_at < ?)", staleBefore.UTC()).
		Order("created_at, event_id").Limit(limit)
	if err := s.lockPending(q).Find(&ids).Error; err != nil {
		return nil, translate(err)
	}
	if len(ids) == 0 {
		return nil, nil
	}
	return findRows(s.q(ctx).Where("id IN ?", ids).Order("time, id"), eventFromRow)
}

func (s *Store) MarkEventsRelayed(ctx context.Context, ids []string, now time.Time) error {
	if len(ids) == 0 {
		return nil
	}
	return translate(s.q(ctx).Model(&outboxRow{}).Where("event_id IN ?", ids).Update("relayed_at", now).Error)
}

func (s *Store) MarkEventDispatched(ctx context.Context, id string, now time.Time) error {
	return translate(s.q(ctx).Model(&outboxRow{}).Where("event_id = ? AND dispatched_at IS NULL", id).Update("dispatched_at", now).Error)
}

func (s *Store) GetEvent(ctx context.Context, id string) (*licensing.Event, error) {
	return getRow(s, ctx, id, "event", eventFromRow)
}

// Webhook endpoints.

func (s *Store) CreateWebhook(ctx context.Context, w *licensing.WebhookEndpoint) error {
	setID(&w.ID)
	return s.create(ctx, webhookToRow(w))
}

func (s *Store) GetWebhook(ctx context.Context, id string) (*licensing.WebhookEndpoint, error) {
	return getRow(s, ctx, id, "webhook", webhookFromRow)
}

func (s *Store) ListWebhooks(ctx context.Context, page licensing.Page) ([]licensing.WebhookEndpoint, error) {
	return listRows(s.q(ctx), page, webhookFromRow)
}

func (s *Store) UpdateWebhook(ctx context.Context, w *licensing.WebhookEndpoint) error {
	res := s.q(ctx).Model(&webhookRow{}).Where("id = ?", w.ID).Select("*").Omit("id", "created_at", "sealed_secret").UpdateColumns(webhookToRow(w)) // updated_at as given (see save)
	return affected(res, errorf(licensing.ENotFound, "webhook not found"))
}

func (s *Store) DeleteWebhook(ctx context.Context, id string) error {
	return s.InTx(ctx, func(r *Store) error {
		tx := r.q(ctx)
		ids := tx.Model(&deliveryRow{}).Select("id").Where("endpoint_id = ?", id)
		if err := tx.Where("delivery_id IN (?)", ids).Delete(&attemptRow{}).Error; err != nil {
			return translate(err)
		}
		if err := tx.Where("endpoint_id = ?", id).Delete(&deliveryRow{}).Error; err != nil {
			return translate(err)
		}
		return affected(tx.Delete(&webhookRow{}, "id = ?", id), errorf(licensing.ENotFound, "webhook not found"))
	})
}

func (s *Store) WebhookFailed(ctx context.Context, id string, limit int, now time.Time) (bool, error) {
	if err := s.q(ctx).Model(&webhookRow{}).Where("id = ?", id).Update("consecutive_failures", gorm.Expr("consecutive_failures + 1")).Error; err != nil {
		return false, translate(err)
	}
	res := s.q(ctx).Model(&webhookRow{}).Where("id = ? AND enabled AND consecutive_failures >= ?", id, limit).
		Updates(map[string]any{"enabled": false, "disabled_reason": "disabled after repeated delivery failures", "updated_at": now})
	return res.RowsAffected == 1, translate(res.Error)
}

func (s *Store) WebhookSucceeded(ctx context.Context, id string) error {
	return translate(s.q(ctx).Model(&webhookRow{}).Where("id = ? AND consecutive_failures <> 0", id).Update("consecutive_failures", 0).Error)
}

// Deliveries.

// CreateDelivery inserts with ON CONFLICT DO NOTHING rather than failing on
// the unique index, so that inside a PostgreSQL transaction an existing
// delivery does not abort the rest of the fan-out.
func (s *Store) CreateDelivery(ctx context.Context, d *licensing.Delivery) error {
	setID(&d.ID)
	res := s.q(ctx).Clauses(clause.OnConflict{DoNothing: true}).Create(deliveryToRow(d))
	return affected(res, errorf(licensing.EConflict, "the event already has a delivery to this destination"))
}

func (s *Store) GetDelivery(ctx context.Context, id string) (*licensing.Delivery, error) {
	return getRow(s, ctx, id, "delivery", deliveryFromRow)
}

func (s *Store) ListDeliveries(ctx context.Context, f licensing.DeliveryFilter, page licensing.Page) ([]licensing.Delivery, error) {
	return listLog(s.q(ctx), logQuery{
		equal:   []colValue{{"endpoint_id", f.EndpointID}, {"event_id", f.EventID}, {"status", string(f.Status)}, {"action", f.Action}},
		timeCol: "created_at", since: f.Since, until: f.Until, newest: f.Newest,
	}, page, deliveryFromRow)
}

func (s *Store) UpdateDelivery(ctx context.Context, d *licensing.Delivery) error {
	res := s.q(ctx).Model(&deliveryRow{}).Where("id = ?", d.ID).Select("*").Omit("id", "created_at").UpdateColumns(deliveryToRow(d)) // updated_at as given (see save)
	return affected(res, errorf(licensing.ENotFound, "delivery not found"))
}

func (s *Store) PendingDeliveries(ctx context.Context, staleBefore time.Time, limit int) ([]licensing.Delivery, error) {
	q := s.q(ctx).Where("status = ? AND (enqueued_at IS NULL OR enqueued_at < ?)", string(licensing.DeliveryPending), staleBefore.UTC()).
		Order("created_at, id").Limit(limit)
	return findRows(s.lockPending(q), deliveryFromRow)
}

func (s *Store) MarkDeliveriesEnqueued(ctx context.Context, ids []string, now time.Time) error {
	if len(ids) == 0 {
		return nil
	}
	return translate(s.q(ctx).Model(&deliveryRow{}).Where("id IN ?", ids).Update("enqueued_at", now).Error)
}

func (s *Store) AppendAttempt(ctx context.Context, a *licensing.DeliveryAttempt) error {
	setID(&a.ID)
	return s.create(ctx, &attemptRow{ID: a.ID, DeliveryID: a.DeliveryID, Number: a.Number, At: a.At, StatusCode: a.StatusCode, Error: a.Error, DurationMS: a.DurationMS,
		RequestBody: a.RequestBody, ResponseBody: a.ResponseBody})
}

func (s *Store) ListAttempts(ctx context.Context, deliveryID string) ([]licensing.DeliveryAttempt, error) {
	return findRows(s.q(ctx).Where("delivery_id = ?", deliveryID).Order("number, at"), attemptFromRow)
}
