package storage

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"time"

	"github.com/google/uuid"
	"github.com/nzilacode/narcidicontrole/licensing"
	"github.com/nzilacode/narcidicontrole/licensing/subscription"
	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// Subscriptions implements subscription.Store on the same database as
// Store, and the trial claims of licensing.TrialStore on the leasing view.
type Subscriptions struct {
	s *Store
}

var (
	_ subscription.Store      = (*Subscriptions)(nil)
	_ licensing.TrialStore    = view[licensing.LeasingStore]{}
	_ licensing.LicensesStore = view[licensing.LicensesStore]{}
)

// Subscriptions returns the subscription repository of the store.
func (s *Store) Subscriptions() *Subscriptions { return &Subscriptions{s: s} }

type subscriptionRow struct {
	ID                     string `gorm:"primaryKey"`
	CustomerID             string
	PolicyID               string
	Interval               string
	IntervalDays           int
	Status                 string
	CurrentPeriodStart     *time.Time
	CurrentPeriodEnd       *time.Time
	PaidThrough            *time.Time
	CancelAtPeriodEnd      bool
	CanceledAt             *time.Time
	TrialEnd               *time.Time
	TrialNoticeAt          *time.Time
	PastDueSince           *time.Time
	DunningEndsAt          *time.Time
	DunningNoticeAt        *time.Time
	LicensesSuspended      bool
	Provider               string
	ProviderCustomerID     string
	ProviderSubscriptionID *string // NULL for manual ones, so the unique key ignores them
	ProviderUpdatedAt      *time.Time
	LastPaidAt             *time.Time
	LastPaymentFailedAt    *time.Time
	LicenseIDs             []string          `gorm:"serializer:json"`
	Metadata               map[string]string `gorm:"serializer:json"`
	Seats                  int
	CancelAt               *time.Time
	OverSeats              int
	Version                int64
	CreatedAt              time.Time
	UpdatedAt              time.Time
}

func (subscriptionRow) TableName() string { return "subscriptions" }

type billingEventRow struct {
	Provider       string `gorm:"primaryKey"`
	EventID        string `gorm:"primaryKey"`
	Kind           string
	ProcessedAt    time.Time
	SubscriptionID *string
	ObjectID       string
	PaymentRefs    []string `gorm:"serializer:json"`
	AmountPaid     int64
	Currency       string
	Effect         string
}

func (billingEventRow) TableName() string { return "billing_events" }

type billingCustomerRow struct {
	Provider           string `gorm:"primaryKey"`
	ProviderCustomerID string `gorm:"primaryKey"`
	CustomerID         string
	CreatedAt          time.Time
	ProviderUpdatedAt  *time.Time
}

func (billingCustomerRow) TableName() string { return "billing_customers" }

type trialClaimRow struct {
	ProductID   string `gorm:"primaryKey"`
	Fingerprint string `gorm:"primaryKey"`
	LicenseID   string
	CreatedAt   time.Time
}

func (trialClaimRow) TableName() string { return "trial_claims" }

