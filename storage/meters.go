package storage

import (
	"context"
	"fmt"
	"time"

	"github.com/nzilacode/narcidicontrole/licensing"
	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// migrateMeters (0023) adds what entitlements after issue and usage
// metering need: entitlements.retired_at; meters, one per license and
// entitlement ("" for the license itself), whose uses are counted by one
// conditional update; and meter_uses, the ids of the increments counted,
// whose primary key makes a replayed id count once.
func migrateMeters(tx *gorm.DB) error {
	type entitlement struct {
		RetiredAt *time.Time
	}
	if err := tx.Migrator().AddColumn(&entitlement{}, "RetiredAt"); err != nil {
		return fmt.Errorf("add entitlements.retired_at: %w", err)
	}
	type meter struct {
		ID          string    `gorm:"primaryKey;size:36"`
		LicenseID   string    `gorm:"size:36;not null;uniqueIndex:meters_license_entitlement,priority:1"`
		Entitlement string    `gorm:"size:64;not null;default:'';uniqueIndex:meters_license_entitlement,priority:2"`
		Uses        int64     `gorm:"not null;default:0"`
		MaxUses     int64     `gorm:"not null;default:0"`
		Total       int64     `gorm:"not null;default:0"`
		PeriodStart time.Time `gorm:"not null"`
		CreatedAt   time.Time `gorm:"not null"`
		UpdatedAt   time.Time `gorm:"not null"`
	}
	type meterUse struct {
		MeterID   string    `gorm:"primaryKey;size:36"`
		UseID     string    `gorm:"primaryKey;size:128"`
		Uses      int64     `gorm:"not null"`
		CreatedAt time.Time `gorm:"not null;index"`
	}
	if err := tx.Migrator().CreateTable(&meter{}, &meterUse{}); err != nil {
		return fmt.Errorf("create meters: %w", err)
	}
	return nil
}

type meterRow struct {
	ID          string `gorm:"primaryKey"`
	LicenseID   string
	Entitlement string
	Uses        int64
	MaxUses     int64
	Total       int64
	PeriodStart time.Time
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

func (meterRow) TableName() string { return "meters" }

type meterUseRow struct {
	MeterID   string `gorm:"primaryKey"`
	UseID     string `gorm:"primaryKey"`
	Uses      int64
	CreatedAt time.Time
}

func (meterUseRow) TableName() string { return "meter_uses" }

func meterFromRow(r *meterRow) *licensing.Meter {
	return &licensing.Meter{ID: r.ID, LicenseID: r.LicenseID, Entitlement: r.Entitlement, Uses: r.Uses, MaxUses: r.MaxUses,
		Total: r.Total, PeriodStart: utc(r.PeriodStart), CreatedAt: utc(r.CreatedAt), UpdatedAt: utc(r.UpdatedAt)}
}

func (s *Store) CreateMeter(ctx context.Context, m *licensing.Meter) error {
	setID(&m.ID)
	err := s.create(ctx, &meterRow{ID: m.ID, LicenseID: m.LicenseID, Entitlement: m.Entitlement, Uses: m.Uses, MaxUses: m.MaxUses,
		Total: m.Total, PeriodStart: m.PeriodStart, CreatedAt: m.CreatedAt, UpdatedAt: m.UpdatedAt})
	if licensing.ErrorCode(err) == licensing.EConflict {
		return fieldErrorf("entitlement", licensing.EConflict, "the license has a meter of %q already", m.Entitlement)
	}
	return err
}

func (s *Store) GetMeter(ctx context.Context, id string) (*licensing.Meter, error) {
	return getRow[meterRow](s, ctx, id, "meter", meterFromRow)
}

func (s *Store) FindMeter(ctx context.Context, licenseID, entitlement string) (*licensing.Meter, error) {
	var r meterRow
	if err := s.q(ctx).Take(&r, "license_id = ? AND entitlement = ?", licenseID, entitlement).Error; err != nil {
		return nil, notFound(translate(err), "meter")
	}
	return meterFromRow(&r), nil
}

func (s *Store) ListMeters(ctx context.Context, licenseID string) ([]licensing.Meter, error) {
	if s.preMeters.Load() {
		return nil, nil // a schema before 0023 has no meters (the upgrade test)
	}
	return findRows(s.q(ctx).Where("license_id = ?", licenseID).Order("entitlement"), meterFromRow)
}

// SpendUseID inserts the id, or does nothing when it is there: the
// primary key decides between concurrent requests with one id (the loser
// waits for the winner's transaction, then sees its row).
func (s *Store) SpendUseID(ctx context.Context, meterID, useID string, uses int64, now time.Time) (bool, error) {
	res := s.q(ctx).Clauses(clause.OnConflict{DoNothing: true}).Create(&meterUseRow{MeterID: meterID, UseID: useID, Uses: uses, CreatedAt: now})
	if res.Error != nil {
		return false, translate(res.Error)
	}
	return res.RowsAffected == 1, nil
}

// AddUses is one UPDATE whose WHERE holds the bound: PostgreSQL checks it
// again on the row as the previous writer left it, so concurrent
// increments never pass max_uses.
func (s *Store) AddUses(ctx context.Context, meterID string, n int64, bounded bool, now time.Time) error {
	q := s.q(ctx).Model(&meterRow{}).Where("id = ?", meterID)
	if bounded {
		q = q.Where("max_uses = 0 OR uses + ? <= max_uses", n)
	}
	res := q.UpdateColumns(map[string]any{"uses": gorm.Expr("uses + ?", n), "total": gorm.Expr("total + ?", n), "updated_at": now})
	if res.Error != nil {
		return translate(res.Error)
	}
	if res.RowsAffected == 0 {
		if _, err := s.GetMeter(ctx, meterID); err != nil {
			return err
		}
		return errorf(licensing.EMeterExhausted, "the meter has fewer than %d uses left in this period", n)
	}
	return nil
}

func (s *Store) ResetMeter(ctx context.Context, id string, at time.Time, ifBefore bool) (bool, error) {
	q := s.q(ctx).Model(&meterRow{}).Where("id = ?", id)
	if ifBefore {
		q = q.Where("period_start < ?", at)
	}
	res := q.UpdateColumns(map[string]any{"uses": 0, "period_start": at, "updated_at": at})
	if res.Error != nil {
		return false, translate(res.Error)
	}
	if res.RowsAffected == 0 && !ifBefore {
		return false, errorf(licensing.ENotFound, "meter not found")
	}
	return res.RowsAffected == 1, nil
}

func (s *Store) SetMeterMax(ctx context.Context, id string, maxUses int64, now time.Time) error {
	res := s.q(ctx).Model(&meterRow{}).Where("id = ?", id).UpdateColumns(map[string]any{"max_uses": maxUses, "updated_at": now})
	return affected(res, errorf(licensing.ENotFound, "meter not found"))
}
