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
}

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
	var active [2 * recentDays]bool
	machinesOn := make([]map[string]bool, recentDays)
	recentMachines := map[string]bool{}
	networks := map[string]bool{}
	lastUse := -1
	var parsed struct {
		day string
		k   int
	}
	for i := range s.Days {
		d := &s.Days[i]
		if d.Day != parsed.day {
			parsed.day, parsed.k = d.Day, -1
			if t, err := time.Parse(DayLayout, d.Day); err == nil {
				parsed.k = ago(t)
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
		if k < 2*recentDays {
			active[k] = true
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
		if k < machineDays {
			recentMachines[d.MachineID] = true
		}
		if k < recentDays {
			if machinesOn[k] == nil {
				machinesOn[k] = map[string]bool{}
			}
			machinesOn[k][d.MachineID] = true
		}
	}
	for k := range 2 * recentDays {
		if active[k] && k < recentDays {
			f.ActiveDays28++
		} else if active[k] {
			f.ActiveDaysPrev28++
		}
	}
	for _, m := range machinesOn {
		if len(m) >= f.Seats {
			f.FullDays28++
		}
	}
	f.MachinesUsed14 = len(recentMachines)
	f.Networks28 = len(networks)
	f.DaysSinceUse = maxSince
	if lastUse >= 0 {
		f.DaysSinceUse = math.Min(maxSince, float64(lastUse))
	}

	seatDays := map[int]bool{}
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
		case r.Kind == licensing.UseRenewal || r.Kind == licensing.UseHeartbeat:
			f.RefusedRenewals28++
		}
	}
	f.SeatRefusalDays28 = len(seatDays)
	for _, t := range s.Deactivations {
		if k := ago(t); k >= 0 {
			f.Deactivations90++
			if k < recentDays {
				f.Deactivations28++
			}
		}
	}

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
	f.RecentActivations = periods[0]
	base := make([]float64, 0, len(periods)-1)
	for _, n := range periods[1:] {
		base = append(base, float64(n))
	}
	f.BaselineActivations, f.BaselineMAD = medianMAD(base)
	return f
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
