package insights

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/nzilacode/narcidicontrole/licensing"
)

// Window is how far back a snapshot looks (telemetry, refusals, machine
// events, support actions).
const Window = 90 * 24 * time.Hour

// JobConfig tunes the scoring job. Zero values take the defaults.
type JobConfig struct {
	Thresholds Thresholds
	// NewScorer makes the engine of one run (trained afresh each run, so a
	// run depends on the stored data only). Default: NewEngine seeded 1.
	NewScorer func() Scorer
	Clock     licensing.Clock
	Log       *slog.Logger
	// BatchSize is how many licenses are read, scored and stored together
	// (default 200).
	BatchSize int
	// TrainingLimit bounds the past outcomes trained on, newest first
	// (default 20000); TrainingSince how far back they go (default 2 years).
	TrainingLimit int
	TrainingSince time.Duration
	// LockTTL is how long a run holds the run lock at most (default 1h): a
	// worker that dies mid-run blocks the others no longer than that.
	LockTTL time.Duration
}

// Job is the scheduled scoring of every active license: it builds a
// Snapshot of each from the stores, trains a Scorer on the installation's
// past outcomes, scores, stores the scores, and announces each upward
// crossing of a kind's threshold once, by an insight.* event in the outbox
// (so webhooks and email alerts follow as for any event); churn only once
// the previous run's score was at or above the threshold too (alertDue).
//
// Several workers may run it at once: a run lock in the database lets one
// run at a time (the others skip), and the announcement is a conditional
// claim of the score row in the event's transaction, so even two runs
// overlapping past the lock announce a crossing once. Safe for concurrent
// use.
type Job struct {
	store JobStore
	cfg   JobConfig
}

// NewJob builds the job over store.
func NewJob(store JobStore, cfg JobConfig) *Job {
	if cfg.NewScorer == nil {
		cfg.NewScorer = func() Scorer { return NewEngine(EngineConfig{Seed: 1}) }
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = 200
	}
	if cfg.TrainingLimit <= 0 {
		cfg.TrainingLimit = 20000
	}
	if cfg.TrainingSince <= 0 {
		cfg.TrainingSince = 2 * 365 * 24 * time.Hour
	}
	if cfg.LockTTL <= 0 {
		cfg.LockTTL = time.Hour
	}
	return &Job{store: store, cfg: cfg}
}

// RunResult says what a run did.
type RunResult struct {
	Skipped  bool // another worker holds the run lock
	Outcomes int  // past outcomes trained on
	Licenses int  // licenses scored
	Scores   int
	Events   int // crossings announced
}

// Run scores every active license now.
func (j *Job) Run(ctx context.Context) (res RunResult, err error) {
	now := j.cfg.Clock().UTC().Truncate(time.Microsecond)
	holder := licensing.NewID()
	ok, err := j.store.TryLock(ctx, holder, now, now.Add(j.cfg.LockTTL))
	if err != nil || !ok {
		return RunResult{Skipped: err == nil}, err
	}
	defer func() {
		// Unlock even when ctx ended: a fresh, short context.
		uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		if uerr := j.store.Unlock(uctx, holder, j.cfg.Clock().UTC(), err == nil); uerr != nil && err == nil {
			err = uerr
		}
	}()
	pols, err := j.store.AllPolicies(ctx)
	if err != nil {
		return res, err
	}
	cat := newCatalog(pols)
	past, err := j.store.PastOutcomes(ctx, now.Add(-j.cfg.TrainingSince), j.cfg.TrainingLimit)
	if err != nil {
		return res, err
	}
	hist := newCustomerHistory(past)
	training, err := j.outcomes(ctx, past, cat, hist)
	if err != nil {
		return res, err
	}
	res.Outcomes = len(training)
	scorer := j.cfg.NewScorer()
	if err := scorer.Train(training); err != nil {
		return res, fmt.Errorf("insights: train on %d past outcomes: %w", len(training), err)
	}
	if v, ok := scorer.(interface{ ModelVersions() map[Kind]string }); ok {
		rep := Report(training, now, v.ModelVersions(), j.cfg.Thresholds)
		if c, ok := scorer.(interface{ Calibrations() map[Kind]string }); ok {
			cal := c.Calibrations()
			for i := range rep.Kinds {
				rep.Kinds[i].Calibration = cal[rep.Kinds[i].Kind]
			}
		}
		if err := j.store.SaveModelReport(ctx, rep); err != nil {
			return res, err
		}
	}
	after := ""
	for {
		lics, err := j.store.ActiveLicenses(ctx, after, j.cfg.BatchSize)
		if err != nil {
			return res, err
		}
		if len(lics) == 0 {
			break
		}
		after = lics[len(lics)-1].ID
		n, events, err := j.scoreBatch(ctx, scorer, lics, cat, hist, now)
		if err != nil {
			return res, err
		}
		res.Licenses += len(lics)
		res.Scores += n
		res.Events += events
		if len(lics) < j.cfg.BatchSize {
			break
		}
	}
	for _, k := range Kinds {
		if _, err := j.store.Rearm(ctx, k, j.cfg.Thresholds.Of(k)-RearmMargin); err != nil {
			return res, err
		}
	}
	if _, err := j.store.DropStale(ctx, now); err != nil {
		return res, err
	}
	j.cfg.Log.Info("insights scored", "licenses", res.Licenses, "scores", res.Scores, "events", res.Events, "trained_on", res.Outcomes)
	return res, nil
}

