package storage

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/nzilacode/narcidicontrole/licensing"
)

// leaseReadSQL is ReadLease's one statement: the license by key hash
// (unique index), joined to its policy and customer by primary key and to
// the machine of the fingerprint by the (license_id, fingerprint) unique
// index, and the license's meters as one JSON array (a subquery on the
// meters' (license_id, entitlement) unique index), so a renewal's lease
// carries them without a statement of its own. $1 and $2 are each used
// once, in order, so the same text binds positionally on PostgreSQL and
// SQLite; only the meters' JSON functions differ (leaseReadMeters).
// leaseReadNoPolicySQL is the same without the policy, for a reader that
// keeps policies (PolicyCache).
var leaseReadSQL, leaseReadNoPolicySQL = leaseReadQuery(true), leaseReadQuery(false)

// The same on a schema before 0022 (and 0020): the new columns' defaults
// as constants, at the same positions.
var leaseReadPreRulesSQL, leaseReadPreRulesNoPolicySQL = preRules(leaseReadSQL), preRules(leaseReadNoPolicySQL)

func preRules(q string) string {
	return strings.NewReplacer("l.overrides, l.seats_override,", "'{}', CAST(NULL AS INTEGER),", "p.rules,", "'{}',").Replace(q)
}

// leaseReadMetersMark stands in the statement's text for the meters
// column, which leaseReadText fills per database and schema.
const leaseReadMetersMark = "/*meters*/"

// The meters column: one JSON array of {"e","u","m","t"} objects
// (entitlement, uses, max_uses, total), NULL or [] when there is none, and
// NULL on a schema before 0023, which has no meters table.
const (
	leaseReadMetersPostgres = `(SELECT json_agg(json_build_object('e', mt.entitlement, 'u', mt.uses, 'm', mt.max_uses, 't', mt.total))
 FROM meters mt WHERE mt.license_id = l.id)`
	leaseReadMetersSQLite = `(SELECT json_group_array(json_object('e', mt.entitlement, 'u', mt.uses, 'm', mt.max_uses, 't', mt.total))
 FROM meters mt WHERE mt.license_id = l.id)`
	leaseReadMetersNone = `NULL`
)

// leaseReadText is the statement for this store's database and schema.
func (s *Store) leaseReadText(withPolicy bool) string {
	query := leaseReadNoPolicySQL
	if withPolicy {
		query = leaseReadSQL
	}
	if s.preRules != nil && s.preRules.Load() {
		query = leaseReadPreRulesNoPolicySQL
		if withPolicy {
			query = leaseReadPreRulesSQL
		}
	}
	meters := leaseReadMetersSQLite
	switch {
	case s.preMeters != nil && s.preMeters.Load():
		meters = leaseReadMetersNone
	case s.postgres:
		meters = leaseReadMetersPostgres
	}
	return strings.Replace(query, leaseReadMetersMark, meters, 1)
}

const (
	leaseReadLicenseCols = ` l.id, l.key_hash, l.key_hint, l.product_id, l.policy_id, l.customer_id, l.name, l.status, l.status_reason,
 l.expires_at, l.entitlements, l.metadata, l.created_at, l.updated_at, l.overrides, l.seats_override,`
	leaseReadPolicyCols = ` p.id, p.product_id, p.name, p.duration_seconds, p.max_machines, p.floating, p.lease_ttl_seconds,
 p.heartbeat_window_seconds, p.grace_seconds, p.expiry_action, p.entitlements, p.metadata, p.expiry_notice_days,
 p.offline_release_seconds, p.created_at, p.updated_at, p.rules,`
	leaseReadRestCols = ` c.status,
 m.id, m.fingerprint, m.name, m.hostname, m.platform, m.ip, m.status, m.last_heartbeat, m.last_lease_at,
 m.status_reason, m.created_at, m.updated_at, ` + leaseReadMetersMark + `
FROM licenses l
`
	leaseReadPolicyJoin = "JOIN policies p ON p.id = l.policy_id\n"
	leaseReadRestJoins  = `JOIN customers c ON c.id = l.customer_id
LEFT JOIN machines m ON m.license_id = l.id AND m.fingerprint = $2
WHERE l.key_hash = $1`
)

func leaseReadQuery(policy bool) string {
	if policy {
		return "SELECT\n" + leaseReadLicenseCols + "\n" + leaseReadPolicyCols + "\n" + leaseReadRestCols + leaseReadPolicyJoin + leaseReadRestJoins
	}
	return "SELECT\n" + leaseReadLicenseCols + "\n" + leaseReadRestCols + leaseReadRestJoins
}

// ReadLease implements licensing.LeasingStore.ReadLease. It goes to the
// connection (or transaction) directly and scans by hand: this read runs
// on every renewal and heartbeat, and gorm's reflection was a sixth of
// their server CPU (bench/RESULTS.md). On PostgreSQL outside a
// transaction it also bypasses database/sql (readLeasePgx).
func (s *Store) ReadLease(ctx context.Context, keyHash, fingerprint string) (*licensing.LeaseView, error) {
	return s.readLease(ctx, keyHash, fingerprint, true)
}

