package insights

import (
	"cmp"
	"fmt"
	"hash/fnv"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/nzilacode/narcidicontrole/licensing"
)

// BlockHorizon is how far ahead block risk looks: a license counts as
// blocked when it is suspended, or lapses (reaches the end of its grace
// period without an extension), within this long after the snapshot.
const BlockHorizon = 14 * 24 * time.Hour

const day = 24 * time.Hour

// EvalLead is how long before its decision (the label's DecidedAt, the
// expiry that was or was not extended) a license's evaluation snapshot is
// taken: between 7 and 28 days, fixed per license by a hash of its id. A
// fixed lead would give every snapshot the same days to expiry, and the
// block model could not learn that an expiry near without extension
// matters; the job's snapshots, taken every day, see every distance.
func EvalLead(licenseID string) time.Duration {
	h := fnv.New32a()
	h.Write([]byte(licenseID))
	return time.Duration(7+h.Sum32()%22) * day
}

// HistoryRow is one labelled license of a history: the features of its
// snapshot at At = DecidedAt − EvalLead, what happened after (Churned from
// the label; Blocked from the history within BlockHorizon), and the label.
type HistoryRow struct {
	Labelled
	Label Label
	// Snapshot is kept only when the builder was told to
	// (HistoryBuilder.KeepSnapshots): a whole history's snapshots do not
	// fit in memory, their features do.
	Snapshot *Snapshot
}

// HistoryBuilder turns a history, record by record, into a snapshot of
// each labelled license at its cutoff (the same Snapshot the job builds
// from stored telemetry), extracts its features at once and drops it. A
// license is done when one of its records reaches cutoff + BlockHorizon
// (a license's records come day by day), or at Finish.
type HistoryBuilder struct {
	KeepSnapshots bool

	open     map[string]*building
	done     []HistoryRow
	finished map[string]bool
	policies map[string]licensing.Policy // the history's policies: the upgrade candidates
	dayNames map[int64]string
}

type histDay struct {
	day     int64 // days since the Unix epoch
	machine string
}

type building struct {
	label   Label
	cutoff  time.Time
	seen    bool
	snap    Snapshot
	grace   time.Duration
	days    map[histDay]int // index in rows
	rows    []Day
	seated  map[string]bool
	paying  string
	platf   map[string]string // machine → platform (from its activation)
	nets    map[string]string // address → network: a machine calls from few
	single  map[string][]string
	susp    bool
	blocked bool       // suspended within the horizon
	ext     *time.Time // the first extension at or after the cutoff
}

// NewHistoryBuilder builds the snapshots of the labelled licenses; records
// of other licenses are skipped.
func NewHistoryBuilder(labels []Label) *HistoryBuilder {
	b := &HistoryBuilder{open: make(map[string]*building, len(labels)), finished: map[string]bool{}, policies: map[string]licensing.Policy{},
		dayNames: map[int64]string{}}
	for _, l := range labels {
		b.open[l.LicenseID] = &building{label: l, cutoff: l.DecidedAt.Add(-EvalLead(l.LicenseID)), days: map[histDay]int{},
			seated: map[string]bool{}, platf: map[string]string{}, nets: map[string]string{}, single: map[string][]string{}}
	}
	return b
}

// Add takes the next record of the history.
func (b *HistoryBuilder) Add(r *Record) error {
	if r.Type == RecordLicense {
		if _, ok := b.policies[r.Policy]; !ok && r.Policy != "" {
			b.policies[r.Policy] = licensing.Policy{ID: r.Policy, ProductID: r.Product, MaxMachines: r.Seats}
		}
		if t := b.open[r.ID]; t != nil {
			if t.seen {
				return fmt.Errorf("license %s appears twice", r.ID)
			}
			t.seen = true
			exp := *r.ExpiresAt
			t.grace = time.Duration(r.GraceDays) * day
			t.snap = Snapshot{At: t.cutoff, LicenseID: r.ID, CustomerID: r.CustomerID, ProductID: r.Product, PolicyID: r.Policy,
				Seats: r.Seats, CreatedAt: r.At, ExpiresAt: &exp}
		}
		return nil
	}
	t := b.open[r.LicenseID]
	if t == nil {
		return nil
	}
	if !t.seen {
		return fmt.Errorf("a %s record of license %s before its license record", r.Type, r.LicenseID)
	}
	if !r.At.Before(t.cutoff) {
		t.after(r)
		if !r.At.Before(t.cutoff.Add(BlockHorizon)) {
			b.finish(t)
		}
		return nil
	}
	t.before(r)
	return nil
}

