package storage

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// SchemaRange is what a binary knows of the schema: Version is the number
// of its newest migration; OldestBinary is the oldest schema version a
// binary may have and still run on a database this binary has migrated.
type SchemaRange struct {
	Version      int
	OldestBinary int
}

// oldestCompatibleSchema is the OldestBinary this binary records. Raise it
// to the number of a migration that earlier binaries cannot live with;
// migrations that only add what older binaries ignore leave it.
//
// 18: 0018_signing_keys moved the lease signing keys into the database. A
// binary from before would look for them in its keys folder and, finding
// none, sign with a new key: pinned apps would refuse its leases, and a
// database restored after the upgrade would lose its keys.
const oldestCompatibleSchema = 18

// The meta values of the schema (meta.go): the newest schema version a
// binary has migrated the database to, and the oldest binary schema that
// may run on it.
const (
	metaSchemaVersion = "schema_version"
	metaOldestBinary  = "schema_oldest_binary"
)

// ErrSchemaTooNew is the refusal of a binary too old for its database.
var ErrSchemaTooNew = errors.New("the database is newer than this narcidi binary understands")

// BinarySchema is this binary's range: the highest migration number it
// knows, and oldestCompatibleSchema.
func BinarySchema() SchemaRange {
	v := 0
	for _, m := range migrations() {
		if n := migrationNumber(m.ID); n > v {
			v = n
		}
	}
	return SchemaRange{Version: v, OldestBinary: oldestCompatibleSchema}
}

// migrationNumber is the number of a migration id ("0018_signing_keys" is
// 18), 0 when it has none.
func migrationNumber(id string) int {
	num, _, _ := strings.Cut(id, "_")
	n, err := strconv.Atoi(num)
	if err != nil {
		return 0
	}
	return n
}

// SchemaState is what the database says of its schema.
type SchemaState struct {
	Version      int // the highest migration applied
	OldestBinary int // the oldest binary schema allowed on it (0: none recorded)
}

// Schema reads the database's schema version and compatibility range. A
// database that was never migrated is at version 0.
func (s *Store) Schema(ctx context.Context) (SchemaState, error) {
	return schemaOf(s.q(ctx))
}

func schemaOf(db *gorm.DB) (SchemaState, error) {
	db = db.Session(&gorm.Session{NewDB: true}) // no clause of a caller's chain
	var st SchemaState
	if !db.Migrator().HasTable("schema_migrations") {
		return st, nil
	}
	var ids []string
	if err := db.Table("schema_migrations").Pluck("id", &ids).Error; err != nil {
		return st, translate(err)
	}
	for _, id := range ids {
		st.Version = max(st.Version, migrationNumber(id))
	}
	if !db.Migrator().HasTable(metaTable) {
		return st, nil
	}
	var rows []metaRow
	if err := db.Table(metaTable).Where("name IN ?", []string{metaSchemaVersion, metaOldestBinary}).Find(&rows).Error; err != nil {
		return st, translate(err)
	}
	for _, r := range rows {
		n, _ := strconv.Atoi(r.Value)
		if r.Name == metaOldestBinary {
			st.OldestBinary = n
		} else {
			// A binary records its version even when its newest migrations
			// have no row (none may, one day): the higher one counts.
			st.Version = max(st.Version, n)
		}
	}
	return st, nil
}

// checkSchema refuses a database newer than bin understands: one at a
// higher version whose recorded range excludes bin. A newer database that
// still allows bin (its later migrations only added) is served.
func checkSchema(db *gorm.DB, bin SchemaRange) (SchemaState, error) {
	st, err := schemaOf(db)
	if err != nil {
		return st, err
	}
	if st.Version > bin.Version && bin.Version < st.OldestBinary {
		return st, fmt.Errorf("%w: the database is at schema version %d and needs a binary of schema %d or newer; this binary understands schema %d. "+
			"Nothing was changed. Run the narcidi release that last migrated it (or a newer one); to roll back to this version, "+
			"restore the backup taken before the upgrade (README.md, \"Rolling back\")", ErrSchemaTooNew, st.Version, st.OldestBinary, bin.Version)
	}
	return st, nil
}

// recordSchema stores the schema version and range after a migration. It
// runs under the migration lock. A binary never lowers them: one that runs
// on a newer database (its range allowing it) leaves them as they are.
func recordSchema(db *gorm.DB, bin SchemaRange, before SchemaState) error {
	db = db.Session(&gorm.Session{NewDB: true})
	if bin.Version < before.Version || (bin.Version == before.Version && bin.OldestBinary <= before.OldestBinary) {
		return nil
	}
	for name, v := range map[string]int{metaSchemaVersion: bin.Version, metaOldestBinary: max(bin.OldestBinary, before.OldestBinary)} {
		row := metaRow{Name: name, Value: strconv.Itoa(v), CreatedAt: db.NowFunc()}
		if err := db.Clauses(clause.OnConflict{Columns: []clause.Column{{Name: "name"}}, DoUpdates: clause.AssignmentColumns([]string{"value"})}).Create(&row).Error; err != nil {
			return translate(err)
		}
	}
	return nil
}
