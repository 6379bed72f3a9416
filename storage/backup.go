package storage

import (
	"context"
	"errors"
	"fmt"
	"os"
)

// BackupSQLite writes a consistent copy of the SQLite database to the file
// path (which must not exist) while the database stays in use: VACUUM INTO
// reads one snapshot, including what the write-ahead log holds. Copying
// narcidi.db by hand in WAL mode loses the writes still in narcidi.db-wal.
func (s *Store) BackupSQLite(ctx context.Context, path string) error {
	if s.postgres {
		return errors.New("BackupSQLite on PostgreSQL: use pg_dump (README.md, \"Backup and restore\")")
	}
	if _, err := os.Stat(path); err == nil {
		return fmt.Errorf("backup file %s already exists", path)
	}
	if err := s.q(ctx).Exec("VACUUM INTO ?", path).Error; err != nil {
		return translate(err)
	}
	return os.Chmod(path, 0o600)
}

// countedTables are the tables a backup's summary counts, to compare a
// restore with its source.
var countedTables = []string{"products", "policies", "customers", "licenses", "machines", "events", "api_tokens", "signing_keys", "releases", "webhooks", "console_users"}

// TableCounts counts the rows of the main tables (a table the schema does
// not have is left out).
func (s *Store) TableCounts(ctx context.Context) (map[string]int64, error) {
	out := map[string]int64{}
	for _, t := range countedTables {
		if !s.q(ctx).Migrator().HasTable(t) {
			continue
		}
		var n int64
		if err := s.q(ctx).Table(t).Count(&n).Error; err != nil {
			return nil, translate(err)
		}
		out[t] = n
	}
	return out, nil
}
