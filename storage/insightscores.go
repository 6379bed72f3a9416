package storage

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/nzilacode/narcidicontrole/licensing"
	"github.com/nzilacode/narcidicontrole/licensing/insights"
	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// InsightScores implements insights.JobStore and insights.ImportStore on
// the same database as Store: the scores, their history, the imported
// outcomes, the run lock, and the reads the scoring job makes of licenses,
// policies, telemetry, machines, events and subscriptions.
type InsightScores struct {
	*Insights
}

var (
	_ insights.JobStore    = (*InsightScores)(nil)
	_ insights.ImportStore = (*InsightScores)(nil)
)

// InsightScores returns the scores repository of the store.
func (s *Store) InsightScores() *InsightScores { return &InsightScores{&Insights{s: s}} }

// migrateInsightScores (0012_insight_scores) adds the scoring job's
// tables, and the app versions of the daily roll-ups (the SDK sends them).
// The latest score of a license and kind is one row (its alert state
// with it); every score also goes to the history, pruned with the
// telemetry's retention.
func migrateInsightScores(tx *gorm.DB) error {
	if err := tx.Exec(`ALTER TABLE telemetry_days ADD COLUMN app_versions TEXT NOT NULL DEFAULT '[]'`).Error; err != nil {
		return fmt.Errorf("add telemetry_days.app_versions: %w", err)
	}
	type insightScore struct {
		LicenseID         string     `gorm:"primaryKey;size:36"`
		Kind              string     `gorm:"primaryKey;size:32;index:idx_insight_scores_kind_score,priority:1"`
		ID                string     `gorm:"size:36;not null;uniqueIndex"`
		CustomerID        string     `gorm:"size:36;not null;index"`
		ProductID         string     `gorm:"size:36;not null;index"`
		PolicyID          string     `gorm:"size:36;not null"`
		Score             float64    `gorm:"not null;index:idx_insight_scores_kind_score,priority:2"`
		Reasons           string     `gorm:"type:text;not null"`
		ModelVersion      string     `gorm:"size:100;not null"`
		StartingModel     bool       `gorm:"not null"`
		SuggestedPolicyID string     `gorm:"size:36;not null"`
		Threshold         float64    `gorm:"not null"`
		ComputedAt        time.Time  `gorm:"not null;index"`
		AlertedAt         *time.Time ``
	}
	type insightScoreHistory struct {
		ID                string    `gorm:"primaryKey;size:36"`
		LicenseID         string    `gorm:"size:36;not null;index:idx_insight_history_license,priority:1"`
		Kind              string    `gorm:"size:32;not null"`
		Score             float64   `gorm:"not null"`
		ModelVersion      string    `gorm:"size:100;not null"`
		StartingModel     bool      `gorm:"not null"`
		SuggestedPolicyID string    `gorm:"size:36;not null"`
		ComputedAt        time.Time `gorm:"not null;index;index:idx_insight_history_license,priority:2"`
	}
	type insightOutcome struct {
		LicenseID     string    `gorm:"primaryKey;size:100"`
		DecidedAt     time.Time `gorm:"primaryKey;index"`
		CustomerID    string    `gorm:"size:100;not null"`
		Seats         int       `gorm:"not null"`
		CreatedAt     time.Time `gorm:"not null"`
		ExpiresAt     time.Time `gorm:"not null"`
		Churned       bool      `gorm:"not null"`
		Blocked       bool      `gorm:"not null"`
		Activations   string    `gorm:"type:text;not null"`
		Deactivations string    `gorm:"type:text;not null"`
		Extensions    string    `gorm:"type:text;not null"`
	}
	type insightRun struct {
		Name           string     `gorm:"primaryKey;size:64"`
		Holder         string     `gorm:"size:36;not null"`
		LockedUntil    time.Time  `gorm:"not null"`
		LastFinishedAt *time.Time ``
		LastOK         bool       `gorm:"not null"`
		Runs           int64      `gorm:"not null"`
	}
	if err := tx.Migrator().CreateTable(&insightScore{}, &insightScoreHistory{}, &insightOutcome{}, &insightRun{}); err != nil {
		return fmt.Errorf("create tables: %w", err)
	}
	return nil
}

type insightScoreRow struct {
	LicenseID         string `gorm:"primaryKey"`
	Kind              string `gorm:"primaryKey"`
	ID                string
	CustomerID        string
	ProductID         string
	PolicyID          string
	Score             float64
	Reasons           string
	ModelVersion      string
	StartingModel     bool
	SuggestedPolicyID string
	Threshold         float64
	ComputedAt        time.Time
	AlertedAt         *time.Time
}

func (insightScoreRow) TableName() string { return "insight_scores" }

