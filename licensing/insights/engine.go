package insights

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/nzilacode/narcidicontrole/licensing"
)

// The scoring contract: the scoring job (and `narcidi insights evaluate`)
// build one Snapshot per license, hand them to an Engine, and keep the
// Scores it answers. Fields of Snapshot, Score and Reason may be added,
// never renamed or removed: both sides build on them.

// Kind is what a score measures.
type Kind string

// The kinds of score; each crossing its threshold emits the event of the
// same name with "insight." before it (insight.churn_risk, ...).
const (
	KindChurn   Kind = "churn_risk"        // the chance the license is not renewed at its next expiry
	KindBlock   Kind = "block_risk"        // the chance it is about to lapse or be blocked
	KindUpgrade Kind = "upgrade_suggested" // it would benefit from the next plan (SuggestedPolicyID)
	KindSharing Kind = "sharing_suspected" // license sharing or abuse
)

// Kinds lists every kind, in the order pages show them.
var Kinds = []Kind{KindChurn, KindBlock, KindUpgrade, KindSharing}

// Reason is one of a score's top reasons: a sentence a support person can
// act on, and the figure behind it.
type Reason struct {
	Text    string  `json:"text"`    // "used on 3 of the last 28 days (was 21)"
	Feature string  `json:"feature"` // the feature's stable name, "active_days_28"
	Value   float64 `json:"value"`   // the feature's value
	// Key and Args are Text as a catalog message and its values, for
	// pages in the reader's language (Reason.In); empty in rows stored
	// before them.
	Key  string `json:"key,omitempty"` // "insights.reason.active_days.down"
	Args []Arg  `json:"args,omitempty"`
}

// Score is one kind of score of one license at one moment.
type Score struct {
	LicenseID  string   `json:"license_id"`
	CustomerID string   `json:"customer_id"`
	ProductID  string   `json:"product_id"`
	PolicyID   string   `json:"policy_id"`
	Kind       Kind     `json:"kind"`
	Value      float64  `json:"score"` // 0..1
	Reasons    []Reason `json:"reasons"`
	// ModelVersion names the model that made the score ("churn-starting-1",
	// "churn-trained-<hash>"); StartingModel says the documented starting
	// model was used because the installation's history is too short.
	ModelVersion  string `json:"model_version"`
	StartingModel bool   `json:"starting_model"`
	// SuggestedPolicyID is the next plan (KindUpgrade only).
	SuggestedPolicyID string `json:"suggested_policy_id,omitempty"`
	// Suggestion is the next step when there is no larger plan to name
	// (KindUpgrade on the largest plan): SuggestCustomPlan.
	Suggestion string    `json:"suggestion,omitempty"`
	ComputedAt time.Time `json:"computed_at"`
}

// Activation is a machine's activation (or re-activation) seen by the
// snapshot's window.
type Activation struct {
	At          time.Time
	MachineID   string
	Fingerprint string
	Hostname    string
	Platform    string
	Network     string
}

// Snapshot is what the engine knows of one license at At: built from the
// stored telemetry, licenses and events by the scoring job, or from a
// history by evaluate.
type Snapshot struct {
	At         time.Time
	LicenseID  string
	CustomerID string
	ProductID  string
	PolicyID   string
	Status     licensing.LicenseStatus
	Seats      int // the policy's MaxMachines
	CreatedAt  time.Time
	ExpiresAt  *time.Time // nil: never expires
	GraceUntil *time.Time // expiry + the policy's grace, nil when ExpiresAt is

	Days           []Day          // the license's and its machines' roll-ups, the last 90 days
	Refusals       []RefusalEvent // the last 90 days
	Activations    []Activation   // the last 90 days
	Deactivations  []time.Time    // the last 90 days
	ActiveMachines int            // machines holding a seat at At
	// EarlierDays is how many machines were used on each day of the
	// earlier quarter (EarlierFrom to EarlierTo days before At's day),
	// days without use left out: the license's normal from before the
	// 90 days, which a slow fall that began within them has not lowered.
	EarlierDays []DayCount

	Extensions       []time.Time // when the license was extended or renewed (its past renewals)
	SupportActions   int         // suspensions, reinstatements, transfers, plan changes in the last 90 days
	CustomerRenewals int         // past renewals of the customer's other licenses
	CustomerChurns   int         // the customer's other licenses that expired without extension
	PaymentTrouble   bool        // a subscription of the license is past due or unpaid
	Payment          PaymentState
	ClockTampering   int      // clock tampering reports in the last 90 days
	AppVersions      []string // app versions seen in the last 90 days

	// UpgradePolicies are the policies of the same product with more seats
	// than this one, fewest seats first (the candidates of KindUpgrade).
	UpgradePolicies []licensing.Policy
}