// after notes what happened after the cutoff: the outcome.
func (t *building) after(r *Record) {
	switch r.Type {
	case RecordSuspension:
		if r.At.Before(t.cutoff.Add(BlockHorizon)) {
			t.blocked = true
		}
	case RecordExtension:
		if t.ext == nil {
			at := r.At
			t.ext = &at
		}
	}
}

// before folds a record before the cutoff into the snapshot: into the
// 90-day window, or only into the license's state when older.
func (t *building) before(r *Record) {
	s := &t.snap
	inWindow := r.At.After(t.cutoff.Add(-historyDays * day))
	switch r.Type {
	case RecordExtension:
		s.Extensions = append(s.Extensions, r.At)
		exp := *r.ExpiresAt
		s.ExpiresAt = &exp
		return
	case RecordSuspension, RecordReinstatement:
		t.susp = r.Type == RecordSuspension
		if inWindow {
			s.SupportActions++
		}
		return
	case RecordPayment:
		t.paying = r.Status
		return
	case RecordActivation:
		t.seated[r.MachineID] = true
		if r.Platform != "" {
			t.platf[r.MachineID] = r.Platform
		}
	case RecordDeactivation:
		delete(t.seated, r.MachineID)
	}
	if !inWindow {
		return
	}
	network, ok := t.nets[r.IP]
	if !ok {
		network = Network(r.IP)
		t.nets[r.IP] = network
	}
	switch r.Type {
	case RecordActivation:
		s.Activations = append(s.Activations, Activation{At: r.At, MachineID: r.MachineID, Fingerprint: r.Fingerprint,
			Hostname: r.Hostname, Platform: r.Platform, Network: network})
	case RecordDeactivation:
		s.Deactivations = append(s.Deactivations, r.At)
		return
	case RecordRefusal:
		s.Refusals = append(s.Refusals, RefusalEvent{At: r.At, Kind: licensing.UseKind(r.Kind), Code: licensing.Code(r.Code),
			LicenseID: r.LicenseID, MachineID: r.MachineID, Fingerprint: r.Fingerprint, Network: network})
		return
	case RecordClockTampering:
		s.ClockTampering++
		return
	}
	// A use: the license's roll-up of the day, and the machine's.
	n := int64(r.N())
	d := r.At.UTC().Unix() / 86400
	rows := [2]string{"", r.MachineID}
	for i, m := range rows {
		if i == 1 && m == "" {
			break
		}
		k := histDay{d, m}
		at, ok := t.days[k]
		if !ok {
			at = len(t.rows)
			t.rows = append(t.rows, Day{LicenseID: t.snap.LicenseID, MachineID: m})
			t.days[k] = at
		}
		row := &t.rows[at]
		switch r.Type {
		case RecordActivation:
			row.Activations += n
		case RecordRenewal:
			row.Renewals += n
		case RecordHeartbeat:
			row.Heartbeats += n
		case RecordValidation:
			row.Validations += n
		}
		row.Networks = t.addOne(row.Networks, network, MaxNetworks)
		row.Platforms = t.addOne(row.Platforms, t.platf[r.MachineID], MaxPlatforms)
	}
}

// addOne is addToSet sharing the one-value sets: most days see one
// network and one platform, and a shared full slice (len = cap) is never
// written to, Insert copies it.
func (t *building) addOne(set []string, v string, limit int) []string {
	if len(set) > 0 || v == "" {
		return addToSet(set, v, limit)
	}
	one, ok := t.single[v]
	if !ok {
		one = []string{v}
		t.single[v] = one
	}
	return one[:1:1]
}