// migrateSubscriptions creates the subscription tables (0007).
func migrateSubscriptions(tx *gorm.DB) error {
	type subscription struct {
		ID                     string     `gorm:"primaryKey;size:36"`
		CustomerID             string     `gorm:"size:36;not null;index"`
		PolicyID               string     `gorm:"size:36;not null;index"`
		Interval               string     `gorm:"size:16;not null"`
		IntervalDays           int        `gorm:"not null"`
		Status                 string     `gorm:"size:16;not null;index"`
		CurrentPeriodStart     *time.Time ``
		CurrentPeriodEnd       *time.Time ``
		PaidThrough            *time.Time ``
		CancelAtPeriodEnd      bool       `gorm:"not null"`
		CanceledAt             *time.Time ``
		TrialEnd               *time.Time ``
		TrialNoticeAt          *time.Time ``
		PastDueSince           *time.Time ``
		DunningEndsAt          *time.Time ``
		DunningNoticeAt        *time.Time ``
		LicensesSuspended      bool       `gorm:"not null"`
		Provider               string     `gorm:"size:32;not null"`
		ProviderCustomerID     string     `gorm:"size:255;not null"`
		ProviderSubscriptionID *string    `gorm:"size:255"`
		ProviderUpdatedAt      *time.Time ``
		LastPaidAt             *time.Time ``
		LastPaymentFailedAt    *time.Time ``
		LicenseIDs             string     `gorm:"type:text;not null;default:'[]'"`
		Metadata               string     `gorm:"type:text;not null;default:'{}'"`
		CreatedAt              time.Time  `gorm:"not null"`
		UpdatedAt              time.Time  `gorm:"not null"`
	}
	type billingEvent struct {
		Provider    string    `gorm:"primaryKey;size:32"`
		EventID     string    `gorm:"primaryKey;size:255"`
		Kind        string    `gorm:"size:64;not null"`
		ProcessedAt time.Time `gorm:"not null"`
	}
	type billingCustomer struct {
		Provider           string    `gorm:"primaryKey;size:32"`
		ProviderCustomerID string    `gorm:"primaryKey;size:255"`
		CustomerID         string    `gorm:"size:36;not null;index"`
		CreatedAt          time.Time `gorm:"not null"`
	}
	type trialClaim struct {
		ProductID   string    `gorm:"primaryKey;size:36"`
		Fingerprint string    `gorm:"primaryKey;size:256"`
		LicenseID   string    `gorm:"size:36;not null;index"`
		CreatedAt   time.Time `gorm:"not null"`
	}
	if err := tx.Migrator().CreateTable(&subscription{}, &billingEvent{}, &billingCustomer{}, &trialClaim{}); err != nil {
		return err
	}
	for _, ddl := range []string{
		// One Narcidi subscription per provider subscription.
		`CREATE UNIQUE INDEX idx_subscriptions_provider ON subscriptions (provider, provider_subscription_id)`,
		// The sweep reads only live subscriptions.
		`CREATE INDEX idx_subscriptions_live ON subscriptions (id) WHERE status IN ('trialing', 'active', 'past_due')`,
	} {
		if err := tx.Exec(ddl).Error; err != nil {
			return err
		}
	}
	return nil
}

func subToRow(s *subscription.Subscription) *subscriptionRow {
	r := &subscriptionRow{ID: s.ID, CustomerID: s.CustomerID, PolicyID: s.PolicyID, Interval: string(s.Interval), IntervalDays: s.IntervalDays,
		Status: string(s.Status), CurrentPeriodStart: s.CurrentPeriodStart, CurrentPeriodEnd: s.CurrentPeriodEnd, PaidThrough: s.PaidThrough,
		CancelAtPeriodEnd: s.CancelAtPeriodEnd, CanceledAt: s.CanceledAt, TrialEnd: s.TrialEnd, TrialNoticeAt: s.TrialNoticeAt,
		PastDueSince: s.PastDueSince, DunningEndsAt: s.DunningEndsAt, DunningNoticeAt: s.DunningNoticeAt, LicensesSuspended: s.LicensesSuspended,
		Provider: s.Provider, ProviderCustomerID: s.ProviderCustomerID, ProviderUpdatedAt: s.ProviderUpdatedAt,
		LastPaidAt: s.LastPaidAt, LastPaymentFailedAt: s.LastPaymentFailedAt, LicenseIDs: s.LicenseIDs, Metadata: emptyMapIfNil(s.Metadata),
		Seats: s.Seats, CancelAt: s.CancelAt, OverSeats: s.OverSeats, Version: s.Version, CreatedAt: s.CreatedAt, UpdatedAt: s.UpdatedAt}
	if s.ProviderSubscriptionID != "" {
		id := s.ProviderSubscriptionID
		r.ProviderSubscriptionID = &id
	}
	if r.LicenseIDs == nil {
		r.LicenseIDs = []string{}
	}
	return r
}

