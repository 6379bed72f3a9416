package insights

import (
	"context"
	"time"

	"github.com/nzilacode/narcidicontrole/licensing"
)

// What the scoring job keeps and reads: the latest score of each license
// and kind (with whether its crossing of the threshold was announced), a
// history of every score, and the past outcomes imported from a history.

// Scorer is what the job needs of a scoring engine: *Engine is one (tests
// use a fake). Train is called once per run, before Score.
type Scorer interface {
	Train(past []Outcome) error
	Score(snaps []Snapshot) ([]Score, error)
}

var _ Scorer = (*Engine)(nil)

// DefaultAlertThreshold is the score above which an insight is announced when
// the configuration names none for its kind.
const DefaultAlertThreshold = 0.7

// RearmMargin is how far under its threshold a score must fall before a
// new crossing is announced again: a score wavering around the threshold
// (0.69, 0.71, 0.70...) announces once, not every run.
const RearmMargin = 0.05

// Churn is announced only when the score is at or above its threshold on
// two consecutive runs (issue 26): an erratic but loyal license has real
// runs of low use, and a job looking every day gives a single high score
// many chances; a customer who is leaving stays high. The stored score
// still changes every run. The job (Run) and the backtest (RunBacktest)
// both decide by alertDue, so the backtest judges what the job announces.
//
// alertDue reports whether a score of kind k at value is announced now,
// given the threshold th and the license's previous score of the kind
// (prev; hadPrev false when there is none, as on a license's first run).
func alertDue(k Kind, th, value, prev float64, hadPrev bool) bool {
	if value < th {
		return false
	}
	if k != KindChurn {
		return true
	}
	return hadPrev && prev >= th
}

// ScoreKey names the latest score of a license and kind.
type ScoreKey struct {
	LicenseID string
	Kind      Kind
}

// Thresholds are the installation's thresholds by kind (missing kinds:
// DefaultAlertThreshold).
type Thresholds map[Kind]float64

// Of is the threshold of kind k.
func (t Thresholds) Of(k Kind) float64 {
	if v, ok := t[k]; ok {
		return v
	}
	return DefaultAlertThreshold
}

// Action is the event action announcing a crossing of kind k
// ("insight.churn_risk", ...).
func (k Kind) Action() string { return "insight." + string(k) }

// Valid reports whether k is one of Kinds.
func (k Kind) Valid() bool {
	for _, v := range Kinds {
		if v == k {
			return true
		}
	}
	return false
}

// ScoreRecord is a stored score: the latest of its license and kind.
type ScoreRecord struct {
	// ID is stable for a license and kind (the listing's cursor).
	ID string `json:"id"`
	Score
	// Threshold is the installation's threshold of the kind when the score
	// was stored; AlertedAt is when the score last crossed it upward (the
	// insight.* event), nil while it has not since it last fell under.
	Threshold float64    `json:"threshold"`
	AlertedAt *time.Time `json:"alerted_at,omitempty"`
}

// ScoreFilter narrows a listing of scores. Zero values match everything.
type ScoreFilter struct {
	Kind       Kind
	MinScore   float64
	LicenseID  string
	CustomerID string
	ProductID  string
}

// PastOutcome is a license's known fate: the label of a training example.
// Own outcomes come from this installation's licenses and audit log (an
// expiry followed by an extension: not churned; an expired license:
// churned and blocked; a suspended one: blocked); imported ones from a
// history (`narcidi insights import`), with what the history said of the
// license's machines, since the audit log knows nothing of them.
type PastOutcome struct {
	LicenseID  string
	CustomerID string
	ProductID  string
	PolicyID   string
	Seats      int
	CreatedAt  time.Time
	ExpiresAt  time.Time // the expiry the outcome is about
	DecidedAt  time.Time // when the outcome was known (the expiry, or the renewal before it)
	Churned    bool
	Blocked    bool
	Imported   bool
	// Imported outcomes only: the machines' comings and goings and the
	// extensions, from the history; and (issue 26) the suspensions and
	// reinstatements of the snapshot's window, the payment state and the
	// clock-tampering reports at the snapshot.
	Activations    []Activation
	Deactivations  []time.Time
	Extensions     []time.Time
	Suspensions    []time.Time
	Payment        PaymentState
	ClockTampering int
}

