package insights_test

import (
	"bytes"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

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

// simulated writes a simulated history to a file and returns its path and
// the labels.
func simulated(t *testing.T, cfg sim.Config) (string, []insights.Label) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "history.jsonl")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	var lb bytes.Buffer
	if err := sim.Write(cfg, f, &lb); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	labels, err := insights.ReadLabels(&lb)
	if err != nil {
		t.Fatal(err)
	}
	return path, labels
}

func churnSet(t *testing.T, path string, labels []insights.Label) *insights.ChurnSet {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	set, err := insights.ChurnSetFromHistory(f, labels)
	if err != nil {
		t.Fatal(err)
	}
	return set
}

// shuffledBand is how far from 0.5 the mean AUC of models trained and
// tested on shuffled labels (shuffles of them) may land: with about 300
// test licenses of which 15% churned, the AUC of a useless score has a
// standard deviation near 0.045, so near 0.02 for the mean of 5 shuffles,
// and 0.08 is about four of those; a model that still finds signal in noise (a
// leak of the label into the features) lands beyond it.
const (
	shuffles     = 5
	shuffledBand = 0.08
)

// TestChurnModelOnSimulatedHistories: trained on the earlier half of the
// simulator's licenses, the churn model ranks the later half's churners
// with an AUC of at least 0.80 for several seeds; with the labels
// shuffled it is no better than chance (the evaluation can fail).
func TestChurnModelOnSimulatedHistories(t *testing.T) {
	for _, seed := range []uint64{1, 2, 3} {
		t.Run(fmt.Sprintf("seed %d", seed), func(t *testing.T) {
			path, labels := simulated(t, sim.Default(seed, 600))
			set := churnSet(t, path, labels)
			ev, err := insights.EvaluateChurn(set)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("train %d (%d churned), test %d (%d churned): AUC %.3f, precision %.2f, recall %.2f at %.2f",
				ev.Train, ev.TrainChurn, ev.Test, ev.TestChurn, ev.AUC, ev.Precision, ev.Recall, ev.Threshold)
			if ev.AUC < 0.80 {
				t.Errorf("churn AUC %.3f, want at least 0.80", ev.AUC)
			}
			if ev.TestChurn == 0 || ev.TrainChurn == 0 {
				t.Fatalf("a half without churners: %+v", ev)
			}

			// The features do not depend on the labels: shuffle the labels
			// of the same set.
			r := rand.New(rand.NewPCG(seed, 99))
			var sum float64
			for range shuffles {
				shuffled := &insights.ChurnSet{Labels: append([]insights.Label(nil), labels...), Features: set.Features}
				l := shuffled.Labels
				r.Shuffle(len(l), func(i, j int) { l[i].Churned, l[j].Churned = l[j].Churned, l[i].Churned })
				sev, err := insights.EvaluateChurn(shuffled)
				if err != nil {
					t.Fatal(err)
				}
				sum += sev.AUC
			}
			t.Logf("shuffled labels: mean AUC %.3f over %d shuffles", sum/shuffles, shuffles)
			if mean := sum / shuffles; math.Abs(mean-0.5) > shuffledBand {
				t.Errorf("with shuffled labels the mean AUC is %.3f, want 0.5 ± %.2f", mean, shuffledBand)
			}
		})
	}
}
