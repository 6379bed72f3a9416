package insights

import (
	"fmt"
	"math"
	"slices"
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
}

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
		case KindUpgrade:
			truth = func(r *HistoryRow) (bool, bool) { return true, r.Label.Profile == "grower" }
		case KindSharing:
			truth = func(r *HistoryRow) (bool, bool) { return true, r.Label.Profile == "sharer" }
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
		for i := range test {
			use, y := truth(&test[i])
			if !use {
				continue
			}
			s := scores[i*len(Kinds)+k]
			ke.ModelVersion, ke.StartingModel = s.ModelVersion, s.StartingModel
			got, ys = append(got, s.Value), append(ys, y)
			base = append(base, starting[i*len(Kinds)+k].Value)
			if y {
				ke.TestPositive++
			}
			if s.Value >= ke.Threshold {
				ke.Raised++
			}
		}
		ke.Test = len(got)
		ke.AUC = AUC(got, ys)
		ke.Precision, ke.Recall = PrecisionRecall(got, ys, ke.Threshold)
		if kind == KindChurn || kind == KindBlock {
			ke.StartingAUC = AUC(base, ys)
		}
		ev.Kinds = append(ev.Kinds, ke)
	}
	return ev, nil
}

// Kind is the evaluation of kind.
func (ev *Evaluation) Kind(kind Kind) *KindEvaluation {
	for i := range ev.Kinds {
		if ev.Kinds[i].Kind == kind {
			return &ev.Kinds[i]
		}
	}
	return nil
}
