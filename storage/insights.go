package storage

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/nzilacode/narcidicontrole/licensing"
	"github.com/nzilacode/narcidicontrole/licensing/insights"
	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// Insights implements insights.Store on the same database as Store.
type Insights struct {
	s *Store
}

var _ insights.Store = (*Insights)(nil)

// Insights returns the telemetry repository of the store.
func (s *Store) Insights() *Insights { return &Insights{s: s} }

// migrateTelemetry adds the telemetry of issue 14: daily roll-ups per
// license and machine, and refused client calls. No foreign keys: rows
// outlive nothing for long (retention), and a roll-up written behind must
// not fail because its machine was deleted meanwhile.
func migrateTelemetry(tx *gorm.DB) error {
	type telemetryDay struct {
		Day         string `gorm:"primaryKey;size:10"`
		LicenseID   string `gorm:"primaryKey;size:36;index:idx_telemetry_days_license,priority:1"`
		MachineID   string `gorm:"primaryKey;size:36"`
		Activations int64  `gorm:"not null"`
		Renewals    int64  `gorm:"not null"`
		Heartbeats  int64  `gorm:"not null"`
		Validations int64  `gorm:"not null"`
		Networks    string `gorm:"type:text;not null"`
		Platforms   string `gorm:"type:text;not null"`
	}
	type telemetryRefusal struct {
		ID          string    `gorm:"primaryKey;size:36"`
		At          time.Time `gorm:"not null;index;index:idx_telemetry_refusals_license,priority:2"`
		Kind        string    `gorm:"size:16;not null"`
		Code        string    `gorm:"size:64;not null"`
		LicenseID   string    `gorm:"size:36;not null;index:idx_telemetry_refusals_license,priority:1"`
		MachineID   string    `gorm:"size:36;not null"`
		Fingerprint string    `gorm:"size:256;not null"`
		Network     string    `gorm:"size:64;not null"`
	}
	if err := tx.Migrator().CreateTable(&telemetryDay{}, &telemetryRefusal{}); err != nil {
		return fmt.Errorf("create tables: %w", err)
	}
	return nil
}

func jsonSet(s []string) string {
	if len(s) == 0 {
		return "[]"
	}
	b, _ := json.Marshal(s)
	return string(b)
}

// migrateTelemetryOneRowPerUse (0014) moves the roll-ups to one row per
// use (insights.Day): until then a use with a machine was counted in its
// machine's row and again in its license's row (empty machine_id). The
// license rows keep only what their machines' rows of the same day do
// not hold (the uses that named no machine), and go when nothing is left.
// Their sets are kept: a license's total reads the union of its rows'
// sets, which these already were.
func migrateTelemetryOneRowPerUse(tx *gorm.DB) error {
	rest := func(col string) string {
		return fmt.Sprintf(`%[1]s = CASE WHEN telemetry_days.%[1]s > s.%[1]s THEN telemetry_days.%[1]s - s.%[1]s ELSE 0 END`, col)
	}
	sums := `(SELECT day, license_id, SUM(activations) AS activations, SUM(renewals) AS renewals,
    SUM(heartbeats) AS heartbeats, SUM(validations) AS validations
  FROM telemetry_days WHERE machine_id <> '' GROUP BY day, license_id) AS s`
	fold := `UPDATE telemetry_days SET ` + rest("activations") + `, ` + rest("renewals") + `, ` + rest("heartbeats") + `, ` + rest("validations") + `
FROM ` + sums + `
WHERE telemetry_days.machine_id = '' AND s.day = telemetry_days.day AND s.license_id = telemetry_days.license_id`
	if err := tx.Exec(fold).Error; err != nil {
		return fmt.Errorf("fold the license roll-ups: %w", err)
	}
	if err := tx.Exec(`DELETE FROM telemetry_days WHERE machine_id = '' AND activations = 0 AND renewals = 0 AND heartbeats = 0 AND validations = 0`).Error; err != nil {
		return fmt.Errorf("drop the empty license roll-ups: %w", err)
	}
	return nil
}

