package storage

import (
	"context"
	"errors"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// Meta holds facts about the database itself, one value per name, written
// once: for example the master-key check, which tells a start with another
// master key from the first start on an empty database.
const metaTable = "narcidi_meta"

type metaRow struct {
	Name      string    `gorm:"primaryKey;size:100"`
	Value     string    `gorm:"type:text;not null"`
	CreatedAt time.Time `gorm:"not null"`
}

func (metaRow) TableName() string { return metaTable }

// migrateMeta creates the meta table (migration 0006_meta).
func migrateMeta(tx *gorm.DB) error {
	type narcidiMeta struct {
		Name      string    `gorm:"primaryKey;size:100"`
		Value     string    `gorm:"type:text;not null"`
		CreatedAt time.Time `gorm:"not null"`
	}
	return tx.Table(metaTable).Migrator().CreateTable(&narcidiMeta{})
}

// GetMeta returns the value stored under name; ok is false when there is
// none.
func (s *Store) GetMeta(ctx context.Context, name string) (value string, ok bool, err error) {
	var row metaRow
	err = s.q(ctx).Take(&row, "name = ?", name).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return "", false, nil
	}
	if err != nil {
		return "", false, translate(err)
	}
	return row.Value, true, nil
}

// PutMetaOnce stores value under name unless a value is already there, and
// returns the value that is stored: of two processes starting at once on
// an empty database, both get the first one's value.
func (s *Store) PutMetaOnce(ctx context.Context, name, value string) (string, error) {
	row := metaRow{Name: name, Value: value, CreatedAt: time.Now().UTC()}
	if err := s.q(ctx).Clauses(clause.OnConflict{DoNothing: true}).Create(&row).Error; err != nil {
		return "", translate(err)
	}
	stored, _, err := s.GetMeta(ctx, name)
	return stored, err
}

// HasHistory reports whether the database holds anything a server made
// (an API token: every server start makes the bootstrap one). It tells a
// used database from a new one where no meta value says so yet, such as a
// database from before the meta table.
func (s *Store) HasHistory(ctx context.Context) (bool, error) {
	var n int64
	if err := s.q(ctx).Table("api_tokens").Limit(1).Count(&n).Error; err != nil {
		return false, translate(err)
	}
	return n > 0, nil
}