// DayCount is how many machines of a license were used on one day.
type DayCount struct {
	Day      string // YYYY-MM-DD, UTC
	Machines int
}

// The earlier quarter of a snapshot, in days before its day: weeks 13 to
// 24, within the default telemetry retention (180 days).
const (
	EarlierFrom = 13 * 7
	EarlierTo   = 25*7 - 1
)

// SuggestCustomPlan is Score.Suggestion for a license that outgrew the
// largest plan of its product: a custom plan, a talk with sales.
const SuggestCustomPlan = "custom_plan"

// PaymentState is the payment side of a license at a snapshot: its
// subscription's dunning state (the job reads it from the subscriptions,
// evaluate from a history's payment records). The zero value is "paid up,
// nothing known".
type PaymentState struct {
	Status         string     // "", PaymentPastDue or PaymentUnpaid
	Since          *time.Time // when the current trouble began (the first failure)
	FailedAttempts int        // failed attempts of the current trouble (at least 1 when Status is set and the provider says none)
	LastFailedAt   *time.Time
	DunningEndsAt  *time.Time // when the dunning window ends (the license is suspended then if still unpaid)
	CardExpiresAt  *time.Time // the card's expiry, when the provider says
}

// Troubled says whether a payment is past due or unpaid.
func (p *PaymentState) Troubled() bool {
	return p.Status == PaymentPastDue || p.Status == PaymentUnpaid
}

// Outcome is what happened to a license after a snapshot of it, the label
// a model trains on.
type Outcome struct {
	Snapshot Snapshot
	Churned  bool // expired without extension
	Blocked  bool // lapsed (past grace) or suspended within the block horizon
}

// Labelled is the features of a past snapshot and what happened after it:
// the training row of Engine.TrainFeatures (Train extracts them from
// Outcomes).
type Labelled struct {
	Features Features
	Churned  bool
	Blocked  bool
}

// BlockEligible says whether a snapshot's license could still become
// blocked: one suspended, revoked or expired at At already is, and neither
// trains nor tests the block model.
func (f *Features) BlockEligible() bool { return f.Status == licensing.LicenseActive }

// The training minimums: fewer outcomes (or fewer of either class) keep
// the starting model, whose scores say so (StartingModel).
const (
	DefaultMinOutcomes = 200
	DefaultMinClass    = 20
	DefaultThreshold   = 0.5
)

// EngineConfig configures an Engine.
type EngineConfig struct {
	// Seed is kept for models that draw randomness. Training today draws
	// none (logistic regression from zero weights, deterministic BFGS,
	// outcomes sorted by time and license first), so one set of outcomes
	// always gives one model and one version.
	Seed uint64
	// MinOutcomes and MinClass are the training minimums (0: the defaults,
	// 200 and 20).
	MinOutcomes, MinClass int
	// Thresholds are the scores at and above which a kind counts as raised
	// (evaluate's precision and recall; the job's events may use their
	// own). Missing kinds use DefaultThreshold.
	Thresholds map[Kind]float64
}

