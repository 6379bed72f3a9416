package insights_test

import (
	"bytes"
	"context"
	"encoding/json"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/nzilacode/narcidicontrole/licensing"
	"github.com/nzilacode/narcidicontrole/licensing/insights"
	"github.com/nzilacode/narcidicontrole/licensing/insights/sim"
	"github.com/nzilacode/narcidicontrole/storage"
	"github.com/nzilacode/narcidicontrole/storage/storagetest"
)

// fakeScorer gives every license the same score of each kind (values),
// and keeps what it was given. It implements insights.Scorer, as the real
// Engine does.
type fakeScorer struct {
	mu      sync.Mutex
	values  map[insights.Kind]float64
	trained []insights.Outcome
	snaps   []insights.Snapshot
	trains  int
}

func (f *fakeScorer) set(k insights.Kind, v float64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.values[k] = v
}

func (f *fakeScorer) Train(past []insights.Outcome) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.trains++
	f.trained = past
	return nil
}

func (f *fakeScorer) Score(snaps []insights.Snapshot) ([]insights.Score, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.snaps = append(f.snaps, snaps...)
	var out []insights.Score
	for _, s := range snaps {
		for _, k := range insights.Kinds {
			sc := insights.Score{LicenseID: s.LicenseID, Kind: k, Value: f.values[k], ModelVersion: "fake-1", StartingModel: true,
				Reasons: []insights.Reason{{Text: "because " + string(k), Feature: "f_" + string(k), Value: 3}}}
			if k == insights.KindUpgrade && len(s.UpgradePolicies) > 0 {
				sc.SuggestedPolicyID = s.UpgradePolicies[0].ID
			}
			out = append(out, sc)
		}
	}
	return out, nil
}

func (f *fakeScorer) snapshot(t *testing.T, licenseID string) insights.Snapshot {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	for i := len(f.snaps) - 1; i >= 0; i-- {
		if f.snaps[i].LicenseID == licenseID {
			return f.snaps[i]
		}
	}
	t.Fatalf("license %s was not scored", licenseID)
	return insights.Snapshot{}
}

func newFake() *fakeScorer {
	return &fakeScorer{values: map[insights.Kind]float64{insights.KindChurn: 0.9, insights.KindBlock: 0.2, insights.KindUpgrade: 0.8, insights.KindSharing: 0.1}}
}

// insightEvents counts the events of action about license.
func insightEvents(t *testing.T, st *storage.Store, action, license string) []licensing.Event {
	t.Helper()
	var out []licensing.Event
	rows, err := st.DB().Raw(`SELECT action, target_id, reason, after FROM events WHERE action = ? AND target_id = ? ORDER BY time, id`, action, license).Rows()
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var e licensing.Event
		var after string
		if err := rows.Scan(&e.Action, &e.TargetID, &e.Reason, &after); err != nil {
			t.Fatal(err)
		}
		e.After = json.RawMessage(after)
		out = append(out, e)
	}
	return out
}

