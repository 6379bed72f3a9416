package insights

import (
	"errors"
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
	SuggestedPolicyID string    `json:"suggested_policy_id,omitempty"`
	ComputedAt        time.Time `json:"computed_at"`
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

	Extensions       []time.Time // when the license was extended or renewed (its past renewals)
	SupportActions   int         // suspensions, reinstatements, transfers, plan changes in the last 90 days
	CustomerRenewals int         // past renewals of the customer's other licenses
	CustomerChurns   int         // the customer's other licenses that expired without extension
	PaymentTrouble   bool        // a subscription of the license is past due or unpaid
	ClockTampering   int         // clock tampering reports in the last 90 days
	AppVersions      []string    // app versions seen in the last 90 days

	// UpgradePolicies are the policies of the same product with more seats
	// than this one, fewest seats first (the candidates of KindUpgrade).
	UpgradePolicies []licensing.Policy
}

// Outcome is what happened to a license after a snapshot of it, the label
// a model trains on.
type Outcome struct {
	Snapshot Snapshot
	Churned  bool // expired without extension
	Blocked  bool // lapsed (past grace) or suspended within the block horizon
}

// ErrNotBuilt is answered until the engine is built (issue 14).
var ErrNotBuilt = errors.New("insights: the scoring engine is not built yet")

// Engine scores snapshots. Safe for concurrent use once built.
type Engine struct{}

// EngineConfig configures an Engine (seed of training, thresholds of
// starting models).
type EngineConfig struct {
	Seed uint64
}

// NewEngine builds an engine with the starting models.
func NewEngine(cfg EngineConfig) *Engine { return &Engine{} }

// Train fits the trained models to past outcomes; with too few of them it
// keeps the starting models (and says so in the scores).
func (e *Engine) Train(past []Outcome) error { return ErrNotBuilt }

// Score scores each snapshot with every kind.
func (e *Engine) Score(snaps []Snapshot) ([]Score, error) { return nil, ErrNotBuilt }