// scoreBatch scores lics and stores the scores and announcements in one
// transaction.
func (j *Job) scoreBatch(ctx context.Context, scorer Scorer, lics []licensing.License, cat *catalog, hist *customerHistory, now time.Time) (int, int, error) {
	qs := make([]FactsQuery, len(lics))
	for i, l := range lics {
		qs[i] = FactsQuery{LicenseID: l.ID, From: now.Add(-Window), To: now.Add(time.Microsecond)}
	}
	facts, err := j.store.Facts(ctx, qs)
	if err != nil {
		return 0, 0, err
	}
	ids := make([]string, len(lics))
	for i := range lics {
		ids[i] = lics[i].ID
	}
	payments, err := j.store.PaymentStates(ctx, ids)
	if err != nil {
		return 0, 0, err
	}
	snaps := make([]Snapshot, 0, len(lics))
	for i := range lics {
		l := &lics[i]
		s := cat.snapshot(now, l.ID, l.CustomerID, l.ProductID, l.PolicyID, l.Status, l.CreatedAt, l.ExpiresAt, &facts[i], hist)
		s.ActiveMachines = facts[i].MachinesNow
		if p, ok := payments[l.ID]; ok {
			s.Payment = p
			s.PaymentTrouble = p.Troubled()
		}
		snaps = append(snaps, s)
	}
	scores, err := scorer.Score(snaps)
	if err != nil {
		return 0, 0, fmt.Errorf("insights: score %d licenses: %w", len(snaps), err)
	}
	bySnap := make(map[string]*Snapshot, len(snaps))
	for i := range snaps {
		bySnap[snaps[i].LicenseID] = &snaps[i]
	}
	kept := scores[:0]
	for _, s := range scores {
		snap, ok := bySnap[s.LicenseID]
		if !ok || !s.Kind.Valid() {
			continue // not a license of the batch, or a kind the job does not keep
		}
		s.CustomerID, s.ProductID, s.PolicyID = snap.CustomerID, snap.ProductID, snap.PolicyID
		s.Value = min(max(s.Value, 0), 1)
		s.ComputedAt = now
		if s.Reasons == nil {
			s.Reasons = []Reason{}
		}
		kept = append(kept, s)
	}
	events := 0
	err = j.store.InTx(ctx, func(tx ScoreStore) error {
		events = 0
		prev, err := tx.LatestValues(ctx, ids)
		if err != nil {
			return err
		}
		if err := tx.SaveScores(ctx, kept, j.cfg.Thresholds); err != nil {
			return err
		}
		for i := range kept {
			s := &kept[i]
			th := j.cfg.Thresholds.Of(s.Kind)
			p, had := prev[ScoreKey{s.LicenseID, s.Kind}]
			if !alertDue(s.Kind, th, s.Value, p, had) {
				continue
			}
			claimed, err := tx.ClaimAlert(ctx, s.LicenseID, s.Kind, now)
			if err != nil {
				return err
			}
			if !claimed {
				continue
			}
			if err := tx.AppendEvent(ctx, crossingEvent(s, th, now)); err != nil {
				return err
			}
			events++
		}
		return nil
	})
	return len(kept), events, err
}

