package storage

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"time"

	"github.com/glebarez/sqlite"
	"github.com/google/uuid"
	"github.com/nzilacode/narcidicontrole/licensing"
	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/clause"
	"gorm.io/gorm/logger"
)

// Config says which database to open.
type Config struct {
	// DatabaseURL is a PostgreSQL URL (postgres://...). Empty means the
	// embedded default: a SQLite file in DataDir.
	DatabaseURL string
	DataDir     string
	// MaxOpenConns bounds the PostgreSQL pool (default 20).
	MaxOpenConns int
	// Log receives warnings about the data folder (default slog.Default()).
	Log *slog.Logger
	// Schema is the binary's schema range (schema.go); zero means
	// BinarySchema(). Migrate refuses a database that excludes it.
	Schema SchemaRange
}

// Store holds every table. Its views (views.go) are the narrow stores the
// licensing services take. The same value works inside a transaction (db is
// then the transaction) and outside it.
type Store struct {
	db       *gorm.DB
	postgres bool
	health   *writeHealth
	changes  *changeFeed // committed writes to cached tables (changes.go)
	schema   SchemaRange // the binary's (schema.go)
	// preRules is set while the database lacks 0022's columns (a schema
	// of an earlier version, before migrate): ReadLease then reads their
	// defaults instead. Shared with the transaction-bound Stores.
	preRules *atomic.Bool
	// preMeters is the same for 0023's entitlements.retired_at: no
	// entitlement of such a schema is retired.
	preMeters *atomic.Bool
	// preLocale is the same for 0029's language and time_zone columns of
	// customers and console_users: they are left out of writes.
	preLocale *atomic.Bool
}

// Open connects to the database of cfg. It does not migrate; call Migrate.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	gcfg := &gorm.Config{
		TranslateError:         true,
		Logger:                 logger.Discard,
		SkipDefaultTransaction: true,
		NowFunc:                func() time.Time { return time.Now().UTC() },
	}
	var (
		db  *gorm.DB
		err error
		pg  = cfg.DatabaseURL != ""
	)
	if pg {
		if !strings.HasPrefix(cfg.DatabaseURL, "postgres://") && !strings.HasPrefix(cfg.DatabaseURL, "postgresql://") {
			return nil, errors.New("NARCIDI_DATABASE_URL must be a postgres:// URL")
		}
		db, err = gorm.Open(postgres.New(postgres.Config{DSN: cfg.DatabaseURL}), gcfg)
	} else {
		// Folder and file modes first: the driver would create them loose.
		if err := PrepareDataDir(cfg.DataDir, cfg.Log); err != nil {
			return nil, err
		}
		if err := prepareSQLiteFiles(cfg.DataDir); err != nil {
			return nil, err
		}
		db, err = openSQLite(cfg.DataDir, gcfg)
	}
	if err != nil {
		return nil, translate(fmt.Errorf("open database: %w", err))
	}
	sqlDB, err := db.DB()
	if err != nil {
		return nil, err
	}
	if pg {
		n := cfg.MaxOpenConns
		if n <= 0 {
			n = 20
		}
		sqlDB.SetMaxOpenConns(n)
		sqlDB.SetMaxIdleConns(n)
		sqlDB.SetConnMaxIdleTime(5 * time.Minute)
	}
	s := &Store{db: db, postgres: pg, health: &writeHealth{now: time.Now}, changes: newChangeFeed(), schema: cfg.Schema, preRules: new(atomic.Bool), preMeters: new(atomic.Bool), preLocale: new(atomic.Bool)}
	if s.schema == (SchemaRange{}) {
		s.schema = BinarySchema()
	}
	if err := errors.Join(watchWrites(db, s.health), watchChanges(db, s.changes)); err != nil {
		_ = sqlDB.Close()
		return nil, err
	}
	if err := s.Ping(ctx); err != nil {
		_ = sqlDB.Close()
		if !pg {
			// Say which files: a read-only -wal or -shm is the usual cause.
			return nil, fmt.Errorf("open the SQLite database %s (and its -wal and -shm files): %w", sqlitePath(cfg.DataDir), err)
		}
		return nil, err
	}
	s.checkNewColumns(db)
	return s, nil
}

// checkNewColumns sets preRules and preMeters from the schema (at Open and after each
// migration).
func (s *Store) checkNewColumns(db *gorm.DB) {
	s.preRules.Store(!db.Migrator().HasColumn(&licenseRow{}, "overrides"))
	s.preMeters.Store(!db.Migrator().HasColumn(&entitlementRow{}, "retired_at"))
	s.preLocale.Store(!db.Migrator().HasColumn(&customerRow{}, "language"))
}

