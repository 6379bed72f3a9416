package insights_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/nzilacode/narcidicontrole/licensing/insights"
	"github.com/nzilacode/narcidicontrole/licensing/insights/sim"
)

func TestAUC(t *testing.T) {
	for _, tc := range []struct {
		name   string
		scores []float64
		y      []bool
		want   float64
	}{
		{"perfect", []float64{0.1, 0.2, 0.8, 0.9}, []bool{false, false, true, true}, 1},
		{"reversed", []float64{0.9, 0.8, 0.2, 0.1}, []bool{false, false, true, true}, 0},
		{"all tied", []float64{0.5, 0.5, 0.5, 0.5}, []bool{false, true, false, true}, 0.5},
		{"one swap of four pairs", []float64{0.1, 0.6, 0.5, 0.9}, []bool{false, false, true, true}, 0.75},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := insights.AUC(tc.scores, tc.y); math.Abs(got-tc.want) > 1e-12 {
				t.Errorf("AUC = %v, want %v", got, tc.want)
			}
		})
	}
	if !math.IsNaN(insights.AUC([]float64{1, 2}, []bool{true, true})) {
		t.Error("AUC of one class must be NaN")
	}
	p, r := insights.PrecisionRecall([]float64{0.9, 0.7, 0.4, 0.2}, []bool{true, false, true, false}, 0.5)
	if p != 0.5 || r != 0.5 {
		t.Errorf("precision, recall = %v, %v; want 0.5, 0.5", p, r)
	}
}

// simulatedRows runs the simulator straight into a HistoryBuilder (no
// JSON: a 10k-license history is 6 million records).
func simulatedRows(t testing.TB, cfg sim.Config) []insights.HistoryRow {
	t.Helper()
	// The labels come at the end of Generate; the builder needs them
	// first, so run the simulator twice: once for the labels (a tenth of
	// the cost of building), once for the records.
	labels, err := sim.Generate(cfg, func(*insights.Record) error { return nil })
	if err != nil {
		t.Fatal(err)
	}
	b := insights.NewHistoryBuilder(labels)
	if _, err := sim.Generate(cfg, b.Add); err != nil {
		t.Fatal(err)
	}
	rows, err := b.Finish()
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

func logEvaluation(t *testing.T, ev *insights.Evaluation) {
	t.Helper()
	for _, k := range ev.Kinds {
		t.Logf("%-18s %-26s train %5d (%4d+) test %5d (%4d+, %4d raised): AUC %.3f (starting %.3f) precision %.3f recall %.3f at %.2f %s",
			k.Kind, k.ModelVersion, k.Train, k.TrainPositive, k.Test, k.TestPositive, k.Raised, k.AUC, k.StartingAUC, k.Precision, k.Recall, k.Threshold, k.Note)
	}
}

// The bars of the issue, and the honest bar of block risk (what it
// reaches on the simulator, a little below the lowest seen).
const (
	minChurnAUC        = 0.80
	minSharingPrec     = 0.90
	minSharingRecall   = 0.80
	minUpgradePrec     = 0.80
	minBlockAUC        = 0.80
	minStartingAUC     = 0.70 // the starting models, untrained, still rank
	shuffles           = 3
	shuffledLow, shufH = 0.40, 0.60
)

// TestModelsOnSimulatedHistories: trained on the earlier half of the
// simulator's licenses and judged on the later half, each score reaches
// its bar for several seeds at 10k licenses (2k with -short); with the churn
// and block labels shuffled the models are no better than chance.
func TestModelsOnSimulatedHistories(t *testing.T) {
	sizes := map[uint64]int{1: 10_000, 2: 10_000, 3: 10_000}
	for _, seed := range []uint64{1, 2, 3} {
		t.Run(fmt.Sprintf("seed %d, %d licenses", seed, sizes[seed]), func(t *testing.T) {
			if testing.Short() {
				sizes[seed] = 2000
			}
			start := time.Now()
			rows := simulatedRows(t, sim.Default(seed, sizes[seed]))
			built := time.Since(start)
			ev, err := insights.Evaluate(rows, insights.EngineConfig{Seed: seed})
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("built in %s, evaluated in %s", built.Round(time.Millisecond), (time.Since(start) - built).Round(time.Millisecond))
			logEvaluation(t, ev)
			churn, block, up, share := ev.Kind(insights.KindChurn), ev.Kind(insights.KindBlock), ev.Kind(insights.KindUpgrade), ev.Kind(insights.KindSharing)
			if churn.StartingModel || block.StartingModel {
				t.Fatalf("with %d training licenses the models must be trained", ev.Train)
			}
			if churn.AUC < minChurnAUC {
				t.Errorf("churn AUC %.3f, want at least %.2f", churn.AUC, minChurnAUC)
			}
			if block.AUC < minBlockAUC {
				t.Errorf("block AUC %.3f, want at least %.2f", block.AUC, minBlockAUC)
			}
			if churn.StartingAUC < minStartingAUC || block.StartingAUC < minStartingAUC {
				t.Errorf("starting models: churn AUC %.3f, block AUC %.3f; want at least %.2f", churn.StartingAUC, block.StartingAUC, minStartingAUC)
			}
			if share.Precision < minSharingPrec || share.Recall < minSharingRecall {
				t.Errorf("sharing precision %.3f recall %.3f; want at least %.2f and %.2f", share.Precision, share.Recall, minSharingPrec, minSharingRecall)
			}
			if up.Precision < minUpgradePrec || up.Recall < 0.5 {
				t.Errorf("upgrade precision %.3f recall %.3f; want at least %.2f and 0.5", up.Precision, up.Recall, minUpgradePrec)
			}
			for _, k := range ev.Kinds {
				if k.TestPositive == 0 || k.Train > 0 && k.TrainPositive == 0 {
					t.Errorf("%s: a half without positives: %+v", k.Kind, k)
				}
			}

			// Shuffle the churn and block outcomes among the same features:
			// nothing is left to learn.
			r := rand.New(rand.NewPCG(seed, 99))
			var churnSum, blockSum float64
			for range shuffles {
				shuffled := append([]insights.HistoryRow(nil), rows...)
				r.Shuffle(len(shuffled), func(i, j int) {
					shuffled[i].Churned, shuffled[j].Churned = shuffled[j].Churned, shuffled[i].Churned
				})
				eligible := []int{}
				for i := range shuffled {
					if shuffled[i].Features.BlockEligible() {
						eligible = append(eligible, i)
					}
				}
				r.Shuffle(len(eligible), func(i, j int) {
					a, b := &shuffled[eligible[i]], &shuffled[eligible[j]]
					a.Blocked, b.Blocked = b.Blocked, a.Blocked
				})
				sev, err := insights.Evaluate(shuffled, insights.EngineConfig{Seed: seed})
				if err != nil {
					t.Fatal(err)
				}
				churnSum += sev.Kind(insights.KindChurn).AUC
				blockSum += sev.Kind(insights.KindBlock).AUC
			}
			t.Logf("shuffled labels: mean AUC churn %.3f, block %.3f over %d shuffles", churnSum/shuffles, blockSum/shuffles, shuffles)
			for name, mean := range map[string]float64{"churn": churnSum / shuffles, "block": blockSum / shuffles} {
				if mean < shuffledLow || mean > shufH {
					t.Errorf("%s with shuffled labels: mean AUC %.3f, want in [%.2f, %.2f]", name, mean, shuffledLow, shufH)
				}
			}
		})
	}
}