// Engine scores snapshots. Safe for concurrent use.
type Engine struct {
	cfg EngineConfig

	mu           sync.RWMutex
	churn, block *linear
	peers        map[string]peerRef // by policy, from the training snapshots ("" all)
}

// NewEngine builds an engine with the starting models.
func NewEngine(cfg EngineConfig) *Engine {
	if cfg.MinOutcomes <= 0 {
		cfg.MinOutcomes = DefaultMinOutcomes
	}
	if cfg.MinClass <= 0 {
		cfg.MinClass = DefaultMinClass
	}
	return &Engine{
		cfg:   cfg,
		churn: startingLinear(KindChurn, "churn", churnTerms, churnStartingBias, churnStarting),
		block: startingLinear(KindBlock, "block", blockTerms, blockStartingBias, blockStarting),
	}
}

// Threshold is the score at and above which kind counts as raised.
func (e *Engine) Threshold(kind Kind) float64 {
	if t, ok := e.cfg.Thresholds[kind]; ok {
		return t
	}
	return DefaultThreshold
}

// ModelVersions is the version of the model of each kind, as scores name
// them.
func (e *Engine) ModelVersions() map[Kind]string {
	e.mu.RLock()
	defer e.mu.RUnlock()
	return map[Kind]string{KindChurn: e.churn.version, KindBlock: e.block.version, KindUpgrade: upgradeVersion, KindSharing: sharingVersion}
}

// Calibrations says, for churn and block, how the model in use turns its
// regression into a probability (CalibrationPlatt or "").
func (e *Engine) Calibrations() map[Kind]string {
	e.mu.RLock()
	defer e.mu.RUnlock()
	of := func(l *linear) string {
		if l.cal != nil {
			return CalibrationPlatt
		}
		return ""
	}
	return map[Kind]string{KindChurn: of(e.churn), KindBlock: of(e.block)}
}

// Train fits the trained models to past outcomes; with too few of them it
// keeps the starting models (and says so in the scores). It also keeps the
// snapshots' sharing figures as each policy's peers.
func (e *Engine) Train(past []Outcome) error {
	rows := make([]Labelled, len(past))
	for i := range past {
		rows[i] = Labelled{Features: Extract(&past[i].Snapshot), Churned: past[i].Churned, Blocked: past[i].Blocked}
	}
	return e.TrainFeatures(rows)
}

// TrainFeatures is Train on extracted features (evaluate extracts them as
// it reads a history, so the snapshots need not all be in memory). Each
// model is trained or reset to its starting model on its own: churn on
// every row, block on the rows whose license could still be blocked.
func (e *Engine) TrainFeatures(past []Labelled) error {
	rows := slices.Clone(past)
	slices.SortStableFunc(rows, func(a, b Labelled) int {
		if c := a.Features.At.Compare(b.Features.At); c != 0 {
			return c
		}
		return strings.Compare(a.Features.LicenseID, b.Features.LicenseID)
	})
	fit := func(kind Kind, prefix string, terms []term, starting *linear, keep func(*Labelled) (bool, bool)) (*linear, error) {
		var xs [][]float64
		var ys []bool
		pos := 0
		probe := &linear{terms: terms}
		for i := range rows {
			use, y := keep(&rows[i])
			if !use {
				continue
			}
			xs, ys = append(xs, probe.vector(&rows[i].Features)), append(ys, y)
			if y {
				pos++
			}
		}
		if len(xs) < e.cfg.MinOutcomes || pos < e.cfg.MinClass || len(xs)-pos < e.cfg.MinClass {
			return starting, nil
		}
		return trainedLinear(kind, prefix, terms, xs, ys)
	}
	churn, err := fit(KindChurn, "churn", churnTerms, startingLinear(KindChurn, "churn", churnTerms, churnStartingBias, churnStarting),
		func(l *Labelled) (bool, bool) { return true, l.Churned })
	if err != nil {
		return fmt.Errorf("insights: training the churn model: %w", err)
	}
	for i := range rows {
		rows[i].Features.ChurnLogit = churn.logOdds(&rows[i].Features) // rows is a copy
	}
	block, err := fit(KindBlock, "block", blockTerms, startingLinear(KindBlock, "block", blockTerms, blockStartingBias, blockStarting),
		func(l *Labelled) (bool, bool) { return l.Features.BlockEligible(), l.Blocked })
	if err != nil {
		return fmt.Errorf("insights: training the block model: %w", err)
	}
	fs := make([]Features, len(rows))
	for i := range rows {
		fs[i] = rows[i].Features
	}
	peers := peerRefs(fs)
	e.mu.Lock()
	e.churn, e.block, e.peers = churn, block, peers
	e.mu.Unlock()
	return nil
}