// TestScoringJob: the job builds each active license's snapshot from the
// stores (telemetry with app versions and clock tampering, activations,
// upgrade candidates), trains on the installation's own outcomes, stores
// the scores, and announces each crossing once (churn once it held two
// runs in a row); a score that falls under the threshold by the margin
// announces again when it rises.
func TestScoringJob(t *testing.T) {
	t.Parallel()
	for _, d := range storagetest.Dialects {
		t.Run(d, func(t *testing.T) {
			ctx := context.Background()
			f := newFixture(t, d, insights.RecorderConfig{MaxDelay: time.Hour})
			lic := must[*licensing.License](t)(f.svc.Licenses.License(ctx, f.lic))
			big := must[*licensing.Policy](t)(f.svc.Catalog.CreatePolicy(ctx, licensing.PolicyInput{ProductID: lic.ProductID, Name: "Studio 5",
				MaxMachines: 5, Floating: true, LeaseTTLSeconds: 3600, HeartbeatWindowSeconds: 600}))
			monthly := must[*licensing.Policy](t)(f.svc.Catalog.CreatePolicy(ctx, licensing.PolicyInput{ProductID: lic.ProductID, Name: "Monthly",
				MaxMachines: 1, DurationSeconds: 30 * 86400, LeaseTTLSeconds: 3600}))
			other := must[*licensing.CreatedLicense](t)(f.svc.Licenses.CreateLicense(ctx, licensing.LicenseInput{PolicyID: monthly.ID, CustomerID: lic.CustomerID}))
			f.clock.Add(20 * 24 * time.Hour)
			must[*licensing.License](t)(f.svc.Licenses.ExtendLicense(ctx, other.ID, licensing.ExtendInput{}))

			grant := must[*licensing.Grant](t)
			for _, fp := range []string{"fp-aaaaaaaa", "fp-bbbbbbbb"} {
				r := f.req(fp, "192.0.2.1", "linux/amd64")
				r.AppVersion = "2.1.0"
				grant(f.svc.Leasing.Activate(ctx, r))
			}
			_, err := f.svc.Leasing.Activate(ctx, f.req("fp-cccccccc", "192.0.2.3", "linux/amd64"))
			wantCode(t, err, licensing.ESeatLimit)
			r := f.req("fp-aaaaaaaa", "198.51.100.4", "linux/amd64")
			r.AppVersion = "2.2.0"
			r.ClockTampering = &licensing.ClockTampering{Count: 2, FirstAt: f.clock.Now().Add(-time.Hour), LastAt: f.clock.Now()}
			grant(f.svc.Leasing.Renew(ctx, r))
			if err := f.rec.Close(ctx); err != nil {
				t.Fatal(err)
			}

			fake := newFake()
			job := insights.NewJob(f.st.InsightScores(), insights.JobConfig{Clock: f.clock.Now, NewScorer: func() insights.Scorer { return fake },
				Thresholds: insights.Thresholds{insights.KindChurn: 0.7, insights.KindUpgrade: 0.75}})
			res := must[insights.RunResult](t)(job.Run(ctx))
			if res.Skipped || res.Licenses != 2 || res.Scores != 8 || res.Events != 2 {
				t.Fatalf("first run: %+v, want 2 licenses, 8 scores, 2 events (upgrade of each; churn waits for a second run)", res)
			}
			if n := len(insightEvents(t, f.st, "insight.churn_risk", f.lic)); n != 0 {
				t.Fatalf("one run high announced churn %d times, want none before a second run", n)
			}
			f.clock.Add(24 * time.Hour)
			if res := must[insights.RunResult](t)(job.Run(ctx)); res.Events != 2 {
				t.Fatalf("second run high: %d events, want 2 (churn of each)", res.Events)
			}

			snap := fake.snapshot(t, f.lic)
			if snap.Seats != 2 || snap.ActiveMachines != 2 || len(snap.Activations) != 2 || snap.ClockTampering != 1 ||
				!slices.Equal(snap.AppVersions, []string{"2.1.0", "2.2.0"}) || len(snap.UpgradePolicies) != 1 || snap.UpgradePolicies[0].ID != big.ID {
				t.Errorf("snapshot: seats %d, machines %d, activations %+v, tampering %d, versions %v, upgrades %v",
					snap.Seats, snap.ActiveMachines, snap.Activations, snap.ClockTampering, snap.AppVersions, snap.UpgradePolicies)
			}
			if fps := []string{snap.Activations[0].Fingerprint, snap.Activations[1].Fingerprint}; !slices.Equal(fps, []string{"fp-aaaaaaaa", "fp-bbbbbbbb"}) {
				t.Errorf("activation fingerprints %v", fps)
			}
			seatRefusals := 0
			for _, r := range snap.Refusals {
				if r.Code == licensing.ESeatLimit {
					seatRefusals++
				}
			}
			if seatRefusals != 1 || len(snap.Days) == 0 {
				t.Errorf("snapshot: %d seat-limit refusals, %d roll-ups", seatRefusals, len(snap.Days))
			}
			if len(fake.trained) != 1 || fake.trained[0].Snapshot.LicenseID != other.ID || fake.trained[0].Churned {
				t.Errorf("trained on %+v, want the extension of %s (renewed)", fake.trained, other.ID)
			}

			churn := insightEvents(t, f.st, "insight.churn_risk", f.lic)
			up := insightEvents(t, f.st, "insight.upgrade_suggested", f.lic)
			if len(churn) != 1 || len(up) != 1 || len(insightEvents(t, f.st, "insight.block_risk", f.lic)) != 0 {
				t.Fatalf("events: %d churn, %d upgrade", len(churn), len(up))
			}
			var sc insights.Score
			if err := json.Unmarshal(up[0].After, &sc); err != nil || sc.SuggestedPolicyID != big.ID || sc.Value != 0.8 || len(sc.Reasons) != 1 {
				t.Errorf("upgrade event carries %s (%v)", up[0].After, err)
			}

			// Once per crossing: the same scores again announce nothing;
			// under the threshold but within the margin re-arms nothing.
			for _, v := range []float64{0.9, 0.68, 0.9} {
				fake.set(insights.KindChurn, v)
				if res := must[insights.RunResult](t)(job.Run(ctx)); res.Events != 0 {
					t.Fatalf("churn %.2f: %d events, want none", v, res.Events)
				}
			}
			// Re-armed, churn waits again for two runs in a row: single
			// high runs between low ones announce nothing.
			for i, v := range []float64{0.5, 0.95, 0.5, 0.95} {
				fake.set(insights.KindChurn, v)
				if res := must[insights.RunResult](t)(job.Run(ctx)); res.Events != 0 {
					t.Fatalf("churn run %d at %.2f: %d events, want none", i, v, res.Events)
				}
			}
			if res := must[insights.RunResult](t)(job.Run(ctx)); res.Events != 2 {
				t.Fatalf("a new crossing held two runs: %d events, want 2 (churn of each license)", res.Events)
			}
			if n := len(insightEvents(t, f.st, "insight.churn_risk", f.lic)); n != 2 {
				t.Errorf("%d churn events, want 2", n)
			}

			scores := insights.NewScores(f.st.InsightScores())
			list := func(fl insights.ScoreFilter) []insights.ScoreRecord {
				return must[[]insights.ScoreRecord](t)(scores.List(ctx, fl, licensing.Page{}))
			}
			if got := list(insights.ScoreFilter{LicenseID: f.lic}); len(got) != 4 {
				t.Errorf("license filter: %d scores, want 4", len(got))
			}
			got := list(insights.ScoreFilter{Kind: insights.KindUpgrade, MinScore: 0.75, CustomerID: lic.CustomerID, ProductID: lic.ProductID})
			if len(got) != 2 || got[0].AlertedAt == nil || got[0].Threshold != 0.75 || got[0].ModelVersion != "fake-1" || !got[0].StartingModel {
				t.Errorf("kind, score, customer and product filter: %+v", got)
			}
			if got := list(insights.ScoreFilter{Kind: insights.KindSharing, MinScore: 0.5}); len(got) != 0 {
				t.Errorf("min_score filter lets %d through", len(got))
			}
			// A license no longer active loses its latest scores.
			must[*licensing.License](t)(f.svc.Licenses.RevokeLicense(ctx, other.ID, "test"))
			f.clock.Add(time.Hour)
			must[insights.RunResult](t)(job.Run(ctx))
			if got := list(insights.ScoreFilter{LicenseID: other.ID}); len(got) != 0 {
				t.Errorf("a revoked license keeps %d scores", len(got))
			}
			// Deny unless a role allows: a customer token reads none.
			cctx := licensing.WithActor(ctx, &licensing.Actor{TokenID: "t", Role: licensing.RoleCustomer, CustomerID: lic.CustomerID})
			_, err = scores.List(cctx, insights.ScoreFilter{}, licensing.Page{})
			wantCode(t, err, licensing.EForbidden)
		})
	}
}