// crossingEvent is the insight.* event of a score that crossed th: the
// score (with its reasons and suggested policy) in After, its top reasons
// in Reason so an email alert says why.
func crossingEvent(s *Score, th float64, now time.Time) *licensing.Event {
	after, _ := json.Marshal(s)
	var why []string
	for _, r := range s.Reasons {
		why = append(why, r.Text)
	}
	reason := fmt.Sprintf("%s %.2f (threshold %.2f)", s.Kind, s.Value, th)
	if s.SuggestedPolicyID != "" {
		reason += "; suggested policy " + s.SuggestedPolicyID
	}
	if len(why) > 0 {
		reason += ": " + strings.Join(why, "; ")
	}
	if len(reason) > 500 {
		reason = reason[:497] + "..."
	}
	return &licensing.Event{Time: now, Action: s.Kind.Action(), TargetType: "license", TargetID: s.LicenseID,
		Actor: "system", ActorName: "insights", Reason: reason, After: after}
}

// outcomes builds the training examples: a snapshot of each license as of
// EvalLead before its outcome was decided (as evaluate takes it).
func (j *Job) outcomes(ctx context.Context, past []PastOutcome, cat *catalog, hist *customerHistory) ([]Outcome, error) {
	out := make([]Outcome, 0, len(past))
	for start := 0; start < len(past); start += j.cfg.BatchSize {
		batch := past[start:min(start+j.cfg.BatchSize, len(past))]
		qs := make([]FactsQuery, len(batch))
		for i, p := range batch {
			at := p.DecidedAt.Add(-EvalLead(p.LicenseID))
			qs[i] = FactsQuery{LicenseID: p.LicenseID, From: at.Add(-Window), To: at}
		}
		facts, err := j.store.Facts(ctx, qs)
		if err != nil {
			return nil, err
		}
		for i := range batch {
			p, f := &batch[i], &facts[i]
			at := qs[i].To
			if p.Imported {
				f.Activations = append(f.Activations, within(p.Activations, qs[i], func(a Activation) time.Time { return a.At })...)
				f.Deactivations = append(f.Deactivations, within(p.Deactivations, qs[i], func(t time.Time) time.Time { return t })...)
				f.Extensions = append(f.Extensions, within(p.Extensions, FactsQuery{To: at}, func(t time.Time) time.Time { return t })...)
			}
			exp := p.ExpiresAt
			if p.Imported {
				f.SupportActions += len(p.Suspensions)
				f.PaymentTrouble = f.PaymentTrouble || p.Payment.Troubled()
			}
			s := cat.snapshot(at, p.LicenseID, p.CustomerID, p.ProductID, p.PolicyID, licensing.LicenseActive, p.CreatedAt, &exp, f, hist)
			if p.Imported {
				s.Payment = p.Payment
				s.ClockTampering += p.ClockTampering
			}
			if p.Seats > 0 {
				s.Seats = p.Seats
			}
			// The machines table says how many hold a seat now, not then:
			// count those used in the window's last two weeks.
			s.ActiveMachines = machinesSeen(f.Days, at.Add(-14*24*time.Hour))
			out = append(out, Outcome{Snapshot: s, Churned: p.Churned, Blocked: p.Blocked})
		}
	}
	return out, nil
}

// within keeps the items of xs whose time is in q's window (From zero: no
// lower bound).
func within[T any](xs []T, q FactsQuery, at func(T) time.Time) []T {
	var out []T
	for _, x := range xs {
		t := at(x)
		if (q.From.IsZero() || !t.Before(q.From)) && t.Before(q.To) {
			out = append(out, x)
		}
	}
	return out
}