type insightScoreHistoryRow struct {
	ID                string `gorm:"primaryKey"`
	LicenseID         string
	Kind              string
	Score             float64
	ModelVersion      string
	StartingModel     bool
	SuggestedPolicyID string
	ComputedAt        time.Time
}

func (insightScoreHistoryRow) TableName() string { return "insight_score_histories" }

type insightOutcomeRow struct {
	LicenseID     string    `gorm:"primaryKey"`
	DecidedAt     time.Time `gorm:"primaryKey"`
	CustomerID    string
	Seats         int
	CreatedAt     time.Time
	ExpiresAt     time.Time
	Churned       bool
	Blocked       bool
	Activations   string
	Deactivations string
	Extensions    string
	Facts         string // outcomeFacts as JSON (0019)
}

func (insightOutcomeRow) TableName() string { return "insight_outcomes" }

// outcomeFacts is what else an imported history says of a license at its
// snapshot (issue 26): its suspensions and reinstatements, its payment
// state, its clock-tampering reports. One JSON column: none of it is
// queried, all of it is read with the outcome.
type outcomeFacts struct {
	Suspensions    []time.Time           `json:"suspensions,omitempty"`
	Payment        insights.PaymentState `json:"payment"`
	ClockTampering int                   `json:"clock_tampering,omitempty"`
}

// migrateInsightOutcomeFacts (0019) keeps with each imported outcome what
// the history said of its suspensions, payments and clock (outcomeFacts):
// before, import dropped them and a model trained on an imported history
// could not learn the payment signal. It also adds insight_runs.report.
func migrateInsightOutcomeFacts(tx *gorm.DB) error {
	type insightOutcome struct {
		Facts string `gorm:"type:text;not null;default:'{}'"`
	}
	if err := tx.Migrator().AddColumn(&insightOutcome{}, "Facts"); err != nil {
		return fmt.Errorf("add insight_outcomes.facts: %w", err)
	}
	// And the report of the last run's models (insights.ModelReport), for
	// the console.
	type insightRun struct {
		Report *string `gorm:"type:text"`
	}
	if err := tx.Migrator().AddColumn(&insightRun{}, "Report"); err != nil {
		return fmt.Errorf("add insight_runs.report: %w", err)
	}
	return nil
}

// SaveModelReport implements insights.ScoreStore: the scoring run's row
// keeps it (the run holds the lock, so its row exists).
func (i *InsightScores) SaveModelReport(ctx context.Context, r *insights.ModelReport) error {
	b, err := json.Marshal(r)
	if err != nil {
		return licensing.Wrap(licensing.EInternal, err, "encode the model report")
	}
	return translate(i.s.q(ctx).Exec(`UPDATE insight_runs SET report = ? WHERE name = ?`, string(b), scoringRun).Error)
}

// ModelReport implements insights.ScoreStore.
func (i *InsightScores) ModelReport(ctx context.Context) (*insights.ModelReport, error) {
	var rows []struct{ Report *string }
	if err := i.s.q(ctx).Raw(`SELECT report FROM insight_runs WHERE name = ?`, scoringRun).Scan(&rows).Error; err != nil {
		return nil, translate(err)
	}
	if len(rows) == 0 || rows[0].Report == nil {
		return nil, nil
	}
	var r insights.ModelReport
	if err := json.Unmarshal([]byte(*rows[0].Report), &r); err != nil {
		return nil, licensing.Wrap(licensing.EInternal, err, "a stored model report is not JSON")
	}
	return &r, nil
}

type insightRunRow struct {
	Name           string `gorm:"primaryKey"`
	Holder         string
	LockedUntil    time.Time
	LastFinishedAt *time.Time
	LastOK         bool
	Runs           int64
}

func (insightRunRow) TableName() string { return "insight_runs" }

// scoringRun names the scoring job's row of insight_runs.
const scoringRun = "scoring"

// InTx implements insights.ScoreStore.
func (i *InsightScores) InTx(ctx context.Context, fn func(tx insights.ScoreStore) error) error {
	return i.s.InTx(ctx, func(tx *Store) error { return fn(tx.InsightScores()) })
}

// AppendEvent implements licensing.EventAppender (the outbox).
func (i *InsightScores) AppendEvent(ctx context.Context, e *licensing.Event) error {
	return i.s.AppendEvent(ctx, e)
}

