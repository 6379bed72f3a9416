package storage

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/nzilacode/narcidicontrole/licensing"
	"gorm.io/gorm"
)

// migrateLicenseRules (0022) adds the activation rules of issue 27: a
// policy's rules (matching, uniqueness, abuse limits, overage), a
// license's overrides, a machine's hardware components (JSON text, as the
// other lists), and seat_events, the activations and deactivations of a
// license that the rolling abuse caps count.
func migrateLicenseRules(tx *gorm.DB) error {
	type policy struct {
		Rules string `gorm:"type:text;not null;default:'{}'"`
	}
	type license struct {
		Overrides string `gorm:"type:text;not null;default:'{}'"`
	}
	type machine struct {
		Components string `gorm:"type:text;not null;default:'[]'"`
	}
	for _, c := range []struct {
		model       any
		field, name string
	}{{&policy{}, "Rules", "policies.rules"}, {&license{}, "Overrides", "licenses.overrides"}, {&machine{}, "Components", "machines.components"}} {
		if err := tx.Migrator().AddColumn(c.model, c.field); err != nil {
			return fmt.Errorf("add %s: %w", c.name, err)
		}
	}
	type seatEvent struct {
		ID        string    `gorm:"primaryKey;size:36"`
		LicenseID string    `gorm:"size:36;not null;index:idx_seat_events_license,priority:1"`
		Kind      string    `gorm:"size:16;not null;index:idx_seat_events_license,priority:2"`
		At        time.Time `gorm:"not null;index:idx_seat_events_license,priority:3"`
	}
	if err := tx.Migrator().CreateTable(&seatEvent{}); err != nil {
		return fmt.Errorf("create seat_events: %w", err)
	}
	return nil
}

type seatEventRow struct {
	ID        string `gorm:"primaryKey"`
	LicenseID string
	Kind      string
	At        time.Time
}

func (seatEventRow) TableName() string { return "seat_events" }

// RecordSeatEvent implements licensing.RulesStore.
func (s *Store) RecordSeatEvent(ctx context.Context, licenseID string, kind licensing.SeatEventKind, at time.Time) error {
	return translate(s.q(ctx).Create(&seatEventRow{ID: newID(), LicenseID: licenseID, Kind: string(kind), At: at.UTC()}).Error)
}

// CountSeatEvents implements licensing.RulesStore.
func (s *Store) CountSeatEvents(ctx context.Context, licenseID string, kind licensing.SeatEventKind, since time.Time) (int, error) {
	var n int64
	err := s.q(ctx).Model(&seatEventRow{}).Where("license_id = ? AND kind = ? AND at > ?", licenseID, string(kind), since.UTC()).Count(&n).Error
	return int(n), translate(err)
}

// MachinesWithComponents implements licensing.RulesStore.
func (s *Store) MachinesWithComponents(ctx context.Context, licenseID string) ([]licensing.Machine, error) {
	q := s.q(ctx).Where("license_id = ? AND status <> ? AND components NOT IN ('', '[]', 'null')", licenseID, string(licensing.MachineBlocked)).Order("created_at")
	return findRows(q, machineFromRow)
}

// MoveMachine implements licensing.RulesStore: the write is conditional on
// the fingerprint read, so two drifted activations cannot both move it.
func (s *Store) MoveMachine(ctx context.Context, id, from, to string, components []string, now time.Time) error {
	res := s.q(ctx).Model(&machineRow{}).Where("id = ? AND fingerprint = ? AND status <> ?", id, from, string(licensing.MachineBlocked)).
		UpdateColumns(map[string]any{"fingerprint": to, "components": componentsJSON(components), "updated_at": now})
	if err := affected(res, errorf(licensing.EConflict, "the machine changed meanwhile")); err != nil {
		return err
	}
	return nil
}

// SetMachineComponents implements licensing.RulesStore.
func (s *Store) SetMachineComponents(ctx context.Context, id string, components []string) error {
	res := s.q(ctx).Model(&machineRow{}).Where("id = ?", id).UpdateColumn("components", componentsJSON(components))
	return affected(res, errorf(licensing.ENotFound, "machine not found"))
}

// fingerprintLockSpace is the first key of the PostgreSQL advisory locks
// of LockFingerprint (the second is the fingerprint's hash), apart from
// migrationLockID's.
const fingerprintLockSpace = 7_301_442

// LockFingerprint implements licensing.RulesStore. On PostgreSQL it takes
// a transaction advisory lock keyed by the fingerprint's hash (two
// fingerprints sharing a hash only wait on each other); on SQLite the one
// writer (BEGIN IMMEDIATE) already serializes activations.
func (s *Store) LockFingerprint(ctx context.Context, fingerprint string) error {
	if !s.postgres {
		return nil
	}
	return translate(s.q(ctx).Exec("SELECT pg_advisory_xact_lock(CAST(? AS INTEGER), hashtext(?))", fingerprintLockSpace, fingerprint).Error)
}

// FingerprintElsewhere implements licensing.RulesStore.
func (s *Store) FingerprintElsewhere(ctx context.Context, lic *licensing.License, fingerprint string, scope licensing.UniquenessScope) (bool, error) {
	q := s.q(ctx).Model(&machineRow{}).Joins("JOIN licenses ON licenses.id = machines.license_id").
		Where("machines.fingerprint = ? AND machines.license_id <> ? AND machines.status <> ?", fingerprint, lic.ID, string(licensing.MachineBlocked))
	switch scope {
	case licensing.UniquePerPolicy:
		q = q.Where("licenses.policy_id = ?", lic.PolicyID)
	case licensing.UniquePerProduct:
		q = q.Where("licenses.product_id = ?", lic.ProductID)
	case licensing.UniquePerInstallation:
	default:
		return false, nil
	}
	var n int64
	if err := q.Limit(1).Count(&n).Error; err != nil {
		return false, translate(err)
	}
	return n > 0, nil
}

// componentsJSON is a machine's components as their JSON text column holds
// them ("[]" for none; a []string always marshals).
func componentsJSON(v []string) string {
	if len(v) == 0 {
		return "[]"
	}
	b, _ := json.Marshal(v)
	return string(b)
}