// readLease is ReadLease, without the policy unless withPolicy (Policy is
// then nil and License.PolicyID names it).
func (s *Store) readLease(ctx context.Context, keyHash, fingerprint string, withPolicy bool) (*licensing.LeaseView, error) {
	query := s.leaseReadText(withPolicy)
	if pool, ok := s.db.Statement.ConnPool.(*sql.DB); ok && s.postgres {
		return readLeasePgx(ctx, pool, query, keyHash, fingerprint, withPolicy)
	}
	rows, err := s.db.Statement.ConnPool.QueryContext(ctx, query, keyHash, fingerprint)
	if err != nil {
		return nil, translate(err)
	}
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return nil, translate(err)
		}
		return nil, errorf(licensing.ENotFound, "license not found")
	}
	var r leaseRow
	if err := rows.Scan(r.dest(withPolicy, false)...); err != nil {
		return nil, translate(err)
	}
	if err := rows.Close(); err != nil {
		return nil, translate(err)
	}
	if err := r.decodeJSON(); err != nil {
		return nil, err
	}
	return r.view(withPolicy), nil
}

// readLeasePgx is readLease on PostgreSQL outside a transaction: the same
// statement on a connection of the same pool, through pgx itself, which
// prepares it once per connection (its statement cache is keyed by the
// text) and scans without database/sql's driver.Value boxing. That adapter
// was the largest allocator of this read (BenchmarkReadLease). Taking the
// connection through database/sql keeps one pool, its limit and its check
// of idle connections (stdlib's ResetSession pings them, bad ones are
// retried on another).
func readLeasePgx(ctx context.Context, pool *sql.DB, query, keyHash, fingerprint string, withPolicy bool) (*licensing.LeaseView, error) {
	conn, err := pool.Conn(ctx)
	if err != nil {
		return nil, translate(err)
	}
	defer conn.Close()
	var (
		r     leaseRow
		found bool
	)
	err = conn.Raw(func(dc any) error {
		c, ok := dc.(*stdlib.Conn)
		if !ok {
			return fmt.Errorf("the PostgreSQL driver connection is a %T, not pgx's", dc)
		}
		rows, err := c.Conn().Query(ctx, query, keyHash, fingerprint)
		if err != nil {
			return err
		}
		defer rows.Close()
		if !rows.Next() {
			return rows.Err()
		}
		found = true
		if err := rows.Scan(r.dest(withPolicy, true)...); err != nil {
			return err
		}
		// The JSON columns were skipped (nil destinations): they are
		// decoded from the row's buffer, valid until Next, with no copy.
		raw := rows.RawValues()
		r.licEnt, r.licMeta, r.licOver = raw[leaseReadLicEnt], raw[leaseReadLicEnt+1], raw[leaseReadLicOver]
		if withPolicy {
			r.polEnt, r.polMeta, r.polNotice = raw[leaseReadPolEnt], raw[leaseReadPolEnt+1], raw[leaseReadPolEnt+2]
			r.polRules = raw[leaseReadPolRules]
		}
		r.meters = raw[len(raw)-1]
		if err := r.decodeJSON(); err != nil {
			return err
		}
		rows.Close()
		return rows.Err()
	})
	if err != nil {
		return nil, translate(err) // keeps decodeJSON's licensing error
	}
	if !found {
		return nil, errorf(licensing.ENotFound, "license not found")
	}
	return r.view(withPolicy), nil
}

// Positions of the JSON columns in leaseReadSQL (the licenses' and the
// policy's), which readLeasePgx reads raw.
const (
	leaseReadLicEnt   = 10
	leaseReadLicOver  = 14
	leaseReadPolEnt   = 16 + 10
	leaseReadPolRules = 16 + 16
)

// leaseRow is one row of leaseReadSQL (or leaseReadNoPolicySQL). The
// nullable columns scan into pgtype values, which are sql.Scanners too, so
// both paths share it.
type leaseRow struct {
	l                                      licensing.License
	p                                      licensing.Policy
	licStatus, expiryAction, cusStatus     string
	licExpires                             pgtype.Timestamptz
	licSeats                               pgtype.Int8
	mHeartbeat, mLease, mCreated, mUpdated pgtype.Timestamptz
	mID, mFP, mName, mHost, mPlatform, mIP pgtype.Text
	mStatus, mReason                       pgtype.Text
	licEnt, licMeta, polEnt, polMeta       []byte
	polNotice, licOver, polRules, meters   []byte
	ms                                     []leaseMeter
}

// leaseMeter is one element of the meters column.
type leaseMeter struct {
	Entitlement string `json:"e"`
	Uses        int64  `json:"u"`
	MaxUses     int64  `json:"m"`
	Total       int64  `json:"t"`
}