// SaveScores implements insights.ScoreStore.
func (i *InsightScores) SaveScores(ctx context.Context, scores []insights.Score, th insights.Thresholds) error {
	if len(scores) == 0 {
		return nil
	}
	rows := make([]insightScoreRow, len(scores))
	hist := make([]insightScoreHistoryRow, len(scores))
	for n, sc := range scores {
		reasons, err := json.Marshal(sc.Reasons)
		if err != nil {
			return licensing.Wrap(licensing.EInternal, err, "encode reasons")
		}
		at := sc.ComputedAt.UTC()
		rows[n] = insightScoreRow{LicenseID: sc.LicenseID, Kind: string(sc.Kind), ID: newID(), CustomerID: sc.CustomerID, ProductID: sc.ProductID,
			PolicyID: sc.PolicyID, Score: sc.Value, Reasons: string(reasons), ModelVersion: sc.ModelVersion, StartingModel: sc.StartingModel,
			SuggestedPolicyID: sc.SuggestedPolicyID, Threshold: th.Of(sc.Kind), ComputedAt: at}
		hist[n] = insightScoreHistoryRow{ID: newID(), LicenseID: sc.LicenseID, Kind: string(sc.Kind), Score: sc.Value, ModelVersion: sc.ModelVersion,
			StartingModel: sc.StartingModel, SuggestedPolicyID: sc.SuggestedPolicyID, ComputedAt: at}
	}
	q := i.s.q(ctx)
	err := q.Clauses(clause.OnConflict{
		Columns: []clause.Column{{Name: "license_id"}, {Name: "kind"}},
		DoUpdates: clause.AssignmentColumns([]string{"customer_id", "product_id", "policy_id", "score", "reasons", "model_version",
			"starting_model", "suggested_policy_id", "threshold", "computed_at"}),
	}).CreateInBatches(rows, 100).Error
	if err != nil {
		return translate(err)
	}
	return translate(q.CreateInBatches(hist, 100).Error)
}

// LatestValues implements insights.ScoreStore: the primary key
// (license_id, kind) serves it.
func (i *InsightScores) LatestValues(ctx context.Context, licenseIDs []string) (map[insights.ScoreKey]float64, error) {
	out := map[insights.ScoreKey]float64{}
	// Chunks keep the IN list under any driver's limit of parameters.
	for ids := range slices.Chunk(licenseIDs, 500) {
		var rows []struct {
			LicenseID string
			Kind      string
			Score     float64
		}
		err := i.s.q(ctx).Raw(`SELECT license_id, kind, score FROM insight_scores WHERE license_id IN ?`, ids).Scan(&rows).Error
		if err != nil {
			return nil, translate(err)
		}
		for _, r := range rows {
			out[insights.ScoreKey{LicenseID: r.LicenseID, Kind: insights.Kind(r.Kind)}] = r.Score
		}
	}
	return out, nil
}

// ClaimAlert implements insights.ScoreStore.
func (i *InsightScores) ClaimAlert(ctx context.Context, licenseID string, kind insights.Kind, at time.Time) (bool, error) {
	r := i.s.q(ctx).Exec(`UPDATE insight_scores SET alerted_at = ? WHERE license_id = ? AND kind = ? AND alerted_at IS NULL`, at.UTC(), licenseID, string(kind))
	if r.Error != nil {
		return false, translate(r.Error)
	}
	return r.RowsAffected == 1, nil
}

// Rearm implements insights.ScoreStore.
func (i *InsightScores) Rearm(ctx context.Context, kind insights.Kind, below float64) (int64, error) {
	r := i.s.q(ctx).Exec(`UPDATE insight_scores SET alerted_at = NULL WHERE kind = ? AND alerted_at IS NOT NULL AND score < ?`, string(kind), below)
	return r.RowsAffected, translate(r.Error)
}

// DropStale implements insights.ScoreStore.
func (i *InsightScores) DropStale(ctx context.Context, before time.Time) (int64, error) {
	r := i.s.q(ctx).Exec(`DELETE FROM insight_scores WHERE computed_at < ?`, before.UTC())
	return r.RowsAffected, translate(r.Error)
}

// DeleteHistoryBefore implements insights.ScoreStore.
func (i *InsightScores) DeleteHistoryBefore(ctx context.Context, cutoff time.Time) (int64, error) {
	r := i.s.q(ctx).Exec(`DELETE FROM insight_score_histories WHERE computed_at < ?`, cutoff.UTC())
	return r.RowsAffected, translate(r.Error)
}

// ListScores implements insights.ScoreStore.
func (i *InsightScores) ListScores(ctx context.Context, f insights.ScoreFilter, page licensing.Page) ([]insights.ScoreRecord, error) {
	q := i.s.q(ctx)
	if f.Kind != "" {
		q = q.Where("kind = ?", string(f.Kind))
	}
	if f.MinScore > 0 {
		q = q.Where("score >= ?", f.MinScore)
	}
	for col, v := range map[string]string{"license_id": f.LicenseID, "customer_id": f.CustomerID, "product_id": f.ProductID} {
		if v != "" {
			q = q.Where(col+" = ?", v)
		}
	}
	var rows []insightScoreRow
	if err := paged(q, page).Find(&rows).Error; err != nil {
		return nil, translate(err)
	}
	return scoreRecords(rows)
}

