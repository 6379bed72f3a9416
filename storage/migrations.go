package storage

import (
	"context"
	"fmt"
	"time"

	"github.com/go-gormigrate/gormigrate/v2"
	"gorm.io/gorm"
)

// migrations is the schema's history. Append only: a released migration is
// never edited, since databases in the field have already run it. Each one
// declares the structs it needs as they were at that version, so later
// changes to models.go do not change what an old migration does.
// Alike the models and one another (the row structs of migrations in
// releases.go, subscriptions.go, portal.go...): kept apart because each
// is frozen as its migration created the table.
// MigrationIDs are the ids of every migration, in order (the CHANGELOG's
// guard reads them).
func MigrationIDs() []string {
	var ids []string
	for _, m := range migrations() {
		ids = append(ids, m.ID)
	}
	return ids
}

func migrations() []*gormigrate.Migration {
	return []*gormigrate.Migration{
		{ID: "0001_initial", Migrate: migrateInitial},
		{ID: "0002_admin_api", Migrate: migrateAdminAPI},
		{ID: "0003_scan_indexes", Migrate: migrateScanIndexes},
		{ID: "0004_automation", Migrate: migrateAutomation},
		{ID: "0005_releases", Migrate: migrateReleases},
		{ID: "0006_meta", Migrate: migrateMeta},                      // meta.go
		{ID: "0007_token_bootstrap", Migrate: migrateTokenBootstrap}, // secrets.go
		{ID: "0008_subscriptions", Migrate: migrateSubscriptions},    // subscriptions.go
		{ID: "0009_console_users", Migrate: migrateConsoleUsers},     // users.go
		{ID: "0010_telemetry", Migrate: migrateTelemetry},            // insights.go
		{ID: "0011_portal", Migrate: migratePortal},                  // portal.go
		{ID: "0012_insight_scores", Migrate: migrateInsightScores},   // insightscores.go
		{ID: "0013_portal_passwords", Migrate: migratePortalPasswords},
		{ID: "0014_telemetry_one_row_per_use", Migrate: migrateTelemetryOneRowPerUse}, // insights.go
		{ID: "0015_token_last_used", Migrate: migrateTokenLastUsed},
		{ID: "0016_billing_state", Migrate: migrateBillingState}, // subscriptions.go
		{ID: "0017_auth_races", Migrate: migrateAuthRaces},
		{ID: "0018_signing_keys", Migrate: migrateSigningKeys},                  // signingkeys.go
		{ID: "0019_insight_outcome_facts", Migrate: migrateInsightOutcomeFacts}, // insightscores.go
		{ID: "0020_license_seats", Migrate: migrateLicenseSeats},
		{ID: "0022_license_rules", Migrate: migrateLicenseRules}, // rules.go
		{ID: "0023_meters", Migrate: migrateMeters},              // meters.go
		{ID: "0025_delivery_bodies", Migrate: migrateDeliveryBodies},
		{ID: "0029_locale", Migrate: migrateLocale},
	}
}