// TestScoringJobRunLock: a run finding the lock held skips; the lock is
// free again once the run ends.
func TestScoringJobRunLock(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := storagetest.Open(t, "sqlite")
	is := st.InsightScores()
	now := time.Now()
	if ok := must[bool](t)(is.TryLock(ctx, "a", now, now.Add(time.Hour))); !ok {
		t.Fatal("a free lock is not taken")
	}
	job := insights.NewJob(is, insights.JobConfig{NewScorer: func() insights.Scorer { return newFake() }})
	if res := must[insights.RunResult](t)(job.Run(ctx)); !res.Skipped {
		t.Fatal("a run took a held lock")
	}
	if err := is.Unlock(ctx, "a", time.Now(), true); err != nil {
		t.Fatal(err)
	}
	if res := must[insights.RunResult](t)(job.Run(ctx)); res.Skipped {
		t.Fatal("the released lock is not taken")
	}
	if n := must[int64](t)(is.ScoringRuns(ctx)); n != 2 {
		t.Errorf("%d runs recorded, want 2", n)
	}
}

// TestImportHistory loads a simulated history: its roll-ups, refusals
// and past outcomes are stored, the job trains on the outcomes, and a
// second import duplicates no refusal or outcome.
func TestImportHistory(t *testing.T) {
	t.Parallel()
	for _, d := range storagetest.Dialects {
		t.Run(d, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			st := storagetest.Open(t, d)
			var hist, labels bytes.Buffer
			cfg := sim.Default(3, 20)
			// The shortest history the simulator makes: every license
			// still reaches its expiry in it (an outcome each), and it
			// is two thirds of the default's rows to write, which on
			// SQLite under -race costs most of this test.
			cfg.Days = 120
			cfg.ShareRate, cfg.GrowRate = 0.2, 0.2
			if err := sim.Write(cfg, &hist, &labels); err != nil {
				t.Fatal(err)
			}
			ls, err := insights.ReadLabels(bytes.NewReader(labels.Bytes()))
			if err != nil {
				t.Fatal(err)
			}
			churned := 0
			for _, l := range ls {
				if l.Churned {
					churned++
				}
			}
			res, err := insights.Import(ctx, bytes.NewReader(hist.Bytes()), st.InsightScores())
			if err != nil {
				t.Fatal(err)
			}
			if res.Licenses != 20 || res.Days == 0 || res.Refusals == 0 || res.Outcomes < 20 {
				t.Fatalf("import: %+v", res)
			}
			count := func(table string) int64 {
				var n int64
				if err := st.DB().Table(table).Count(&n).Error; err != nil {
					t.Fatal(err)
				}
				return n
			}
			refusals, outcomes := count("telemetry_refusals"), count("insight_outcomes")
			if refusals != int64(res.Refusals) || outcomes != int64(res.Outcomes) {
				t.Fatalf("stored %d refusals and %d outcomes, import said %+v", refusals, outcomes, res)
			}
			past := must[[]insights.PastOutcome](t)(st.InsightScores().PastOutcomes(ctx, time.Time{}, 100000))
			gotChurned := 0
			for _, p := range past {
				if !p.Imported || p.Seats < 1 || p.CustomerID == "" {
					t.Fatalf("outcome %+v", p)
				}
				if p.Churned {
					gotChurned++
				}
			}
			if gotChurned != churned {
				t.Errorf("%d churned outcomes, the labels say %d", gotChurned, churned)
			}
			fake := newFake()
			job := insights.NewJob(st.InsightScores(), insights.JobConfig{NewScorer: func() insights.Scorer { return fake }})
			must[insights.RunResult](t)(job.Run(ctx))
			withUse := 0
			for _, o := range fake.trained {
				if len(o.Snapshot.Days) > 0 && o.Snapshot.Seats > 0 {
					withUse++
				}
			}
			if len(fake.trained) != len(past) || withUse < len(past)/2 {
				t.Errorf("trained on %d outcomes (%d with roll-ups), want %d", len(fake.trained), withUse, len(past))
			}
			if _, err := insights.Import(ctx, bytes.NewReader(hist.Bytes()), st.InsightScores()); err != nil {
				t.Fatal(err)
			}
			if count("telemetry_refusals") != refusals || count("insight_outcomes") != outcomes {
				t.Error("a second import duplicated refusals or outcomes")
			}
		})
	}
}