// TopScores implements insights.ScoreStore (the (kind, score) index
// serves it).
func (i *InsightScores) TopScores(ctx context.Context, kind insights.Kind, minScore float64, limit int) ([]insights.ScoreRecord, error) {
	var rows []insightScoreRow
	err := i.s.q(ctx).Where("kind = ? AND score >= ?", string(kind), minScore).Order("score DESC, id").Limit(limit).Find(&rows).Error
	if err != nil {
		return nil, translate(err)
	}
	return scoreRecords(rows)
}

// scoreRecords converts stored latest scores, reading their reasons.
func scoreRecords(rows []insightScoreRow) ([]insights.ScoreRecord, error) {
	out := make([]insights.ScoreRecord, len(rows))
	for n, r := range rows {
		var reasons []insights.Reason
		if err := json.Unmarshal([]byte(r.Reasons), &reasons); err != nil {
			return nil, licensing.Wrap(licensing.EInternal, err, "stored reasons are not JSON")
		}
		if reasons == nil {
			reasons = []insights.Reason{}
		}
		out[n] = insights.ScoreRecord{ID: r.ID, Threshold: r.Threshold, AlertedAt: utcPtr(r.AlertedAt), Score: insights.Score{
			LicenseID: r.LicenseID, CustomerID: r.CustomerID, ProductID: r.ProductID, PolicyID: r.PolicyID, Kind: insights.Kind(r.Kind),
			Value: r.Score, Reasons: reasons, ModelVersion: r.ModelVersion, StartingModel: r.StartingModel,
			SuggestedPolicyID: r.SuggestedPolicyID, ComputedAt: r.ComputedAt.UTC()}}
	}
	return out, nil
}

// ActiveLicenses implements insights.JobStore.
func (i *InsightScores) ActiveLicenses(ctx context.Context, after string, limit int) ([]licensing.License, error) {
	return i.s.ListLicenses(ctx, licensing.LicenseFilter{Status: licensing.LicenseActive}, licensing.Page{After: after, Limit: limit})
}

// AllPolicies implements insights.JobStore.
func (i *InsightScores) AllPolicies(ctx context.Context) ([]licensing.Policy, error) {
	var out []licensing.Policy
	page := licensing.Page{Limit: licensing.MaxPageLimit}
	for {
		ps, err := i.s.ListPolicies(ctx, licensing.PolicyFilter{}, page)
		if err != nil {
			return nil, err
		}
		out = append(out, ps...)
		if len(ps) < page.Limit {
			return out, nil
		}
		page.After = ps[len(ps)-1].ID
	}
}

// inChunks calls fn with ids in chunks small enough for any driver's
// limit on bound parameters.
func inChunks(ids []string, fn func(chunk []string) error) error {
	const size = 500
	for start := 0; start < len(ids); start += size {
		if err := fn(ids[start:min(start+size, len(ids))]); err != nil {
			return err
		}
	}
	return nil
}

