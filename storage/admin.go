package storage

import (
	"context"
	"encoding/json"
	"time"

	"github.com/nzilacode/narcidicontrole/licensing"
)

// Repository methods of the admin API: edits, entitlements, machines by
// filter, tokens, the audit log and dashboard figures (idempotency keys: idempotency.go).

func (s *Store) UpdateProduct(ctx context.Context, p *licensing.Product) error {
	return s.save(ctx, productToRow(p), "name", "metadata", "updated_at")
}

func (s *Store) UpdatePolicy(ctx context.Context, p *licensing.Policy) error {
	return s.save(ctx, policyToRow(p), "name", "duration_seconds", "max_machines", "floating", "lease_ttl_seconds",
		"heartbeat_window_seconds", "grace_seconds", "expiry_action", "expiry_notice_days", "offline_release_seconds",
		"entitlements", "metadata", "rules", "updated_at")
}

func (s *Store) UpdateCustomer(ctx context.Context, c *licensing.Customer) error {
	return s.save(ctx, customerToRow(c), s.withLocale("name", "email", "status", "contacts", "permissions", "metadata", "updated_at")...)
}

func (s *Store) UpdateLicense(ctx context.Context, l *licensing.License) error {
	return s.save(ctx, licenseToRow(l), "policy_id", "customer_id", "name", "status", "status_reason", "expires_at",
		"entitlements", "metadata", "updated_at")
}

// SetLicenseSeats sets or clears (nil) a license's own seat count: the one
// write of licenses.seats_override, so UpdateLicense keeps working on a
// schema before 0020 and never carries a seat count read earlier.
func (s *Store) SetLicenseSeats(ctx context.Context, id string, seats *int) error {
	res := s.q(ctx).Model(&licenseRow{}).Where("id = ?", id).UpdateColumn("seats_override", seats)
	return affected(res, errorf(licensing.ENotFound, "license not found"))
}

// SetLicenseOverrides sets a license's own seat count and rule overrides:
// the one write of licenses.overrides (UpdateLicense leaves it).
func (s *Store) SetLicenseOverrides(ctx context.Context, id string, seats *int, o licensing.LicenseOverrides) error {
	b, err := json.Marshal(o)
	if err != nil {
		return wrap(licensing.EInternal, err, "encode the license's overrides")
	}
	res := s.q(ctx).Model(&licenseRow{}).Where("id = ?", id).UpdateColumns(map[string]any{"seats_override": seats, "overrides": string(b)})
	return affected(res, errorf(licensing.ENotFound, "license not found"))
}

// save writes the named columns of row (found by its primary key).
// UpdateColumns, not Updates: updated_at is the domain's clock, which gorm
// would otherwise overwrite with its own.
func (s *Store) save(ctx context.Context, row any, cols ...string) error {
	res := s.q(ctx).Model(row).Select(cols).UpdateColumns(row)
	return affected(res, errorf(licensing.ENotFound, "not found"))
}

func (s *Store) CreateEntitlement(ctx context.Context, e *licensing.Entitlement) error {
	setID(&e.ID)
	// A new entitlement is never retired: leaving retired_at out keeps the
	// insert working on a schema before 0023 (the upgrade test seeds one).
	row := &entitlementRow{ID: e.ID, Code: e.Code, Name: e.Name, Description: e.Description, CreatedAt: e.CreatedAt}
	err := translate(s.q(ctx).Omit("retired_at").Create(row).Error)
	if licensing.ErrorCode(err) == licensing.EConflict {
		return fieldErrorf("code", licensing.EConflict, "an entitlement with code %q already exists", e.Code)
	}
	return err
}

func (s *Store) UpdateEntitlement(ctx context.Context, e *licensing.Entitlement) error {
	return s.save(ctx, &entitlementRow{ID: e.ID, Code: e.Code, Name: e.Name, Description: e.Description, CreatedAt: e.CreatedAt}, "name", "description")
}