func subFromRow(r *subscriptionRow) *subscription.Subscription {
	s := &subscription.Subscription{ID: r.ID, CustomerID: r.CustomerID, PolicyID: r.PolicyID, Interval: subscription.Interval(r.Interval),
		IntervalDays: r.IntervalDays, Status: subscription.Status(r.Status), CurrentPeriodStart: utcPtr(r.CurrentPeriodStart),
		CurrentPeriodEnd: utcPtr(r.CurrentPeriodEnd), PaidThrough: utcPtr(r.PaidThrough), CancelAtPeriodEnd: r.CancelAtPeriodEnd,
		CanceledAt: utcPtr(r.CanceledAt), TrialEnd: utcPtr(r.TrialEnd), TrialNoticeAt: utcPtr(r.TrialNoticeAt), PastDueSince: utcPtr(r.PastDueSince),
		DunningEndsAt: utcPtr(r.DunningEndsAt), DunningNoticeAt: utcPtr(r.DunningNoticeAt), LicensesSuspended: r.LicensesSuspended,
		Provider: r.Provider, ProviderCustomerID: r.ProviderCustomerID, ProviderUpdatedAt: utcPtr(r.ProviderUpdatedAt),
		LastPaidAt: utcPtr(r.LastPaidAt), LastPaymentFailedAt: utcPtr(r.LastPaymentFailedAt), LicenseIDs: nonNil(r.LicenseIDs),
		Metadata: r.Metadata, Seats: r.Seats, CancelAt: utcPtr(r.CancelAt), OverSeats: r.OverSeats, Version: r.Version,
		CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC()}
	if r.ProviderSubscriptionID != nil {
		s.ProviderSubscriptionID = *r.ProviderSubscriptionID
	}
	return s
}

// InTx runs fn in one transaction.
func (r *Subscriptions) InTx(ctx context.Context, fn func(tx subscription.Store) error) error {
	return r.s.InTx(ctx, func(tx *Store) error { return fn(&Subscriptions{s: tx}) })
}

func (r *Subscriptions) AppendEvent(ctx context.Context, e *licensing.Event) error {
	return r.s.AppendEvent(ctx, e)
}

func (r *Subscriptions) LicensesStore() licensing.LicensesStore {
	return view[licensing.LicensesStore]{Store: r.s}
}

func (r *Subscriptions) MetersStore() licensing.MetersStore {
	return view[licensing.MetersStore]{Store: r.s}
}

func (r *Subscriptions) CustomersStore() licensing.CustomersStore {
	return view[licensing.CustomersStore]{Store: r.s}
}

func (r *Subscriptions) CreateSubscription(ctx context.Context, s *subscription.Subscription) error {
	setID(&s.ID)
	err := r.s.create(ctx, subToRow(s))
	if licensing.ErrorCode(err) == licensing.EConflict {
		return errorf(licensing.EConflict, "provider subscription %s is already linked", s.ProviderSubscriptionID)
	}
	return err
}

func (r *Subscriptions) GetSubscription(ctx context.Context, id string) (*subscription.Subscription, error) {
	return getRow[subscriptionRow](r.s, ctx, id, "subscription", subFromRow)
}

func (r *Subscriptions) LockSubscription(ctx context.Context, id string) (*subscription.Subscription, error) {
	if _, err := uuid.Parse(id); err != nil {
		return nil, errorf(licensing.ENotFound, "subscription not found")
	}
	var row subscriptionRow
	if err := r.s.q(ctx).Clauses(clause.Locking{Strength: "UPDATE"}).Take(&row, "id = ?", id).Error; err != nil {
		return nil, notFound(translate(err), "subscription")
	}
	return subFromRow(&row), nil
}

func (r *Subscriptions) FindByProvider(ctx context.Context, provider, providerID string, lock bool) (*subscription.Subscription, error) {
	q := r.s.q(ctx)
	if lock {
		q = q.Clauses(clause.Locking{Strength: "UPDATE"})
	}
	var row subscriptionRow
	if err := q.Take(&row, "provider = ? AND provider_subscription_id = ?", provider, providerID).Error; err != nil {
		return nil, notFound(translate(err), "subscription")
	}
	return subFromRow(&row), nil
}

