package storage

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"time"

	"github.com/nzilacode/narcidicontrole/licensing"
)

// leaseReadSQL is ReadLease's one statement: the license by key hash
// (unique index), joined to its policy and customer by primary key and to
// the machine of the fingerprint by the (license_id, fingerprint) unique
// index. $1 and $2 are each used once, in order, so the same text binds
// positionally on PostgreSQL and SQLite. leaseReadNoPolicySQL is the same
// without the policy, for a reader that keeps policies (PolicyCache).
var leaseReadSQL, leaseReadNoPolicySQL = leaseReadQuery(true), leaseReadQuery(false)

const (
	leaseReadLicenseCols = ` l.id, l.key_hash, l.key_hint, l.product_id, l.policy_id, l.customer_id, l.name, l.status, l.status_reason,
 l.expires_at, l.entitlements, l.metadata, l.created_at, l.updated_at,`
	leaseReadPolicyCols = ` p.id, p.product_id, p.name, p.duration_seconds, p.max_machines, p.floating, p.lease_ttl_seconds,
 p.heartbeat_window_seconds, p.grace_seconds, p.expiry_action, p.entitlements, p.metadata, p.expiry_notice_days,
 p.offline_release_seconds, p.created_at, p.updated_at,`
	leaseReadRestCols = ` c.status,
 m.id, m.fingerprint, m.name, m.hostname, m.platform, m.ip, m.status, m.last_heartbeat, m.last_lease_at,
 m.status_reason, m.created_at, m.updated_at
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
// their server CPU (bench/RESULTS.md).
func (s *Store) ReadLease(ctx context.Context, keyHash, fingerprint string) (*licensing.LeaseView, error) {
	return s.readLease(ctx, keyHash, fingerprint, true)
}

// readLease is ReadLease, without the policy unless withPolicy (Policy is
// then nil and License.PolicyID names it).
func (s *Store) readLease(ctx context.Context, keyHash, fingerprint string, withPolicy bool) (*licensing.LeaseView, error) {
	query := leaseReadNoPolicySQL
	if withPolicy {
		query = leaseReadSQL
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
	var (
		l                                                  licensing.License
		p                                                  licensing.Policy
		m                                                  licensing.Machine
		cusStatus                                          string
		licExpires, mHeartbeat, mLease, mCreated, mUpdated sql.NullTime
		licEnt, licMeta, polEnt, polMeta, polNotice        sql.NullString
		mID, mFP, mName, mHost, mPlatform, mIP             sql.NullString
		mStatus, mReason                                   sql.NullString
	)
	dest := make([]any, 0, 44)
	dest = append(dest,
		&l.ID, &l.KeyHash, &l.KeyHint, &l.ProductID, &l.PolicyID, &l.CustomerID, &l.Name, &l.Status, &l.StatusReason,
		&licExpires, &licEnt, &licMeta, &l.CreatedAt, &l.UpdatedAt)
	if withPolicy {
		dest = append(dest,
			&p.ID, &p.ProductID, &p.Name, &p.DurationSeconds, &p.MaxMachines, &p.Floating, &p.LeaseTTLSeconds,
			&p.HeartbeatWindowSeconds, &p.GraceSeconds, &p.ExpiryAction, &polEnt, &polMeta, &polNotice,
			&p.OfflineReleaseSeconds, &p.CreatedAt, &p.UpdatedAt)
	}
	dest = append(dest,
		&cusStatus,
		&mID, &mFP, &mName, &mHost, &mPlatform, &mIP, &mStatus, &mHeartbeat, &mLease,
		&mReason, &mCreated, &mUpdated)
	err = rows.Scan(dest...)
	if err != nil {
		return nil, translate(err)
	}
	if err := rows.Close(); err != nil {
		return nil, translate(err)
	}
	// The same normalisation as the gorm rows get (models.go).
	l.ExpiresAt = nullTime(licExpires)
	l.CreatedAt, l.UpdatedAt = utc(l.CreatedAt), utc(l.UpdatedAt)
	p.CreatedAt, p.UpdatedAt = utc(p.CreatedAt), utc(p.UpdatedAt)
	err = errors.Join(
		jsonColumn(licEnt, &l.Entitlements), jsonColumn(licMeta, &l.Metadata),
		jsonColumn(polEnt, &p.Entitlements), jsonColumn(polMeta, &p.Metadata), jsonColumn(polNotice, &p.ExpiryNoticeDays),
	)
	if err != nil {
		return nil, wrap(licensing.EInternal, err, "a stored license or policy is unreadable")
	}
	l.Entitlements, p.Entitlements, p.ExpiryNoticeDays = nonNil(l.Entitlements), nonNil(p.Entitlements), nonNil(p.ExpiryNoticeDays)
	v := &licensing.LeaseView{License: &l, CustomerStatus: licensing.CustomerStatus(cusStatus)}
	if withPolicy {
		v.Policy = &p
	}
	if mID.Valid {
		m = licensing.Machine{
			ID: mID.String, LicenseID: l.ID, Fingerprint: mFP.String, Name: mName.String, Hostname: mHost.String,
			Platform: mPlatform.String, IP: mIP.String, Status: licensing.MachineStatus(mStatus.String),
			LastHeartbeat: nullTime(mHeartbeat), LastLeaseAt: nullTime(mLease), StatusReason: mReason.String,
			CreatedAt: utc(mCreated.Time), UpdatedAt: utc(mUpdated.Time),
		}
		v.Machine = &m
	}
	return v, nil
}

// jsonColumn decodes a JSON text column into dst, as gorm's json serializer
// does (NULL and "" leave dst as it is).
func jsonColumn(c sql.NullString, dst any) error {
	if !c.Valid || c.String == "" {
		return nil
	}
	return json.Unmarshal([]byte(c.String), dst)
}

func nullTime(t sql.NullTime) *time.Time {
	if !t.Valid {
		return nil
	}
	u := t.Time.UTC()
	return &u
}
