package insights

import (
	"fmt"
	"io"
	"math"
	"slices"
	"time"

	"github.com/nzilacode/narcidicontrole/licensing"
)

// ChurnHorizon is how long before a license's expiry its churn risk is
// judged: the features see only what happened before DecidedAt −
// ChurnHorizon, so a support person has two weeks to act.
const ChurnHorizon = 14 * 24 * time.Hour

// churnWindow is the length of the recent and the earlier window the
// usage trend compares.
const churnWindow = 28

// ChurnFeatures names the features of the churn model, in order.
var ChurnFeatures = []string{
	"renewal trend (log of recent over earlier 28 days)",
	"active days in the last 28",
	"change in active days (last 28 minus the 28 before)",
	"machines used in the last 14 days per seat",
	"days since last use (at most 60)",
	"deactivations in the last 28 days",
	"refused renewals and heartbeats in the last 28 days",
	"seat-limit refusals in the last 28 days",
	"seats (log)",
}

// licenseTrack gathers, while a history is read, what the churn features
// of one license need, as of its cutoff.
type licenseTrack struct {
	seats    int
	cutoff   time.Time
	renewals [2 * churnWindow]int // by days before the cutoff: 0 is the day before it
	active   [2 * churnWindow]bool
	lastUse  time.Time
	recentM  map[string]bool // machines used in the last 14 days
	deacts   int
	refused  int
	seatRef  int
	seen     bool
}

// daysBefore is how many whole days at lies before the cutoff (-1: at or
// after it, not seen by the features).
func (t *licenseTrack) daysBefore(at time.Time) int {
	if !at.Before(t.cutoff) {
		return -1
	}
	return int(t.cutoff.Sub(at) / (24 * time.Hour))
}

func (t *licenseTrack) add(r *Record) {
	d := t.daysBefore(r.At)
	if d < 0 {
		return
	}
	switch r.Type {
	case RecordRenewal, RecordHeartbeat, RecordActivation:
		if r.At.After(t.lastUse) {
			t.lastUse = r.At
		}
		if d < 2*churnWindow {
			if r.Type == RecordRenewal {
				t.renewals[d] += r.N()
			}
			t.active[d] = true
		}
		if d < 14 {
			t.recentM[r.MachineID] = true
		}
	case RecordDeactivation:
		if d < churnWindow {
			t.deacts++
		}
	case RecordRefusal:
		if d >= churnWindow {
			return
		}
		if r.Code == string(licensing.ESeatLimit) {
			t.seatRef++
		} else if r.Kind != string(licensing.UseActivation) {
			t.refused++
		}
	}
}

func (t *licenseTrack) features() []float64 {
	var r0, r1, a0, a1 float64
	for d := range 2 * churnWindow {
		recent := d < churnWindow
		if recent {
			r1 += float64(t.renewals[d])
		} else {
			r0 += float64(t.renewals[d])
		}
		if t.active[d] {
			if recent {
				a1++
			} else {
				a0++
			}
		}
	}
	since := 60.0
	if !t.lastUse.IsZero() {
		since = math.Min(60, t.cutoff.Sub(t.lastUse).Hours()/24)
	}
	return []float64{
		math.Log((r1 + 1) / (r0 + 1)),
		a1,
		a1 - a0,
		float64(len(t.recentM)) / float64(t.seats),
		since,
		float64(t.deacts),
		float64(t.refused),
		float64(t.seatRef),
		math.Log(float64(t.seats)),
	}
}

// ChurnSet is the churn features of labelled licenses, as of each one's
// DecidedAt − ChurnHorizon.
type ChurnSet struct {
	Labels   []Label
	Features [][]float64
}

// ChurnSetFromHistory reads a history and computes the churn features of
// every labelled license. Records of licenses without a label are skipped;
// a label whose license is not in the history is an error.
func ChurnSetFromHistory(history io.Reader, labels []Label) (*ChurnSet, error) {
	tracks := make(map[string]*licenseTrack, len(labels))
	for _, l := range labels {
		tracks[l.LicenseID] = &licenseTrack{cutoff: l.DecidedAt.Add(-ChurnHorizon), recentM: map[string]bool{}}
	}
	err := ReadHistory(history, func(r *Record) error {
		if r.Type == RecordLicense {
			if t := tracks[r.ID]; t != nil {
				t.seats, t.seen = r.Seats, true
			}
			return nil
		}
		if t := tracks[r.LicenseID]; t != nil {
			t.add(r)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	set := &ChurnSet{Labels: labels, Features: make([][]float64, len(labels))}
	for i, l := range labels {
		t := tracks[l.LicenseID]
		if !t.seen {
			return nil, fmt.Errorf("license %s is labelled but not in the history", l.LicenseID)
		}
		set.Features[i] = t.features()
	}
	return set, nil
}

// Evaluation is how a model trained on the earlier licenses (decided
// before Split) scores the later ones.
type Evaluation struct {
	Split                 time.Time
	Train, Test           int // licenses
	TrainChurn, TestChurn int // churned among them
	AUC                   float64
	Precision, Recall     float64 // at Threshold
	Threshold             float64
	Model                 *Logit
}

// EvaluateChurn trains the churn model on the licenses decided in the
// earlier half (by DecidedAt) and scores the later half. The split is the
// median decision time, so both halves are filled whatever the dates.
func EvaluateChurn(set *ChurnSet) (*Evaluation, error) {
	idx := make([]int, len(set.Labels))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int {
		return set.Labels[a].DecidedAt.Compare(set.Labels[b].DecidedAt)
	})
	if len(idx) < 20 {
		return nil, fmt.Errorf("%d labelled licenses: too few to evaluate (at least 20)", len(idx))
	}
	half := len(idx) / 2
	ev := &Evaluation{Split: set.Labels[idx[half]].DecidedAt, Threshold: 0.5}
	var xs [][]float64
	var ys []bool
	for _, i := range idx[:half] {
		xs, ys = append(xs, set.Features[i]), append(ys, set.Labels[i].Churned)
		if set.Labels[i].Churned {
			ev.TrainChurn++
		}
	}
	ev.Train = len(xs)
	m, err := FitLogit(xs, ys, 0.01)
	if err != nil {
		return nil, err
	}
	ev.Model = m
	var scores []float64
	var truth []bool
	for _, i := range idx[half:] {
		scores, truth = append(scores, m.Predict(set.Features[i])), append(truth, set.Labels[i].Churned)
		if set.Labels[i].Churned {
			ev.TestChurn++
		}
	}
	ev.Test = len(scores)
	ev.AUC = AUC(scores, truth)
	ev.Precision, ev.Recall = PrecisionRecall(scores, truth, ev.Threshold)
	return ev, nil
}