func (r *Subscriptions) ListSubscriptions(ctx context.Context, f subscription.Filter, page licensing.Page) ([]subscription.Subscription, error) {
	q := whereEqual(r.s.q(ctx), colValue{"customer_id", f.CustomerID}, colValue{"status", string(f.Status)}, colValue{"provider", f.Provider})
	return listRows(q, page, subFromRow)
}

func (r *Subscriptions) UpdateSubscription(ctx context.Context, before, after *subscription.Subscription) error {
	old, cols := subColumns(subToRow(before)), subColumns(subToRow(after))
	set := map[string]any{}
	for k, v := range cols {
		if !reflect.DeepEqual(v, old[k]) {
			set[k] = v
		}
	}
	if len(set) == 0 {
		return nil
	}
	set["version"] = gorm.Expr("version + 1")
	res := r.s.q(ctx).Model(&subscriptionRow{}).Where("id = ? AND version = ?", before.ID, before.Version).Updates(set)
	if res.Error != nil {
		return translate(res.Error)
	}
	if res.RowsAffected != 1 {
		return errorf(licensing.EConflict, "subscription %s changed since it was read", before.ID)
	}
	after.Version = before.Version + 1
	return nil
}

// subColumns lists the mutable columns of a row by name, times in UTC and
// the JSON columns as stored, so that two rows compare column by column.
func subColumns(r *subscriptionRow) map[string]any {
	ids, _ := json.Marshal(r.LicenseIDs)
	meta, _ := json.Marshal(r.Metadata)
	return map[string]any{
		"customer_id": r.CustomerID, "policy_id": r.PolicyID, "interval": r.Interval, "interval_days": r.IntervalDays, "status": r.Status,
		"current_period_start": utcPtr(r.CurrentPeriodStart), "current_period_end": utcPtr(r.CurrentPeriodEnd), "paid_through": utcPtr(r.PaidThrough),
		"cancel_at_period_end": r.CancelAtPeriodEnd, "canceled_at": utcPtr(r.CanceledAt), "trial_end": utcPtr(r.TrialEnd),
		"trial_notice_at": utcPtr(r.TrialNoticeAt), "past_due_since": utcPtr(r.PastDueSince), "dunning_ends_at": utcPtr(r.DunningEndsAt),
		"dunning_notice_at": utcPtr(r.DunningNoticeAt), "licenses_suspended": r.LicensesSuspended, "provider": r.Provider,
		"provider_customer_id": r.ProviderCustomerID, "provider_subscription_id": r.ProviderSubscriptionID,
		"provider_updated_at": utcPtr(r.ProviderUpdatedAt), "last_paid_at": utcPtr(r.LastPaidAt), "last_payment_failed_at": utcPtr(r.LastPaymentFailedAt),
		"license_ids": string(ids), "metadata": string(meta), "seats": r.Seats, "cancel_at": utcPtr(r.CancelAt), "over_seats": r.OverSeats,
		"updated_at": r.UpdatedAt.UTC(),
	}
}

func (r *Subscriptions) DueSubscriptions(ctx context.Context, now, horizon time.Time, after string, limit int) ([]subscription.Subscription, error) {
	q := r.s.q(ctx).Where("status IN ('trialing', 'active', 'past_due')").
		Where("(status = 'past_due' AND dunning_ends_at IS NOT NULL AND NOT licenses_suspended AND (dunning_ends_at <= ? OR (dunning_notice_at IS NULL AND dunning_ends_at <= ?)))"+
			" OR (status IN ('trialing', 'active') AND cancel_at_period_end AND current_period_end <= ?)"+
			" OR (status = 'trialing' AND trial_end IS NOT NULL AND trial_notice_at IS NULL AND trial_end <= ?)"+
			" OR (status = 'trialing' AND provider = 'manual' AND trial_end IS NOT NULL AND trial_end <= ?)",
			now, now.Add(24*time.Hour), now, horizon, now)
	if after != "" {
		q = q.Where("id > ?", after)
	}
	return findRows(q.Order("id").Limit(limit), subFromRow)
}

