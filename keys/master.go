package keys

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
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
	// NoGenerate refuses to create DataDir/master.key when it is missing
	// (ErrMasterKeyMissing): set it when the database has been used, since
	// a new key there would silently replace the one that sealed its keys
	// and secrets.
	NoGenerate bool
}

// ErrMasterKeyMissing is LoadMasterKey's answer when the generated master
// key file is gone and MasterKeyConfig.NoGenerate is set.
var ErrMasterKeyMissing = errors.New("the master key file is missing")

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
	if cfg.NoGenerate {
		return nil, false, fmt.Errorf("%w: %s", ErrMasterKeyMissing, path)
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, false, err
	}
	key = make([]byte, MasterKeySize)
	_, _ = rand.Read(key) // never fails since Go 1.24
	text := base64.StdEncoding.EncodeToString(key) + "\n"
	// The key is written whole to a temp file, then hard-linked into place:
	// link fails when master.key exists, so of two processes starting at
	// once one creates the key, the other reads it, and neither can see a
	// half-written file.
	err = createFileExclusive(path, []byte(text))
	if errors.Is(err, os.ErrExist) {
		key, err = readMasterKeyFile(path)
		return key, false, err
	} else if err != nil {
		return nil, false, err
	}
	return key, true, nil
}

// createFileExclusive creates path (0600) holding data, atomically, and
// fails with an os.ErrExist error when path already exists (a hard link,
// unlike a rename, never replaces).
func createFileExclusive(path string, data []byte) error {
	return placeFile(path, data, os.Link)
}

// readMasterKeyFile reads a master key file, refusing one that group or
// others may access.
func readMasterKeyFile(path string) ([]byte, error) {
	b, err := readPrivateFile(path, "master key file", 4096)
	if err != nil {
		return nil, err
	}
	key, err := decodeMasterKey(string(b))
	if err != nil {
		return nil, fmt.Errorf("master key file %s: %w", path, err)
	}
	return key, nil
}

// readPrivateFile reads at most limit bytes of a secret file, refusing
// anything but a regular file that only its owner may access. Mode and
// content come from the same open file, so the file cannot be swapped
// between the check and the read.
func readPrivateFile(path, what string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s %s is not a regular file", what, path)
	}
	if st.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("%s %s is accessible by group or others (mode %v): run chmod 600 %s", what, path, st.Mode().Perm(), path)
	}
	return io.ReadAll(io.LimitReader(f, limit))
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