// TestScoringJobReadsPaymentState: the job hands the scorer each license's
// payment state from its subscription (insights.PaymentStates over the
// subscriptions table): past due since when, the dunning's end, the last
// failure; a license without trouble has none.
func TestScoringJobReadsPaymentState(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t, "sqlite", insights.RecorderConfig{MaxDelay: time.Hour})
	lic := must[*licensing.License](t)(f.svc.Licenses.License(ctx, f.lic))
	other := must[*licensing.CreatedLicense](t)(f.svc.Licenses.CreateLicense(ctx, licensing.LicenseInput{PolicyID: lic.PolicyID, CustomerID: lic.CustomerID}))
	since := f.clock.Now().Add(-3 * 24 * time.Hour).UTC().Truncate(time.Second)
	ends := since.Add(7 * 24 * time.Hour)
	if err := f.st.DB().Exec(`INSERT INTO subscriptions (id, customer_id, policy_id, interval, interval_days, status, cancel_at_period_end,
past_due_since, dunning_ends_at, licenses_suspended, provider, provider_customer_id, last_payment_failed_at, license_ids, metadata, created_at, updated_at)
VALUES ('sub-1', ?, ?, 'month', 30, 'past_due', false, ?, ?, false, 'manual', '', ?, ?, '{}', ?, ?)`,
		lic.CustomerID, lic.PolicyID, since, ends, since, `["`+f.lic+`"]`, since, since).Error; err != nil {
		t.Fatal(err)
	}
	fake := newFake()
	job := insights.NewJob(f.st.InsightScores(), insights.JobConfig{Clock: f.clock.Now, NewScorer: func() insights.Scorer { return fake }})
	must[insights.RunResult](t)(job.Run(ctx))
	snap := fake.snapshot(t, f.lic)
	p := snap.Payment
	if !snap.PaymentTrouble || p.Status != insights.PaymentPastDue || p.Since == nil || !p.Since.Equal(since) || p.DunningEndsAt == nil || !p.DunningEndsAt.Equal(ends) {
		t.Errorf("payment state %+v (trouble %v), want past due since %s, dunning until %s", p, snap.PaymentTrouble, since, ends)
	}
	feat := insights.Extract(&snap)
	if feat.PastDueDays < 2.9 || feat.DunningDaysLeft < 3.9 || feat.DunningDaysLeft > 4.1 || feat.FailedAttempts != 1 {
		t.Errorf("features: past due %.1f days, dunning left %.1f, attempts %d; want 3, 4, 1", feat.PastDueDays, feat.DunningDaysLeft, feat.FailedAttempts)
	}
	if s := fake.snapshot(t, other.ID); s.PaymentTrouble || s.Payment.Troubled() {
		t.Errorf("a license without trouble: %+v", s.Payment)
	}
}

