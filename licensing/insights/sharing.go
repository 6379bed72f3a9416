package insights

import (
	"fmt"
	"math"
	"slices"
	"strings"
)

// Sharing (KindSharing) is rules plus robust statistics, no trained model:
// sharing is rare and seldom labelled, so there is nothing to fit, but a
// license can be compared with its peers. Each peer metric is a robust
// z-score, (value − median of the peers) / max(1.4826 × MAD, floor): the
// median and MAD ignore the few sharers among the peers, and the floor
// keeps a metric that is 0 for nearly everyone from turning one event into
// a huge z. The license is also compared with its own history (its
// activations in the last 14 days against its five 14-day periods before).
// The evidence adds up, each z counted between 0 and 6:
//
//	z = −3.2 + 0.6 z(extra fingerprints per √seats) + 0.3 z(deactivations per √seats) + 0.4 z(networks per seat)
//	    + 0.4 z(activation burst per √seats) + 0.3 z(own history)
//	    + 3 per cloned machine (one id, two hostnames; at most 2) + 1.5 per clock-tampering report (at most 2)
//	    + 1 per day of the last 28 with an activation refused by the abuse caps (at most 3)
//	score = σ(z)
//
// An activation refused by the policy's activation cap (activation_limited,
// the refusal behind the license.activation_limited event) is a key hopping
// between more machines than its plan allows for: one such day is a hint,
// three are as strong as a cloned machine.
//
// A fleet (Features.Fleet: activations from at most two networks, their
// hostnames on one pattern) counts no machine churn and no own history; a
// machine id whose hostnames follow one pattern from at most two networks
// (Features.CloneFleet, a VM image on managed hosts) is no clone.
//
// Peers are the licenses of the same policy in the scored batch when there
// are at least minPeers of them, else the same policy's licenses seen in
// training, else the whole batch, else startingPeers.
const (
	sharingBias     = -3.2
	sharingMaxZ     = 6.0
	sharingVersion  = "sharing-rules-6"
	upgradeVersion  = "upgrade-rules-2"
	minPeers        = 20
	madToSigma      = 1.4826 // MAD × this estimates a normal σ
	maxClones       = 2
	maxTamperings   = 2
	clonePoints     = 3.0
	tamperingPoints = 1.5
	maxCapDays      = 3
	capDayPoints    = 1.0
)

// peerMetric is one metric of a license compared with its peers.
type peerMetric struct {
	name          string
	weight, floor float64
	typical       float64 // the starting median (no peers to compare with)
	value         func(f *Features) float64
	text          func(f *Features, median float64) said
}

// perSeat divides a count by the square root of the seats: a 25-seat
// plan replaces more machines than a 1-seat one, but not 25 times as many
// (issue 26: per-seat counting missed 25-seat sharers, per-license
// counting would flag every large plan).
func perSeat(n int, f *Features) float64 { return float64(n) / math.Sqrt(float64(f.Seats)) }

// replacedFree is the machine a license may replace in 90 days without it
// counting: a traveller whose one-seat laptop was replaced twice scored
// like a sharer in the daily backtest.
const replacedFree = 1

// The machine-churn metrics count nothing for a fleet (Features.Fleet):
// runners and VMs coming and going on the customer's own network are its
// business.
var peerMetrics = []peerMetric{
	{"extra_fingerprints_90", 0.6, 1, 0, func(f *Features) float64 {
		if f.Fleet {
			return 0
		}
		return perSeat(max(0, f.Fingerprints90-f.Seats-replacedFree), f)
	}, func(f *Features, med float64) said {
		return say(fmt.Sprintf("%d different machines activated in the last 90 days on %s from %d networks (peers: %.1f more than their seats per √seat)",
			f.Fingerprints90, plural(f.Seats, "seat", "seats"), f.ActivationNetworks90, med), "insights.reason.extra_fingerprints",
			intArg("machines", f.Fingerprints90), unitArg("seats", "insights.unit.seats", f.Seats), intArg("networks", f.ActivationNetworks90), numArg("peers", med, 1))
	}},
	{"deactivations_90", 0.3, 1, 0, func(f *Features) float64 {
		if f.Fleet {
			return 0
		}
		return perSeat(max(0, f.Deactivations90-replacedFree), f)
	}, func(f *Features, med float64) said {
		return say(fmt.Sprintf("%s deactivated in the last 90 days on %s (peers: %.1f per √seat)", plural(f.Deactivations90, "machine", "machines"),
			plural(f.Seats, "seat", "seats"), med), "insights.reason.deactivations_90",
			unitArg("machines", "insights.unit.machines", f.Deactivations90), unitArg("seats", "insights.unit.seats", f.Seats), numArg("peers", med, 1))
	}},
	{"networks_per_seat_28", 0.4, 0.5, 1, func(f *Features) float64 { return float64(f.Networks28) / float64(f.Seats) },
		func(f *Features, med float64) said {
			return say(fmt.Sprintf("used from %d networks in the last 28 days, up to %d on one day (%.1f per seat; peers %.1f)",
				f.Networks28, f.MaxNetworksDay, float64(f.Networks28)/float64(f.Seats), med), "insights.reason.networks",
				intArg("networks", f.Networks28), intArg("day", f.MaxNetworksDay), numArg("per_seat", float64(f.Networks28)/float64(f.Seats), 1), numArg("peers", med, 1))
		}},
	{"activation_burst", 0.4, 1, 0, func(f *Features) float64 {
		if f.Fleet {
			return 0
		}
		return perSeat(max(0, f.BurstDay-f.Seats), f)
	}, func(f *Features, med float64) said {
		return say(fmt.Sprintf("%d activations on a single day for %s", f.BurstDay, plural(f.Seats, "seat", "seats")), "insights.reason.burst",
			intArg("activations", f.BurstDay), unitArg("seats", "insights.unit.seats", f.Seats))
	}},
}