func entitlementFromRow(r *entitlementRow) *licensing.Entitlement {
	e := &licensing.Entitlement{ID: r.ID, Code: r.Code, Name: r.Name, Description: r.Description, CreatedAt: utc(r.CreatedAt)}
	if r.RetiredAt != nil {
		t := utc(*r.RetiredAt)
		e.RetiredAt = &t
	}
	return e
}

func (s *Store) GetEntitlement(ctx context.Context, id string) (*licensing.Entitlement, error) {
	return getRow[entitlementRow](s, ctx, id, "entitlement", entitlementFromRow)
}

func (s *Store) ListEntitlements(ctx context.Context, page licensing.Page) ([]licensing.Entitlement, error) {
	return listRows(s.q(ctx), page, entitlementFromRow)
}

func (s *Store) MissingEntitlements(ctx context.Context, codes []string) ([]string, error) {
	var found []string
	q := s.q(ctx).Model(&entitlementRow{}).Where("code IN ?", codes)
	if !s.preMeters.Load() {
		q = q.Where("retired_at IS NULL")
	}
	if err := q.Pluck("code", &found).Error; err != nil {
		return nil, translate(err)
	}
	have := make(map[string]bool, len(found))
	for _, c := range found {
		have[c] = true
	}
	var missing []string
	for _, c := range codes {
		if !have[c] {
			missing = append(missing, c)
		}
	}
	return missing, nil
}

func (s *Store) GetMachine(ctx context.Context, id string) (*licensing.Machine, error) {
	return getRow[machineRow](s, ctx, id, "machine", machineFromRow)
}

func (s *Store) ListMachines(ctx context.Context, f licensing.MachineFilter, page licensing.Page) ([]licensing.Machine, error) {
	q := whereEqual(s.q(ctx), colValue{"license_id", f.LicenseID}, colValue{"status", string(f.Status)})
	if f.CustomerID != "" {
		q = q.Where("license_id IN (?)", s.q(ctx).Model(&licenseRow{}).Select("id").Where("customer_id = ?", f.CustomerID))
	}
	if f.FingerprintPrefix != "" {
		q = q.Where("fingerprint LIKE ? ESCAPE '!'", likeEscape(f.FingerprintPrefix)+"%")
	}
	return listRows(q, page, machineFromRow)
}

func (s *Store) SetMachineStatus(ctx context.Context, id string, status licensing.MachineStatus, reason string, clearHeartbeat bool, now time.Time) error {
	set := map[string]any{"status": string(status), "status_reason": reason, "updated_at": now}
	if clearHeartbeat {
		set["last_heartbeat"] = nil
	}
	res := s.q(ctx).Model(&machineRow{}).Where("id = ?", id).Updates(set)
	return affected(res, errorf(licensing.ENotFound, "machine not found"))
}

func (s *Store) GetAPIToken(ctx context.Context, id string) (*licensing.APIToken, error) {
	return getRow[apiTokenRow](s, ctx, id, "token", apiTokenFromRow)
}

func (s *Store) ListAPITokens(ctx context.Context, page licensing.Page) ([]licensing.APIToken, error) {
	return listRows(s.q(ctx), page, apiTokenFromRow)
}

func (s *Store) RevokeAPIToken(ctx context.Context, id string, now time.Time) error {
	res := s.q(ctx).Model(&apiTokenRow{}).Where("id = ? AND revoked_at IS NULL", id).Update("revoked_at", now)
	return affected(res, errorf(licensing.EConflict, "the token is already revoked"))
}

// TouchAPIToken implements licensing.AccessStore (conditional: of
// concurrent requests, the first write wins and the others change nothing).
func (s *Store) TouchAPIToken(ctx context.Context, id string, at, notBefore time.Time) error {
	res := s.q(ctx).Model(&apiTokenRow{}).Where("id = ? AND (last_used_at IS NULL OR last_used_at <= ?)", id, notBefore.UTC()).
		Update("last_used_at", at.UTC())
	return translate(res.Error)
}

