package wiring

import (
	"context"
	"errors"
	"log/slog"

	"github.com/nzilacode/narcidicontrole/keys"
	"github.com/nzilacode/narcidicontrole/licensing/i18n"
	"github.com/nzilacode/narcidicontrole/storage"
)

// keyStore gives the keys package the database's signing key table.
// storage imports no other adapter, so its SigningKey and keys.Record are
// two types with the same fields, converted here.
type keyStore struct{ st *storage.Store }

var _ keys.Store = keyStore{}

func (k keyStore) SigningKeys(ctx context.Context) ([]keys.Record, error) {
	rows, err := k.st.SigningKeys(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]keys.Record, len(rows))
	for i, r := range rows {
		out[i] = keys.Record(r)
	}
	return out, nil
}

func (k keyStore) AddSigningKey(ctx context.Context, r keys.Record, retire string) error {
	return k.st.AddSigningKey(ctx, storage.SigningKey(r), retire)
}

func (k keyStore) ImportSigningKeys(ctx context.Context, rs []keys.Record) (int, error) {
	rows := make([]storage.SigningKey, len(rs))
	for i, r := range rs {
		rows[i] = storage.SigningKey(r)
	}
	return k.st.ImportSigningKeys(ctx, rows)
}

func (k keyStore) SetSigningKeyCert(ctx context.Context, kid, cert string) error {
	return k.st.SetSigningKeyCert(ctx, kid, cert)
}

// OpenSigningKeys opens the signing keys kept in the database and copies
// into it the keys folder of earlier versions (NARCIDI_KEYS_DIR), if one is
// there. The copy is idempotent and runs at every start, so the folders of
// several instances upgraded one after the other all end in the database:
// the first folder's active key keeps signing, the others' keys verify
// what they signed.
func OpenSigningKeys(cfg *Config, st *storage.Store, master []byte, log *slog.Logger) (*keys.Keyring, error) {
	kr, err := keys.OpenStore(keyStore{st}, master, nil)
	if err != nil {
		return nil, err
	}
	if cfg.KeysDir == "" {
		return kr, nil
	}
	n, err := kr.ImportDir(cfg.KeysDir)
	if err != nil {
		return nil, err
	}
	if n > 0 {
		log.Info("copied signing keys from the keys folder into the database; the folder is no longer needed once every instance runs this version",
			"keys", n, "keys_dir", cfg.KeysDir)
	}
	return kr, nil
}

// ErrNoSigningKey is the refusal to mint a key on a database that has been
// used: leases signed by its lost key may be out there, and a new key would
// make pinned apps refuse every new lease.
var ErrNoSigningKey = errors.New("this database has been used but holds no active lease signing key")

// EnsureSigningKey makes the first signing key of a new database. A used
// database without an active key is refused: only `narcidi keys generate`
// makes a new key there.
func EnsureSigningKey(ctx context.Context, kr *keys.Keyring, st *storage.Store, log *slog.Logger) error {
	if _, ok := kr.Active(); ok {
		return nil
	}
	used := len(kr.List()) > 0
	if !used {
		var err error
		if used, err = st.HasHistory(ctx); err != nil {
			return err
		}
	}
	if !used {
		var err error
		if used, err = st.HasIssuedLeases(ctx); err != nil {
			return err
		}
	}
	if used {
		return i18n.Say("cli.config.no_signing_key", "cause", ErrNoSigningKey) // its words are the message's first sentence
	}
	kid, created, err := kr.EnsureActive()
	if err != nil {
		return err
	}
	if created {
		log.Info("generated the first lease signing key", "kid", kid)
	}
	return nil
}

// SigningKeyStore is the database's signing keys as keys.Store, for the
// commands that open them without a server (verify-backup).
func SigningKeyStore(st *storage.Store) keys.Store { return keyStore{st} }