// Score scores each snapshot with every kind: len(snaps) × len(Kinds)
// scores, snapshot by snapshot, kinds in Kinds order. The licenses of the
// same policy in snaps are each other's peers for sharing: score a whole
// installation in one call (or extract features batch by batch and call
// ScoreFeatures once) so peers are the installation's.
func (e *Engine) Score(snaps []Snapshot) ([]Score, error) {
	fs := make([]Features, len(snaps))
	for i := range snaps {
		fs[i] = Extract(&snaps[i])
	}
	return e.ScoreFeatures(fs), nil
}

// ScoreFeatures is Score on extracted features.
func (e *Engine) ScoreFeatures(fs []Features) []Score {
	e.mu.RLock()
	churn, block, trainedPeers := e.churn, e.block, e.peers
	e.mu.RUnlock()
	batch := peerRefs(fs)
	out := make([]Score, 0, len(fs)*len(Kinds))
	for i := range fs {
		f := &fs[i]
		base := Score{LicenseID: f.LicenseID, CustomerID: f.CustomerID, ProductID: f.ProductID, PolicyID: f.PolicyID, ComputedAt: f.At}

		s := base
		s.Kind, s.ModelVersion, s.StartingModel = KindChurn, churn.version, churn.starting
		s.Value, s.Reasons = churn.score(f)
		out = append(out, finish(s))

		s = base
		s.Kind, s.ModelVersion, s.StartingModel = KindBlock, block.version, block.starting
		if f.BlockEligible() {
			g := *f
			g.ChurnLogit = churn.logOdds(f)
			s.Value, s.Reasons = block.score(&g)
		} else {
			s.Value, s.Reasons = 1, []Reason{reason("the license is "+string(f.Status), "status", 1,
				"insights.reason.status", msgArg("status", "status.license."+string(f.Status)))}
		}
		out = append(out, finish(s))

		s = base
		s.Kind, s.ModelVersion = KindUpgrade, upgradeVersion
		s.Value, s.Reasons = scoreUpgrade(f)
		s.SuggestedPolicyID = f.SuggestedPolicyID
		if !f.HasUpgradePolicies {
			s.Suggestion = SuggestCustomPlan
		}
		out = append(out, finish(s))

		s = base
		s.Kind, s.ModelVersion = KindSharing, sharingVersion
		s.Value, s.Reasons = scoreSharing(f, pickPeers(f.PolicyID, batch, trainedPeers))
		out = append(out, finish(s))
	}
	return out
}

// pickPeers is the reference a license's sharing metrics are compared
// with: its policy's licenses in the batch, else in training, else the
// whole batch, else the starting reference.
func pickPeers(policy string, batch, trained map[string]peerRef) peerRef {
	if r, ok := batch[policy]; ok {
		return r
	}
	if r, ok := trained[policy]; ok {
		return r
	}
	if r, ok := batch[""]; ok {
		return r
	}
	return startingPeers
}

func finish(s Score) Score {
	s.Value = round4(s.Value)
	if s.Reasons == nil {
		s.Reasons = []Reason{}
	}
	return s
}
