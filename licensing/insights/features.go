package insights

import (
	"math"
	"slices"
	"time"

	"github.com/nzilacode/narcidicontrole/licensing"
)

// Window lengths of the features, in days before the snapshot's day.
const (
	recentDays  = 28 // "the last 28 days" of usage, refusals and networks
	machineDays = 14 // machines used recently
	historyDays = 90 // the snapshot's whole window (activations, sharing)
	periodDays  = 14 // the periods of a license's own activation history
	maxSince    = 60 // days since last use are capped: longer says nothing more
	maxHorizon  = 365
)

// Features is what the models read of one snapshot: a few dozen figures,
// so a whole installation's features fit in memory when its snapshots do
// not (the job and evaluate extract them batch by batch, then score all
// together, peers included). Every score and reason is computed from
// Features alone; Extract is the only code that reads a Snapshot.
type Features struct {
	LicenseID  string                  `json:"license_id"`
	CustomerID string                  `json:"customer_id"`
	ProductID  string                  `json:"product_id"`
	PolicyID   string                  `json:"policy_id"`
	At         time.Time               `json:"at"`
	Status     licensing.LicenseStatus `json:"status"`
	Seats      int                     `json:"seats"`

	// Usage. A day is active when the license or one of its machines made
	// a call that day.
	ActiveDays28, ActiveDaysPrev28 int     // the last 28 days, the 28 before
	Renewals28, RenewalsPrev28     int64   // renewals and heartbeats, same windows
	MachinesUsed14                 int     // distinct machines with calls in the last 14 days
	DaysSinceUse                   float64 // capped at 60; 60 when never used
	FullDays28                     int     // days of the last 28 whose machines used reached the seats
	ActiveMachines                 int     // machines holding a seat at At

	// Refusals and the license's life.
	RefusedRenewals28  int     // renewals and heartbeats refused, last 28 days
	SeatRefusals28     int     // activations refused for the seat limit, last 28 days
	SeatRefusalDays28  int     // days of the last 28 with such a refusal
	CapRefusalDays28   int     // days of the last 28 with an activation refused by the abuse caps (activation_limited)
	DaysToExpiry       float64 // capped at 365 (365: never expires); negative once past
	DaysToGraceEnd     float64 // same, to the end of the grace period
	Extensions         int
	SupportActions     int
	CustomerRenewals   int
	CustomerChurns     int
	PaymentTrouble     bool
	ClockTampering     int
	Deactivations28    int
	SuggestedPolicyID  string // the first upgrade policy, "" when none
	SuggestedSeats     int
	HasUpgradePolicies bool

	// Sharing, over the 90-day window.
	Fingerprints90  int // distinct fingerprints activated
	Activations90   int
	Deactivations90 int
	Networks28      int // distinct networks of the license's calls, last 28 days
	MaxNetworksDay  int // most distinct networks on one day, last 28 days
	BurstDay        int // most activations on one day
	Clones          int // extra hostnames seen for one fingerprint or machine id
	// The license's own activation history: activations in the last 14
	// days against the median and MAD of the five 14-day periods before.
	RecentActivations   int
	BaselineActivations float64
	BaselineMAD         float64

	// Use against the license's own normal (issue 26): machine-days (a
	// machine used on a day) per week in the last 4 weeks, against the
	// mean and standard deviation of the 8 weeks before (the weeks the
	// license existed), and the longest run of unused days in those 8
	// weeks. An erratic license has a wide
	// normal; a quiet one leaving has a narrow one it falls below.
	RecentWeekActive, BaseWeekActive, BaseWeekStd float64
	BaseWeekMedian                                float64 // robust to a fall that began within the 8 weeks
	BaseWeeks                                     int
	BaseMaxGap                                    int
	// EarlierWeekActive is machine-days per week in the earlier quarter
	// (Snapshot.EarlierDays), over its weeks from the oldest with any use
	// on (EarlierWeeks; 0 when fewer than 4: nothing to compare with). A quiet license
	// leaving has often been quieter for all of the 90 days.
	EarlierWeekActive float64
	EarlierWeekStd    float64 // the standard deviation of those weeks: an erratic license's is wide
	EarlierWeeks      int
	// The license's own normal over every week known before the last 4
	// (the 8 weeks before them and the earlier quarter's, OwnWeeks of
	// them; 0 when fewer than 4): mean, standard deviation, median; and
	// the best week of the last 4. An erratic license has a wide normal
	// and some good week among any four; a quiet one leaving has none.
	OwnWeekMean, OwnWeekStd, OwnWeekMedian float64
	OwnWeeks                               int
	RecentBestWeek                         float64
	// LowWeeks is the run of weeks, from the last one back (within the
	// 90 days and the license's life), each below 3/4 of its usual week
	// (UsualWeek: the earlier quarter's median week, else that of every
	// week known). A license leaving quietly has a long run; an erratic
	// one's low weeks come one or two at a time between good ones.
	LowWeeks  int
	UsualWeek float64

	// Payment and dunning (Snapshot.Payment at At).
	PaymentUnpaid    bool
	PastDueDays      float64 // days since the trouble began, 0 when none
	FailedAttempts   int
	DunningDaysLeft  float64 // days until the dunning window ends, capped at 365 (365: none runs)
	CardExpiresFirst bool    // the card expires before the license does

	// Fleets and clones. A fleet calls from at most two networks and
	// names its hosts by one pattern (runner-0042, node-07): machines that
	// come and go there are the customer's own, not a shared key.
	ActivationNetworks90 int     // distinct networks of the activations
	ManagedShare         float64 // share of the activations whose hostname follows the commonest pattern
	Fleet                bool
	CloneKey             string   // the machine id (or fingerprint) seen with the most hostnames, "" when none has two
	CloneByFingerprint   bool     // CloneKey is a fingerprint
	CloneHosts           []string // some of its hostnames (at most 3)
	CloneNetworks        int      // the networks its activations came from
	// CloneFleet: that id's hostnames (all but perhaps one, at least 3)
	// follow one pattern and its activations came from at most two
	// networks: a VM image on managed hosts, not a copy handed around.
	CloneFleet bool
	// ChurnLogit is the churn model's log-odds, set by the engine before
	// block risk reads it (a license not renewed lapses at its expiry).
	ChurnLogit float64 `json:"-"`
}