// FactsQuery asks for what is known of a license in [From, To).
type FactsQuery struct {
	LicenseID string
	From, To  time.Time
}

// Facts is what the stores know of a license in a window: the telemetry,
// the audit log's machine and license events, and its state now.
type Facts struct {
	Days           []Day
	Refusals       []RefusalEvent
	Activations    []Activation
	Deactivations  []time.Time
	Extensions     []time.Time // license.renewed before To (all of them: past renewals)
	SupportActions int         // suspensions, reinstatements, transfers, plan changes in the window
	MachinesNow    int         // machines holding a seat now (active or offline)
	PaymentTrouble bool        // a subscription of the license is past due now
	// EarlierDays is Snapshot.EarlierDays counted before To (the days
	// EarlierFrom to EarlierTo days before To's day).
	EarlierDays []DayCount
}

// ScoreStore keeps the scores. Errors as licensing's stores (EUnavailable,
// EInternal). Safe for concurrent use; a tx value is not.
type ScoreStore interface {
	licensing.Tx[ScoreStore]
	licensing.EventAppender
	// SaveScores writes each score as the latest of its license and kind
	// (keeping the row's id and alert state) with threshold, and appends
	// it to the history.
	SaveScores(ctx context.Context, scores []Score, thresholds Thresholds) error
	// LatestValues answers the latest stored score of each kind of
	// licenseIDs (absent: none stored), read before SaveScores replaces
	// them so alertDue sees the previous run's.
	LatestValues(ctx context.Context, licenseIDs []string) (map[ScoreKey]float64, error)
	// ClaimAlert marks the latest score of the license and kind alerted at
	// at, unless it is already: true when this call did. Conditional, so of
	// several workers claiming at once exactly one gets true.
	ClaimAlert(ctx context.Context, licenseID string, kind Kind, at time.Time) (bool, error)
	// Rearm clears the alert of the latest scores of kind under below.
	Rearm(ctx context.Context, kind Kind, below float64) (int64, error)
	// DropStale deletes the latest scores computed before before (licenses
	// no longer active); the history keeps them.
	DropStale(ctx context.Context, before time.Time) (int64, error)
	// ListScores lists latest scores by id.
	ListScores(ctx context.Context, f ScoreFilter, page licensing.Page) ([]ScoreRecord, error)
	// TopScores lists the limit highest latest scores of kind at or above
	// minScore, highest first (equal ones by id).
	TopScores(ctx context.Context, kind Kind, minScore float64, limit int) ([]ScoreRecord, error)
	// DeleteHistoryBefore deletes history older than cutoff.
	DeleteHistoryBefore(ctx context.Context, cutoff time.Time) (int64, error)
	// SaveModelReport keeps the report of the last run (one, replaced);
	// ModelReport answers it, nil before any run made one.
	SaveModelReport(ctx context.Context, r *ModelReport) error
	ModelReport(ctx context.Context) (*ModelReport, error)
	// AppVersionUse counts, per app version the SDK reported for a license
	// of the product on a day >= from (YYYY-MM-DD), the distinct machines
	// and licenses that reported it and the last day it was seen: at most
	// limit versions, most machines first.
	AppVersionUse(ctx context.Context, productID, from string, limit int) ([]VersionUse, error)
}

// VersionUse is how many machines and licenses of a product reported an
// app version over a window (the adoption of a release).
type VersionUse struct {
	Version  string `json:"version"`
	Machines int64  `json:"machines"`
	Licenses int64  `json:"licenses"`
	LastDay  string `json:"last_day"`
}

// MaxAdoptionVersions bounds the versions AppVersions lists.
const MaxAdoptionVersions = 50

// PaymentStates is the narrow view of the subscriptions the payment and
// dunning features read (issue 26): kept this small so the billing side
// can change its own state freely behind it.
type PaymentStates interface {
	// PaymentStates answers the payment state of those of licenseIDs a
	// subscription in payment trouble covers (past due, or its dunning
	// over with the licenses suspended), by license id; the others are
	// absent.
	PaymentStates(ctx context.Context, licenseIDs []string) (map[string]PaymentState, error)
}