// localeColumns are 0029's columns, which a write leaves out on an
// earlier schema (preLocale).
var localeColumns = []string{"language", "time_zone"}

// withLocale appends localeColumns to cols unless the schema lacks them.
func (s *Store) withLocale(cols ...string) []string {
	if s.preLocale != nil && s.preLocale.Load() {
		return cols
	}
	return append(cols, localeColumns...)
}

// createWithLocale creates row, leaving 0029's columns out on an earlier
// schema.
func (s *Store) createWithLocale(ctx context.Context, row any) error {
	q := s.q(ctx)
	if s.preLocale != nil && s.preLocale.Load() {
		q = q.Omit(localeColumns...)
	}
	return translate(q.Create(row).Error)
}

// openSQLite opens (creating) DataDir/narcidi.db. One connection: SQLite has
// one writer anyway, and a single connection turns every transaction into a
// critical section, which is what makes the seat count exact without row locks.
func openSQLite(dir string, gcfg *gorm.Config) (*gorm.DB, error) {
	path := sqlitePath(dir)
	dsn := "file:" + path + "?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=foreign_keys(1)&_pragma=synchronous(NORMAL)&_txlock=immediate"
	db, err := gorm.Open(sqlite.Open(dsn), gcfg)
	if err != nil {
		return nil, err
	}
	sqlDB, err := db.DB()
	if err != nil {
		return nil, err
	}
	sqlDB.SetMaxOpenConns(1)
	return db, nil
}

// Close releases the connection pool.
func (s *Store) Close() error {
	sqlDB, err := s.db.DB()
	if err != nil {
		return err
	}
	return sqlDB.Close()
}

// DB exposes the gorm handle, for tests and benchmarks that seed data.
func (s *Store) DB() *gorm.DB { return s.db }

// Dialect is "postgres" or "sqlite".
func (s *Store) Dialect() string {
	if s.postgres {
		return "postgres"
	}
	return "sqlite"
}

// InTx runs fn in one transaction; tx is s bound to it. Writes to cached
// tables are reported to WatchChanges once the transaction has ended.
func (s *Store) InTx(ctx context.Context, fn func(tx *Store) error) error {
	var pool gorm.ConnPool
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if s.changes.begin(tx.Statement.ConnPool) {
			pool = tx.Statement.ConnPool
		}
		return fn(&Store{db: tx, postgres: s.postgres, health: s.health, changes: s.changes, preRules: s.preRules, preMeters: s.preMeters, preLocale: s.preLocale})
	}, &sql.TxOptions{})
	if pool != nil {
		s.changes.end(pool)
	}
	return translate(err)
}

func (s *Store) q(ctx context.Context) *gorm.DB { return s.db.WithContext(ctx) }

// newID is the one id generator (time-ordered, so ids serve as cursors).
func newID() string { return licensing.NewID() }

func setID(id *string) {
	if *id == "" {
		*id = newID()
	}
}

func (s *Store) create(ctx context.Context, row any) error {
	return translate(s.q(ctx).Create(row).Error)
}

func (s *Store) get(ctx context.Context, row any, id string) error {
	if _, err := uuid.Parse(id); err != nil {
		return errorf(licensing.ENotFound, "not found")
	}
	return translate(s.q(ctx).Take(row, "id = ?", id).Error)
}

func paged(q *gorm.DB, p licensing.Page) *gorm.DB {
	p = p.Normalize()
	if p.After != "" {
		q = q.Where("id > ?", p.After)
	}
	return q.Order("id").Limit(p.Limit)
}

// pagedNewest is paged newest first: ids are time-ordered, so After is
// the last id of the page before and the next page holds smaller ones.
func pagedNewest(q *gorm.DB, p licensing.Page) *gorm.DB {
	p = p.Normalize()
	if p.After != "" {
		q = q.Where("id < ?", p.After)
	}
	return q.Order("id DESC").Limit(p.Limit)
}

// likeEscape makes s a literal inside a LIKE pattern (escape '!').
func likeEscape(s string) string {
	return strings.NewReplacer("!", "!!", "%", "!%", "_", "!_").Replace(s)
}

// listRows runs a paged query and converts its rows to domain values.
func listRows[R, T any](q *gorm.DB, page licensing.Page, conv func(*R) *T) ([]T, error) {
	return findRows(paged(q, page), conv)
}

// logQuery is a filtered read of a log (the audit log, the delivery log):
// the rows whose columns equal the non-empty values of equal and whose
// timeCol is in [since, until), oldest or newest first.
type logQuery struct {
	equal        []colValue
	timeCol      string
	since, until *time.Time
	newest       bool
}