func migrateInitial(tx *gorm.DB) error {
	type product struct {
		ID        string    `gorm:"primaryKey;size:36"`
		Code      string    `gorm:"size:64;not null;uniqueIndex"`
		Name      string    `gorm:"size:200;not null"`
		Metadata  string    `gorm:"type:text;not null;default:'{}'"`
		CreatedAt time.Time `gorm:"not null"`
		UpdatedAt time.Time `gorm:"not null"`
	}
	type policy struct {
		ID                     string    `gorm:"primaryKey;size:36"`
		ProductID              string    `gorm:"size:36;not null;index"`
		Product                *product  `gorm:"foreignKey:ProductID;constraint:OnDelete:RESTRICT"`
		Name                   string    `gorm:"size:200;not null"`
		DurationSeconds        int64     `gorm:"not null"`
		MaxMachines            int       `gorm:"not null"`
		Floating               bool      `gorm:"not null"`
		LeaseTTLSeconds        int64     `gorm:"not null"`
		HeartbeatWindowSeconds int64     `gorm:"not null"`
		GraceSeconds           int64     `gorm:"not null"`
		ExpiryAction           string    `gorm:"size:16;not null"`
		Entitlements           string    `gorm:"type:text;not null;default:'[]'"`
		Metadata               string    `gorm:"type:text;not null;default:'{}'"`
		CreatedAt              time.Time `gorm:"not null"`
		UpdatedAt              time.Time `gorm:"not null"`
	}
	type customer struct {
		ID        string    `gorm:"primaryKey;size:36"`
		Name      string    `gorm:"size:200;not null"`
		Email     string    `gorm:"size:320;not null;index"`
		Status    string    `gorm:"size:16;not null"`
		Metadata  string    `gorm:"type:text;not null;default:'{}'"`
		CreatedAt time.Time `gorm:"not null"`
		UpdatedAt time.Time `gorm:"not null"`
	}
	type license struct {
		ID           string     `gorm:"primaryKey;size:36"`
		KeyHash      string     `gorm:"size:64;not null;uniqueIndex"`
		KeyHint      string     `gorm:"size:8;not null"`
		ProductID    string     `gorm:"size:36;not null;index"`
		Product      *product   `gorm:"foreignKey:ProductID;constraint:OnDelete:RESTRICT"`
		PolicyID     string     `gorm:"size:36;not null;index"`
		Policy       *policy    `gorm:"foreignKey:PolicyID;constraint:OnDelete:RESTRICT"`
		CustomerID   string     `gorm:"size:36;not null;index"`
		Customer     *customer  `gorm:"foreignKey:CustomerID;constraint:OnDelete:RESTRICT"`
		Name         string     `gorm:"size:200;not null"`
		Status       string     `gorm:"size:16;not null;index"`
		StatusReason string     `gorm:"size:500;not null"`
		ExpiresAt    *time.Time `gorm:"index"`
		Entitlements string     `gorm:"type:text;not null;default:'[]'"`
		Metadata     string     `gorm:"type:text;not null;default:'{}'"`
		CreatedAt    time.Time  `gorm:"not null"`
		UpdatedAt    time.Time  `gorm:"not null"`
	}
	type machine struct {
		ID            string     `gorm:"primaryKey;size:36"`
		LicenseID     string     `gorm:"size:36;not null;uniqueIndex:machines_license_fingerprint,priority:1"`
		License       *license   `gorm:"foreignKey:LicenseID;constraint:OnDelete:CASCADE"`
		Fingerprint   string     `gorm:"size:256;not null;uniqueIndex:machines_license_fingerprint,priority:2"`
		Name          string     `gorm:"size:200;not null"`
		Hostname      string     `gorm:"size:255;not null"`
		Platform      string     `gorm:"size:100;not null"`
		IP            string     `gorm:"size:64;not null"`
		Status        string     `gorm:"size:16;not null"`
		LastHeartbeat *time.Time `gorm:"index"`
		LastLeaseAt   *time.Time
		CreatedAt     time.Time `gorm:"not null"`
		UpdatedAt     time.Time `gorm:"not null"`
	}
	type apiToken struct {
		ID         string `gorm:"primaryKey;size:36"`
		Name       string `gorm:"size:200;not null"`
		Role       string `gorm:"size:16;not null"`
		CustomerID string `gorm:"size:36;not null"`
		Hash       string `gorm:"size:64;not null;uniqueIndex"`
		ExpiresAt  *time.Time
		RevokedAt  *time.Time
		CreatedAt  time.Time `gorm:"not null"`
	}
	// Table names follow gorm's naming of these struct names (products,
	// policies, ...), which is also what the foreign keys refer to.
	if err := tx.Migrator().CreateTable(&product{}, &policy{}, &customer{}, &license{}, &machine{}, &apiToken{}); err != nil {
		return fmt.Errorf("create tables: %w", err)
	}
	return nil
}

