package insights

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
)

// KindEvaluation is how one kind of score did on the later licenses of a
// history.
type KindEvaluation struct {
	Kind          Kind
	ModelVersion  string
	StartingModel bool
	// Train and TrainPositive count the rows the model was trained on (0
	// for the rule-based kinds); Test and TestPositive the rows it was
	// judged on.
	Train, TrainPositive int
	Test, TestPositive   int
	AUC                  float64 // NaN when the test rows hold one class only
	Threshold            float64
	Precision, Recall    float64 // counting scores ≥ Threshold as raised
	Raised               int     // test rows at or above the threshold
	// StartingAUC is the starting model's AUC on the same rows (churn and
	// block), to show what training gained; NaN otherwise.
	StartingAUC float64
	Note        string // why a kind was not judged
	// Reliability is the calibration: per band of scores, how many were
	// positive (a 0.7 should mean 70 %).
	Reliability []ReliabilityBin
	// ByProfile is, per label profile (when labels carry them), how many
	// rows and how many raised: the false-positive rate of the profiles
	// that are negatives of the kind.
	ByProfile []ProfileRate

	// What Report reads of the test rows: each score, its truth, the
	// row's outcome and the days from its snapshot to its decision.
	scores   []float64
	ys       []bool
	outcomes []string
	leads    []float64
}

// ThresholdFigures is how a kind did at one threshold.
type ThresholdFigures struct {
	Threshold float64 `json:"threshold"`
	Raised    int     `json:"raised"`
	Precision float64 `json:"precision"`
	Recall    float64 `json:"recall"`
}

// ReportThresholds are the thresholds a ModelReport gives precision and
// recall at, beside the job's alert threshold.
var ReportThresholds = []float64{0.3, 0.5, 0.7, 0.9}

// At is the kind's figures on its test rows at threshold th.
func (k *KindEvaluation) At(th float64) ThresholdFigures {
	f := ThresholdFigures{Threshold: th}
	for _, v := range k.scores {
		if v >= th {
			f.Raised++
		}
	}
	f.Precision, f.Recall = PrecisionRecall(k.scores, k.ys, th)
	return f
}

// Outcomes of a license after its snapshot, as ModelReport counts them.
const (
	OutcomeRenewed = "renewed"
	OutcomeChurned = "churned" // not renewed, not blocked within BlockHorizon
	OutcomeBlocked = "blocked"
)

func outcomeOf(churned, blocked bool) string {
	switch {
	case blocked:
		return OutcomeBlocked
	case churned:
		return OutcomeChurned
	}
	return OutcomeRenewed
}

// ByOutcome is, per outcome, how many test rows the kind raised at th:
// the rows of an outcome that is not the kind's truth are its false
// positives.
func (k *KindEvaluation) ByOutcome(th float64) []ProfileRate {
	return byProfile(k.scores, k.ys, k.outcomes, th)
}

// LeadDays is the median of the days between the snapshot and the
// decision over the true positives raised at th (NaN when none): how
// long before the outcome an alert at th came.
func (k *KindEvaluation) LeadDays(th float64) float64 {
	var ls []float64
	for i, v := range k.scores {
		if v >= th && k.ys[i] {
			ls = append(ls, k.leads[i])
		}
	}
	if len(ls) == 0 {
		return math.NaN()
	}
	return medianOf(ls)
}

// ReliabilityBin is one band of scores [Low, High) and what happened.
type ReliabilityBin struct {
	Low           float64 `json:"low"`
	High          float64 `json:"high"`
	N             int     `json:"n"`
	Positive      int     `json:"positive"`
	MeanPredicted float64 `json:"mean_predicted"`
}

// Observed is the share of the band that was positive.
func (b ReliabilityBin) Observed() float64 { return float64(b.Positive) / float64(max(b.N, 1)) }