type colValue struct{ col, v string }

// valueRows is a VALUES list of n rows of width placeholders,
// "(?,?),(?,?)": the SQLite side of the bulk writes (telemetry days,
// last-seen stamps), whose PostgreSQL side binds arrays.
func valueRows(n, width int) string {
	if n == 0 {
		return ""
	}
	row := "(" + strings.Repeat("?,", width-1) + "?)"
	return strings.Repeat(row+",", n-1) + row
}

// whereEqual narrows q to the rows whose columns equal the non-empty
// values of equal: a listing's filters ("" is no filter).
func whereEqual(q *gorm.DB, equal ...colValue) *gorm.DB {
	for _, c := range equal {
		if c.v != "" {
			q = q.Where(c.col+" = ?", c.v)
		}
	}
	return q
}

// listLog runs l on q as a paged listing and converts its rows.
func listLog[R, T any](q *gorm.DB, l logQuery, page licensing.Page, conv func(*R) *T) ([]T, error) {
	q = whereEqual(q, l.equal...)
	if l.since != nil {
		q = q.Where(l.timeCol+" >= ?", l.since.UTC())
	}
	if l.until != nil {
		q = q.Where(l.timeCol+" < ?", l.until.UTC())
	}
	if l.newest {
		return findRows(pagedNewest(q, page), conv)
	}
	return listRows(q, page, conv)
}

// findRows runs q and converts its rows.
func findRows[R, T any](q *gorm.DB, conv func(*R) *T) ([]T, error) {
	var rows []R
	if err := q.Find(&rows).Error; err != nil {
		return nil, translate(err)
	}
	out := make([]T, len(rows))
	for i := range rows {
		out[i] = *conv(&rows[i])
	}
	return out, nil
}

// getRow loads one row by id and converts it; ENotFound names what.
func getRow[R, T any](s *Store, ctx context.Context, id, what string, conv func(*R) *T) (*T, error) {
	var r R
	if err := s.get(ctx, &r, id); err != nil {
		return nil, notFound(err, what)
	}
	return conv(&r), nil
}

// lockRow is getRow under a row lock held until the transaction ends
// (SELECT ... FOR UPDATE on PostgreSQL; SQLite's transactions are serial,
// its driver leaves the clause out): the read of an edit that writes the
// row back (doc.go).
func lockRow[R, T any](s *Store, ctx context.Context, id, what string, conv func(*R) *T) (*T, error) {
	if _, err := uuid.Parse(id); err != nil {
		return nil, errorf(licensing.ENotFound, "%s not found", what)
	}
	var r R
	if err := s.q(ctx).Clauses(clause.Locking{Strength: "UPDATE"}).Take(&r, "id = ?", id).Error; err != nil {
		return nil, notFound(translate(err), what)
	}
	return conv(&r), nil
}

func (s *Store) LockProduct(ctx context.Context, id string) (*licensing.Product, error) {
	return lockRow[productRow](s, ctx, id, "product", productFromRow)
}

func (s *Store) LockPolicy(ctx context.Context, id string) (*licensing.Policy, error) {
	return lockRow[policyRow](s, ctx, id, "policy", policyFromRow)
}

func (s *Store) LockCustomer(ctx context.Context, id string) (*licensing.Customer, error) {
	return lockRow[customerRow](s, ctx, id, "customer", customerFromRow)
}

func (s *Store) LockEntitlement(ctx context.Context, id string) (*licensing.Entitlement, error) {
	return lockRow[entitlementRow](s, ctx, id, "entitlement", entitlementFromRow)
}

// affected translates a write's error, and answers ifNone when it touched
// no row.
func affected(res *gorm.DB, ifNone error) error {
	if res.Error != nil {
		return translate(res.Error)
	}
	if res.RowsAffected == 0 {
		return ifNone
	}
	return nil
}

func notFound(err error, what string) error {
	if licensing.ErrorCode(err) == licensing.ENotFound {
		return errorf(licensing.ENotFound, "%s not found", what)
	}
	return err
}

// Products.

func (s *Store) CreateProduct(ctx context.Context, p *licensing.Product) error {
	setID(&p.ID)
	err := s.create(ctx, productToRow(p))
	if licensing.ErrorCode(err) == licensing.EConflict {
		return fieldErrorf("code", licensing.EConflict, "a product with code %q already exists", p.Code)
	}
	return err
}

func (s *Store) GetProduct(ctx context.Context, id string) (*licensing.Product, error) {
	return getRow[productRow](s, ctx, id, "product", productFromRow)
}

