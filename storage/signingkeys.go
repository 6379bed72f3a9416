package storage

import (
	"context"
	"time"

	"github.com/nzilacode/narcidicontrole/licensing"
	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// SigningKey is a lease signing key as the database keeps it: the public
// part, the private part sealed with the master key (keys package) and the
// root's certificate, if any. Storage never sees the key in clear. Its
// fields are those of keys.Record, in the same order, so cmd converts one
// into the other (storage imports no other adapter).
type SigningKey struct {
	KID           string
	Alg           string
	Public        string
	SealedPrivate string
	Nonce         string
	CreatedAt     time.Time
	Status        string
	Cert          string
}

// Signing key statuses, as keys spells them.
const (
	signingKeyActive  = "active"
	signingKeyRetired = "retired"
)

type signingKeyRow struct {
	KID           string    `gorm:"column:kid;primaryKey;size:64"`
	Alg           string    `gorm:"size:16;not null"`
	Public        string    `gorm:"type:text;not null"`
	SealedPrivate string    `gorm:"type:text;not null"`
	Nonce         string    `gorm:"type:text;not null"`
	CreatedAt     time.Time `gorm:"not null"`
	Status        string    `gorm:"size:16;not null"`
	Cert          string    `gorm:"type:text;not null;default:''"`
}

func (signingKeyRow) TableName() string { return "signing_keys" }

// migrateSigningKeys (0018) moves the lease signing keys into the database,
// so every instance with the database and the master key signs with the
// same key (issue 23). At most one key is active: a partial unique index
// makes two processes that rotate at once collide instead of leaving two.
func migrateSigningKeys(tx *gorm.DB) error {
	// signingKeyRow as it was at 0018, copied on purpose (as every
	// migration does): the model may change later, this migration must not.
	type signingKey struct {
		KID           string    `gorm:"column:kid;primaryKey;size:64"`
		Alg           string    `gorm:"size:16;not null"`
		Public        string    `gorm:"type:text;not null"`
		SealedPrivate string    `gorm:"type:text;not null"`
		Nonce         string    `gorm:"type:text;not null"`
		CreatedAt     time.Time `gorm:"not null"`
		Status        string    `gorm:"size:16;not null"`
		Cert          string    `gorm:"type:text;not null;default:''"`
	}
	if err := tx.Migrator().CreateTable(&signingKey{}); err != nil {
		return err
	}
	return tx.Exec("CREATE UNIQUE INDEX idx_signing_keys_one_active ON signing_keys (status) WHERE status = 'active'").Error
}

// SigningKeys returns every signing key, oldest first.
func (s *Store) SigningKeys(ctx context.Context) ([]SigningKey, error) {
	var rows []signingKeyRow
	if err := s.q(ctx).Order("created_at, kid").Find(&rows).Error; err != nil {
		return nil, translate(err)
	}
	out := make([]SigningKey, len(rows))
	for i, r := range rows {
		out[i] = SigningKey(r)
	}
	return out, nil
}

// AddSigningKey stores k as the active key and, in the same transaction,
// retires the key retire ("" when there is no active key). It fails with
// EConflict when retire is no longer the active key or another process made
// a key active meanwhile: the caller reloads and decides again.
func (s *Store) AddSigningKey(ctx context.Context, k SigningKey, retire string) error {
	k.Status = signingKeyActive
	return s.InTx(ctx, func(tx *Store) error {
		if retire != "" {
			res := tx.q(ctx).Model(&signingKeyRow{}).Where("kid = ? AND status = ?", retire, signingKeyActive).Update("status", signingKeyRetired)
			if res.Error != nil {
				return translate(res.Error)
			}
			if res.RowsAffected != 1 {
				return errorf(licensing.EConflict, "signing key %s is no longer the active key", retire)
			}
		}
		row := signingKeyRow(k)
		if err := tx.q(ctx).Create(&row).Error; err != nil {
			return translate(err)
		}
		return nil
	})
}

// ImportSigningKeys adds the keys of a keys folder (migration from the
// folders of earlier versions) and returns how many were new. Keys already
// there are left as they are. The folder's active key becomes active only
// when the database has none, so importing the folders of two instances
// keeps the first one's key signing and the second's verifying.
func (s *Store) ImportSigningKeys(ctx context.Context, ks []SigningKey) (int, error) {
	added := 0
	err := s.InTx(ctx, func(tx *Store) error {
		added = 0
		active := ""
		for _, k := range ks {
			row := signingKeyRow(k)
			if row.Status == signingKeyActive {
				active = row.KID
			}
			row.Status = signingKeyRetired
			res := tx.q(ctx).Clauses(clause.OnConflict{DoNothing: true}).Create(&row)
			if res.Error != nil {
				return translate(res.Error)
			}
			added += int(res.RowsAffected)
		}
		if active == "" {
			return nil
		}
		var n int64
		if err := tx.q(ctx).Model(&signingKeyRow{}).Where("status = ?", signingKeyActive).Count(&n).Error; err != nil {
			return translate(err)
		}
		if n > 0 {
			return nil
		}
		// A concurrent import that activates first makes this update
		// break the unique index: the transaction fails with EConflict and
		// the caller loads what the other one stored.
		return translate(tx.q(ctx).Model(&signingKeyRow{}).Where("kid = ?", active).Update("status", signingKeyActive).Error)
	})
	return added, err
}

// SetSigningKeyCert stores the root's certificate of key kid.
func (s *Store) SetSigningKeyCert(ctx context.Context, kid, cert string) error {
	res := s.q(ctx).Model(&signingKeyRow{}).Where("kid = ?", kid).Update("cert", cert)
	if res.Error != nil {
		return translate(res.Error)
	}
	if res.RowsAffected == 0 {
		return errorf(licensing.ENotFound, "no signing key %s", kid)
	}
	return nil
}

// HasIssuedLeases reports whether any machine was ever activated, that is
// whether leases signed by this database's keys may be out there: such a
// database must never get a new signing key without an operator asking.
func (s *Store) HasIssuedLeases(ctx context.Context) (bool, error) {
	var n int64
	if err := s.q(ctx).Table("machines").Limit(1).Count(&n).Error; err != nil {
		return false, translate(err)
	}
	return n > 0, nil
}