// ProfileRate is how often the licenses of one profile were raised.
type ProfileRate struct {
	Profile  string `json:"profile"`
	N        int    `json:"n"`
	Raised   int    `json:"raised"`
	Positive bool   `json:"positive"` // the profile is the kind's truth (its raised are true positives)
}

// UpgradeProfiles and SharingProfiles are the label profiles that are the
// truth of upgrade_suggested and sharing_suspected (the simulator's
// names; a real history's labels use "grower" and "sharer").
var (
	UpgradeProfiles = map[string]bool{"grower": true, "top_grower": true}
	SharingProfiles = map[string]bool{"sharer": true, "large_sharer": true}
)

func profileTruth(kind Kind, profile string) bool {
	if kind == KindUpgrade {
		return UpgradeProfiles[profile]
	}
	return SharingProfiles[profile]
}

// ReliabilityTable bins scores in tenths.
func ReliabilityTable(scores []float64, ys []bool) []ReliabilityBin {
	bins := make([]ReliabilityBin, 10)
	for i := range bins {
		bins[i].Low, bins[i].High = float64(i)/10, float64(i+1)/10
	}
	for i, v := range scores {
		b := &bins[min(9, max(0, int(v*10)))]
		b.N++
		b.MeanPredicted += v
		if ys[i] {
			b.Positive++
		}
	}
	out := bins[:0]
	for _, b := range bins {
		if b.N > 0 {
			b.MeanPredicted /= float64(b.N)
			out = append(out, b)
		}
	}
	return out
}

// CalibrationError is the reliability table's expected calibration error:
// the mean gap between predicted and observed, weighted by rows.
func CalibrationError(bins []ReliabilityBin) float64 {
	n, e := 0, 0.0
	for _, b := range bins {
		n += b.N
		e += math.Abs(b.MeanPredicted-float64(b.Positive)/float64(b.N)) * float64(b.N)
	}
	if n == 0 {
		return math.NaN()
	}
	return e / float64(n)
}

func byProfile(scores []float64, ys []bool, profiles []string, th float64) []ProfileRate {
	at := map[string]int{}
	var out []ProfileRate
	for i, p := range profiles {
		if p == "" {
			continue
		}
		k, ok := at[p]
		if !ok {
			k = len(out)
			at[p] = k
			out = append(out, ProfileRate{Profile: p})
		}
		out[k].N++
		if ys[i] {
			out[k].Positive = true
		}
		if scores[i] >= th {
			out[k].Raised++
		}
	}
	slices.SortFunc(out, func(a, b ProfileRate) int { return strings.Compare(a.Profile, b.Profile) })
	return out
}

// Rate is the profile's share raised.
func (p ProfileRate) Rate() float64 { return float64(p.Raised) / float64(max(p.N, 1)) }

// Evaluation is a history's offline evaluation: the engine trained on the
// licenses decided before Split, judged on those decided from Split on.
type Evaluation struct {
	Split       time.Time
	Train, Test int
	Kinds       []KindEvaluation
	Engine      *Engine
}