func (s *Store) ListProducts(ctx context.Context, page licensing.Page) ([]licensing.Product, error) {
	return listRows(s.q(ctx), page, productFromRow)
}

// Policies.

func (s *Store) CreatePolicy(ctx context.Context, p *licensing.Policy) error {
	setID(&p.ID)
	q := s.q(ctx)
	if p.Rules == (licensing.PolicyRules{}) {
		q = q.Omit("rules") // its default ({}), as before 0022
	}
	return translate(q.Create(policyToRow(p)).Error)
}

func (s *Store) GetPolicy(ctx context.Context, id string) (*licensing.Policy, error) {
	return getRow[policyRow](s, ctx, id, "policy", policyFromRow)
}

func (s *Store) ListPolicies(ctx context.Context, f licensing.PolicyFilter, page licensing.Page) ([]licensing.Policy, error) {
	return listRows(whereEqual(s.q(ctx), colValue{"product_id", f.ProductID}), page, policyFromRow)
}

// Customers.

func (s *Store) CreateCustomer(ctx context.Context, c *licensing.Customer) error {
	setID(&c.ID)
	return s.createWithLocale(ctx, customerToRow(c))
}

func (s *Store) GetCustomer(ctx context.Context, id string) (*licensing.Customer, error) {
	return getRow[customerRow](s, ctx, id, "customer", customerFromRow)
}

func (s *Store) ListCustomers(ctx context.Context, page licensing.Page) ([]licensing.Customer, error) {
	return listRows(s.q(ctx), page, customerFromRow)
}

// SearchCustomers finds customers whose name, email or contacts contain q
// (case insensitive), or whose id is q: one bounded query, paged by id.
func (s *Store) SearchCustomers(ctx context.Context, q string, page licensing.Page) ([]licensing.Customer, error) {
	q = strings.TrimSpace(q)
	pat := "%" + likeEscape(strings.ToLower(q)) + "%"
	db := s.q(ctx).Where("LOWER(name) LIKE ? ESCAPE '!' OR LOWER(email) LIKE ? ESCAPE '!' OR LOWER(contacts) LIKE ? ESCAPE '!' OR id = ?", pat, pat, pat, q)
	return listRows(db, page, customerFromRow)
}

// Licenses.

func (s *Store) CreateLicense(ctx context.Context, l *licensing.License) error {
	setID(&l.ID)
	q := s.q(ctx)
	// Columns left at their defaults are left out (gorm's Omit replaces,
	// so one call): the insert is then the same as before 0020 (NULL
	// seats) and 0022 ({} overrides), which the upgrade test seeds through.
	var omit []string
	if l.SeatsOverride == nil {
		omit = append(omit, "seats_override")
	}
	if l.Overrides.IsZero() {
		omit = append(omit, "overrides")
	}
	if omit != nil {
		q = q.Omit(omit...)
	}
	err := translate(q.Create(licenseToRow(l)).Error)
	if licensing.ErrorCode(err) == licensing.EConflict {
		return fieldErrorf("key", licensing.EConflict, "a license with this key already exists")
	}
	return err
}

func (s *Store) GetLicense(ctx context.Context, id string) (*licensing.License, error) {
	return getRow[licenseRow](s, ctx, id, "license", licenseFromRow)
}

func (s *Store) GetLicenseByKeyHash(ctx context.Context, keyHash string, forUpdate bool) (*licensing.License, error) {
	q := s.q(ctx)
	if forUpdate {
		q = q.Clauses(clause.Locking{Strength: "UPDATE"})
	}
	var r licenseRow
	if err := q.Take(&r, "key_hash = ?", keyHash).Error; err != nil {
		return nil, notFound(translate(err), "license")
	}
	return licenseFromRow(&r), nil
}

func (s *Store) LockLicense(ctx context.Context, id string) (*licensing.License, error) {
	return lockRow[licenseRow](s, ctx, id, "license", licenseFromRow)
}

func (s *Store) ListLicenses(ctx context.Context, f licensing.LicenseFilter, page licensing.Page) ([]licensing.License, error) {
	q := s.q(ctx)
	for _, c := range [...]struct{ col, v string }{
		{"key_hint", f.KeyHint}, {"customer_id", f.CustomerID}, {"product_id", f.ProductID}, {"policy_id", f.PolicyID}, {"status", string(f.Status)},
	} {
		if c.v != "" {
			q = q.Where(c.col+" = ?", c.v)
		}
	}
	if f.ExpiresBefore != nil {
		q = q.Where("expires_at < ?", f.ExpiresBefore.UTC())
	}
	if f.ExpiresAfter != nil {
		q = q.Where("expires_at >= ?", f.ExpiresAfter.UTC())
	}
	return listRows(q, page, licenseFromRow)
}

