package insights

import (
	"math"
	"slices"
	"time"
)

// BacktestKind is how one kind of score did in the rolling backtest.
type BacktestKind struct {
	Kind      Kind
	Threshold float64
	// Per probe (one license on one origin day).
	Probes, ProbePositive int
	AUC                   float64
	Precision, Recall     float64
	// WindowAUC is block risk's AUC on the probes of the last 14 days
	// before expiry (NaN for the other kinds), over WindowProbes.
	WindowAUC    float64
	WindowProbes int
	// Per license, as the daily job announces (alertDue): at or above
	// AlertThreshold on some origin (churn: on two consecutive ones).
	AlertThreshold                            float64
	Licenses, Positive, Flagged, TruePositive int
	LicensePrecision, LicenseRecall           float64
	// LeadDays is the median of the days between the first announcement
	// and the decision, over the true positives (churn and block; NaN
	// otherwise).
	LeadDays    float64
	ByProfile   []ProfileRate // licenses flagged by the job, per profile
	Reliability []ReliabilityBin
	// Origins counts the days judged; StartingOrigins those left out
	// because the model was still the starting one (churn and block).
	Origins, StartingOrigins int
}

// BacktestResult is the rolling-origin backtest: on each origin day the
// engine is trained on the outcomes known by then (again every Retrain)
// and scores every labelled license the job would have scored, as the
// daily job does; outcomes are judged later.
type BacktestResult struct {
	Every, Retrain time.Duration
	Origins        int
	Kinds          []BacktestKind
}

// Kind is the backtest of kind.
func (b *BacktestResult) Kind(kind Kind) *BacktestKind {
	for i := range b.Kinds {
		if b.Kinds[i].Kind == kind {
			return &b.Kinds[i]
		}
	}
	return nil
}

type judged struct {
	score    float64
	y        bool
	license  string
	profile  string
	at       time.Time
	decided  time.Time
	inWindow bool
}

// RunBacktest runs the rolling backtest over the evaluation rows (the
// training outcomes: a row trains once its outcome is known, its decision
// plus BlockHorizon before the origin) and the probes (HistoryBuilder with
// Backtest set). retrain 0: every 28 days. A license counts as flagged
// by the job when the job would announce it (alertDue at its kind's alert
// threshold: alerts, as the job's configuration; missing kinds
// DefaultAlertThreshold), the
// probes' precision and recall are at the engine's threshold.
func RunBacktest(rows []HistoryRow, probes []ProbeRow, cfg EngineConfig, retrain time.Duration, alerts Thresholds) *BacktestResult {
	if retrain <= 0 {
		retrain = 28 * day
	}
	rows = slices.Clone(rows)
	slices.SortStableFunc(rows, func(a, b HistoryRow) int { return a.Label.DecidedAt.Compare(b.Label.DecidedAt) })
	res := &BacktestResult{Retrain: retrain}
	engine := NewEngine(cfg)
	got, starting := res.runOrigins(rows, probes, engine, retrain)
	for _, kind := range Kinds {
		js, ok := got[kind]
		if !ok {
			continue
		}
		bk := BacktestKind{Kind: kind, Threshold: engine.Threshold(kind), AlertThreshold: alerts.Of(kind), WindowAUC: math.NaN(), LeadDays: math.NaN(),
			StartingOrigins: starting[kind], Origins: res.Origins - starting[kind]}
		bk.judgeProbes(js)
		bk.judgeLicenses(js)
		res.Kinds = append(res.Kinds, bk)
	}
	return res
}

// runOrigins runs the daily job's logic on each origin day of the probes
// (retraining the engine on the outcomes known by then every retrain)
// and answers each kind's judged probes, and how many origins each kind
// left out because the starting model was in use.
func (res *BacktestResult) runOrigins(rows []HistoryRow, probes []ProbeRow, engine *Engine, retrain time.Duration) (map[Kind][]judged, map[Kind]int) {
	profiled := slices.ContainsFunc(rows, func(r HistoryRow) bool { return r.Label.Profile != "" })
	var trainedAt time.Time
	known := 0
	got := map[Kind][]judged{}
	starting := map[Kind]int{}
	for start := 0; start < len(probes); {
		origin := probes[start].Features.At
		end := start
		for end < len(probes) && probes[end].Features.At.Equal(origin) {
			end++
		}
		group := probes[start:end]
		start = end
		for known < len(rows) && !rows[known].Label.DecidedAt.Add(BlockHorizon).After(origin) {
			known++
		}
		if trainedAt.IsZero() || origin.Sub(trainedAt) >= retrain {
			past := make([]Labelled, known)
			for i := range past {
				past[i] = rows[i].Labelled
			}
			if err := engine.TrainFeatures(past); err == nil {
				trainedAt = origin
			}
		}
		res.Origins++
		fs := make([]Features, len(group))
		for i := range group {
			fs[i] = group[i].Features
		}
		scores := engine.ScoreFeatures(fs)
		for k, kind := range Kinds {
			if (kind == KindUpgrade || kind == KindSharing) && !profiled {
				continue
			}
			if (kind == KindChurn || kind == KindBlock) && len(scores) > 0 && scores[k].StartingModel {
				starting[kind]++
				continue
			}
			got[kind] = appendJudged(got[kind], kind, k, group, scores, origin)
		}
	}
	return got, starting
}

