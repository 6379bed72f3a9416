package insights

import (
	"errors"
	"math"
	"slices"

	"gonum.org/v1/gonum/floats"
	"gonum.org/v1/gonum/optimize"
	"gonum.org/v1/gonum/stat"
)

// Logit is a logistic regression over standardized features: P(y=1|x) =
// σ(b + Σ w_i (x_i − mean_i)/std_i). Training is deterministic (it starts
// from zero weights and BFGS has no randomness), so one data set gives one
// model.
type Logit struct {
	Mean, Std []float64
	Weights   []float64
	Bias      float64
}

// FitLogit fits a model to rows x (same length each) and labels y with an
// L2 penalty lambda on the weights (not the bias).
func FitLogit(x [][]float64, y []bool, lambda float64) (*Logit, error) {
	if len(x) == 0 || len(x) != len(y) {
		return nil, errors.New("logit: no rows, or rows and labels differ in number")
	}
	k := len(x[0])
	m := &Logit{Mean: make([]float64, k), Std: make([]float64, k)}
	col := make([]float64, len(x))
	for j := range k {
		for i := range x {
			col[i] = x[i][j]
		}
		m.Mean[j], m.Std[j] = stat.MeanStdDev(col, nil)
		if m.Std[j] == 0 {
			m.Std[j] = 1
		}
	}
	z := make([][]float64, len(x))
	for i := range x {
		z[i] = m.standardize(x[i])
	}
	n := float64(len(x))
	// p = [bias, w...]; f is the mean negative log-likelihood plus the
	// penalty, g its gradient.
	grad := func(g, p []float64) float64 {
		for j := range g {
			g[j] = 0
		}
		loss := 0.0
		for i, zi := range z {
			s := p[0] + floats.Dot(p[1:], zi)
			// log(1+e^s) − y·s, computed without overflow.
			loss += softplus(s)
			if y[i] {
				loss -= s
			}
			d := sigmoid(s)
			if y[i] {
				d--
			}
			g[0] += d / n
			floats.AddScaled(g[1:], d/n, zi)
		}
		loss /= n
		for j := 1; j < len(p); j++ {
			loss += lambda / 2 * p[j] * p[j]
			g[j] += lambda * p[j]
		}
		return loss
	}
	problem := optimize.Problem{
		Func: func(p []float64) float64 { return grad(make([]float64, len(p)), p) },
		Grad: func(g, p []float64) { grad(g, p) },
	}
	res, err := optimize.Minimize(problem, make([]float64, k+1), &optimize.Settings{GradientThreshold: 1e-7}, &optimize.BFGS{})
	if err != nil && res == nil {
		return nil, err
	}
	m.Bias, m.Weights = res.X[0], res.X[1:]
	return m, nil
}

func (m *Logit) standardize(x []float64) []float64 {
	z := make([]float64, len(x))
	for j := range x {
		z[j] = (x[j] - m.Mean[j]) / m.Std[j]
	}
	return z
}

// Predict is P(y=1|x).
func (m *Logit) Predict(x []float64) float64 {
	return sigmoid(m.Bias + floats.Dot(m.Weights, m.standardize(x)))
}

func sigmoid(s float64) float64 { return 1 / (1 + math.Exp(-s)) }

func softplus(s float64) float64 {
	if s > 30 {
		return s
	}
	return math.Log1p(math.Exp(s))
}

// AUC is the area under the ROC curve of scores against labels: the chance
// a random positive scores above a random negative (ties count half). NaN
// when a class is empty.
func AUC(scores []float64, y []bool) float64 {
	type pair struct {
		s   float64
		pos bool
	}
	ps := make([]pair, len(scores))
	for i := range scores {
		ps[i] = pair{scores[i], y[i]}
	}
	sortPairs := func(a, b pair) int {
		switch {
		case a.s < b.s:
			return -1
		case a.s > b.s:
			return 1
		}
		return 0
	}
	slices.SortStableFunc(ps, sortPairs)
	var pos, neg, rankSum float64
	for i := 0; i < len(ps); {
		j := i
		for j < len(ps) && ps[j].s == ps[i].s {
			j++
		}
		rank := float64(i+j+1) / 2 // mean of ranks i+1..j
		for k := i; k < j; k++ {
			if ps[k].pos {
				pos++
				rankSum += rank
			} else {
				neg++
			}
		}
		i = j
	}
	if pos == 0 || neg == 0 {
		return math.NaN()
	}
	return (rankSum - pos*(pos+1)/2) / (pos * neg)
}

// PrecisionRecall counts the scores at or above threshold as predicted
// positives.
func PrecisionRecall(scores []float64, y []bool, threshold float64) (precision, recall float64) {
	var tp, fp, fn float64
	for i, s := range scores {
		switch {
		case s >= threshold && y[i]:
			tp++
		case s >= threshold:
			fp++
		case y[i]:
			fn++
		}
	}
	if tp+fp > 0 {
		precision = tp / (tp + fp)
	}
	if tp+fn > 0 {
		recall = tp / (tp + fn)
	}
	return precision, recall
}
