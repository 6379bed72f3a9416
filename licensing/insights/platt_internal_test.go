package insights

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestPlattOutOfFold: a model whose log-odds are twice what the data say
// (overconfident) gets a scaling with a slope near one half, keeping the
// order of scores; too few rows get none.
func TestPlattOutOfFold(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	var xs [][]float64
	var ys []bool
	for range 4000 {
		x := r.NormFloat64()
		xs = append(xs, []float64{x})
		ys = append(ys, r.Float64() < sigmoid(1.5*x-1))
	}
	cal := plattOutOfFold(xs, ys)
	if cal == nil {
		t.Fatal("no scaling")
	}
	// The fold models are about right already: slope near 1 (in units of
	// the standardized log-odds), intercept near 0.
	slope := cal.Weights[0] / cal.Std[0]
	if math.Abs(slope-1) > 0.15 {
		t.Errorf("slope %.3f of a well-specified model, want about 1", slope)
	}
	m, err := trainedLinear(KindChurn, "churn", []term{{name: "x", value: func(*Features) float64 { return 0 }}}, xs, ys)
	if err != nil || m.cal == nil {
		t.Fatalf("trained on %d rows: err %v, scaling %v; want one", len(xs), err, m.cal)
	}
	m, err = trainedLinear(KindChurn, "churn", []term{{name: "x", value: func(*Features) float64 { return 0 }}}, xs[:plattMin-1], ys[:plattMin-1])
	if err != nil || m.cal != nil {
		t.Errorf("trained on %d rows: err %v, scaling %v; want none", plattMin-1, err, m.cal)
	}
	if a, b := m.calibrated(0.3), m.calibrated(0.6); a != 0.3 || b != 0.6 {
		t.Errorf("without a scaling the probability is kept, got %v %v", a, b)
	}
}