// JobStore is what the scoring job reads and writes.
type JobStore interface {
	ScoreStore
	PaymentStates
	// ActiveLicenses lists active licenses with id > after, by id.
	ActiveLicenses(ctx context.Context, after string, limit int) ([]licensing.License, error)
	// AllPolicies lists every policy.
	AllPolicies(ctx context.Context) ([]licensing.Policy, error)
	// Facts answers each query (same order).
	Facts(ctx context.Context, qs []FactsQuery) ([]Facts, error)
	// PastOutcomes lists own and imported outcomes decided after since,
	// newest first, at most limit.
	PastOutcomes(ctx context.Context, since time.Time, limit int) ([]PastOutcome, error)
	// TryLock takes the job's run lock until until unless another holder
	// has it (its until after now): true when taken.
	TryLock(ctx context.Context, holder string, now, until time.Time) (bool, error)
	// Unlock releases the lock of holder and records a finished run (ok)
	// or a failed one.
	Unlock(ctx context.Context, holder string, at time.Time, ok bool) error
}

// ImportStore is what `narcidi insights import` writes: the telemetry
// tables (Store) and the imported outcomes.
type ImportStore interface {
	Store
	// SaveOutcomes stores imported outcomes; one already stored (same
	// license and decision time) is replaced, so an import can be re-run.
	SaveOutcomes(ctx context.Context, outcomes []PastOutcome) error
}

// Scores reads the stored scores for the API and the console. Safe for
// concurrent use.
type Scores struct {
	store ScoreStore
}

// NewScores builds the reader over store.
func NewScores(store ScoreStore) *Scores { return &Scores{store: store} }

// List lists the latest scores matching f (by id, paged). A caller in the
// context (a token or a console user) needs ReadInsights: scores are
// NzilaCode's judgement of its customers, never shown to them.
// EForbidden, EInvalid (a kind that is not one, a score outside 0..1).
func (s *Scores) List(ctx context.Context, f ScoreFilter, page licensing.Page) ([]ScoreRecord, error) {
	if err := check(ctx, f); err != nil {
		return nil, err
	}
	return s.store.ListScores(ctx, f, page.Normalize())
}

// Top lists the n highest latest scores of kind at or above minScore,
// highest first: the strongest signals, however many licenses score above
// minScore. Permissions and errors as List (kind is required); n is
// capped at licensing.MaxPageLimit.
func (s *Scores) Top(ctx context.Context, kind Kind, minScore float64, n int) ([]ScoreRecord, error) {
	if err := check(ctx, ScoreFilter{Kind: kind, MinScore: minScore}); err != nil {
		return nil, err
	}
	if kind == "" {
		return nil, licensing.FieldErrorf("kind", "kind must be one of %v", Kinds)
	}
	return s.store.TopScores(ctx, kind, minScore, min(max(n, 1), licensing.MaxPageLimit))
}

// ModelReport is the report of the models of the last scoring run (nil
// before one); permissions as List.
func (s *Scores) ModelReport(ctx context.Context) (*ModelReport, error) {
	if err := check(ctx, ScoreFilter{}); err != nil {
		return nil, err
	}
	return s.store.ModelReport(ctx)
}

// AppVersions lists the app versions the SDK reported for the product's
// licenses on the days from since (UTC) to today, with how many machines and
// licenses reported each (at most MaxAdoptionVersions, most machines
// first). Telemetry is NzilaCode's, so permissions as List.
func (s *Scores) AppVersions(ctx context.Context, productID string, since time.Time) ([]VersionUse, error) {
	if err := check(ctx, ScoreFilter{}); err != nil {
		return nil, err
	}
	if productID == "" {
		return nil, licensing.FieldErrorf("product_id", "product_id is required")
	}
	return s.store.AppVersionUse(ctx, productID, since.UTC().Format(time.DateOnly), MaxAdoptionVersions)
}

// check is what every read of scores checks: the caller's permission and
// the filter's values.
func check(ctx context.Context, f ScoreFilter) error {
	if a := licensing.ActorFrom(ctx); (a.TokenID != "" || a.UserID != "" || a.LicenseID != "") && !a.Allows(licensing.ReadInsights) {
		return licensing.Errorf(licensing.EForbidden, "reading insights needs the %s permission", licensing.ReadInsights)
	}
	if f.Kind != "" && !f.Kind.Valid() {
		return licensing.FieldErrorf("kind", "kind must be one of %v", Kinds)
	}
	if f.MinScore < 0 || f.MinScore > 1 {
		return licensing.FieldErrorf("min_score", "min_score must be between 0 and 1")
	}
	return nil
}