func (r *Subscriptions) ClaimProviderEvent(ctx context.Context, provider, eventID, kind string, now time.Time) (bool, error) {
	res := r.s.q(ctx).Clauses(clause.OnConflict{DoNothing: true}).
		Create(&billingEventRow{Provider: provider, EventID: eventID, Kind: kind, ProcessedAt: now, PaymentRefs: []string{}})
	if res.Error != nil {
		return false, translate(res.Error)
	}
	return res.RowsAffected == 1, nil
}

func (r *Subscriptions) NoteProviderEvent(ctx context.Context, n subscription.EventNote) error {
	set := map[string]any{"object_id": n.ObjectID, "amount_paid": n.AmountPaid, "currency": n.Currency, "effect": n.Effect}
	if n.SubscriptionID != "" {
		set["subscription_id"] = n.SubscriptionID
	}
	refs, _ := json.Marshal(nonNil(n.PaymentRefs))
	set["payment_refs"] = string(refs)
	return affected(r.s.q(ctx).Model(&billingEventRow{}).Where("provider = ? AND event_id = ?", n.Provider, n.EventID).Updates(set),
		errorf(licensing.ENotFound, "billing event %s was not claimed", n.EventID))
}

func (r *Subscriptions) ProviderEvents(ctx context.Context, subscriptionID string, limit int) ([]subscription.EventNote, error) {
	var rows []billingEventRow
	if err := r.s.q(ctx).Where("subscription_id = ?", subscriptionID).Order("processed_at DESC, event_id DESC").Limit(limit).Find(&rows).Error; err != nil {
		return nil, translate(err)
	}
	out := make([]subscription.EventNote, 0, len(rows))
	for _, e := range rows {
		out = append(out, subscription.EventNote{Provider: e.Provider, EventID: e.EventID, Kind: e.Kind, SubscriptionID: subscriptionID,
			ObjectID: e.ObjectID, PaymentRefs: e.PaymentRefs, AmountPaid: e.AmountPaid, Currency: e.Currency, Effect: e.Effect, ProcessedAt: e.ProcessedAt.UTC()})
	}
	return out, nil
}

// SubscriptionOfPayment looks for the paid invoice whose object or
// payment references hold one of refs. The references are few per event
// and kept as JSON text, so the search is a LIKE on that text, narrowed to
// paid invoices with a subscription.
func (r *Subscriptions) SubscriptionOfPayment(ctx context.Context, provider string, refs []string) (string, error) {
	for _, ref := range refs {
		if ref == "" {
			continue
		}
		quoted, _ := json.Marshal(ref)
		var row billingEventRow
		err := r.s.q(ctx).Where("provider = ? AND kind = ? AND subscription_id IS NOT NULL AND (object_id = ? OR payment_refs LIKE ?)",
			provider, string(subscription.KindInvoicePaid), ref, "%"+string(quoted)+"%").Order("processed_at DESC").Take(&row).Error
		if err == nil && row.SubscriptionID != nil {
			return *row.SubscriptionID, nil
		}
		if err = translate(err); licensing.ErrorCode(err) != licensing.ENotFound {
			return "", err
		}
	}
	return "", errorf(licensing.ENotFound, "no subscription paid with this payment")
}

func (r *Subscriptions) TouchCustomerLink(ctx context.Context, provider, providerCustomerID string, at time.Time) (bool, error) {
	res := r.s.q(ctx).Model(&billingCustomerRow{}).
		Where("provider = ? AND provider_customer_id = ? AND (provider_updated_at IS NULL OR provider_updated_at < ?)", provider, providerCustomerID, at.UTC()).
		Update("provider_updated_at", at.UTC())
	if res.Error != nil {
		return false, translate(res.Error)
	}
	return res.RowsAffected == 1, nil
}