// fleetMin is how many activations in 90 days make a fleet worth the
// name; fewer are a handful of machines, judged one by one.
const fleetMin = 8

// Extract computes the features of a snapshot.
func Extract(s *Snapshot) Features {
	f := Features{
		LicenseID: s.LicenseID, CustomerID: s.CustomerID, ProductID: s.ProductID, PolicyID: s.PolicyID,
		At: s.At, Status: s.Status, Seats: max(s.Seats, 1), ActiveMachines: s.ActiveMachines,
		Extensions: len(s.Extensions), SupportActions: s.SupportActions, CustomerRenewals: s.CustomerRenewals,
		CustomerChurns: s.CustomerChurns, PaymentTrouble: s.PaymentTrouble, ClockTampering: s.ClockTampering,
		DaysToExpiry: maxHorizon, DaysToGraceEnd: maxHorizon,
	}
	if f.Status == "" {
		f.Status = licensing.LicenseActive
	}
	if len(s.UpgradePolicies) > 0 {
		f.HasUpgradePolicies = true
		f.SuggestedPolicyID, f.SuggestedSeats = s.UpgradePolicies[0].ID, s.UpgradePolicies[0].MaxMachines
	}
	if s.ExpiresAt != nil {
		f.DaysToExpiry = math.Min(maxHorizon, s.ExpiresAt.Sub(s.At).Hours()/24)
		f.DaysToGraceEnd = f.DaysToExpiry
	}
	if s.GraceUntil != nil {
		f.DaysToGraceEnd = math.Min(maxHorizon, s.GraceUntil.Sub(s.At).Hours()/24)
	}

	today := dayStart(s.At)
	// ago is how many calendar days t lies before the snapshot's day (0:
	// the same day), -1 when after At or beyond the window.
	ago := func(t time.Time) int {
		if t.After(s.At) {
			return -1
		}
		k := int(today.Sub(dayStart(t)) / (24 * time.Hour))
		if k >= historyDays {
			return -1
		}
		return k
	}
	extractUse(&f, s)
	extractRefusals(&f, s, ago)
	periods := extractActivations(&f, s, ago)
	extractPayment(&f, s)
	f.RecentActivations = periods[0]
	fortnights := make([]float64, 0, len(periods)-1)
	for _, n := range periods[1:] {
		fortnights = append(fortnights, float64(n))
	}
	f.BaselineActivations, f.BaselineMAD = medianMAD(fortnights)
	return f
}