// migrateAdminAPI adds what the full admin API needs: entitlements,
// customer contacts and permissions, machine block reasons, the audit log
// and idempotency keys.
func migrateAdminAPI(tx *gorm.DB) error {
	type entitlement struct {
		ID          string    `gorm:"primaryKey;size:36"`
		Code        string    `gorm:"size:64;not null;uniqueIndex"`
		Name        string    `gorm:"size:200;not null"`
		Description string    `gorm:"type:text;not null"`
		CreatedAt   time.Time `gorm:"not null"`
	}
	type customer struct {
		Contacts    string `gorm:"type:text;not null;default:'[]'"`
		Permissions string `gorm:"type:text;not null;default:'[]'"`
	}
	type machine struct {
		StatusReason string `gorm:"size:500;not null;default:''"`
		Status       string `gorm:"index:idx_machines_status"`
	}
	type event struct {
		ID         string    `gorm:"primaryKey;size:36"`
		Time       time.Time `gorm:"not null;index;index:idx_events_action_time,priority:2"`
		Action     string    `gorm:"size:64;not null;index:idx_events_action_time,priority:1"`
		TargetType string    `gorm:"size:32;not null;index:idx_events_target,priority:1"`
		TargetID   string    `gorm:"size:36;not null;index:idx_events_target,priority:2"`
		Actor      string    `gorm:"size:64;not null;index"`
		ActorName  string    `gorm:"size:200;not null"`
		Reason     string    `gorm:"size:500;not null"`
		Before     string    `gorm:"type:text"`
		After      string    `gorm:"type:text"`
		RequestID  string    `gorm:"size:64;not null"`
	}
	type idempotencyKey struct {
		Owner       string    `gorm:"primaryKey;size:64"`
		Key         string    `gorm:"column:idem_key;primaryKey;size:255"`
		RequestHash string    `gorm:"size:64;not null"`
		Status      int       `gorm:"not null"`
		Body        []byte    `gorm:"not null"`
		CreatedAt   time.Time `gorm:"not null;index"`
	}
	m := tx.Migrator()
	if err := m.CreateTable(&entitlement{}, &event{}, &idempotencyKey{}); err != nil {
		return fmt.Errorf("create tables: %w", err)
	}
	for _, col := range []struct {
		model any
		field string
	}{{&customer{}, "Contacts"}, {&customer{}, "Permissions"}, {&machine{}, "StatusReason"}} {
		if err := m.AddColumn(col.model, col.field); err != nil {
			return fmt.Errorf("add column %s: %w", col.field, err)
		}
	}
	if err := m.CreateIndex(&machine{}, "idx_machines_status"); err != nil {
		return fmt.Errorf("index machines.status: %w", err)
	}
	// Customers created before this version keep every customer permission.
	return tx.Exec(`UPDATE customers SET permissions = ?`, `["customers:read","licenses:read","machines:read","machines:write"]`).Error
}

// migrateScanIndexes adds partial indexes for the scans that look for
// what is due: only active rows are indexed, so a base full of long-offline
// machines or long-expired licenses does not slow them (bench/RESULTS.md).
// Both PostgreSQL and SQLite support partial indexes.
func migrateScanIndexes(tx *gorm.DB) error {
	for _, ddl := range []string{
		`CREATE INDEX idx_machines_active_last_heartbeat ON machines (last_heartbeat) WHERE status = 'active'`,
		`CREATE INDEX idx_licenses_active_expires_at ON licenses (expires_at) WHERE status = 'active'`,
	} {
		if err := tx.Exec(ddl).Error; err != nil {
			return fmt.Errorf("scan indexes: %w", err)
		}
	}
	return nil
}