// Evaluate trains an engine on the earlier half of rows (by decision time)
// and scores the later half with every kind. The truth of churn and block
// risk is what happened (HistoryRow); that of upgrade and sharing is the
// label's profile (grower, sharer), judged only when some label has one.
func Evaluate(rows []HistoryRow, cfg EngineConfig) (*Evaluation, error) {
	if len(rows) < 20 {
		return nil, fmt.Errorf("%d labelled licenses: too few to evaluate (at least 20)", len(rows))
	}
	rows = slices.Clone(rows)
	slices.SortStableFunc(rows, func(a, b HistoryRow) int { return a.Label.DecidedAt.Compare(b.Label.DecidedAt) })
	half := len(rows) / 2
	train, test := rows[:half], rows[half:]
	ev := &Evaluation{Split: test[0].Label.DecidedAt, Train: len(train), Test: len(test), Engine: NewEngine(cfg)}
	past := make([]Labelled, len(train))
	for i := range train {
		past[i] = train[i].Labelled
	}
	if err := ev.Engine.TrainFeatures(past); err != nil {
		return nil, err
	}
	fs := make([]Features, len(test))
	for i := range test {
		fs[i] = test[i].Features
	}
	scores := ev.Engine.ScoreFeatures(fs)
	starting := NewEngine(cfg).ScoreFeatures(fs)
	profiled := slices.ContainsFunc(rows, func(r HistoryRow) bool { return r.Label.Profile != "" })

	for k, kind := range Kinds {
		ke := KindEvaluation{Kind: kind, Threshold: ev.Engine.Threshold(kind), StartingAUC: math.NaN(), AUC: math.NaN()}
		var truth func(r *HistoryRow) (use, y bool)
		switch kind {
		case KindChurn:
			truth = func(r *HistoryRow) (bool, bool) { return true, r.Churned }
		case KindBlock:
			truth = func(r *HistoryRow) (bool, bool) { return r.Features.BlockEligible(), r.Blocked }
		case KindUpgrade, KindSharing:
			truth = func(r *HistoryRow) (bool, bool) { return true, profileTruth(kind, r.Label.Profile) }
		}
		if (kind == KindUpgrade || kind == KindSharing) && !profiled {
			ke.ModelVersion = ev.Engine.ModelVersions()[kind]
			ke.Note = "no ground truth: no label names a profile"
			ev.Kinds = append(ev.Kinds, ke)
			continue
		}
		if kind == KindChurn || kind == KindBlock {
			for i := range train {
				if use, y := truth(&train[i]); use {
					ke.Train++
					if y {
						ke.TrainPositive++
					}
				}
			}
		}
		var got, base []float64
		var ys []bool
		var profiles []string
		for i := range test {
			use, y := truth(&test[i])
			if !use {
				continue
			}
			s := scores[i*len(Kinds)+k]
			ke.ModelVersion, ke.StartingModel = s.ModelVersion, s.StartingModel
			got, ys, profiles = append(got, s.Value), append(ys, y), append(profiles, test[i].Label.Profile)
			ke.outcomes = append(ke.outcomes, outcomeOf(test[i].Churned, test[i].Blocked))
			ke.leads = append(ke.leads, test[i].Label.DecidedAt.Sub(test[i].Features.At).Hours()/24)
			base = append(base, starting[i*len(Kinds)+k].Value)
			if y {
				ke.TestPositive++
			}
			if s.Value >= ke.Threshold {
				ke.Raised++
			}
		}
		ke.Test = len(got)
		ke.scores, ke.ys = got, ys
		ke.AUC = AUC(got, ys)
		ke.Precision, ke.Recall = PrecisionRecall(got, ys, ke.Threshold)
		ke.Reliability = ReliabilityTable(got, ys)
		ke.ByProfile = byProfile(got, ys, profiles, ke.Threshold)
		if kind == KindChurn || kind == KindBlock {
			ke.StartingAUC = AUC(base, ys)
		}
		ev.Kinds = append(ev.Kinds, ke)
	}
	return ev, nil
}

// Kind is the evaluation of kind.
// Alike BacktestResult.Kind (backtest.go) by shape: a lookup by a field,
// which a generic function cannot read without an accessor per type.
func (ev *Evaluation) Kind(kind Kind) *KindEvaluation {
	for i := range ev.Kinds {
		if ev.Kinds[i].Kind == kind {
			return &ev.Kinds[i]
		}
	}
	return nil
}

// ModelReport is how the models of a scoring run did on the
// installation's own outcomes: the same kind of engine trained on the
// outcomes decided in the earlier half and judged on the later half (a
// time split, as evaluate does), so the console can show the calibration
// of the model in use. Kept with the job's run (ScoreStore).
type ModelReport struct {
	At       time.Time         `json:"at"`
	Outcomes int               `json:"outcomes"`
	Kinds    []ModelReportKind `json:"kinds"`
	Note     string            `json:"note,omitempty"` // why there are no figures
}

