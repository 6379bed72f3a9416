package insights

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math"
	"slices"
	"strings"
)

// term is one input of a model: a feature's stable name, its value, and
// the sentence (with its figures) a reason shows when the term weighs.
type term struct {
	name  string
	value func(f *Features) float64
	text  func(f *Features) said
	// present says whether the term has something to name: a count that
	// is 0 may weigh (a trained model's mean is above it) but is never a
	// reason ("0 machines deactivated"). nil: always.
	present func(f *Features) bool
}

func positive(v func(f *Features) float64) func(f *Features) bool {
	return func(f *Features) bool { return v(f) > 0 }
}

// counted is a term whose reason needs its value above 0.
func counted(t term) term {
	t.present = positive(t.value)
	return t
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// said is a reason's sentence: its English text and its catalog message.
type said struct {
	text, key string
	args      []Arg
}

func say(text, key string, args ...Arg) said { return said{text, key, args} }

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

func activeDaysText(f *Features) said {
	s := fmt.Sprintf("used on %d of the last 28 days", f.ActiveDays28)
	args := []Arg{intArg("days", f.ActiveDays28), intArg("prev", f.ActiveDaysPrev28)}
	switch {
	case f.ActiveDaysPrev28 > f.ActiveDays28:
		return say(s+fmt.Sprintf(", down from %d", f.ActiveDaysPrev28), "insights.reason.active_days.down", args...)
	case f.ActiveDaysPrev28 < f.ActiveDays28:
		return say(s+fmt.Sprintf(", up from %d", f.ActiveDaysPrev28), "insights.reason.active_days.up", args...)
	}
	return say(s+", as in the 28 before", "insights.reason.active_days.same", args[0])
}

// paymentText is one sentence of parts, each a message of its own: the
// payment's state, how long, the failed attempts, the dunning window.
func paymentText(f *Features) said {
	if !f.PaymentTrouble {
		return say("payments are up to date", "insights.reason.payment.ok")
	}
	s, state := "a payment is past due", msgArg("state", "insights.reason.payment.past_due")
	if f.PaymentUnpaid {
		s, state = "a payment is unpaid", msgArg("state", "insights.reason.payment.unpaid")
	}
	since := msgArg("since", "insights.reason.payment.none")
	if f.PastDueDays >= 1 {
		s += fmt.Sprintf(" for %s", plural(int(f.PastDueDays), "day", "days"))
		since = unitArg("since", "insights.reason.payment.for_days", int(f.PastDueDays))
	}
	s += ", " + plural(f.FailedAttempts, "failed attempt", "failed attempts")
	dunning := msgArg("dunning", "insights.reason.payment.none")
	if f.DunningDaysLeft < maxHorizon {
		if f.DunningDaysLeft < 0 {
			s += ", the dunning window is over"
			dunning = msgArg("dunning", "insights.reason.payment.dunning_over")
		} else {
			s += fmt.Sprintf(", the dunning window ends in %d days", int(math.Ceil(f.DunningDaysLeft)))
			dunning = unitArg("dunning", "insights.reason.payment.dunning_ends", int(math.Ceil(f.DunningDaysLeft)))
		}
	}
	return say(s, "insights.reason.payment.trouble", state, since,
		unitArg("attempts", "insights.unit.failed_attempts", f.FailedAttempts), dunning)
}

func ownDrop(f *Features) float64 {
	if f.BaseWeeks == 0 {
		return 0
	}
	return math.Max(-4, math.Min(6, (f.BaseWeekActive-f.RecentWeekActive)/math.Max(f.BaseWeekStd, 0.5)))
}

func ownFall(f *Features) float64 {
	return math.Max(-1, math.Min(1, (f.BaseWeekMedian-f.RecentWeekActive)/math.Max(f.BaseWeekMedian, 1)))
}

func gapBeyond(f *Features) float64 {
	if f.BaseWeeks == 0 {
		return 0
	}
	return math.Max(0, f.DaysSinceUse-float64(f.BaseMaxGap))
}

func ownUseText(f *Features) said {
	return say(fmt.Sprintf("%.1f machine-days of use a week in the last 4 weeks, its own normal %.1f (± %.1f)", f.RecentWeekActive, f.BaseWeekActive, f.BaseWeekStd),
		"insights.reason.own_use", numArg("recent", f.RecentWeekActive, 1), numArg("normal", f.BaseWeekActive, 1), numArg("std", f.BaseWeekStd, 1))
}

// earlierRatio is the log of the last 4 weeks' use against the earlier
// quarter's (0 when it is unknown), between −3 and 3.
func earlierRatio(f *Features) float64 {
	if f.EarlierWeeks == 0 {
		return 0
	}
	return math.Max(-3, math.Min(3, math.Log((f.RecentWeekActive+0.5)/(f.EarlierWeekActive+0.5))))
}

// earlierFall is the share of its earlier quarter's week the license
// lost in the last 4 weeks, between −1 and 1 (0 when unknown).
func earlierFall(f *Features) float64 {
	if f.EarlierWeeks == 0 {
		return 0
	}
	return math.Max(-1, math.Min(1, (f.EarlierWeekActive-f.RecentWeekActive)/math.Max(f.EarlierWeekActive, 1)))
}

// earlierDrop is the fall of the last 4 weeks' use below the earlier
// quarter's, in the standard errors of a 4-week mean of that quarter's
// weeks (at least half a machine-day): a license whose weeks always swing
// needs a larger fall (0 when unknown), between −4 and 6.
func earlierDrop(f *Features) float64 {
	if f.EarlierWeeks == 0 {
		return 0
	}
	return math.Max(-4, math.Min(6, (f.EarlierWeekActive-f.RecentWeekActive)/math.Max(f.EarlierWeekStd/2, 0.5)))
}

func earlierText(f *Features) said {
	return say(fmt.Sprintf("%.1f machine-days of use a week in the last 4 weeks, %.1f a week 3 to 6 months ago", f.RecentWeekActive, f.EarlierWeekActive),
		"insights.reason.earlier_use", numArg("recent", f.RecentWeekActive, 1), numArg("earlier", f.EarlierWeekActive, 1))
}

// ownZ is the fall of the last 4 weeks' mean below the license's own
// normal of every week known before them, in standard errors of a 4-week
// mean (the weeks' standard deviation / 2, at least half a machine-day):
// a variance-normalised drop, between −4 and 6 (0 when unknown).
func ownZ(f *Features) float64 {
	if f.OwnWeeks == 0 {
		return 0
	}
	return math.Max(-4, math.Min(6, (f.OwnWeekMean-f.RecentWeekActive)/math.Max(f.OwnWeekStd/2, 0.5)))
}

// bestWeekRatio is the log of the best of the last 4 weeks against the
// license's usual week (its median), between −3 and 3 (0 when unknown).
func bestWeekRatio(f *Features) float64 {
	if f.OwnWeeks == 0 {
		return 0
	}
	return math.Max(-3, math.Min(3, math.Log((f.RecentBestWeek+0.5)/(f.OwnWeekMedian+0.5))))
}

func ownNormalText(f *Features) said {
	return say(fmt.Sprintf("%.1f machine-days of use a week in the last 4 weeks (the best week %.0f), its own normal over %d weeks %.1f (± %.1f)",
		f.RecentWeekActive, f.RecentBestWeek, f.OwnWeeks, f.OwnWeekMean, f.OwnWeekStd),
		"insights.reason.own_normal", numArg("recent", f.RecentWeekActive, 1), numArg("best", f.RecentBestWeek, 0),
		intArg("weeks", f.OwnWeeks), numArg("normal", f.OwnWeekMean, 1), numArg("std", f.OwnWeekStd, 1))
}

// sustainedDrop is the share of its usual week the license lost in the
// last 4 weeks (0 to 1) times how long it has been low (its run of low
// weeks, up to 8, over 8): a fall that has lasted, not a bad month.
func sustainedDrop(f *Features) float64 {
	if f.UsualWeek <= 0 {
		return 0
	}
	lost := math.Max(0, math.Min(1, (f.UsualWeek-f.RecentWeekActive)/f.UsualWeek))
	return lost * float64(min(f.LowWeeks, 8)) / 8
}

func lowWeeksText(f *Features) said {
	return say(fmt.Sprintf("each of the last %s below 3/4 of its usual week (%.1f machine-days; %.1f a week in the last 4)",
		plural(f.LowWeeks, "week", "weeks"), f.UsualWeek, f.RecentWeekActive),
		"insights.reason.low_weeks", unitArg("weeks", "insights.unit.weeks", f.LowWeeks), numArg("usual", f.UsualWeek, 1), numArg("recent", f.RecentWeekActive, 1))
}

// The terms of the churn and block models.
var (
	termTrend = term{"renewal_trend", func(f *Features) float64 {
		return math.Log(float64(f.Renewals28+1) / float64(f.RenewalsPrev28+1))
	}, func(f *Features) said {
		return say(fmt.Sprintf("%d renewals and heartbeats in the last 28 days, %d in the 28 before", f.Renewals28, f.RenewalsPrev28),
			"insights.reason.renewal_trend", intArg("recent", int(f.Renewals28)), intArg("prev", int(f.RenewalsPrev28)))
	}, nil}
	termActiveDays   = term{"active_days_28", func(f *Features) float64 { return float64(f.ActiveDays28) }, activeDaysText, nil}
	termActiveChange = term{"active_days_change", func(f *Features) float64 {
		return float64(f.ActiveDays28 - f.ActiveDaysPrev28)
	}, activeDaysText, nil}
	termMachinesPerSeat = term{"machines_per_seat_14", func(f *Features) float64 {
		return float64(f.MachinesUsed14) / float64(f.Seats)
	}, func(f *Features) said {
		return say(fmt.Sprintf("%d of %d seats used in the last 14 days", f.MachinesUsed14, f.Seats),
			"insights.reason.seats_used", intArg("used", f.MachinesUsed14), intArg("seats", f.Seats))
	}, nil}
	termSinceUse = term{"days_since_use", func(f *Features) float64 { return f.DaysSinceUse }, func(f *Features) said {
		switch {
		case f.DaysSinceUse >= maxSince:
			return say("not used in the last 60 days", "insights.reason.since_use.none")
		case f.DaysSinceUse < 1:
			return say("used today", "insights.reason.since_use.today")
		}
		return say(fmt.Sprintf("last used %d days ago", int(f.DaysSinceUse)), "insights.reason.since_use.days", intArg("n", int(f.DaysSinceUse)))
	}, nil}
	termDeactivations = counted(term{"deactivations_28", func(f *Features) float64 { return float64(f.Deactivations28) }, func(f *Features) said {
		return say(plural(f.Deactivations28, "machine", "machines")+" deactivated in the last 28 days", "insights.reason.deactivations", intArg("n", f.Deactivations28))
	}, nil})
	termRefused = counted(term{"refused_renewals_28", func(f *Features) float64 { return float64(f.RefusedRenewals28) }, func(f *Features) said {
		return say(plural(f.RefusedRenewals28, "renewal or heartbeat", "renewals and heartbeats")+" refused in the last 28 days",
			"insights.reason.refused_renewals", intArg("n", f.RefusedRenewals28))
	}, nil})
	termSeatRefusals = counted(term{"seat_refusals_28", func(f *Features) float64 { return float64(f.SeatRefusals28) }, func(f *Features) said {
		return say(plural(f.SeatRefusals28, "activation", "activations")+" refused for the seat limit in the last 28 days",
			"insights.reason.seat_refusals", intArg("n", f.SeatRefusals28))
	}, nil})
	// termSeats weighs, but a plan's size is nothing the license did: it
	// is never a reason ("1 seat" said nothing to act on).
	termSeats = term{"seats_log", func(f *Features) float64 { return math.Log(float64(f.Seats)) }, func(f *Features) said {
		return say(plural(f.Seats, "seat", "seats"), "insights.unit.seats", intArg("n", f.Seats))
	}, func(*Features) bool { return false }}
	termPayment = term{"payment_trouble", func(f *Features) float64 { return b2f(f.PaymentTrouble) }, paymentText,
		func(f *Features) bool { return f.PaymentTrouble }}
	termAttempts = term{"failed_attempts", func(f *Features) float64 { return float64(min(f.FailedAttempts, 5)) }, paymentText,
		func(f *Features) bool { return f.FailedAttempts > 0 }}
	termPastDue = term{"past_due_days", func(f *Features) float64 { return math.Min(f.PastDueDays, 30) }, paymentText,
		func(f *Features) bool { return f.PaymentTrouble }}
	termUnpaid = term{"payment_unpaid", func(f *Features) float64 { return b2f(f.PaymentUnpaid) }, paymentText,
		func(f *Features) bool { return f.PaymentUnpaid }}
	// termDunningNear is 0 with no dunning window or two weeks and more
	// left, rising to 1 at its end.
	termDunningNear = term{"dunning_near", func(f *Features) float64 {
		if !f.PaymentTrouble || f.DunningDaysLeft >= maxHorizon {
			return 0
		}
		return math.Max(0, math.Min(1, (14-f.DunningDaysLeft)/14))
	}, paymentText, func(f *Features) bool { return f.PaymentTrouble && f.DunningDaysLeft < maxHorizon }}
	termCardFirst = term{"card_expires_first", func(f *Features) float64 { return b2f(f.CardExpiresFirst) }, func(f *Features) said {
		return say("the card on file expires before the license does", "insights.reason.card_first")
	}, func(f *Features) bool { return f.CardExpiresFirst }}
	// termOwnDrop is the fall of the last 4 weeks' use below the license's
	// own normal, in its own standard deviations (at least half a day a
	// week): a license that always swings needs a larger fall.
	termOwnDrop  = term{"own_use_drop", ownDrop, ownUseText, func(f *Features) bool { return ownDrop(f) > 0 }}
	termOwnRatio = term{"own_use_ratio", func(f *Features) float64 {
		return math.Log((f.RecentWeekActive + 0.5) / (f.BaseWeekActive + 0.5))
	}, ownUseText, func(f *Features) bool { return f.RecentWeekActive < f.BaseWeekActive }}
	// termOwnFall is the share of its usual week (the median) the license
	// lost in the last 4 weeks, between −1 and 1.
	termOwnFall = term{"own_use_fall", ownFall, ownUseText, func(f *Features) bool { return ownFall(f) > 0 }}
	// termGapBeyond is how much longer the license has gone unused than
	// any gap of its 8 weeks before.
	termEarlierRatio = term{"earlier_use_ratio", earlierRatio, earlierText, func(f *Features) bool { return earlierRatio(f) < 0 }}
	termEarlierDrop  = term{"earlier_use_drop", earlierDrop, earlierText, func(f *Features) bool { return earlierDrop(f) > 0 }}
	termEarlierFall  = term{"earlier_use_fall", earlierFall, earlierText, func(f *Features) bool { return earlierFall(f) > 0 }}
	termOwnZ         = term{"own_use_z", ownZ, ownNormalText, func(f *Features) bool { return ownZ(f) > 0 }}
	termBestWeek     = term{"best_week_ratio", bestWeekRatio, ownNormalText, func(f *Features) bool { return bestWeekRatio(f) < 0 }}
	termSustained    = term{"sustained_drop", sustainedDrop, lowWeeksText, func(f *Features) bool { return sustainedDrop(f) > 0 }}
	termGapBeyond    = term{"unused_beyond_own_gaps", gapBeyond, func(f *Features) said {
		return say(fmt.Sprintf("not used for %d days, its longest gap in the 8 weeks before was %d", int(f.DaysSinceUse), f.BaseMaxGap),
			"insights.reason.gap_beyond", unitArg("days", "insights.unit.days", int(f.DaysSinceUse)), intArg("gap", f.BaseMaxGap))
	}, func(f *Features) bool { return gapBeyond(f) > 0 }}
	// termChurnNear stacks the churn model on block risk: a license that
	// will not be renewed lapses at its expiry, so near it block risk is
	// churn risk.
	termChurnNear = term{"expiry_near_churn", func(f *Features) float64 {
		return termExpiryNear.value(f) * f.ChurnLogit
	}, func(f *Features) said {
		return say(fmt.Sprintf("likely not renewed (churn risk %.2f) as its end nears", sigmoid(f.ChurnLogit)),
			"insights.reason.churn_near", numArg("risk", sigmoid(f.ChurnLogit), 2))
	}, func(f *Features) bool { return termExpiryNear.value(f) > 0 && f.ChurnLogit > 0 }}
	termExpiryDrop = term{"expiry_near_use_drop", func(f *Features) float64 {
		return termExpiryNear.value(f) * math.Max(0, ownDrop(f))
	}, ownUseText, func(f *Features) bool { return ownDrop(f) > 0 && termExpiryNear.value(f) > 0 }}
	termCustomerChurns = counted(term{"customer_churns", func(f *Features) float64 { return float64(f.CustomerChurns) }, func(f *Features) said {
		return say(plural(f.CustomerChurns, "other license", "other licenses")+" of the customer expired without renewal"+
			fmt.Sprintf(" (%d renewed)", f.CustomerRenewals), "insights.reason.customer_churns", intArg("n", f.CustomerChurns), intArg("renewed", f.CustomerRenewals))
	}, nil})
	termSupport = counted(term{"support_actions", func(f *Features) float64 { return float64(f.SupportActions) }, func(f *Features) said {
		return say(plural(f.SupportActions, "support action", "support actions")+" (suspension, reinstatement, transfer, plan change) in the last 90 days",
			"insights.reason.support_actions", intArg("n", f.SupportActions))
	}, nil})
	// termExpiryNear is 0 a month or more before the end of the grace
	// period, rising to 1 at its end: an extension moves the expiry, so a
	// license near its end is one not extended yet.
	termExpiryNear = term{"expiry_near", func(f *Features) float64 {
		return math.Max(0, math.Min(1, (30-f.DaysToGraceEnd)/30))
	}, func(f *Features) said {
		switch {
		case f.DaysToExpiry >= maxHorizon:
			return say("never expires", "insights.reason.expiry.never")
		case f.DaysToExpiry < 0 && f.DaysToGraceEnd >= 0:
			return say(fmt.Sprintf("expired %d days ago, in its grace period for %d more days, not extended", int(-f.DaysToExpiry), int(f.DaysToGraceEnd)),
				"insights.reason.expiry.grace", unitArg("ago", "insights.unit.days", int(-f.DaysToExpiry)), unitArg("left", "insights.unit.more_days", int(f.DaysToGraceEnd)))
		case f.DaysToExpiry < 0:
			return say(fmt.Sprintf("expired %d days ago, not extended", int(-f.DaysToExpiry)), "insights.reason.expiry.expired", intArg("n", int(-f.DaysToExpiry)))
		}
		return say(fmt.Sprintf("expires in %d days, not extended yet", int(f.DaysToExpiry)), "insights.reason.expiry.in", intArg("n", int(f.DaysToExpiry)))
	}, nil}
)

var churnTerms = []term{termTrend, termActiveDays, termMachinesPerSeat, termDeactivations,
	termRefused, termSeatRefusals, termSeats, termPayment, termCustomerChurns, termSupport, termOwnDrop, termOwnRatio, termGapBeyond,
	termAttempts, termOwnFall, termEarlierRatio, termEarlierFall, termOwnZ, termSustained}

var blockTerms = []term{termExpiryNear, termPayment, termRefused, termSupport, termTrend, termActiveDays, termSinceUse,
	termDeactivations, termCustomerChurns, termAttempts, termPastDue, termUnpaid, termDunningNear, termCardFirst, termOwnDrop,
	termGapBeyond, termExpiryDrop, termChurnNear}

// coef is one coefficient of a starting model: the weight per unit of the
// term, around a typical license's value (so a reason's weight is how far
// this license is from typical).
type coef struct {
	typical, weight float64
}

// The starting models (README, "Insights"): hand-set coefficients used
// until the installation has enough outcomes to train on (EngineConfig
// MinOutcomes, MinClass). They read: P = σ(bias + Σ weight × (value −
// typical)). A typical license (used 18 of 28 days, 60% of its seats, last
// used yesterday) scores about 12% churn and 5% block risk.
const (
	churnStartingBias = -2.0
	blockStartingBias = -3.0
	// StartingVersion is the version suffix of the starting models: bump it
	// when a coefficient changes, so stored scores say which they came from.
	startingVersion = "2"
)

var churnStarting = map[string]coef{
	"renewal_trend":          {0, -1.0}, // halving renewals adds 0.7
	"active_days_28":         {18, -0.08},
	"active_days_change":     {0, -0.04},
	"machines_per_seat_14":   {0.6, -1.0},
	"days_since_use":         {1, 0.06},
	"deactivations_28":       {0, 0.3},
	"refused_renewals_28":    {0, 0.1},
	"seat_refusals_28":       {0, -0.2}, // wanting more seats is the opposite of leaving
	"seats_log":              {1, 0},
	"payment_trouble":        {0, 1.5},
	"customer_churns":        {0, 0.7},
	"support_actions":        {0, 0.3},
	"own_use_drop":           {0, 0.35},
	"own_use_ratio":          {0, -0.8},
	"unused_beyond_own_gaps": {0, 0.1},
	"failed_attempts":        {0, 0.3},
	"own_use_fall":           {0, 2.0},
	// Issue 26's earlier quarter: learnt by training only (0 keeps the
	// starting model's scores as they were).
	"earlier_use_ratio": {0, 0},
	"earlier_use_fall":  {0, 0},
	"earlier_use_drop":  {0, 0},
	"own_use_z":         {0, 0},
	"best_week_ratio":   {0, 0},
	"sustained_drop":    {0, 0},
}

var blockStarting = map[string]coef{
	"expiry_near":            {0, 2.5},
	"payment_trouble":        {0, 2.5},
	"refused_renewals_28":    {0, 0.15},
	"support_actions":        {0, 0.5},
	"renewal_trend":          {0, -0.6},
	"active_days_28":         {18, -0.04},
	"days_since_use":         {1, 0.04},
	"deactivations_28":       {0, 0.2},
	"customer_churns":        {0, 0.5},
	"failed_attempts":        {0, 0.5},
	"past_due_days":          {0, 0.05},
	"payment_unpaid":         {0, 1.0},
	"dunning_near":           {0, 2.0},
	"card_expires_first":     {0, 0.8},
	"own_use_drop":           {0, 0.2},
	"unused_beyond_own_gaps": {0, 0.05},
	"expiry_near_use_drop":   {0, 0.6},
	"expiry_near_churn":      {0, 0.8},
}

// linear is a logistic model over terms, trained or starting.
type linear struct {
	kind     Kind
	terms    []term
	logit    *Logit
	cal      *Logit // Platt scaling of the probability (trained models), nil: none
	version  string
	starting bool
}

func startingLinear(kind Kind, prefix string, terms []term, bias float64, coefs map[string]coef) *linear {
	m := &Logit{Bias: bias}
	for _, t := range terms {
		c, ok := coefs[t.name]
		if !ok {
			panic("insights: no starting coefficient for " + t.name)
		}
		m.Mean, m.Std, m.Weights = append(m.Mean, c.typical), append(m.Std, 1), append(m.Weights, c.weight)
	}
	return &linear{kind: kind, terms: terms, logit: m, version: prefix + "-starting-" + startingVersion, starting: true}
}

// trainedLinear fits a model; its version is a hash of the coefficients,
// so the same outcomes always name the same version.
func trainedLinear(kind Kind, prefix string, terms []term, xs [][]float64, ys []bool) (*linear, error) {
	m, err := FitLogit(xs, ys, 0.01)
	if err != nil {
		return nil, err
	}
	var cal *Logit
	if len(xs) >= plattMin {
		cal = plattOutOfFold(xs, ys)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%.6g", m.Bias)
	if cal != nil {
		fmt.Fprintf(&b, ",platt:%.6g:%.6g:%.6g:%.6g", cal.Bias, cal.Weights[0], cal.Mean[0], cal.Std[0])
	}
	for j := range m.Weights {
		fmt.Fprintf(&b, ",%s:%.6g:%.6g:%.6g", terms[j].name, m.Weights[j], m.Mean[j], m.Std[j])
	}
	sum := sha256.Sum256([]byte(b.String()))
	return &linear{kind: kind, terms: terms, logit: m, cal: cal, version: prefix + "-trained-" + hex.EncodeToString(sum[:4])}, nil
}

// plattMin is how many rows a model needs before it is Platt-scaled: on
// fewer, each fold's model is fitted to too few rows to tell the full
// model's confidence (the scaling then makes it worse).
const plattMin = 1000

// plattOutOfFold is the Platt scaling of a model fitted to xs, ys: a
// logistic regression of the outcome on the model's log-odds, where each
// row's log-odds come from a model fitted to the other fold (rows in
// alternation, so both folds span the same time), so the scaling
// corrects the over- or under-confidence a model shows on rows it did
// not see. nil when a fold cannot be fitted; the scaling keeps the order
// of the scores (its slope is positive) or is not used.
func plattOutOfFold(xs [][]float64, ys []bool) *Logit {
	var fold [2][][]float64
	var foldY [2][]bool
	for i := range xs {
		fold[i%2], foldY[i%2] = append(fold[i%2], xs[i]), append(foldY[i%2], ys[i])
	}
	var lx [][]float64
	var ly []bool
	for k := range 2 {
		m, err := FitLogit(fold[1-k], foldY[1-k], 0.01)
		if err != nil {
			return nil
		}
		for i, x := range fold[k] {
			lx, ly = append(lx, []float64{logOddsOf(m.Predict(x))}), append(ly, foldY[k][i])
		}
	}
	cal, err := FitLogit(lx, ly, 0)
	if err != nil || cal.Weights[0] <= 0 || math.IsNaN(cal.Bias) {
		return nil
	}
	return cal
}

func logOddsOf(p float64) float64 {
	p = math.Min(math.Max(p, 1e-6), 1-1e-6)
	return math.Log(p / (1 - p))
}

// logOdds is the model's log-odds of f, before calibration (what block
// risk stacks on, trained and scored alike).
func (l *linear) logOdds(f *Features) float64 {
	return logOddsOf(l.logit.Predict(l.vector(f)))
}

// calibrated is the probability of the model's p.
func (l *linear) calibrated(p float64) float64 {
	if l.cal == nil {
		return p
	}
	return l.cal.Predict([]float64{logOddsOf(p)})
}

func (l *linear) vector(f *Features) []float64 {
	x := make([]float64, len(l.terms))
	for j, t := range l.terms {
		x[j] = t.value(f)
	}
	return x
}

// score is the model's probability and its top reasons: the terms that
// push the score up most (at most three); when none does, the two that
// hold it down most, which is why the score is low.
func (l *linear) score(f *Features) (float64, []Reason) {
	x := l.vector(f)
	p := l.calibrated(l.logit.Predict(x))
	type contrib struct {
		j int
		c float64
	}
	cs := make([]contrib, len(x))
	for j := range x {
		cs[j] = contrib{j, l.logit.Weights[j] * (x[j] - l.logit.Mean[j]) / l.logit.Std[j]}
	}
	slices.SortStableFunc(cs, func(a, b contrib) int { return cmpFloat(b.c, a.c) })
	present := func(c contrib) bool { t := l.terms[c.j]; return t.present == nil || t.present(f) }
	var pick []contrib
	for _, c := range cs {
		if c.c > 1e-9 && present(c) {
			pick = append(pick, c)
		}
	}
	limit := 3
	if len(pick) == 0 {
		// Nothing raises it: the two that hold it down most, if they have
		// something to name.
		slices.SortStableFunc(cs, func(a, b contrib) int { return cmpFloat(a.c, b.c) })
		for _, c := range cs {
			if c.c < -1e-9 && present(c) {
				pick = append(pick, c)
			}
		}
		limit = 2
	}
	return p, reasonsOf(f, l.terms, pick, limit, func(c contrib) (int, float64) { return c.j, x[c.j] })
}

// reasonsOf turns picked terms into at most limit reasons, one per
// sentence (two terms may share one).
func reasonsOf[T any](f *Features, terms []term, pick []T, limit int, at func(T) (int, float64)) []Reason {
	var out []Reason
	for _, p := range pick {
		if len(out) == limit {
			break
		}
		j, v := at(p)
		s := terms[j].text(f)
		if slices.ContainsFunc(out, func(r Reason) bool { return r.Text == s.text }) {
			continue
		}
		out = append(out, reason(s.text, terms[j].name, round4(v), s.key, s.args...))
	}
	return out
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// round4 keeps four decimals: scores and figures are stored and compared
// as text (golden files, events), and the last bits of a float say nothing.
func round4(v float64) float64 { return math.Round(v*1e4) / 1e4 }