// migrateAutomation adds what the workers need: policy notice offsets and
// seat release, the outbox, sent expiry notices, webhook endpoints, their
// deliveries and attempts, and the dashboard roll-ups.
func migrateAutomation(tx *gorm.DB) error {
	type policy struct {
		ExpiryNoticeDays      string `gorm:"type:text;not null;default:'[30,7,1]'"`
		OfflineReleaseSeconds int64  `gorm:"not null;default:0"`
	}
	type outbox struct {
		EventID      string    `gorm:"primaryKey;size:36"`
		CreatedAt    time.Time `gorm:"not null"`
		RelayedAt    *time.Time
		DispatchedAt *time.Time `gorm:"index"`
	}
	type expiryNotice struct {
		LicenseID string    `gorm:"primaryKey;size:36"`
		Days      int       `gorm:"primaryKey"`
		ExpiresAt time.Time `gorm:"primaryKey"`
		SentAt    time.Time `gorm:"not null"`
	}
	type webhookEndpoint struct {
		ID                  string    `gorm:"primaryKey;size:36"`
		URL                 string    `gorm:"size:2000;not null"`
		Description         string    `gorm:"size:500;not null"`
		EventTypes          string    `gorm:"type:text;not null"`
		Enabled             bool      `gorm:"not null"`
		DisabledReason      string    `gorm:"size:500;not null"`
		ConsecutiveFailures int       `gorm:"not null"`
		SealedSecret        []byte    `gorm:"not null"`
		CreatedAt           time.Time `gorm:"not null"`
		UpdatedAt           time.Time `gorm:"not null"`
	}
	type delivery struct {
		ID             string `gorm:"primaryKey;size:36"`
		EventID        string `gorm:"size:36;not null;uniqueIndex:deliveries_destination,priority:1"`
		Action         string `gorm:"size:64;not null"`
		Channel        string `gorm:"size:16;not null;uniqueIndex:deliveries_destination,priority:2"`
		EndpointID     string `gorm:"size:36;not null;uniqueIndex:deliveries_destination,priority:3;index"`
		Status         string `gorm:"size:16;not null"`
		Attempts       int    `gorm:"not null"`
		AttemptLimit   int    `gorm:"not null"`
		Generation     int    `gorm:"not null"`
		LastStatusCode int    `gorm:"not null"`
		LastError      string `gorm:"size:1000;not null"`
		EnqueuedAt     *time.Time
		DeliveredAt    *time.Time
		CreatedAt      time.Time `gorm:"not null"`
		UpdatedAt      time.Time `gorm:"not null;index"`
	}
	type deliveryAttempt struct {
		ID         string    `gorm:"primaryKey;size:36"`
		DeliveryID string    `gorm:"size:36;not null;index"`
		Number     int       `gorm:"not null"`
		At         time.Time `gorm:"not null"`
		StatusCode int       `gorm:"not null"`
		Error      string    `gorm:"size:1000;not null"`
		DurationMS int64     `gorm:"column:duration_ms;not null"`
	}
	type dashboardRollup struct {
		Day        string    `gorm:"primaryKey;size:10"`
		Stats      string    `gorm:"type:text;not null"`
		ComputedAt time.Time `gorm:"not null"`
	}
	m := tx.Migrator()
	if err := m.CreateTable(&outbox{}, &expiryNotice{}, &webhookEndpoint{}, &delivery{}, &deliveryAttempt{}, &dashboardRollup{}); err != nil {
		return fmt.Errorf("create tables: %w", err)
	}
	for _, f := range []string{"ExpiryNoticeDays", "OfflineReleaseSeconds"} {
		if err := m.AddColumn(&policy{}, f); err != nil {
			return fmt.Errorf("add column %s: %w", f, err)
		}
	}
	for _, ddl := range []string{
		// The relay reads only what is not yet dispatched.
		`CREATE INDEX idx_outbox_pending ON outboxes (created_at) WHERE dispatched_at IS NULL`,
		`CREATE INDEX idx_deliveries_pending ON deliveries (created_at) WHERE status = 'pending'`,
		// The release scan reads only offline machines.
		`CREATE INDEX idx_machines_offline_last_heartbeat ON machines (last_heartbeat) WHERE status = 'offline'`,
	} {
		if err := tx.Exec(ddl).Error; err != nil {
			return fmt.Errorf("automation indexes: %w", err)
		}
	}
	return nil
}

// migrationLockID is the PostgreSQL advisory lock that keeps two starting
// instances from migrating at once.
const migrationLockID = 7_301_442_001

// Migrate brings the schema up to date, first refusing a database newer
// than this binary understands (schema.go). It is safe to run from several
// processes at once: on PostgreSQL they take turns on an advisory lock, and on
// SQLite the single connection serializes them.
func (s *Store) Migrate(ctx context.Context) error { return s.MigrateTo(ctx, "") }