// Facts implements insights.JobStore: a few queries for the whole batch
// (over the union of its windows), each result then cut to each window.
func (i *InsightScores) Facts(ctx context.Context, qs []insights.FactsQuery) ([]insights.Facts, error) {
	if len(qs) == 0 {
		return []insights.Facts{}, nil
	}
	b := newFactsBatch(qs)
	var ids []string
	for _, q := range qs {
		ids = append(ids, q.LicenseID)
	}
	slices.Sort(ids)
	ids = slices.Compact(ids)
	err := inChunks(ids, func(chunk []string) error {
		for _, step := range []func(context.Context, *InsightScores, []string) error{
			b.days, b.earlierDays, b.refusals, b.machines, b.licenseEvents,
		} {
			if err := step(ctx, i, chunk); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, translate(err)
	}
	if err := i.machineEvents(ctx, b.machineLicense, b.from, b.to, b.each); err != nil {
		return nil, err
	}
	if err := i.paymentTrouble(ctx, b.byLicense, b.out); err != nil {
		return nil, err
	}
	return b.out, nil
}

// factsBatch is one Facts call: its queries, their answers being filled,
// and the union of their windows.
type factsBatch struct {
	qs        []insights.FactsQuery
	out       []insights.Facts
	byLicense map[string][]int // license id: indexes in qs
	from, to  time.Time
	// machineLicense is every machine's license, of the machines table and
	// of telemetry (a deleted machine is known by its telemetry).
	machineLicense map[string]string
}

func newFactsBatch(qs []insights.FactsQuery) *factsBatch {
	b := &factsBatch{qs: qs, out: make([]insights.Facts, len(qs)), byLicense: map[string][]int{},
		from: qs[0].From, to: qs[0].To, machineLicense: map[string]string{}}
	for n, q := range qs {
		b.byLicense[q.LicenseID] = append(b.byLicense[q.LicenseID], n)
		b.from, b.to = minTime(b.from, q.From), maxTime(b.to, q.To)
	}
	return b
}

// each calls fn for every query of licenseID whose window holds at (every
// query of it when at is zero).
func (b *factsBatch) each(licenseID string, at time.Time, fn func(f *insights.Facts, q insights.FactsQuery)) {
	for _, n := range b.byLicense[licenseID] {
		q := b.qs[n]
		if at.IsZero() || (!at.Before(q.From) && at.Before(q.To)) {
			fn(&b.out[n], q)
		}
	}
}

// days adds the telemetry days that overlap each window.
func (b *factsBatch) days(ctx context.Context, i *InsightScores, chunk []string) error {
	var days []telemetryDayRow
	if err := i.s.q(ctx).Table("telemetry_days").Where("license_id IN ? AND day >= ? AND day <= ?", chunk,
		b.from.UTC().Format(insights.DayLayout), b.to.UTC().Format(insights.DayLayout)).Order("day, machine_id").Find(&days).Error; err != nil {
		return err
	}
	ds, err := daysFromRows(days)
	if err != nil {
		return err
	}
	for _, d := range ds {
		day, _ := time.Parse(insights.DayLayout, d.Day)
		if d.MachineID != "" {
			b.machineLicense[d.MachineID] = d.LicenseID
		}
		for _, n := range b.byLicense[d.LicenseID] {
			q := b.qs[n]
			// A day is in the window when it overlaps it.
			if day.Add(24*time.Hour).After(q.From) && day.Before(q.To) {
				b.out[n].Days = append(b.out[n].Days, d)
			}
		}
	}
	return nil
}

// earlierDays adds the earlier quarters: machines used per day (one row per
// machine and day), counted, not read.
func (b *factsBatch) earlierDays(ctx context.Context, i *InsightScores, chunk []string) error {
	var used []struct {
		LicenseID, Day string
		N              int
	}
	if err := i.s.q(ctx).Raw(`SELECT license_id, day, count(*) AS n FROM telemetry_days WHERE license_id IN ? AND machine_id <> '' AND day >= ? AND day <= ? GROUP BY license_id, day ORDER BY license_id, day`,
		chunk, dayStartUTC(b.from).AddDate(0, 0, -insights.EarlierTo).Format(insights.DayLayout),
		dayStartUTC(b.to).AddDate(0, 0, -insights.EarlierFrom).Format(insights.DayLayout)).Scan(&used).Error; err != nil {
		return err
	}
	for _, u := range used {
		day, err := time.Parse(insights.DayLayout, u.Day)
		if err != nil {
			continue
		}
		for _, n := range b.byLicense[u.LicenseID] {
			// Days before the snapshot's day (its At is To).
			k := int(dayStartUTC(b.qs[n].To).Sub(day) / (24 * time.Hour))
			if k >= insights.EarlierFrom && k <= insights.EarlierTo {
				b.out[n].EarlierDays = append(b.out[n].EarlierDays, insights.DayCount{Day: u.Day, Machines: u.N})
			}
		}
	}
	return nil
}

// refusals adds the activations refused in each window.
func (b *factsBatch) refusals(ctx context.Context, i *InsightScores, chunk []string) error {
	var refs []telemetryRefusalRow
	if err := i.s.q(ctx).Where("license_id IN ? AND at >= ? AND at < ?", chunk, b.from.UTC(), b.to.UTC()).Order("at, id").Find(&refs).Error; err != nil {
		return err
	}
	for _, r := range refusalsFromRows(refs) {
		b.each(r.LicenseID, r.At, func(f *insights.Facts, _ insights.FactsQuery) { f.Refusals = append(f.Refusals, r) })
	}
	return nil
}

// machines adds the machines in use now and learns every machine's
// license.
func (b *factsBatch) machines(ctx context.Context, i *InsightScores, chunk []string) error {
	type count struct {
		LicenseID string
		N         int
	}
	var counts []count
	if err := i.s.q(ctx).Raw(`SELECT license_id, count(*) AS n FROM machines WHERE license_id IN ? AND status IN ? GROUP BY license_id`,
		chunk, []string{string(licensing.MachineActive), string(licensing.MachineOffline)}).Scan(&counts).Error; err != nil {
		return err
	}
	for _, c := range counts {
		b.each(c.LicenseID, time.Time{}, func(f *insights.Facts, _ insights.FactsQuery) { f.MachinesNow = c.N })
	}
	var machines []struct{ ID, LicenseID string }
	if err := i.s.q(ctx).Raw(`SELECT id, license_id FROM machines WHERE license_id IN ?`, chunk).Scan(&machines).Error; err != nil {
		return err
	}
	for _, m := range machines {
		b.machineLicense[m.ID] = m.LicenseID
	}
	return nil
}

// licenseEvents adds the renewals before each window's end and the support
// actions within it.
func (b *factsBatch) licenseEvents(ctx context.Context, i *InsightScores, chunk []string) error {
	var evs []eventRow
	if err := i.s.q(ctx).Where("target_type = ? AND target_id IN ? AND time < ?", "license", chunk, b.to.UTC()).
		Where("action IN ?", []string{licensing.ActionLicenseRenewed, licensing.ActionLicenseSuspended, licensing.ActionLicenseReinstated,
			licensing.ActionLicenseTransferred, licensing.ActionLicensePolicyChange}).Order("time, id").Find(&evs).Error; err != nil {
		return err
	}
	for _, e := range evs {
		b.each(e.TargetID, time.Time{}, func(f *insights.Facts, q insights.FactsQuery) {
			switch {
			case !e.Time.Before(q.To):
			case e.Action == licensing.ActionLicenseRenewed:
				f.Extensions = append(f.Extensions, e.Time.UTC())
			case !e.Time.Before(q.From):
				f.SupportActions++
			}
		})
	}
	return nil
}

// machineEvents adds the activations and deactivations of the machines
// (by the audit log; a deleted machine is known by its telemetry).
func (i *InsightScores) machineEvents(ctx context.Context, machineLicense map[string]string, from, to time.Time,
	each func(string, time.Time, func(*insights.Facts, insights.FactsQuery))) error {
	mids := make([]string, 0, len(machineLicense))
	for id := range machineLicense {
		mids = append(mids, id)
	}
	slices.Sort(mids)
	err := inChunks(mids, func(chunk []string) error {
		var evs []eventRow
		if err := i.s.q(ctx).Where("target_type = ? AND target_id IN ? AND time >= ? AND time < ? AND action IN ?", "machine", chunk, from.UTC(), to.UTC(),
			[]string{licensing.ActionMachineActivated, licensing.ActionMachineDeactivated}).Order("time, id").Find(&evs).Error; err != nil {
			return err
		}
		for _, e := range evs {
			lic := machineLicense[e.TargetID]
			if e.Action == licensing.ActionMachineDeactivated {
				each(lic, e.Time, func(f *insights.Facts, _ insights.FactsQuery) {
					f.Deactivations = append(f.Deactivations, e.Time.UTC())
				})
				continue
			}
			var m licensing.Machine
			if e.After != nil {
				_ = json.Unmarshal([]byte(*e.After), &m)
			}
			a := insights.Activation{At: e.Time.UTC(), MachineID: e.TargetID, Fingerprint: m.Fingerprint, Hostname: m.Hostname,
				Platform: m.Platform, Network: insights.Network(m.IP)}
			each(lic, e.Time, func(f *insights.Facts, _ insights.FactsQuery) { f.Activations = append(f.Activations, a) })
		}
		return nil
	})
	return translate(err)
}

// paymentTrouble marks the licenses of past-due subscriptions (few rows:
// read whole).
func (i *InsightScores) paymentTrouble(ctx context.Context, byLicense map[string][]int, out []insights.Facts) error {
	var subs []struct{ LicenseIDs string }
	if err := i.s.q(ctx).Raw(`SELECT license_ids FROM subscriptions WHERE status = ?`, "past_due").Scan(&subs).Error; err != nil {
		return translate(err)
	}
	for _, sub := range subs {
		var ids []string
		_ = json.Unmarshal([]byte(sub.LicenseIDs), &ids)
		for _, id := range ids {
			for _, n := range byLicense[id] {
				out[n].PaymentTrouble = true
			}
		}
	}
	return nil
}

// PaymentStates implements insights.PaymentStates over the subscriptions
// table's columns (status, past_due_since, dunning_ends_at,
// last_payment_failed_at, licenses_suspended): the subscriptions in
// trouble are few, read whole. A past-due subscription whose licenses
// were suspended at the end of its dunning reads unpaid. The provider's
// failed attempts and card expiry are not kept there: left unknown.
func (i *InsightScores) PaymentStates(ctx context.Context, licenseIDs []string) (map[string]insights.PaymentState, error) {
	var subs []struct {
		LicenseIDs          string
		Status              string
		PastDueSince        *time.Time
		DunningEndsAt       *time.Time
		LastPaymentFailedAt *time.Time
		LicensesSuspended   bool
	}
	if err := i.s.q(ctx).Raw(`SELECT license_ids, status, past_due_since, dunning_ends_at, last_payment_failed_at, licenses_suspended
FROM subscriptions WHERE status = ? OR licenses_suspended`, "past_due").Scan(&subs).Error; err != nil {
		return nil, translate(err)
	}
	want := make(map[string]bool, len(licenseIDs))
	for _, id := range licenseIDs {
		want[id] = true
	}
	utc := func(t *time.Time) *time.Time {
		if t == nil {
			return nil
		}
		u := t.UTC()
		return &u
	}
	out := map[string]insights.PaymentState{}
	for _, sub := range subs {
		st := insights.PaymentState{Status: insights.PaymentPastDue, Since: utc(sub.PastDueSince), DunningEndsAt: utc(sub.DunningEndsAt),
			LastFailedAt: utc(sub.LastPaymentFailedAt)}
		if sub.LicensesSuspended {
			st.Status = insights.PaymentUnpaid
		}
		var ids []string
		_ = json.Unmarshal([]byte(sub.LicenseIDs), &ids)
		for _, id := range ids {
			if want[id] {
				out[id] = st
			}
		}
	}
	return out, nil
}

func dayStartUTC(t time.Time) time.Time {
	t = t.UTC()
	return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// PastOutcomes implements insights.JobStore: own outcomes from the
// licenses and the audit log, imported ones from insight_outcomes.
func (i *InsightScores) PastOutcomes(ctx context.Context, since time.Time, limit int) ([]insights.PastOutcome, error) {
	var out []insights.PastOutcome
	lics := map[string]*licenseRow{}
	var renewals []eventRow
	if err := i.s.q(ctx).Where("target_type = ? AND action = ? AND time >= ?", "license", licensing.ActionLicenseRenewed, since.UTC()).
		Order("time DESC").Limit(limit).Find(&renewals).Error; err != nil {
		return nil, translate(err)
	}
	var ids []string
	for _, e := range renewals {
		ids = append(ids, e.TargetID)
	}
	var ended []licenseRow
	if err := i.s.q(ctx).Where("status IN ? AND updated_at >= ?", []string{string(licensing.LicenseExpired), string(licensing.LicenseSuspended)}, since.UTC()).
		Order("updated_at DESC").Limit(limit).Find(&ended).Error; err != nil {
		return nil, translate(err)
	}
	for n := range ended {
		lics[ended[n].ID] = &ended[n]
	}
	slices.Sort(ids)
	err := inChunks(slices.Compact(ids), func(chunk []string) error {
		var rows []licenseRow
		if err := i.s.q(ctx).Where("id IN ?", chunk).Find(&rows).Error; err != nil {
			return err
		}
		for n := range rows {
			lics[rows[n].ID] = &rows[n]
		}
		return nil
	})
	if err != nil {
		return nil, translate(err)
	}
	own := func(l *licenseRow, expires, decided time.Time, churned, blocked bool) insights.PastOutcome {
		return insights.PastOutcome{LicenseID: l.ID, CustomerID: l.CustomerID, ProductID: l.ProductID, PolicyID: l.PolicyID,
			CreatedAt: l.CreatedAt.UTC(), ExpiresAt: expires.UTC(), DecidedAt: decided.UTC(), Churned: churned, Blocked: blocked}
	}
	for _, e := range renewals {
		l, ok := lics[e.TargetID]
		var before licensing.License
		if !ok || e.Before == nil || json.Unmarshal([]byte(*e.Before), &before) != nil || before.ExpiresAt == nil {
			continue
		}
		// Renewed before its expiry: the outcome was known at the renewal.
		out = append(out, own(l, *before.ExpiresAt, minTime(*before.ExpiresAt, e.Time), false, false))
	}
	for _, l := range ended {
		if l.Status == string(licensing.LicenseExpired) && l.ExpiresAt != nil {
			out = append(out, own(&l, *l.ExpiresAt, *l.ExpiresAt, true, true))
		} else if l.Status == string(licensing.LicenseSuspended) {
			exp := l.UpdatedAt
			if l.ExpiresAt != nil {
				exp = *l.ExpiresAt
			}
			out = append(out, own(&l, exp, l.UpdatedAt, false, true))
		}
	}
	var imported []insightOutcomeRow
	if err := i.s.q(ctx).Where("decided_at >= ?", since.UTC()).Order("decided_at DESC").Limit(limit).Find(&imported).Error; err != nil {
		return nil, translate(err)
	}
	for _, r := range imported {
		p := insights.PastOutcome{LicenseID: r.LicenseID, CustomerID: r.CustomerID, Seats: r.Seats, CreatedAt: r.CreatedAt.UTC(),
			ExpiresAt: r.ExpiresAt.UTC(), DecidedAt: r.DecidedAt.UTC(), Churned: r.Churned, Blocked: r.Blocked, Imported: true}
		var facts outcomeFacts
		if r.Facts == "" {
			r.Facts = "{}"
		}
		for _, f := range []struct {
			text string
			v    any
		}{{r.Activations, &p.Activations}, {r.Deactivations, &p.Deactivations}, {r.Extensions, &p.Extensions}, {r.Facts, &facts}} {
			if err := json.Unmarshal([]byte(f.text), f.v); err != nil {
				return nil, licensing.Wrap(licensing.EInternal, err, "an imported outcome is not JSON")
			}
		}
		p.Suspensions, p.Payment, p.ClockTampering = facts.Suspensions, facts.Payment, facts.ClockTampering
		out = append(out, p)
	}
	slices.SortStableFunc(out, func(a, b insights.PastOutcome) int { return b.DecidedAt.Compare(a.DecidedAt) })
	if len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

// SaveOutcomes implements insights.ImportStore.
func (i *InsightScores) SaveOutcomes(ctx context.Context, outcomes []insights.PastOutcome) error {
	if len(outcomes) == 0 {
		return nil
	}
	rows := make([]insightOutcomeRow, len(outcomes))
	for n, p := range outcomes {
		enc := func(v any) string { b, _ := json.Marshal(v); return string(b) }
		rows[n] = insightOutcomeRow{LicenseID: p.LicenseID, DecidedAt: p.DecidedAt.UTC(), CustomerID: p.CustomerID, Seats: p.Seats,
			CreatedAt: p.CreatedAt.UTC(), ExpiresAt: p.ExpiresAt.UTC(), Churned: p.Churned, Blocked: p.Blocked,
			Activations: enc(orEmpty(p.Activations)), Deactivations: enc(orEmpty(p.Deactivations)), Extensions: enc(orEmpty(p.Extensions)),
			Facts: enc(outcomeFacts{Suspensions: p.Suspensions, Payment: p.Payment, ClockTampering: p.ClockTampering})}
	}
	return translate(i.s.q(ctx).Clauses(clause.OnConflict{
		Columns:   []clause.Column{{Name: "license_id"}, {Name: "decided_at"}},
		DoUpdates: clause.AssignmentColumns([]string{"customer_id", "seats", "created_at", "expires_at", "churned", "blocked", "activations", "deactivations", "extensions", "facts"}),
	}).CreateInBatches(rows, 100).Error)
}

func orEmpty[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// TryLock implements insights.JobStore: one conditional upsert, so of
// several workers exactly one takes a free (or lapsed) lock.
func (i *InsightScores) TryLock(ctx context.Context, holder string, now, until time.Time) (bool, error) {
	r := i.s.q(ctx).Exec(`INSERT INTO insight_runs (name, holder, locked_until, last_ok, runs) VALUES (?, ?, ?, ?, 0)
ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, locked_until = excluded.locked_until
WHERE insight_runs.locked_until <= ?`, scoringRun, holder, until.UTC(), false, now.UTC())
	if r.Error != nil {
		return false, translate(r.Error)
	}
	return r.RowsAffected == 1, nil
}

// Unlock implements insights.JobStore.
func (i *InsightScores) Unlock(ctx context.Context, holder string, at time.Time, ok bool) error {
	runs := 0
	if ok {
		runs = 1
	}
	return translate(i.s.q(ctx).Exec(`UPDATE insight_runs SET locked_until = ?, last_finished_at = ?, last_ok = ?, runs = runs + ?
WHERE name = ? AND holder = ?`, at.UTC(), at.UTC(), ok, runs, scoringRun, holder).Error)
}

// ScoringRuns is how many scoring runs finished well (tests, and the
// figure an operator checks after a run).
func (i *InsightScores) ScoringRuns(ctx context.Context) (int64, error) {
	var n []int64
	if err := i.s.q(ctx).Raw(`SELECT runs FROM insight_runs WHERE name = ?`, scoringRun).Scan(&n).Error; err != nil {
		return 0, translate(err)
	}
	if len(n) == 0 {
		return 0, nil
	}
	return n[0], nil
}

// AppVersionUse implements insights.ScoreStore: one grouped query over the
// roll-ups of the product's licenses (each version of a row's set counted
// once per machine and license, whatever the days), most machines first.
func (i *InsightScores) AppVersionUse(ctx context.Context, productID, from string, limit int) ([]insights.VersionUse, error) {
	each := `json_each(d.app_versions) AS v`
	if i.s.postgres {
		each = `jsonb_array_elements_text(d.app_versions::jsonb) AS v(value)`
	}
	query := `SELECT v.value AS version, COUNT(DISTINCT CASE WHEN d.machine_id <> '' THEN d.machine_id END) AS machines,
  COUNT(DISTINCT d.license_id) AS licenses, MAX(d.day) AS last_day
FROM telemetry_days AS d JOIN licenses AS l ON l.id = d.license_id, ` + each + `
WHERE l.product_id = ? AND d.day >= ?
GROUP BY v.value ORDER BY machines DESC, licenses DESC, version DESC LIMIT ?`
	var rows []insights.VersionUse
	if err := i.s.q(ctx).Raw(query, productID, from, limit).Scan(&rows).Error; err != nil {
		return nil, translate(err)
	}
	return rows, nil
}