// dest lists the scan destinations in the statement's order; rawJSON
// leaves the JSON columns nil (skipped by pgx, see readLeasePgx).
func (r *leaseRow) dest(withPolicy, rawJSON bool) []any {
	l, p := &r.l, &r.p
	raw := func(b *[]byte) any {
		if rawJSON {
			return nil
		}
		return b
	}
	dest := make([]any, 0, 46)
	dest = append(dest,
		&l.ID, &l.KeyHash, &l.KeyHint, &l.ProductID, &l.PolicyID, &l.CustomerID, &l.Name, &r.licStatus, &l.StatusReason,
		&r.licExpires, raw(&r.licEnt), raw(&r.licMeta), &l.CreatedAt, &l.UpdatedAt, raw(&r.licOver), &r.licSeats)
	if withPolicy {
		dest = append(dest,
			&p.ID, &p.ProductID, &p.Name, &p.DurationSeconds, &p.MaxMachines, &p.Floating, &p.LeaseTTLSeconds,
			&p.HeartbeatWindowSeconds, &p.GraceSeconds, &r.expiryAction, raw(&r.polEnt), raw(&r.polMeta), raw(&r.polNotice),
			&p.OfflineReleaseSeconds, &p.CreatedAt, &p.UpdatedAt, raw(&r.polRules))
	}
	return append(dest,
		&r.cusStatus,
		&r.mID, &r.mFP, &r.mName, &r.mHost, &r.mPlatform, &r.mIP, &r.mStatus, &r.mHeartbeat, &r.mLease,
		&r.mReason, &r.mCreated, &r.mUpdated, raw(&r.meters))
}

// decodeJSON decodes the JSON columns, as gorm's json serializer does
// (NULL and "" leave the field as it is).
func (r *leaseRow) decodeJSON() error {
	err := errors.Join(
		jsonColumn(r.licEnt, &r.l.Entitlements), jsonColumn(r.licMeta, &r.l.Metadata),
		jsonColumn(r.polEnt, &r.p.Entitlements), jsonColumn(r.polMeta, &r.p.Metadata), jsonColumn(r.polNotice, &r.p.ExpiryNoticeDays),
		jsonColumn(r.licOver, &r.l.Overrides), jsonColumn(r.polRules, &r.p.Rules),
		jsonColumn(r.meters, &r.ms),
	)
	if err != nil {
		return wrap(licensing.EInternal, err, "a stored license or policy is unreadable")
	}
	return nil
}

// view builds the LeaseView of a decoded row, with the same normalisation
// as the gorm rows get (models.go).
func (r *leaseRow) view(withPolicy bool) *licensing.LeaseView {
	l, p := &r.l, &r.p
	l.Status, p.ExpiryAction = licensing.LicenseStatus(r.licStatus), licensing.ExpiryAction(r.expiryAction)
	l.ExpiresAt = nullTime(r.licExpires)
	if r.licSeats.Valid {
		n := int(r.licSeats.Int64)
		l.SeatsOverride = &n
	}
	l.CreatedAt, l.UpdatedAt = utc(l.CreatedAt), utc(l.UpdatedAt)
	p.CreatedAt, p.UpdatedAt = utc(p.CreatedAt), utc(p.UpdatedAt)
	l.Entitlements, p.Entitlements, p.ExpiryNoticeDays = nonNil(l.Entitlements), nonNil(p.Entitlements), nonNil(p.ExpiryNoticeDays)
	v := &licensing.LeaseView{License: l, CustomerStatus: licensing.CustomerStatus(r.cusStatus)}
	if len(r.ms) > 0 {
		v.Meters = make([]licensing.Meter, len(r.ms))
		for i, m := range r.ms {
			v.Meters[i] = licensing.Meter{LicenseID: l.ID, Entitlement: m.Entitlement, Uses: m.Uses, MaxUses: m.MaxUses, Total: m.Total}
		}
		// ListMeters' order, which the lease's claim keeps.
		slices.SortFunc(v.Meters, func(a, b licensing.Meter) int { return strings.Compare(a.Entitlement, b.Entitlement) })
	}
	if withPolicy {
		v.Policy = p
	}
	if r.mID.Valid {
		v.Machine = &licensing.Machine{
			ID: r.mID.String, LicenseID: l.ID, Fingerprint: r.mFP.String, Name: r.mName.String, Hostname: r.mHost.String,
			Platform: r.mPlatform.String, IP: r.mIP.String, Status: licensing.MachineStatus(r.mStatus.String),
			LastHeartbeat: nullTime(r.mHeartbeat), LastLeaseAt: nullTime(r.mLease), StatusReason: r.mReason.String,
			CreatedAt: utc(r.mCreated.Time), UpdatedAt: utc(r.mUpdated.Time),
		}
	}
	return v
}

// jsonColumn decodes a JSON text column into dst, as gorm's json serializer
// does (NULL and "" leave dst as it is).
func jsonColumn(b []byte, dst any) error {
	if len(b) == 0 {
		return nil
	}
	return json.Unmarshal(b, dst)
}

func nullTime(t pgtype.Timestamptz) *time.Time {
	if !t.Valid {
		return nil
	}
	u := t.Time.UTC()
	return &u
}