// MigrateTo applies the migrations up to and including id ("" for all):
// the upgrade test builds an earlier version's schema with it.
func (s *Store) MigrateTo(ctx context.Context, id string) error {
	return s.db.WithContext(ctx).Connection(func(conn *gorm.DB) error {
		if s.postgres {
			if err := conn.Exec("SELECT pg_advisory_lock(?)", migrationLockID).Error; err != nil {
				return translate(err)
			}
			defer conn.Exec("SELECT pg_advisory_unlock(?)", migrationLockID)
		} else if err := conn.Exec("SELECT count(*) FROM sqlite_master").Error; err != nil {
			// The migrator does not check the errors of its first queries
			// (it dereferences a nil row): a database that cannot be read
			// must fail here, with its cause.
			return translate(err)
		}
		bin := s.schema
		before, err := checkSchema(conn, bin)
		if err != nil {
			return err
		}
		m := gormigrate.New(conn, &gormigrate.Options{TableName: "schema_migrations", IDColumnName: "id", IDColumnSize: 255, UseTransaction: true}, migrations())
		migrate := m.Migrate
		if id != "" {
			migrate = func() error { return m.MigrateTo(id) }
		}
		err = migrate()
		if s.preRules != nil {
			s.checkNewColumns(conn) // this connection: SQLite has one
		}
		if err != nil {
			return fmt.Errorf("migrate: %w", err)
		}
		if id != "" {
			// An earlier version's schema (the upgrade tests): what that
			// version would have recorded, which is nothing.
			return nil
		}
		return recordSchema(conn, bin, before)
	})
}

// migrateTokenLastUsed (0015) records when each API token was last used
// (licensing.TokenUseResolution), for the console's tokens page and the API.
func migrateTokenLastUsed(tx *gorm.DB) error {
	type apiToken struct {
		LastUsedAt *time.Time
	}
	if err := tx.Migrator().AddColumn(&apiToken{}, "LastUsedAt"); err != nil {
		return fmt.Errorf("add api_tokens.last_used_at: %w", err)
	}
	return nil
}

// migrateAuthRaces (0017) adds what makes one-time things hold under
// concurrent requests: console_users.totp_last_step, the RFC 6238 time step
// of the last accepted TOTP code (a code is accepted once: the step is
// spent by a conditional update, AcceptTOTPStep), and machines.offline_until,
// when the lease of a machine's offline activation ends (its seat cannot be
// freed before: DeleteMachine).
func migrateAuthRaces(tx *gorm.DB) error {
	type consoleUser struct {
		TOTPLastStep int64 `gorm:"column:totp_last_step;not null;default:0"`
	}
	if err := tx.Migrator().AddColumn(&consoleUser{}, "TOTPLastStep"); err != nil {
		return fmt.Errorf("add console_users.totp_last_step: %w", err)
	}
	type machine struct {
		OfflineUntil *time.Time
	}
	if err := tx.Migrator().AddColumn(&machine{}, "OfflineUntil"); err != nil {
		return fmt.Errorf("add machines.offline_until: %w", err)
	}
	return nil
}

// migrateLicenseSeats gives a license its own seat count (NULL: its
// policy's), which a billing provider's quantity sets.
func migrateLicenseSeats(tx *gorm.DB) error {
	type license struct {
		SeatsOverride *int
	}
	if err := tx.Migrator().AddColumn(&license{}, "SeatsOverride"); err != nil {
		return fmt.Errorf("add licenses.seats_override: %w", err)
	}
	return nil
}

// migrateDeliveryBodies keeps what each webhook attempt sent and what the
// endpoint answered (bounded, licensing.MaxAttemptBody), for the console's
// delivery view. Empty for attempts made before.
func migrateDeliveryBodies(tx *gorm.DB) error {
	type deliveryAttempt struct {
		RequestBody  string `gorm:"type:text;not null;default:''"`
		ResponseBody string `gorm:"type:text;not null;default:''"`
	}
	for _, col := range []string{"RequestBody", "ResponseBody"} {
		if err := tx.Migrator().AddColumn(&deliveryAttempt{}, col); err != nil {
			return fmt.Errorf("add delivery_attempts.%s: %w", col, err)
		}
	}
	return nil
}

// migrateLocale (0029) adds the reader's language (a catalog of
// licensing/i18n, "" for none: Accept-Language, then the server default)
// and time zone (an IANA name, "" for UTC) to customers, for the portal and
// every mail to them, and to console users.
func migrateLocale(tx *gorm.DB) error {
	type locale struct {
		Language string `gorm:"size:35;not null;default:''"`
		TimeZone string `gorm:"size:64;not null;default:''"`
	}
	for _, table := range []string{"customers", "console_users"} {
		for _, col := range []string{"Language", "TimeZone"} {
			if err := tx.Table(table).Migrator().AddColumn(&locale{}, col); err != nil {
				return fmt.Errorf("add %s.%s: %w", table, col, err)
			}
		}
	}
	return nil
}
