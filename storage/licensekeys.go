package storage

import (
	"context"

	"github.com/nzilacode/narcidicontrole/licensing"
)

// SetLicenseKey replaces a license's key hash and hint (licensing's
// RotateKey, inside its transaction with the row locked). UpdateLicense
// never writes the key: this is the one place it changes.
func (s *Store) SetLicenseKey(ctx context.Context, id, keyHash, keyHint string) error {
	res := s.q(ctx).Model(&licenseRow{}).Where("id = ?", id).
		UpdateColumns(map[string]any{"key_hash": keyHash, "key_hint": keyHint})
	if licensing.ErrorCode(translate(res.Error)) == licensing.EConflict {
		return fieldErrorf("key", licensing.EConflict, "another license has this key")
	}
	return affected(res, errorf(licensing.ENotFound, "license not found"))
}