const weekDays = 7

// extractUse computes the use features from the roll-ups: active days,
// renewals, machines and networks, and the use against the license's
// own normal.
func extractUse(f *Features, s *Snapshot) {
	var active [weekDays * 12]bool
	var weekUse [12]float64 // machine rows with calls per week
	// usedOn is, per machine, the days of the last 28 it was used (bit k:
	// k days before the snapshot's day).
	usedOn := map[string]uint32{}
	networks := map[string]bool{}
	lastUse := -1
	todayN := dayNumberOf(s.At)
	var parsed struct {
		day string
		k   int
	}
	for i := range s.Days {
		d := &s.Days[i]
		if d.Day != parsed.day {
			parsed.day, parsed.k = d.Day, -1
			if n, ok := dayNumber(d.Day); ok && n <= todayN && todayN-n < historyDays {
				parsed.k = int(todayN - n)
			}
		}
		k := parsed.k
		calls := d.Activations + d.Renewals + d.Heartbeats + d.Validations
		if k < 0 || calls == 0 {
			continue
		}
		if lastUse < 0 || k < lastUse {
			lastUse = k
		}
		if k < len(active) {
			active[k] = true
		}
		if d.MachineID != "" && k < len(active) {
			weekUse[k/weekDays]++
		}
		if d.MachineID == "" {
			if k < recentDays {
				f.Renewals28 += d.Renewals + d.Heartbeats
				for _, n := range d.Networks {
					networks[n] = true
				}
				f.MaxNetworksDay = max(f.MaxNetworksDay, len(d.Networks))
			} else if k < 2*recentDays {
				f.RenewalsPrev28 += d.Renewals + d.Heartbeats
			}
			continue
		}
		if k < recentDays {
			usedOn[d.MachineID] |= 1 << k
		}
	}
	baseWeeks := extractOwnUse(f, s, active[:], weekUse)
	extractOwnNormal(f, weekUse, baseWeeks, extractEarlier(f, s))
	for k := range 2 * recentDays {
		if active[k] && k < recentDays {
			f.ActiveDays28++
		} else if active[k] {
			f.ActiveDaysPrev28++
		}
	}
	var machinesOn [recentDays]int
	for _, days := range usedOn {
		if days&(1<<machineDays-1) != 0 {
			f.MachinesUsed14++
		}
		for k := range recentDays {
			if days&(1<<k) != 0 {
				machinesOn[k]++
			}
		}
	}
	for _, n := range machinesOn {
		if n >= f.Seats {
			f.FullDays28++
		}
	}
	f.Networks28 = len(networks)
	f.DaysSinceUse = maxSince
	if lastUse >= 0 {
		f.DaysSinceUse = math.Min(maxSince, float64(lastUse))
	}

}

// extractRefusals counts the refusals and deactivations of the window.
func extractRefusals(f *Features, s *Snapshot, ago func(time.Time) int) {
	seatDays, capDays := map[int]bool{}, map[int]bool{}
	for i := range s.Refusals {
		r := &s.Refusals[i]
		k := ago(r.At)
		if k < 0 || k >= recentDays {
			continue
		}
		switch {
		case r.Code == licensing.ESeatLimit:
			f.SeatRefusals28++
			seatDays[k] = true
		case r.Code == licensing.EActivationLimited:
			capDays[k] = true
		case r.Kind == licensing.UseRenewal || r.Kind == licensing.UseHeartbeat:
			f.RefusedRenewals28++
		}
	}
	f.SeatRefusalDays28, f.CapRefusalDays28 = len(seatDays), len(capDays)
	for _, t := range s.Deactivations {
		if k := ago(t); k >= 0 {
			f.Deactivations90++
			if k < recentDays {
				f.Deactivations28++
			}
		}
	}

}