// Machines.

func (s *Store) CreateMachine(ctx context.Context, m *licensing.Machine) error {
	setID(&m.ID)
	q := s.q(ctx)
	var omit []string // one Omit: gorm's replaces the previous
	if m.OfflineUntil == nil {
		// A new machine holds no offline lease yet (HoldOfflineSeat sets it),
		// and leaving the column out keeps inserts working on a database
		// not yet migrated to 0017 during a rolling upgrade.
		omit = append(omit, "offline_until")
	}
	if len(m.Components) == 0 {
		omit = append(omit, "components") // its default ([]), as before 0022
	}
	if omit != nil {
		q = q.Omit(omit...)
	}
	err := translate(q.Create(machineToRow(m)).Error)
	if licensing.ErrorCode(err) == licensing.EConflict {
		return errorf(licensing.EConflict, "this fingerprint is already activated on the license")
	}
	return err
}

func (s *Store) FindMachine(ctx context.Context, licenseID, fingerprint string) (*licensing.Machine, error) {
	var r machineRow
	if err := s.q(ctx).Take(&r, "license_id = ? AND fingerprint = ?", licenseID, fingerprint).Error; err != nil {
		return nil, notFound(translate(err), "machine")
	}
	return machineFromRow(&r), nil
}

func (s *Store) CountMachines(ctx context.Context, licenseID string) (int, error) {
	var n int64
	if err := s.q(ctx).Model(&machineRow{}).Where("license_id = ? AND status <> ?", licenseID, string(licensing.MachineBlocked)).Count(&n).Error; err != nil {
		return 0, translate(err)
	}
	return int(n), nil
}

func (s *Store) TouchMachine(ctx context.Context, id string, heartbeat, lease bool, ip string, now time.Time) error {
	set := map[string]any{"status": string(licensing.MachineActive), "updated_at": now}
	if heartbeat {
		set["last_heartbeat"] = now
	}
	if lease {
		set["last_lease_at"] = now
	}
	if ip != "" {
		set["ip"] = ip
	}
	// A machine blocked since the caller read it stays blocked.
	res := s.q(ctx).Model(&machineRow{}).Where("id = ? AND status <> ?", id, string(licensing.MachineBlocked)).Updates(set)
	return affected(res, errorf(licensing.EMachineBlocked, "the machine is blocked or gone"))
}

func (s *Store) DeleteMachine(ctx context.Context, id string, now time.Time) error {
	res := s.q(ctx).Where("id = ? AND (offline_until IS NULL OR offline_until <= ?)", id, now).Delete(&machineRow{})
	if err := affected(res, nil); err != nil || res.RowsAffected > 0 {
		return err
	}
	var n int64
	if err := s.q(ctx).Model(&machineRow{}).Where("id = ?", id).Count(&n).Error; err != nil {
		return translate(err)
	}
	if n > 0 {
		return errorf(licensing.EConflict, "the machine holds its seat until its offline lease ends")
	}
	return errorf(licensing.ENotFound, "machine not found")
}

// HoldOfflineSeat moves offline_until later only: two offline activations
// of one machine keep the later end.
func (s *Store) HoldOfflineSeat(ctx context.Context, id string, until time.Time) error {
	res := s.q(ctx).Model(&machineRow{}).Where("id = ?", id).
		UpdateColumn("offline_until", gorm.Expr("CASE WHEN offline_until IS NULL OR offline_until < ? THEN ? ELSE offline_until END", until, until))
	return affected(res, errorf(licensing.ENotFound, "machine not found"))
}

// API tokens.

func (s *Store) CreateAPIToken(ctx context.Context, t *licensing.APIToken) error {
	setID(&t.ID)
	return s.create(ctx, apiTokenToRow(t))
}

func (s *Store) GetAPITokenByHash(ctx context.Context, hash string) (*licensing.APIToken, error) {
	var r apiTokenRow
	if err := s.q(ctx).Take(&r, "hash = ?", hash).Error; err != nil {
		return nil, notFound(translate(err), "token")
	}
	return apiTokenFromRow(&r), nil
}

func (s *Store) CountAPITokens(ctx context.Context) (int, error) {
	var n int64
	if err := s.q(ctx).Model(&apiTokenRow{}).Count(&n).Error; err != nil {
		return 0, translate(err)
	}
	return int(n), nil
}