// finish completes a license's snapshot and outcome and keeps its
// features.
func (b *HistoryBuilder) finish(t *building) {
	s := &t.snap
	grace := s.ExpiresAt.Add(t.grace)
	s.GraceUntil = &grace
	switch {
	case t.susp:
		s.Status = licensing.LicenseSuspended
	case !grace.After(s.At):
		s.Status = licensing.LicenseExpired
	default:
		s.Status = licensing.LicenseActive
	}
	s.ActiveMachines = len(t.seated)
	s.PaymentTrouble = t.paying == PaymentPastDue || t.paying == PaymentUnpaid
	keys := make([]histDay, 0, len(t.days))
	for k := range t.days {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b histDay) int {
		return cmp.Or(cmp.Compare(a.day, b.day), strings.Compare(a.machine, b.machine))
	})
	s.Days = make([]Day, len(keys))
	for i, k := range keys {
		s.Days[i] = t.rows[t.days[k]]
		s.Days[i].Day = b.dayName(k.day)
	}
	lapsed := grace.After(s.At) && !grace.After(s.At.Add(BlockHorizon)) && (t.ext == nil || t.ext.After(grace))
	row := HistoryRow{Labelled: Labelled{Features: Extract(s), Churned: t.label.Churned}, Label: t.label}
	row.Blocked = row.Features.BlockEligible() && (t.blocked || lapsed)
	if b.KeepSnapshots {
		row.Snapshot = s
	}
	b.done = append(b.done, row)
	b.finished[s.LicenseID] = true
	delete(b.open, s.LicenseID)
}

func (b *HistoryBuilder) dayName(d int64) string {
	name, ok := b.dayNames[d]
	if !ok {
		name = time.Unix(d*86400, 0).UTC().Format(DayLayout)
		b.dayNames[d] = name
	}
	return name
}

// Finish completes the licenses still open and answers every labelled
// license, in label order of decision (DecidedAt, then license id). The
// upgrade candidates of each are the history's policies of its product
// with more seats, fewest first.
func (b *HistoryBuilder) Finish() ([]HistoryRow, error) {
	ids := make([]string, 0, len(b.open))
	for id := range b.open {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		t := b.open[id]
		if !t.seen {
			return nil, fmt.Errorf("license %s is labelled but not in the history", id)
		}
		b.finish(t)
	}
	for i := range b.done {
		r := &b.done[i]
		up := b.upgrades(r.Features.ProductID, r.Features.Seats)
		if r.Snapshot != nil {
			r.Snapshot.UpgradePolicies = up
		}
		r.Features.HasUpgradePolicies = len(up) > 0
		if len(up) > 0 {
			r.Features.SuggestedPolicyID, r.Features.SuggestedSeats = up[0].ID, up[0].MaxMachines
		}
	}
	slices.SortFunc(b.done, func(x, y HistoryRow) int {
		return cmp.Or(x.Label.DecidedAt.Compare(y.Label.DecidedAt), strings.Compare(x.Label.LicenseID, y.Label.LicenseID))
	})
	return b.done, nil
}

func (b *HistoryBuilder) upgrades(product string, seats int) []licensing.Policy {
	var out []licensing.Policy
	for _, p := range b.policies {
		if p.ProductID == product && p.MaxMachines > seats {
			out = append(out, p)
		}
	}
	slices.SortFunc(out, func(x, y licensing.Policy) int {
		return cmp.Or(cmp.Compare(x.MaxMachines, y.MaxMachines), strings.Compare(x.ID, y.ID))
	})
	return out
}

// HistoryRows reads a history and answers the rows of the labelled
// licenses (HistoryBuilder).
func HistoryRows(history io.Reader, labels []Label) ([]HistoryRow, error) {
	b := NewHistoryBuilder(labels)
	if err := ReadHistory(history, b.Add); err != nil {
		return nil, err
	}
	return b.Finish()
}
