package storage

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
)

// The SQLite database holds license key hashes, token hashes and sealed
// secrets: its folder and files are for the service's user only.

// SQLiteFile is the embedded database's file in the data folder.
const SQLiteFile = "narcidi.db"

// sqliteFiles are the database file and the two SQLite keeps beside it in
// WAL mode.
var sqliteFiles = []string{SQLiteFile, SQLiteFile + "-wal", SQLiteFile + "-shm"}

func sqlitePath(dir string) string { return filepath.Join(dir, sqliteFiles[0]) }

// Permission bits of a folder open to other users.
const (
	othersWrite = 0o022 // they can delete or replace the database
	othersRead  = 0o044 // they can list it (the files themselves are 0600)
)

// PrepareDataDir creates dir with mode 0700 if it is missing. An existing
// dir is checked, never changed (it is the operator's): one that other users
// can write is refused, since they could replace the database; one they can
// only read is used with a warning on log, since the files in it are 0600
// and `mkdir` (and most volume mounts) give 0755 by default, so a refusal
// would stop most first runs for a name listing.
func PrepareDataDir(dir string, log *slog.Logger) error {
	if dir == "" {
		return errors.New("a data directory is required for the SQLite database")
	}
	fi, err := os.Stat(dir)
	if errors.Is(err, fs.ErrNotExist) {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return fmt.Errorf("create the data folder: %w", err)
		}
		// MkdirAll applies the umask; make the mode exact.
		return os.Chmod(dir, 0o700)
	}
	if err != nil {
		return fmt.Errorf("data folder: %w", err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("the data folder %s is not a folder", dir)
	}
	if runtime.GOOS == "windows" {
		return nil
	}
	mode := fi.Mode().Perm()
	switch {
	case mode&othersWrite != 0: // sticky or not: another user could plant the -wal file
		return fmt.Errorf("the data folder %s can be written by other users (mode %04o), who could replace the database: "+
			"make it private with `chmod 700 %s`, or set NARCIDI_DATA_DIR to a private folder", dir, mode, dir)
	case mode&othersRead != 0:
		if log == nil {
			log = slog.Default()
		}
		log.Warn("the data folder can be listed by other users; the files in it are private (0600), "+
			"but `chmod 700` it to hide them too", "data_dir", dir, "mode", fmt.Sprintf("%04o", mode))
	}
	return nil
}

// prepareSQLiteFiles creates the database file with mode 0600 before the
// driver opens it, whatever the umask: SQLite creates a new file 0644 minus
// the umask, and creates the -wal and -shm files with the mode of the
// database file, so all three end up 0600. Files left by an older version
// with a looser mode are tightened to 0600.
func prepareSQLiteFiles(dir string) error {
	f, err := os.OpenFile(sqlitePath(dir), os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	switch {
	case err == nil:
		if err := f.Close(); err != nil {
			return err
		}
	case !errors.Is(err, fs.ErrExist):
		return fmt.Errorf("create the database file: %w", err)
	}
	if runtime.GOOS == "windows" {
		return nil
	}
	for _, name := range sqliteFiles {
		p := filepath.Join(dir, name)
		fi, err := os.Stat(p)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return err
		}
		if fi.Mode().Perm()&0o077 != 0 {
			if err := os.Chmod(p, fi.Mode().Perm()&0o700); err != nil {
				return fmt.Errorf("make %s private: %w", p, err)
			}
		}
	}
	return nil
}