// AddDays implements insights.Store: one upsert that adds counts and
// merges the sets (kept sorted, bounded) in the database, so concurrent
// writers of the same day (several instances) lose nothing.
func (i *Insights) AddDays(ctx context.Context, days []insights.Day) error {
	if len(days) == 0 {
		return nil
	}
	s := i.s
	var (
		query string
		args  []any
	)
	const set = `activations = d.activations + excluded.activations,
  renewals = d.renewals + excluded.renewals,
  heartbeats = d.heartbeats + excluded.heartbeats,
  validations = d.validations + excluded.validations,
  networks = %s,
  platforms = %s,
  app_versions = %s`
	if s.postgres {
		cols := make([][]any, 10)
		for _, d := range days {
			for c, v := range []any{d.Day, d.LicenseID, d.MachineID, d.Activations, d.Renewals, d.Heartbeats, d.Validations, jsonSet(d.Networks), jsonSet(d.Platforms), jsonSet(d.AppVersions)} {
				cols[c] = append(cols[c], v)
			}
		}
		texts := func(c int) []string {
			out := make([]string, len(cols[c]))
			for i, v := range cols[c] {
				out[i] = v.(string)
			}
			return out
		}
		ints := func(c int) []int64 {
			out := make([]int64, len(cols[c]))
			for i, v := range cols[c] {
				out[i] = v.(int64)
			}
			return out
		}
		// A day's sets rarely grow after its first calls (the same
		// networks, platforms and versions again): when the stored set
		// holds the new one already, it is kept as it is, and the merge
		// (unnest, sort, aggregate) is spent only on a set that changes.
		merge := func(col string, max int) string {
			return fmt.Sprintf(`CASE WHEN d.%[1]s::jsonb @> excluded.%[1]s::jsonb THEN d.%[1]s ELSE (SELECT COALESCE(jsonb_agg(n ORDER BY n), '[]'::jsonb)::text FROM
    (SELECT DISTINCT n FROM jsonb_array_elements_text(d.%[1]s::jsonb || excluded.%[1]s::jsonb) AS t(n) ORDER BY n LIMIT %[2]d) AS u) END`, col, max)
		}
		query = `INSERT INTO telemetry_days AS d (day, license_id, machine_id, activations, renewals, heartbeats, validations, networks, platforms, app_versions)
SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::bigint[], $6::bigint[], $7::bigint[], $8::text[], $9::text[], $10::text[])
ON CONFLICT (day, license_id, machine_id) DO UPDATE SET
  ` + fmt.Sprintf(set, merge("networks", insights.MaxNetworks), merge("platforms", insights.MaxPlatforms), merge("app_versions", insights.MaxAppVersions))
		args = []any{texts(0), texts(1), texts(2), ints(3), ints(4), ints(5), ints(6), texts(7), texts(8), texts(9)}
	} else {
		args = make([]any, 0, 10*len(days))
		for _, d := range days {
			args = append(args, d.Day, d.LicenseID, d.MachineID, d.Activations, d.Renewals, d.Heartbeats, d.Validations, jsonSet(d.Networks), jsonSet(d.Platforms), jsonSet(d.AppVersions))
		}
		merge := func(col string, max int) string {
			return fmt.Sprintf(`(SELECT COALESCE(json_group_array(value), '[]') FROM
    (SELECT value FROM json_each(d.%[1]s) UNION SELECT value FROM json_each(excluded.%[1]s) ORDER BY value LIMIT %[2]d))`, col, max)
		}
		query = `INSERT INTO telemetry_days AS d (day, license_id, machine_id, activations, renewals, heartbeats, validations, networks, platforms, app_versions)
VALUES ` + valueRows(len(days), 10) + `
ON CONFLICT (day, license_id, machine_id) DO UPDATE SET
  ` + fmt.Sprintf(set, merge("networks", insights.MaxNetworks), merge("platforms", insights.MaxPlatforms), merge("app_versions", insights.MaxAppVersions))
	}
	_, err := s.db.Statement.ConnPool.ExecContext(ctx, query, args...)
	s.health.noteWrite(err)
	return translate(err)
}

type telemetryRefusalRow struct {
	ID          string `gorm:"primaryKey"`
	At          time.Time
	Kind        string
	Code        string
	LicenseID   string
	MachineID   string
	Fingerprint string
	Network     string
}

func (telemetryRefusalRow) TableName() string { return "telemetry_refusals" }