// machinesSeen counts the machines with a roll-up on or after since.
func machinesSeen(days []Day, since time.Time) int {
	from := since.UTC().Format(DayLayout)
	seen := map[string]bool{}
	for _, d := range days {
		if d.MachineID != "" && d.Day >= from {
			seen[d.MachineID] = true
		}
	}
	return len(seen)
}

// catalog is the policies, by id and by product (fewest seats first).
type catalog struct {
	byID      map[string]*licensing.Policy
	byProduct map[string][]licensing.Policy
}

func newCatalog(pols []licensing.Policy) *catalog {
	c := &catalog{byID: map[string]*licensing.Policy{}, byProduct: map[string][]licensing.Policy{}}
	for i := range pols {
		c.byID[pols[i].ID] = &pols[i]
		c.byProduct[pols[i].ProductID] = append(c.byProduct[pols[i].ProductID], pols[i])
	}
	for _, ps := range c.byProduct {
		slices.SortStableFunc(ps, func(a, b licensing.Policy) int {
			if a.MaxMachines != b.MaxMachines {
				return a.MaxMachines - b.MaxMachines
			}
			return strings.Compare(a.ID, b.ID)
		})
	}
	return c
}

// snapshot assembles a license's snapshot at at from its facts.
func (c *catalog) snapshot(at time.Time, licenseID, customerID, productID, policyID string, status licensing.LicenseStatus,
	created time.Time, expires *time.Time, f *Facts, hist *customerHistory) Snapshot {
	s := Snapshot{At: at, LicenseID: licenseID, CustomerID: customerID, ProductID: productID, PolicyID: policyID, Status: status,
		CreatedAt: created, ExpiresAt: expires, Days: f.Days, Refusals: f.Refusals, Activations: f.Activations,
		Deactivations: f.Deactivations, Extensions: f.Extensions, SupportActions: f.SupportActions, PaymentTrouble: f.PaymentTrouble,
		EarlierDays: f.EarlierDays}
	if p, ok := c.byID[policyID]; ok {
		s.Seats = p.MaxMachines
		if expires != nil {
			g := expires.Add(time.Duration(p.GraceSeconds) * time.Second)
			s.GraceUntil = &g
		}
		for _, q := range c.byProduct[p.ProductID] {
			if q.MaxMachines > p.MaxMachines {
				s.UpgradePolicies = append(s.UpgradePolicies, q)
			}
		}
	} else if expires != nil {
		g := *expires
		s.GraceUntil = &g
	}
	for _, r := range f.Refusals {
		if r.Kind == licensing.UseClockTampering {
			s.ClockTampering++
		}
	}
	versions := []string{}
	for _, d := range f.Days {
		if d.MachineID == "" {
			for _, v := range d.AppVersions {
				versions = addToSet(versions, v, MaxAppVersions*4)
			}
		}
	}
	if len(versions) > 0 {
		s.AppVersions = versions
	}
	s.CustomerRenewals, s.CustomerChurns = hist.before(customerID, licenseID, at)
	return s
}

// customerHistory is the past outcomes by customer: a snapshot sees those
// of the customer's other licenses decided before it.
type customerHistory struct {
	byCustomer map[string][]*PastOutcome
}

func newCustomerHistory(past []PastOutcome) *customerHistory {
	h := &customerHistory{byCustomer: map[string][]*PastOutcome{}}
	for i := range past {
		p := &past[i]
		if p.CustomerID != "" {
			h.byCustomer[p.CustomerID] = append(h.byCustomer[p.CustomerID], p)
		}
	}
	return h
}

// before counts the renewals and churns of the customer's other licenses
// decided before at.
func (h *customerHistory) before(customerID, licenseID string, at time.Time) (renewals, churns int) {
	for _, p := range h.byCustomer[customerID] {
		if p.LicenseID == licenseID || !p.DecidedAt.Before(at) {
			continue
		}
		if p.Churned {
			churns++
		} else if !p.Blocked {
			renewals++
		}
	}
	return renewals, churns
}