// ModelReportKind is one kind's figures in a ModelReport.
type ModelReportKind struct {
	Kind             Kind             `json:"kind"`
	ModelVersion     string           `json:"model_version"` // the version in use (trained on every outcome)
	Train            int              `json:"train"`
	Test             int              `json:"test"`
	TestPositive     int              `json:"test_positive"`
	AUC              float64          `json:"auc"`
	Threshold        float64          `json:"threshold"`
	Precision        float64          `json:"precision"`
	Recall           float64          `json:"recall"`
	CalibrationError float64          `json:"calibration_error"`
	Reliability      []ReliabilityBin `json:"reliability"`
	// Calibration is how the model in use turns its regression into a
	// probability: CalibrationPlatt, or "" (the regression's own).
	Calibration string `json:"calibration,omitempty"`
	// The backtest of the later half as the job would alert: precision
	// and recall at ReportThresholds and at AlertThreshold (the job's),
	// the rows raised at AlertThreshold per outcome (the outcomes that
	// are not the kind's truth are its false positives) and the median
	// days from the snapshot that raised a true positive to its
	// decision (-1 when none).
	AlertThreshold float64            `json:"alert_threshold"`
	AtThresholds   []ThresholdFigures `json:"at_thresholds,omitempty"`
	ByOutcome      []ProfileRate      `json:"by_outcome,omitempty"`
	LeadDays       float64            `json:"lead_days"`
}

// CalibrationPlatt is ModelReportKind.Calibration of a Platt-scaled model.
const CalibrationPlatt = "platt"

// Report builds the ModelReport of outcomes at at; versions are the
// versions in use, alerts the job's alert thresholds.
func Report(past []Outcome, at time.Time, versions map[Kind]string, alerts Thresholds) *ModelReport {
	r := &ModelReport{At: at, Outcomes: len(past)}
	rows := make([]HistoryRow, len(past))
	for i := range past {
		o := &past[i]
		rows[i] = HistoryRow{Labelled: Labelled{Features: Extract(&o.Snapshot), Churned: o.Churned, Blocked: o.Blocked},
			// The job's outcome snapshots are taken EvalLead before the
			// decision.
			Label: Label{LicenseID: o.Snapshot.LicenseID, DecidedAt: o.Snapshot.At.Add(EvalLead(o.Snapshot.LicenseID))}}
	}
	ev, err := Evaluate(rows, EngineConfig{})
	if err != nil {
		r.Note = err.Error()
		return r
	}
	for _, kind := range []Kind{KindChurn, KindBlock} {
		k := ev.Kind(kind)
		if k.StartingModel {
			r.Note = "too few outcomes in the earlier half to train: the figures are the starting model's"
		}
		alert := alerts.Of(kind)
		rk := ModelReportKind{Kind: kind, ModelVersion: versions[kind], Train: k.Train, Test: k.Test, TestPositive: k.TestPositive,
			AUC: finite(k.AUC), Threshold: k.Threshold, Precision: k.Precision, Recall: k.Recall,
			CalibrationError: finite(CalibrationError(k.Reliability)), Reliability: k.Reliability,
			AlertThreshold: alert, ByOutcome: k.ByOutcome(alert), LeadDays: finite(k.LeadDays(alert))}
		for _, th := range ReportThresholds {
			rk.AtThresholds = append(rk.AtThresholds, k.At(th))
		}
		if !slices.Contains(ReportThresholds, alert) {
			rk.AtThresholds = append(rk.AtThresholds, k.At(alert))
			slices.SortFunc(rk.AtThresholds, func(a, b ThresholdFigures) int { return cmpFloat(a.Threshold, b.Threshold) })
		}
		r.Kinds = append(r.Kinds, rk)
	}
	return r
}

// finite turns NaN (one class only) into -1, which JSON can carry.
func finite(v float64) float64 {
	if math.IsNaN(v) {
		return -1
	}
	return v
}