// peerMedianCap and peerScaleCap bound a peer group's reference: a group
// that is mostly sharers (a plan only sharers and fleets buy) must not
// make sharing look normal.
var (
	peerMedianCap = []float64{0.5, 0.5, 2, 0.5}
	peerScaleCap  = []float64{1.5, 1.5, 1.5, 1.5}
)

// peerRef is the median and scale of each peer metric in a peer group.
type peerRef struct {
	median, scale []float64
}

var startingPeers = func() peerRef {
	r := peerRef{}
	for _, m := range peerMetrics {
		r.median, r.scale = append(r.median, m.typical), append(r.scale, m.floor)
	}
	return r
}()

func peerRefOf(fs []*Features) peerRef {
	r := peerRef{}
	col := make([]float64, len(fs))
	for _, m := range peerMetrics {
		for i, f := range fs {
			col[i] = m.value(f)
		}
		med, mad := medianMAD(col)
		k := len(r.median)
		r.median, r.scale = append(r.median, math.Min(med, peerMedianCap[k])), append(r.scale, math.Min(math.Max(madToSigma*mad, m.floor), peerScaleCap[k]))
	}
	return r
}

// peerRefs groups features by policy and computes each group's reference
// (groups smaller than minPeers are left out); "" is every feature.
func peerRefs(fs []Features) map[string]peerRef {
	groups := map[string][]*Features{}
	for i := range fs {
		groups[fs[i].PolicyID] = append(groups[fs[i].PolicyID], &fs[i])
	}
	out := map[string]peerRef{}
	for policy, g := range groups {
		if len(g) >= minPeers {
			out[policy] = peerRefOf(g)
		}
	}
	if len(fs) >= minPeers {
		all := make([]*Features, len(fs))
		for i := range fs {
			all[i] = &fs[i]
		}
		out[""] = peerRefOf(all)
	}
	return out
}

// clampZ keeps a z-score between 0 (as usual or less: no evidence) and
// sharingMaxZ (one metric cannot decide alone).
func clampZ(z float64) float64 { return math.Max(0, math.Min(sharingMaxZ, z)) }

type evidence struct {
	points float64
	reason Reason
}

func scoreSharing(f *Features, ref peerRef) (float64, []Reason) {
	var ev []evidence
	for i, m := range peerMetrics {
		v := m.value(f)
		z := clampZ((v - ref.median[i]) / ref.scale[i])
		s := m.text(f, ref.median[i])
		ev = append(ev, evidence{m.weight * z, reason(s.text, m.name, round4(v), s.key, s.args...)})
	}
	own := 0.0
	if !f.Fleet {
		own = clampZ((float64(f.RecentActivations) - f.BaselineActivations) / math.Max(madToSigma*f.BaselineMAD, 1))
	}
	ev = append(ev, evidence{0.3 * own, reason(fmt.Sprintf("%s in the last 14 days, usually %.0f a fortnight",
		plural(f.RecentActivations, "activation", "activations"), f.BaselineActivations), "own_activation_history", float64(f.RecentActivations),
		"insights.reason.own_activations", unitArg("activations", "insights.unit.activations", f.RecentActivations), numArg("usual", f.BaselineActivations, 0))})
	clones := 0
	if !f.Fleet && !f.CloneFleet {
		clones = min(f.Clones, maxClones)
	}
	what, whatKey := "machine id", "insights.reason.clone.machine_id"
	if f.CloneByFingerprint {
		what, whatKey = "fingerprint", "insights.reason.clone.fingerprint"
	}
	ev = append(ev, evidence{clonePoints * float64(clones), reason(fmt.Sprintf("%s %s seen with %d different hostnames (%s) from %s",
		what, f.CloneKey, f.Clones+1, strings.Join(f.CloneHosts, ", "), plural(f.CloneNetworks, "network", "networks")),
		"cloned_machines", float64(f.Clones), "insights.reason.clone", msgArg("what", whatKey), wordArg("key", f.CloneKey),
		intArg("hostnames", f.Clones+1), wordArg("hosts", strings.Join(f.CloneHosts, ", ")), unitArg("networks", "insights.unit.networks", f.CloneNetworks))})
	ev = append(ev, evidence{tamperingPoints * float64(min(f.ClockTampering, maxTamperings)), reason("clock tampering reported "+
		plural(f.ClockTampering, "time", "times")+" in the last 90 days", "clock_tampering", float64(f.ClockTampering),
		"insights.reason.clock_tampering", intArg("n", f.ClockTampering))})
	ev = append(ev, evidence{capDayPoints * float64(min(f.CapRefusalDays28, maxCapDays)), reason("activations refused by the activation cap on "+
		plural(f.CapRefusalDays28, "day", "days")+" of the last 28", "activation_limited_days_28", float64(f.CapRefusalDays28),
		"insights.reason.cap_refusals", intArg("n", f.CapRefusalDays28))})
	z := sharingBias
	for _, e := range ev {
		z += e.points
	}
	return sigmoid(z), topEvidence(ev)
}