// appendJudged adds the probes of one origin judged for kind (the k-th of
// Kinds) to js.
func appendJudged(js []judged, kind Kind, k int, group []ProbeRow, scores []Score, origin time.Time) []judged {
	for i := range group {
		p := &group[i]
		j := judged{score: scores[i*len(Kinds)+k].Value, license: p.Features.LicenseID, profile: p.Label.Profile,
			at: origin, decided: p.Label.DecidedAt}
		switch kind {
		case KindChurn:
			j.y = p.Label.Churned
		case KindBlock:
			if !p.Features.BlockEligible() {
				continue
			}
			j.y = p.Blocked
			j.inWindow = p.Features.DaysToExpiry >= 0 && p.Features.DaysToExpiry <= BlockHorizon.Hours()/24
		default:
			j.y = profileTruth(kind, p.Label.Profile)
		}
		js = append(js, j)
	}
	return js
}

// judgeProbes computes the per-probe figures: AUC, precision and recall
// at the engine's threshold, reliability, and block risk's AUC in the
// last 14 days before expiry.
func (bk *BacktestKind) judgeProbes(js []judged) {
	scores, ys := make([]float64, len(js)), make([]bool, len(js))
	var ws []float64
	var wy []bool
	for i, j := range js {
		scores[i], ys[i] = j.score, j.y
		if j.y {
			bk.ProbePositive++
		}
		if j.inWindow {
			ws, wy = append(ws, j.score), append(wy, j.y)
		}
	}
	bk.Probes = len(js)
	bk.AUC = AUC(scores, ys)
	bk.Precision, bk.Recall = PrecisionRecall(scores, ys, bk.Threshold)
	bk.Reliability = ReliabilityTable(scores, ys)
	if bk.Kind == KindBlock {
		bk.WindowAUC, bk.WindowProbes = AUC(ws, wy), len(ws)
	}
}

// judgeLicenses computes the per-license figures, as the job announces
// (alertDue, the license's previous origin standing for the job's
// previous run): a license is flagged from its first probe announced.
func (bk *BacktestKind) judgeLicenses(js []judged) {
	type lic struct {
		positive, flagged bool
		scored            bool    // a probe of the license was judged before
		prev              float64 // the score of that probe
		first             time.Time
		decided           time.Time
		profile           string
	}
	lics := map[string]*lic{}
	var order []string
	for _, j := range js {
		l := lics[j.license]
		if l == nil {
			l = &lic{decided: j.decided, profile: j.profile}
			lics[j.license] = l
			order = append(order, j.license)
		}
		l.positive = l.positive || j.y
		if !l.flagged && alertDue(bk.Kind, bk.AlertThreshold, j.score, l.prev, l.scored) {
			l.flagged, l.first = true, j.at
		}
		l.scored, l.prev = true, j.score
	}
	var leads, lp []float64
	var lyes []bool
	var profs []string
	for _, id := range order {
		l := lics[id]
		bk.Licenses++
		if l.positive {
			bk.Positive++
		}
		if l.flagged {
			bk.Flagged++
			if l.positive {
				bk.TruePositive++
				if bk.Kind == KindChurn || bk.Kind == KindBlock {
					leads = append(leads, l.decided.Sub(l.first).Hours()/24)
				}
			}
		}
		lp, lyes, profs = append(lp, b2f(l.flagged)), append(lyes, l.positive), append(profs, l.profile)
	}
	bk.ByProfile = byProfile(lp, lyes, profs, 0.5)
	if bk.Flagged > 0 {
		bk.LicensePrecision = float64(bk.TruePositive) / float64(bk.Flagged)
	}
	if bk.Positive > 0 {
		bk.LicenseRecall = float64(bk.TruePositive) / float64(bk.Positive)
	}
	if len(leads) > 0 {
		bk.LeadDays = medianOf(leads)
	}
}
