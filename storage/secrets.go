package storage

import (
	"context"
	"fmt"

	"github.com/nzilacode/narcidicontrole/licensing"
	"gorm.io/gorm"
)

// migrateTokenBootstrap marks the tokens BootstrapAdminToken made, so that
// a new NARCIDI_ADMIN_TOKEN can replace them (issue 11 item 15). Tokens
// made before the mark existed are recognised by the name and role
// bootstrap gave them.
func migrateTokenBootstrap(tx *gorm.DB) error {
	type apiToken struct {
		Bootstrap bool `gorm:"not null;default:false"`
	}
	if err := tx.Migrator().AddColumn(&apiToken{}, "Bootstrap"); err != nil {
		return fmt.Errorf("add column api_tokens.bootstrap: %w", err)
	}
	return tx.Exec(`UPDATE api_tokens SET bootstrap = ? WHERE name = 'bootstrap admin' AND role = 'admin'`, true).Error
}

// RehashLicenseKey replaces a license's key hash from by to, only if a
// row still has from: of concurrent first uses of a legacy key, one
// rewrites the row and the others change nothing (nil).
func (s *Store) RehashLicenseKey(ctx context.Context, from, to string) error {
	return translate(s.q(ctx).Model(&licenseRow{}).Where("key_hash = ?", from).Update("key_hash", to).Error)
}

// RehashAPIToken replaces a token's hash from by to, only if a row still
// has from (nil otherwise), as RehashLicenseKey.
func (s *Store) RehashAPIToken(ctx context.Context, from, to string) error {
	return translate(s.q(ctx).Model(&apiTokenRow{}).Where("hash = ?", from).Update("hash", to).Error)
}

// ActiveBootstrapTokens lists the bootstrap tokens that are not revoked.
func (s *Store) ActiveBootstrapTokens(ctx context.Context) ([]licensing.APIToken, error) {
	return findRows(s.q(ctx).Where("bootstrap = ? AND revoked_at IS NULL", true).Order("id"), apiTokenFromRow)
}