// extractActivations computes the sharing and fleet figures of the
// window's activations and answers the activations per 14-day period
// (the last first).
func extractActivations(f *Features, s *Snapshot, ago func(time.Time) int) [historyDays / periodDays]int {
	fps := map[string]bool{}
	hostsOf := map[string]map[string]bool{} // "f"+fingerprint or "m"+machine id → hostnames
	perDay := map[int]int{}
	var periods [historyDays / periodDays]int
	for i := range s.Activations {
		a := &s.Activations[i]
		k := ago(a.At)
		if k < 0 {
			continue
		}
		f.Activations90++
		perDay[k]++
		if p := k / periodDays; p < len(periods) {
			periods[p]++
		}
		if a.Fingerprint != "" {
			fps[a.Fingerprint] = true
		}
		if a.Hostname == "" {
			continue
		}
		for _, key := range []string{"f" + a.Fingerprint, "m" + a.MachineID} {
			if len(key) == 1 {
				continue
			}
			if hostsOf[key] == nil {
				hostsOf[key] = map[string]bool{}
			}
			hostsOf[key][a.Hostname] = true
		}
	}
	f.Fingerprints90 = len(fps)
	for _, n := range perDay {
		f.BurstDay = max(f.BurstDay, n)
	}
	byFP, byMachine := 0, 0
	for key, hosts := range hostsOf {
		if key[0] == 'f' {
			byFP += len(hosts) - 1
		} else {
			byMachine += len(hosts) - 1
		}
	}
	f.Clones = max(byFP, byMachine)
	extractFleet(f, s, ago, hostsOf)
	return periods
}

// extractOwnUse computes the use against the license's own normal from
// the days used (active[k]: k days before the snapshot's day).
func extractOwnUse(f *Features, s *Snapshot, active []bool, weeks [12]float64) []float64 {
	age := len(active)
	if !s.CreatedAt.IsZero() {
		age = min(age, int(dayStart(s.At).Sub(dayStart(s.CreatedAt))/(24*time.Hour)))
	}
	f.RecentWeekActive = (weeks[0] + weeks[1] + weeks[2] + weeks[3]) / 4
	var base []float64
	for w := 4; w < len(weeks) && (w+1)*weekDays <= age; w++ {
		base = append(base, weeks[w])
	}
	f.BaseWeeks = len(base)
	if len(base) == 0 {
		f.BaseWeekActive, f.BaseWeekMedian = f.RecentWeekActive, f.RecentWeekActive
		return nil
	}
	var sq float64
	f.BaseWeekActive, sq = meanSquares(base)
	f.BaseWeekStd = math.Sqrt(sq / float64(len(base)))
	f.BaseWeekMedian = medianOf(slices.Clone(base))
	gap := 0
	for k := 4 * weekDays; k < 4*weekDays+len(base)*weekDays; k++ {
		if active[k] {
			gap = 0
			continue
		}
		gap++
		f.BaseMaxGap = max(f.BaseMaxGap, gap)
	}
	return base
}

// extractEarlier computes the earlier quarter's use per week and answers
// its weeks (none when unknown).
func extractEarlier(f *Features, s *Snapshot) []float64 {
	if len(s.EarlierDays) == 0 {
		return nil
	}
	todayN := dayNumberOf(s.At)
	var weeks [(EarlierTo + 1 - EarlierFrom) / weekDays]float64
	var parsed struct {
		day string
		k   int
	}
	for _, d := range s.EarlierDays {
		if d.Day != parsed.day {
			parsed.day, parsed.k = d.Day, -1
			if n, ok := dayNumber(d.Day); ok {
				parsed.k = int(todayN - n)
			}
		}
		if w := (parsed.k - EarlierFrom) / weekDays; parsed.k >= EarlierFrom && w < len(weeks) {
			weeks[w] += float64(d.Machines)
		}
	}
	// The quarter's weeks from the oldest with any use on: before it the
	// telemetry may not reach (a history's start, the retention), after it
	// an idle week is the license's own (an erratic one has some).
	n := 0
	for w, x := range weeks {
		if x > 0 {
			n = w + 1
		}
	}
	if n < 4 {
		return nil
	}
	sum := 0.0
	for _, x := range weeks[:n] {
		sum += x
	}
	f.EarlierWeeks, f.EarlierWeekActive = n, sum/float64(n)
	sq := 0.0
	for _, x := range weeks[:n] {
		sq += (x - f.EarlierWeekActive) * (x - f.EarlierWeekActive)
	}
	f.EarlierWeekStd = math.Sqrt(sq / float64(n))
	return weeks[:n:n]
}