// AddRefusals implements insights.Store (one multi-row insert). An event
// already stored (a retried batch whose first write did land) is skipped.
func (i *Insights) AddRefusals(ctx context.Context, events []insights.RefusalEvent) error {
	if len(events) == 0 {
		return nil
	}
	rows := make([]telemetryRefusalRow, len(events))
	for n, e := range events {
		rows[n] = telemetryRefusalRow{ID: e.ID, At: e.At.UTC(), Kind: string(e.Kind), Code: string(e.Code), LicenseID: e.LicenseID,
			MachineID: e.MachineID, Fingerprint: e.Fingerprint, Network: e.Network}
	}
	return translate(i.s.q(ctx).Clauses(clause.OnConflict{DoNothing: true}).CreateInBatches(rows, len(rows)).Error)
}

type telemetryDayRow struct {
	Day, LicenseID, MachineID                      string
	Activations, Renewals, Heartbeats, Validations int64
	Networks, Platforms, AppVersions               string
}

// Days implements insights.Store.
func (i *Insights) Days(ctx context.Context, licenseID, from, to string) ([]insights.Day, error) {
	var rows []telemetryDayRow
	err := i.s.q(ctx).Table("telemetry_days").Where("license_id = ? AND day >= ? AND day <= ?", licenseID, from, to).
		Order("day, machine_id").Find(&rows).Error
	if err != nil {
		return nil, translate(err)
	}
	return daysFromRows(rows)
}

// daysFromRows converts stored roll-up rows, reading their JSON sets, into
// what the engine reads (insights.LicenseDays: the license's rows are
// built here, not stored).
func daysFromRows(rows []telemetryDayRow) ([]insights.Day, error) {
	out := make([]insights.Day, len(rows))
	for n, r := range rows {
		out[n] = insights.Day{Day: r.Day, LicenseID: r.LicenseID, MachineID: r.MachineID, Activations: r.Activations,
			Renewals: r.Renewals, Heartbeats: r.Heartbeats, Validations: r.Validations}
		for _, f := range []struct {
			text string
			p    *[]string
		}{{r.Networks, &out[n].Networks}, {r.Platforms, &out[n].Platforms}, {r.AppVersions, &out[n].AppVersions}} {
			if err := json.Unmarshal([]byte(f.text), f.p); err != nil {
				return nil, licensing.Wrap(licensing.EInternal, err, "a telemetry set is not JSON")
			}
			if len(*f.p) == 0 {
				*f.p = nil
			}
		}
	}
	return insights.LicenseDays(out), nil
}

// Refusals implements insights.Store.
func (i *Insights) Refusals(ctx context.Context, licenseID string, from, to time.Time) ([]insights.RefusalEvent, error) {
	var rows []telemetryRefusalRow
	err := i.s.q(ctx).Where("license_id = ? AND at >= ? AND at < ?", licenseID, from.UTC(), to.UTC()).Order("at, id").Find(&rows).Error
	if err != nil {
		return nil, translate(err)
	}
	return refusalsFromRows(rows), nil
}

func refusalsFromRows(rows []telemetryRefusalRow) []insights.RefusalEvent {
	out := make([]insights.RefusalEvent, len(rows))
	for n, r := range rows {
		out[n] = insights.RefusalEvent{ID: r.ID, At: r.At.UTC(), Kind: licensing.UseKind(r.Kind), Code: licensing.Code(r.Code),
			LicenseID: r.LicenseID, MachineID: r.MachineID, Fingerprint: r.Fingerprint, Network: r.Network}
	}
	return out
}

// DeleteBefore implements insights.Store.
func (i *Insights) DeleteBefore(ctx context.Context, cutoff time.Time) (int64, error) {
	day := cutoff.UTC().Format(insights.DayLayout)
	var n int64
	err := i.s.InTx(ctx, func(tx *Store) error {
		r := tx.q(ctx).Exec(`DELETE FROM telemetry_days WHERE day < ?`, day)
		if r.Error != nil {
			return r.Error
		}
		n = r.RowsAffected
		r = tx.q(ctx).Exec(`DELETE FROM telemetry_refusals WHERE at < ?`, cutoff.UTC())
		n += r.RowsAffected
		return r.Error
	})
	return n, translate(err)
}