// topEvidence is the three heaviest pieces of evidence that count (points
// above zero), heaviest first.
func topEvidence(ev []evidence) []Reason {
	slices.SortStableFunc(ev, func(a, b evidence) int { return cmpFloat(b.points, a.points) })
	var out []Reason
	for _, e := range ev {
		if e.points <= 1e-9 || len(out) == 3 {
			break
		}
		out = append(out, e.reason)
	}
	return out
}

// Upgrade fit (KindUpgrade) is a documented rule, no trained model: the
// outcome (the customer moved to a larger plan) is rarely in a history.
//
//	z = −5 + 0.8 × (days of the last 28 with an activation refused for the seat limit, at most 8)
//	    + 2 × (share of the last 28 days whose machines used filled every seat)
//	    + 1 if every seat holds a machine now
//	score = σ(z)
//
// A license already on its product's largest plan is scored the same: the
// next step is a custom plan, a talk with sales (Score.Suggestion), said
// in its reasons.
//
// One refusal a month is someone trying a spare laptop; a refusal every few
// days with every seat taken is a team that outgrew its plan.
const (
	upgradeBias       = -5.0
	upgradePerDay     = 0.8
	upgradeMaxDays    = 8
	upgradeFullWeight = 2.0
	upgradeHeldWeight = 1.0
)

func scoreUpgrade(f *Features) (float64, []Reason) {
	full := float64(f.FullDays28) / recentDays
	held := f.ActiveMachines >= f.Seats
	ev := []evidence{
		{upgradePerDay * float64(min(f.SeatRefusalDays28, upgradeMaxDays)), reason(fmt.Sprintf("activations refused for the seat limit on %d of the last 28 days (%s)",
			f.SeatRefusalDays28, plural(f.SeatRefusals28, "refusal", "refusals")), "seat_refusal_days_28", float64(f.SeatRefusalDays28),
			"insights.reason.seat_refusal_days", intArg("days", f.SeatRefusalDays28), unitArg("refusals", "insights.unit.refusals", f.SeatRefusals28))},
		{upgradeFullWeight * full, reason(fmt.Sprintf("all %s in use on %d of the last 28 days", plural(f.Seats, "seat", "seats"), f.FullDays28),
			"full_days_28", float64(f.FullDays28), "insights.reason.full_days", unitArg("seats", "insights.unit.seats", f.Seats), intArg("days", f.FullDays28))},
		{upgradeHeldWeight * b2f(held), reason(fmt.Sprintf("%d of %d seats hold a machine", f.ActiveMachines, f.Seats),
			"machines_held", float64(f.ActiveMachines), "insights.reason.machines_held", intArg("machines", f.ActiveMachines), intArg("seats", f.Seats))},
	}
	z := upgradeBias
	for _, e := range ev {
		z += e.points
	}
	p := sigmoid(z)
	reasons := topEvidence(ev)
	if !f.HasUpgradePolicies && len(reasons) > 0 {
		if len(reasons) > 2 {
			reasons = reasons[:2]
		}
		reasons = append(reasons, reason(fmt.Sprintf("already on the largest plan (%s): suggest a custom plan, a talk with sales",
			plural(f.Seats, "seat", "seats")), "largest_plan", float64(f.Seats), "insights.reason.largest_plan", unitArg("seats", "insights.unit.seats", f.Seats)))
	}
	return p, reasons
}