// extractOwnNormal pools the weeks the license is known by before the
// last 4 (the 8 weeks before them and the earlier quarter's): their
// mean, standard deviation and median, and the best of the last 4 weeks.
// Twenty weeks tell an erratic license's spread far better than eight or
// twelve apart, whose spread a few calm weeks make look narrow.
func extractOwnNormal(f *Features, weeks [12]float64, base, earlier []float64) {
	f.RecentBestWeek = max(weeks[0], weeks[1], weeks[2], weeks[3])
	all := make([]float64, 0, len(base)+len(earlier))
	all = append(append(all, base...), earlier...)
	f.OwnWeeks = len(all)
	if len(all) < 4 {
		return
	}
	var ss float64
	f.OwnWeekMean, ss = meanSquares(all)
	f.OwnWeekStd = math.Sqrt(ss / float64(len(all)-1))
	f.OwnWeekMedian = medianOf(all)
	// The usual week is the earlier quarter's when known: a fall that
	// began within the 8 weeks has not lowered it.
	usual := f.OwnWeekMedian
	if len(earlier) >= 4 {
		usual = medianOf(slices.Clone(earlier))
	}
	f.UsualWeek = usual
	for w := 0; w < len(weeks) && w < 4+len(base); w++ {
		if weeks[w] >= lowWeekShare*usual {
			break
		}
		f.LowWeeks++
	}
}

// meanSquares is the mean of xs (not empty) and the sum of their squared
// deviations from it.
func meanSquares(xs []float64) (mean, squares float64) {
	for _, x := range xs {
		mean += x
	}
	mean /= float64(len(xs))
	for _, x := range xs {
		squares += (x - mean) * (x - mean)
	}
	return mean, squares
}

// lowWeekShare is how much of its usual week a low week falls below.
const lowWeekShare = 0.75

// hostPattern is a hostname with its digit runs as one '#': runner-0042
// and runner-17 follow one pattern.
func hostPattern(h string) string {
	b := make([]byte, 0, len(h))
	for i := 0; i < len(h); i++ {
		if h[i] >= '0' && h[i] <= '9' {
			if len(b) == 0 || b[len(b)-1] != '#' {
				b = append(b, '#')
			}
			continue
		}
		b = append(b, h[i])
	}
	return string(b)
}

