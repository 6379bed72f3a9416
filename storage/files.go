package storage

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
)

// The SQLite database holds license key hashes, token hashes and sealed
// secrets: its folder and files are for the service's user only.

// sqliteFiles are the database file and the two SQLite keeps beside it in
// WAL mode.
var sqliteFiles = []string{"narcidi.db", "narcidi.db-wal", "narcidi.db-shm"}

func sqlitePath(dir string) string { return filepath.Join(dir, sqliteFiles[0]) }

// looseDirBits are the permissions that let other users read (list) or
// write (replace files in) a folder.
const looseDirBits = 0o066

// PrepareDataDir creates dir with mode 0700 if it is missing, and refuses
// an existing dir that other users can read or write, with a message saying
// how to fix it. The refusal is deliberate: the folder holds the database
// (and, next to it, the master key); silently tightening a folder the
// operator set up could break their other uses of it, and carrying on with a
// warning leaves the secrets exposed.
func PrepareDataDir(dir string) error {
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
	if runtime.GOOS != "windows" && fi.Mode().Perm()&looseDirBits != 0 {
		return fmt.Errorf("the data folder %s is open to other users (mode %04o) and holds the database and keys: "+
			"make it private with `chmod 700 %s`, or point NARCIDI_DATA_DIR at a private folder", dir, fi.Mode().Perm(), dir)
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