// TestImportKeepsWhatTheHistorySays (issue 26): an imported history keeps
// its hostnames, suspensions and payment records with the outcomes (no
// empty roll-up for a record that is not a use), and the outcome kinds
// stay apart: a renewed license suspended after its snapshot is blocked
// but not churned; a churned one is blocked only when it lapses within
// the horizon; the scoring job trains on the payment state.
func TestImportKeepsWhatTheHistorySays(t *testing.T) {
	t.Parallel()
	for _, d := range storagetest.Dialects {
		t.Run(d, func(t *testing.T) {
			ctx := context.Background()
			st := storagetest.Open(t, d)
			var hist bytes.Buffer
			w := insights.NewHistoryWriter(&hist)
			write := func(r insights.Record) {
				t.Helper()
				if err := w.Write(&r); err != nil {
					t.Fatal(err)
				}
			}
			ptr := func(t time.Time) *time.Time { return &t }
			created := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
			exp1, ext1 := time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 3, 31, 12, 0, 0, 0, time.UTC)
			snap1 := ext1.Add(-insights.EvalLead("lic-1"))
			exp2 := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
			write(insights.Record{Type: insights.RecordLicense, ID: "lic-1", CustomerID: "cus-1", Policy: "p", Seats: 2, At: created, ExpiresAt: &exp1})
			write(insights.Record{Type: insights.RecordLicense, ID: "lic-2", CustomerID: "cus-2", Policy: "p", Seats: 1, At: created, ExpiresAt: &exp2})
			write(insights.Record{Type: insights.RecordActivation, LicenseID: "lic-1", MachineID: "m-1", Fingerprint: "fp-1", Hostname: "node-01",
				IP: "192.0.2.7", At: snap1.Add(-20 * 24 * time.Hour)})
			write(insights.Record{Type: insights.RecordRenewal, LicenseID: "lic-1", MachineID: "m-1", IP: "192.0.2.7", At: snap1.Add(-19 * 24 * time.Hour)})
			write(insights.Record{Type: insights.RecordRenewal, LicenseID: "lic-2", MachineID: "m-2", IP: "192.0.2.8", At: exp2.Add(-30 * 24 * time.Hour)})
			write(insights.Record{Type: insights.RecordPayment, LicenseID: "lic-1", Status: insights.PaymentPastDue, Attempts: 2,
				DunningEndsAt: ptr(snap1.Add(5 * 24 * time.Hour)), At: snap1.Add(-2 * 24 * time.Hour)})
			write(insights.Record{Type: insights.RecordSuspension, LicenseID: "lic-1", At: snap1.Add(24 * time.Hour)})
			write(insights.Record{Type: insights.RecordReinstatement, LicenseID: "lic-1", At: snap1.Add(2 * 24 * time.Hour)})
			write(insights.Record{Type: insights.RecordExtension, LicenseID: "lic-1", At: ext1, ExpiresAt: ptr(exp1.AddDate(1, 0, 0))})
			write(insights.Record{Type: insights.RecordValidation, LicenseID: "lic-1", At: time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)})
			if err := w.Flush(); err != nil {
				t.Fatal(err)
			}
			res, err := insights.Import(ctx, bytes.NewReader(hist.Bytes()), st.InsightScores())
			if err != nil {
				t.Fatal(err)
			}
			var days int64
			if err := st.DB().Table("telemetry_days").Count(&days).Error; err != nil {
				t.Fatal(err)
			}
			// Uses: one activation and one renewal of m-1 on two days, a
			// renewal of m-2, a validation of lic-1: 4 rows, none for the
			// payment, suspension, reinstatement or extension.
			if days != 4 || res.Days != 4 {
				t.Errorf("%d roll-ups stored (import said %d), want 4: a record that is not a use writes none", days, res.Days)
			}
			past := must[[]insights.PastOutcome](t)(st.InsightScores().PastOutcomes(ctx, time.Time{}, 100))
			byLicense := map[string]insights.PastOutcome{}
			for _, p := range past {
				byLicense[p.LicenseID] = p
			}
			o1, o2 := byLicense["lic-1"], byLicense["lic-2"]
			if o1.Churned || !o1.Blocked {
				t.Errorf("lic-1 renewed, suspended a day after its snapshot: churned %v blocked %v, want false true", o1.Churned, o1.Blocked)
			}
			if len(o1.Activations) != 1 || o1.Activations[0].Hostname != "node-01" {
				t.Errorf("lic-1 activations %+v, want node-01's", o1.Activations)
			}
			if o1.Payment.Status != insights.PaymentPastDue || o1.Payment.FailedAttempts != 2 || o1.Payment.DunningEndsAt == nil {
				t.Errorf("lic-1 payment at the snapshot %+v, want past due, 2 attempts, a dunning end", o1.Payment)
			}
			if len(o1.Suspensions) != 0 {
				t.Errorf("lic-1: suspensions before the snapshot %v, want none (it came after)", o1.Suspensions)
			}
			lapses := insights.EvalLead("lic-2") <= insights.BlockHorizon
			if !o2.Churned || o2.Blocked != lapses {
				t.Errorf("lic-2 churned at expiry, snapshot %s before: churned %v blocked %v, want true %v", insights.EvalLead("lic-2"), o2.Churned, o2.Blocked, lapses)
			}
			fake := newFake()
			job := insights.NewJob(st.InsightScores(), insights.JobConfig{NewScorer: func() insights.Scorer { return fake }})
			must[insights.RunResult](t)(job.Run(ctx))
			for _, o := range fake.trained {
				if o.Snapshot.LicenseID == "lic-1" && (!o.Snapshot.PaymentTrouble || o.Snapshot.Payment.FailedAttempts != 2) {
					t.Errorf("trained on lic-1 without its payment state: %+v", o.Snapshot.Payment)
				}
			}
		})
	}
}

// TestScoringJobKeepsModelReport: a run of the real engine keeps the
// report of its models (for the console); with the fixture's few outcomes
// it says why it has no figures.
func TestScoringJobKeepsModelReport(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t, "sqlite", insights.RecorderConfig{MaxDelay: time.Hour})
	if r := must[*insights.ModelReport](t)(f.st.InsightScores().ModelReport(ctx)); r != nil {
		t.Fatalf("a report before any run: %+v", r)
	}
	job := insights.NewJob(f.st.InsightScores(), insights.JobConfig{Clock: f.clock.Now})
	must[insights.RunResult](t)(job.Run(ctx))
	r := must[*insights.ModelReport](t)(f.st.InsightScores().ModelReport(ctx))
	if r == nil || !r.At.Equal(f.clock.Now().UTC().Truncate(time.Microsecond)) || r.Note == "" || len(r.Kinds) != 0 {
		t.Fatalf("report %+v, want one of this run saying why it has no figures", r)
	}
}