// extractFleet computes the fleet figures and names the most cloned
// machine id (or fingerprint).
func extractFleet(f *Features, s *Snapshot, ago func(time.Time) int, hostsOf map[string]map[string]bool) {
	nets := map[string]bool{}
	patterns := map[string]int{}
	named := 0
	for i := range s.Activations {
		a := &s.Activations[i]
		if ago(a.At) < 0 {
			continue
		}
		if a.Network != "" {
			nets[a.Network] = true
		}
		if a.Hostname != "" {
			named++
			patterns[hostPattern(a.Hostname)]++
		}
	}
	f.ActivationNetworks90 = len(nets)
	top := 0
	for _, n := range patterns {
		top = max(top, n)
	}
	if named > 0 {
		f.ManagedShare = float64(top) / float64(f.Activations90)
	}
	f.Fleet = f.Activations90 >= fleetMin && f.ActivationNetworks90 <= 2 && f.ManagedShare >= 0.8
	best := ""
	for key, hosts := range hostsOf {
		if len(hosts) < 2 {
			continue
		}
		if best == "" || len(hosts) > len(hostsOf[best]) || len(hosts) == len(hostsOf[best]) && key < best {
			best = key
		}
	}
	if best == "" {
		return
	}
	f.CloneKey, f.CloneByFingerprint = best[1:], best[0] == 'f'
	for h := range hostsOf[best] {
		f.CloneHosts = append(f.CloneHosts, h)
	}
	slices.Sort(f.CloneHosts)
	if len(f.CloneHosts) > 3 {
		f.CloneHosts = f.CloneHosts[:3]
	}
	cn := map[string]bool{}
	for i := range s.Activations {
		a := &s.Activations[i]
		if ago(a.At) >= 0 && (best[0] == 'm' && a.MachineID == f.CloneKey || best[0] == 'f' && a.Fingerprint == f.CloneKey) && a.Network != "" {
			cn[a.Network] = true
		}
	}
	f.CloneNetworks = len(cn)
	// The image's first host may have a name of its own; the others follow
	// one pattern.
	pats := map[string]int{}
	top = 0
	for h := range hostsOf[best] {
		pats[hostPattern(h)]++
		top = max(top, pats[hostPattern(h)])
	}
	f.CloneFleet = f.CloneNetworks <= 2 && top >= 3 && top >= len(hostsOf[best])-1
}

// extractPayment reads the payment state; PaymentTrouble alone (a store
// that knows no more) is a past-due payment of unknown age.
func extractPayment(f *Features, s *Snapshot) {
	p := s.Payment
	if !p.Troubled() && s.PaymentTrouble {
		p.Status = PaymentPastDue
	}
	f.PaymentTrouble = p.Troubled()
	f.DunningDaysLeft = maxHorizon
	if p.CardExpiresAt != nil && s.ExpiresAt != nil && p.CardExpiresAt.Before(*s.ExpiresAt) {
		f.CardExpiresFirst = true
	}
	if !f.PaymentTrouble {
		return
	}
	f.PaymentUnpaid = p.Status == PaymentUnpaid
	f.FailedAttempts = max(p.FailedAttempts, 1)
	if p.Since != nil {
		f.PastDueDays = math.Max(0, s.At.Sub(*p.Since).Hours()/24)
	}
	if p.DunningEndsAt != nil {
		f.DunningDaysLeft = math.Min(maxHorizon, p.DunningEndsAt.Sub(s.At).Hours()/24)
	}
}

// dayNumber is the day s (DayLayout) counted from the Unix epoch; false
// when time.Parse(DayLayout) would refuse it. Extract reads a day's name
// on every roll-up: this is the common form read without time.Parse.
func dayNumber(s string) (int64, bool) {
	if len(s) == 10 && s[4] == '-' && s[7] == '-' {
		y, ok1 := num(s[0:4])
		m, ok2 := num(s[5:7])
		d, ok3 := num(s[8:10])
		if ok1 && ok2 && ok3 && m >= 1 && m <= 12 && d >= 1 && d <= daysIn(m, y) {
			return dayNumberOf(time.Date(y, time.Month(m), d, 0, 0, 0, 0, time.UTC)), true
		}
	}
	t, err := time.Parse(DayLayout, s)
	if err != nil {
		return 0, false
	}
	return dayNumberOf(t), true
}

// dayNumberOf is t's UTC day counted from the Unix epoch.
func dayNumberOf(t time.Time) int64 {
	u := t.Unix()
	n := u / 86400
	if u < 0 && u%86400 != 0 {
		n--
	}
	return n
}

func dayStart(t time.Time) time.Time {
	t = t.UTC()
	return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
}

// medianMAD is the median of xs and the median absolute deviation from it
// (0, 0 when empty). xs is reordered.
func medianMAD(xs []float64) (median, mad float64) {
	if len(xs) == 0 {
		return 0, 0
	}
	median = medianOf(xs)
	dev := make([]float64, len(xs))
	for i, x := range xs {
		dev[i] = math.Abs(x - median)
	}
	return median, medianOf(dev)
}

func medianOf(xs []float64) float64 {
	slices.Sort(xs)
	n := len(xs)
	if n%2 == 1 {
		return xs[n/2]
	}
	return (xs[n/2-1] + xs[n/2]) / 2
}
