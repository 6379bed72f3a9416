package keys

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// MasterKeySize is the length of the master key: 256 bits.
const MasterKeySize = 32

// MasterKeyConfig says where the master key comes from, in this order:
// Value (NARCIDI_MASTER_KEY), File (NARCIDI_MASTER_KEY_FILE), or, when
// neither is set, DataDir/master.key, generated on first run.
type MasterKeyConfig struct {
	Value   string
	File    string
	DataDir string
}

// LoadMasterKey returns the master key and whether it was just generated.
func LoadMasterKey(cfg MasterKeyConfig) (key []byte, generated bool, err error) {
	switch {
	case cfg.Value != "":
		key, err = decodeMasterKey(cfg.Value)
		if err != nil {
			return nil, false, fmt.Errorf("NARCIDI_MASTER_KEY: %w", err)
		}
		return key, false, nil
	case cfg.File != "":
		key, err = readMasterKeyFile(cfg.File)
		return key, false, err
	case cfg.DataDir == "":
		return nil, false, errors.New("no master key: set NARCIDI_MASTER_KEY or NARCIDI_MASTER_KEY_FILE")
	}
	path := filepath.Join(cfg.DataDir, "master.key")
	key, err = readMasterKeyFile(path)
	if err == nil || !errors.Is(err, os.ErrNotExist) {
		return key, false, err
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, false, err
	}
	key = make([]byte, MasterKeySize)
	_, _ = rand.Read(key)
	text := base64.StdEncoding.EncodeToString(key) + "\n"
	// O_EXCL: of two processes starting at once, one creates the key and the
	// other reads it.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, os.ErrExist) {
		key, err = readMasterKeyFile(path)
		return key, false, err
	} else if err != nil {
		return nil, false, err
	}
	if _, err := f.WriteString(text); err != nil {
		f.Close()
		return nil, false, err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return nil, false, err
	}
	return key, true, f.Close()
}

func readMasterKeyFile(path string) ([]byte, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if st.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("master key file %s is readable by others (mode %v): run chmod 600 %s", path, st.Mode().Perm(), path)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	key, err := decodeMasterKey(string(b))
	if err != nil {
		return nil, fmt.Errorf("master key file %s: %w", path, err)
	}
	return key, nil
}

// decodeMasterKey accepts standard or URL base64, padded or not. Its errors
// never quote the input.
func decodeMasterKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			if len(b) != MasterKeySize {
				return nil, fmt.Errorf("the master key must be %d bytes, got %d", MasterKeySize, len(b))
			}
			return b, nil
		}
	}
	return nil, errors.New("the master key is not valid base64")
}
