package wiring

import (
	"context"
	"errors"
	"log/slog"

	"github.com/nzilacode/narcidicontrole/keys"
	"github.com/nzilacode/narcidicontrole/licensing"
	"github.com/nzilacode/narcidicontrole/licensing/i18n"
	"github.com/nzilacode/narcidicontrole/storage"
)

// MasterCheckName is the meta value holding the sealed master-key check.
const MasterCheckName = "master_key_check"

// LoadMaster loads the master key and checks it against the database st
// (issue 11 item 13): a database used before keeps a value sealed with its
// master key, and a start with another key, or with the generated
// master.key deleted, stops with a clear message instead of running with
// a new key. On a new database the key is created when none is configured,
// and its check stored.
func LoadMaster(ctx context.Context, cfg *Config, st *storage.Store, log *slog.Logger) ([]byte, error) {
	if cfg.DatabaseURL != "" && cfg.MasterKey == "" && cfg.MasterKeyFile == "" {
		// A key generated in the data dir would be the only copy, in one
		// instance's folder (in a container, often an anonymous volume):
		// other instances could not open the signing keys and secrets in
		// the shared database, and losing that folder loses them all.
		return nil, i18n.Say("cli.config.master_key_postgres")
	}
	check, hasCheck, err := st.GetMeta(ctx, MasterCheckName)
	if err != nil {
		return nil, err
	}
	used := hasCheck
	if !used {
		if used, err = st.HasHistory(ctx); err != nil {
			return nil, err
		}
	}
	master, generated, err := keys.LoadMasterKey(keys.MasterKeyConfig{Value: cfg.MasterKey, File: cfg.MasterKeyFile, DataDir: cfg.DataDir, NoGenerate: used})
	if errors.Is(err, keys.ErrMasterKeyMissing) {
		return nil, i18n.Say("cli.config.master_key_missing", "error", err, "dialect", st.Dialect())
	}
	if err != nil {
		return nil, err
	}
	if generated {
		log.Warn("generated a master key in the data dir; in production set NARCIDI_MASTER_KEY or NARCIDI_MASTER_KEY_FILE", "data_dir", cfg.DataDir)
	}
	if !hasCheck {
		// First start with a check: store it; of two processes starting
		// at once, both verify against the one that got stored.
		fresh, err := keys.NewMasterCheck(master)
		if err != nil {
			return nil, err
		}
		if check, err = st.PutMetaOnce(ctx, MasterCheckName, fresh); err != nil {
			return nil, err
		}
	}
	if err := keys.VerifyMasterCheck(master, check); err != nil {
		return nil, i18n.Say("cli.config.master_key_other", "error", err, "dialect", st.Dialect())
	}
	return master, nil
}

// SecretHasher hashes license keys and API tokens with a key derived from
// the master key, so every process over the database (serve, worker)
// hashes alike, and a copy of the database without the master key does not
// let anyone test guessed keys.
func SecretHasher(master []byte) (*licensing.SecretHasher, error) {
	k, err := keys.DeriveKey(master, keys.PurposeSecretHash)
	if err != nil {
		return nil, err
	}
	return licensing.NewSecretHasher(k)
}