func (r *Subscriptions) ProviderCustomer(ctx context.Context, provider, providerCustomerID string) (string, error) {
	var row billingCustomerRow
	if err := r.s.q(ctx).Take(&row, "provider = ? AND provider_customer_id = ?", provider, providerCustomerID).Error; err != nil {
		return "", notFound(translate(err), "customer")
	}
	return row.CustomerID, nil
}

func (r *Subscriptions) LinkCustomer(ctx context.Context, provider, providerCustomerID, customerID string, now time.Time) error {
	return r.s.create(ctx, &billingCustomerRow{Provider: provider, ProviderCustomerID: providerCustomerID, CustomerID: customerID, CreatedAt: now})
}

// ClaimTrial implements licensing.TrialStore: the first license to claim a
// fingerprint's trial of a product keeps it (the insert is a no-op on the
// key, so a concurrent claim never aborts the transaction).
func (s *Store) ClaimTrial(ctx context.Context, productID, fingerprint, licenseID string, now time.Time) error {
	if err := s.q(ctx).Clauses(clause.OnConflict{DoNothing: true}).
		Create(&trialClaimRow{ProductID: productID, Fingerprint: fingerprint, LicenseID: licenseID, CreatedAt: now}).Error; err != nil {
		return translate(err)
	}
	var row trialClaimRow
	if err := s.q(ctx).Take(&row, "product_id = ? AND fingerprint = ?", productID, fingerprint).Error; err != nil {
		return translate(err)
	}
	if row.LicenseID != licenseID {
		return errorf(licensing.ETrialUsed, "this machine already had a trial of the product")
	}
	return nil
}

// migrateBillingState (0016) adds what following a provider's state needs:
// the billed seats, the provider's cancel date, the machines over the
// plan's seats, and a row version for conditional updates; what each
// billing event did (the console's list, and the payment a refund or
// dispute names); and the time of the last customer event applied.
func migrateBillingState(tx *gorm.DB) error {
	type subscription struct {
		Seats     int        `gorm:"not null;default:0"`
		CancelAt  *time.Time ``
		OverSeats int        `gorm:"not null;default:0"`
		Version   int64      `gorm:"not null;default:0"`
	}
	type billingEvent struct {
		SubscriptionID *string `gorm:"size:36"`
		ObjectID       string  `gorm:"size:255;not null;default:''"`
		PaymentRefs    string  `gorm:"type:text;not null;default:'[]'"`
		AmountPaid     int64   `gorm:"not null;default:0"`
		Currency       string  `gorm:"size:16;not null;default:''"`
		Effect         string  `gorm:"type:text;not null;default:''"`
	}
	type billingCustomer struct {
		ProviderUpdatedAt *time.Time
	}
	for _, c := range []struct {
		model any
		table string
		cols  []string
	}{
		{&subscription{}, "subscriptions", []string{"Seats", "CancelAt", "OverSeats", "Version"}},
		{&billingEvent{}, "billing_events", []string{"SubscriptionID", "ObjectID", "PaymentRefs", "AmountPaid", "Currency", "Effect"}},
		{&billingCustomer{}, "billing_customers", []string{"ProviderUpdatedAt"}},
	} {
		for _, col := range c.cols {
			if err := tx.Migrator().AddColumn(c.model, col); err != nil {
				return fmt.Errorf("add %s.%s: %w", c.table, col, err)
			}
		}
	}
	for _, ddl := range []string{
		// The console lists a subscription's events; refunds find theirs.
		`CREATE INDEX idx_billing_events_subscription ON billing_events (subscription_id, processed_at)`,
		// The sweep pages through live subscriptions by id.
		`CREATE INDEX idx_subscriptions_status_id ON subscriptions (status, id)`,
	} {
		if err := tx.Exec(ddl).Error; err != nil {
			return err
		}
	}
	return nil
}