// AppendEvent writes the event and its outbox entry. Callers run it in the
// transaction of the change, so the relay sees exactly the committed events.
func (s *Store) AppendEvent(ctx context.Context, e *licensing.Event) error {
	setID(&e.ID)
	if err := s.create(ctx, eventToRow(e)); err != nil {
		return err
	}
	return s.create(ctx, &outboxRow{EventID: e.ID, CreatedAt: e.Time})
}

func (s *Store) ListEvents(ctx context.Context, f licensing.EventFilter, page licensing.Page) ([]licensing.Event, error) {
	return listLog(s.q(ctx), logQuery{
		equal:   []colValue{{"target_type", f.TargetType}, {"target_id", f.TargetID}, {"actor", f.Actor}, {"action", f.Action}},
		timeCol: "time", since: f.Since, until: f.Until, newest: f.Newest,
	}, page, eventFromRow)
}

// Stats computes the dashboard with aggregate queries on indexed columns;
// no rows are loaded into memory.
func (s *Store) Stats(ctx context.Context, now time.Time) (*licensing.Stats, error) {
	now = now.UTC()
	st := &licensing.Stats{LicensesByStatus: map[licensing.LicenseStatus]int{}, MachinesByStatus: map[licensing.MachineStatus]int{}, ComputedAt: now}
	type group struct {
		K string
		N int
	}
	var groups []group
	if err := s.q(ctx).Model(&licenseRow{}).Select("status AS k, count(*) AS n").Group("status").Scan(&groups).Error; err != nil {
		return nil, translate(err)
	}
	for _, g := range groups {
		st.LicensesByStatus[licensing.LicenseStatus(g.K)] = g.N
	}
	groups = nil
	if err := s.q(ctx).Model(&machineRow{}).Select("status AS k, count(*) AS n").Group("status").Scan(&groups).Error; err != nil {
		return nil, translate(err)
	}
	for _, g := range groups {
		st.MachinesByStatus[licensing.MachineStatus(g.K)] = g.N
	}
	expiring := func(d time.Duration) (int, error) {
		var n int64
		err := s.q(ctx).Model(&licenseRow{}).Where("status = ? AND expires_at >= ? AND expires_at < ?",
			string(licensing.LicenseActive), now, now.Add(d)).Count(&n).Error
		return int(n), translate(err)
	}
	var err error
	if st.ExpiringIn7Days, err = expiring(7 * 24 * time.Hour); err != nil {
		return nil, err
	}
	if st.ExpiringIn30Days, err = expiring(30 * 24 * time.Hour); err != nil {
		return nil, err
	}
	day := "date(time)" // SQLite stores times as text; date() reads them
	if s.postgres {
		day = "to_char(time AT TIME ZONE 'UTC', 'YYYY-MM-DD')"
	}
	start := now.Truncate(24*time.Hour).AddDate(0, 0, -29)
	groups = nil
	if err := s.q(ctx).Model(&eventRow{}).Select(day+" AS k, count(*) AS n").
		Where("action = ? AND time >= ?", licensing.ActionMachineActivated, start).Group("k").Scan(&groups).Error; err != nil {
		return nil, translate(err)
	}
	perDay := map[string]int{}
	for _, g := range groups {
		perDay[g.K] = g.N
	}
	for d := start; !d.After(now); d = d.AddDate(0, 0, 1) {
		k := d.Format("2006-01-02")
		st.ActivationsPerDay = append(st.ActivationsPerDay, licensing.DayCount{Day: k, Count: perDay[k]})
	}
	return st, nil
}

// LastEvent returns the latest event of action on a target, or nil when
// there is none (the portal reads a suspension's message to the customer
// from it).
func (s *Store) LastEvent(ctx context.Context, targetType, targetID, action string) (*licensing.Event, error) {
	var rows []eventRow
	err := s.q(ctx).Where("target_type = ? AND target_id = ? AND action = ?", targetType, targetID, action).
		Order("time DESC, id DESC").Limit(1).Find(&rows).Error
	if err != nil || len(rows) == 0 {
		return nil, translate(err)
	}
	return eventFromRow(&rows[0]), nil
}
