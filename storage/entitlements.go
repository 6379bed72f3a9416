package storage

import (
	"context"
	"encoding/json"
	"slices"
	"time"

	"github.com/nzilacode/narcidicontrole/licensing"
	"gorm.io/gorm/clause"
)

// RetireEntitlement stamps an entitlement retired (only retired_at, and
// only once).
func (s *Store) RetireEntitlement(ctx context.Context, id string, at time.Time) error {
	res := s.q(ctx).Model(&entitlementRow{}).Where("id = ? AND retired_at IS NULL", id).UpdateColumn("retired_at", at)
	return affected(res, errorf(licensing.ENotFound, "entitlement not found or already retired"))
}

// StripEntitlement removes code from the entitlements of every policy and
// license that grants it. The LIKE narrows the rows read (codes are
// [a-z0-9._-], so a quoted code matches only itself or, through LIKE's
// "_", a near twin that the exact check below leaves alone); each row is
// locked and only its entitlements and updated_at are written.
func (s *Store) StripEntitlement(ctx context.Context, code string, now time.Time) (policies, licenses []string, err error) {
	like := `%"` + code + `"%`
	strip := func(table string) ([]string, error) {
		var rows []struct {
			ID           string
			Entitlements []string `gorm:"serializer:json"`
		}
		if err := s.q(ctx).Table(table).Select("id", "entitlements").Where("entitlements LIKE ?", like).
			Clauses(clause.Locking{Strength: "UPDATE"}).Order("id").Find(&rows).Error; err != nil {
			return nil, translate(err)
		}
		var changed []string
		for _, r := range rows {
			if !slices.Contains(r.Entitlements, code) {
				continue
			}
			kept := slices.DeleteFunc(slices.Clone(r.Entitlements), func(c string) bool { return c == code })
			b, err := jsonText(kept)
			if err != nil {
				return nil, err
			}
			if err := s.q(ctx).Table(table).Where("id = ?", r.ID).
				UpdateColumns(map[string]any{"entitlements": b, "updated_at": now}).Error; err != nil {
				return nil, translate(err)
			}
			changed = append(changed, r.ID)
		}
		return changed, nil
	}
	if policies, err = strip("policies"); err != nil {
		return nil, nil, err
	}
	if licenses, err = strip("licenses"); err != nil {
		return nil, nil, err
	}
	return policies, licenses, nil
}

// jsonText is a []string as its JSON text column holds it.
func jsonText(v []string) (string, error) {
	if v == nil {
		v = []string{}
	}
	b, err := json.Marshal(v)
	return string(b), err
}
