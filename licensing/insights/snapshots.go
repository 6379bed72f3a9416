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
// snapshot at At = DecidedAt − EvalLead (the start of that day), what
// happened after (Churned from the label; Blocked from the history within
// BlockHorizon), and the label.
type HistoryRow struct {
	Labelled
	Label Label
	// Snapshot is kept only when the builder was told to
	// (HistoryBuilder.KeepSnapshots): a whole history's snapshots do not
	// fit in memory, their features do.
	Snapshot *Snapshot
}

// ProbeRow is a snapshot of a labelled license at one origin of the
// rolling backtest (HistoryBuilder.Backtest): what the daily job would
// have seen that day, and whether the license was blocked within
// BlockHorizon after it.
type ProbeRow struct {
	Features Features
	Blocked  bool
	Label    *Label
}

// Backtest asks the builder for the snapshots the daily job would have
// taken: one every Every days (days counted from the Unix epoch, so every
// license is probed on the same days) in the Span before each decision.
type Backtest struct {
	Every, Span time.Duration
}

// DefaultBacktest probes every 3 days over the 63 days before a decision.
var DefaultBacktest = Backtest{Every: 3 * day, Span: 63 * day}

// HistoryBuilder turns a history, record by record, into snapshots of
// each labelled license at its cutoffs (the same Snapshot the job builds
// from stored telemetry), extracts their features and drops the records. A
// license is done when one of its records reaches its last cutoff +
// BlockHorizon (a license's records come day by day), or at Finish.
type HistoryBuilder struct {
	KeepSnapshots bool
	// Backtest, when Every > 0, also builds the rolling backtest's probes
	// (Probes).
	Backtest Backtest

	open     map[string]*building
	done     []HistoryRow
	probes   []ProbeRow
	finished map[string]bool
	policies map[string]licensing.Policy // the history's policies: the upgrade candidates
	dayNames map[int64]string
	started  bool
}

type histDay struct {
	day     int64 // days since the Unix epoch
	machine string
}

type timedExpiry struct {
	at, expires time.Time
}

type seatChange struct {
	at      time.Time
	machine string
	on      bool
}

type building struct {
	label   Label
	cutoff  time.Time   // the evaluation snapshot's
	cutoffs []time.Time // every snapshot's, ascending (cutoff among them)
	seen    bool
	snap    Snapshot // the license's constant part
	grace   time.Duration
	days    map[histDay]int // index in rows
	rows    []Day
	platf   map[string]string // machine → platform (from its activation)
	nets    map[string]string // address → network: a machine calls from few
	single  map[string][]string
	// used is every (day, machine) with a use, the window's and the
	// earlier quarters' (EarlierDays).
	used map[histDay]struct{}

	// Dated facts, replayed at each cutoff.
	seats    []seatChange
	exts     []timedExpiry
	susp     []time.Time // suspensions
	reinst   []time.Time // reinstatements
	payments []Record
	acts     []Activation
	deacts   []time.Time
	refusals []RefusalEvent
	tamper   []time.Time
}

// NewHistoryBuilder builds the snapshots of the labelled licenses; records
// of other licenses are skipped.
func NewHistoryBuilder(labels []Label) *HistoryBuilder {
	b := &HistoryBuilder{open: make(map[string]*building, len(labels)), finished: map[string]bool{}, policies: map[string]licensing.Policy{},
		dayNames: map[int64]string{}}
	for i := range labels {
		l := labels[i]
		b.open[l.LicenseID] = &building{label: l, cutoff: dayStart(l.DecidedAt.Add(-EvalLead(l.LicenseID))), days: map[histDay]int{},
			platf: map[string]string{}, nets: map[string]string{}, single: map[string][]string{},
			used: map[histDay]struct{}{}}
	}
	return b
}

// plan sets each license's cutoffs (on the first record, once Backtest
// is final).
func (b *HistoryBuilder) plan() {
	b.started = true
	for _, t := range b.open {
		t.cutoffs = []time.Time{t.cutoff}
		if b.Backtest.Every <= 0 {
			continue
		}
		every := int64(b.Backtest.Every / day)
		last := dayStart(t.label.DecidedAt).Unix() / 86400
		if !dayStart(t.label.DecidedAt).Before(t.label.DecidedAt) {
			last-- // a probe on the day of a midnight decision would see it made
		}
		for d := last - last%every; d > last-int64(b.Backtest.Span/day); d -= every {
			at := time.Unix(d*86400, 0).UTC()
			if !at.Equal(t.cutoff) {
				t.cutoffs = append(t.cutoffs, at)
			}
		}
		slices.SortFunc(t.cutoffs, func(x, y time.Time) int { return x.Compare(y) })
	}
}

// Add takes the next record of the history.
func (b *HistoryBuilder) Add(r *Record) error {
	if !b.started {
		b.plan()
	}
	if r.Type == RecordLicense {
		if _, ok := b.policies[r.Policy]; !ok && r.Policy != "" {
			b.policies[r.Policy] = licensing.Policy{ID: r.Policy, ProductID: r.Product, MaxMachines: r.Seats}
		}
		if t := b.open[r.ID]; t != nil {
			if t.seen {
				return fmt.Errorf("license %s appears twice", r.ID)
			}
			t.seen = true
			t.grace = time.Duration(r.GraceDays) * day
			t.snap = Snapshot{LicenseID: r.ID, CustomerID: r.CustomerID, ProductID: r.Product, PolicyID: r.Policy,
				Seats: r.Seats, CreatedAt: r.At}
			t.exts = []timedExpiry{{at: time.Time{}, expires: *r.ExpiresAt}}
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
	last := t.cutoffs[len(t.cutoffs)-1]
	if r.MachineID != "" && r.At.Before(last) && !r.At.Before(t.cutoffs[0].Add(-(EarlierTo+1)*day)) {
		switch r.Type {
		case RecordActivation, RecordRenewal, RecordHeartbeat, RecordValidation:
			t.used[histDay{r.At.UTC().Unix() / 86400, r.MachineID}] = struct{}{}
		}
	}
	t.add(r, !r.At.Before(t.cutoffs[0].Add(-historyDays*day)) && r.At.Before(last))
	if !r.At.Before(last.Add(BlockHorizon)) {
		b.finish(t)
	}
	return nil
}

// add keeps what a record says: dated facts always (they are few), uses
// as roll-ups when inWindow (some cutoff's 90 days see them).
func (t *building) add(r *Record, inWindow bool) {
	switch r.Type {
	case RecordExtension:
		t.exts = append(t.exts, timedExpiry{r.At, *r.ExpiresAt})
		return
	case RecordSuspension:
		t.susp = append(t.susp, r.At)
		return
	case RecordReinstatement:
		t.reinst = append(t.reinst, r.At)
		return
	case RecordPayment:
		t.payments = append(t.payments, *r)
		return
	case RecordActivation:
		t.seats = append(t.seats, seatChange{r.At, r.MachineID, true})
		if r.Platform != "" {
			t.platf[r.MachineID] = r.Platform
		}
	case RecordDeactivation:
		t.seats = append(t.seats, seatChange{r.At, r.MachineID, false})
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
		t.acts = append(t.acts, Activation{At: r.At, MachineID: r.MachineID, Fingerprint: r.Fingerprint,
			Hostname: r.Hostname, Platform: r.Platform, Network: network})
	case RecordDeactivation:
		t.deacts = append(t.deacts, r.At)
		return
	case RecordRefusal:
		t.refusals = append(t.refusals, RefusalEvent{At: r.At, Kind: licensing.UseKind(r.Kind), Code: licensing.Code(r.Code),
			LicenseID: r.LicenseID, MachineID: r.MachineID, Fingerprint: r.Fingerprint, Network: network})
		return
	case RecordClockTampering:
		t.tamper = append(t.tamper, r.At)
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

// before is the items of xs (ascending by at) in [from, to).
func between[T any](xs []T, from, to time.Time, at func(*T) time.Time) []T {
	i, _ := slices.BinarySearchFunc(xs, from, func(x T, t time.Time) int { return at(&x).Compare(t) })
	j, _ := slices.BinarySearchFunc(xs, to, func(x T, t time.Time) int { return at(&x).Compare(t) })
	return xs[i:j]
}

func countBefore(xs []time.Time, to time.Time) int {
	n, _ := slices.BinarySearchFunc(xs, to, func(x, t time.Time) int { return x.Compare(t) })
	return n
}

// snapshotAt builds the license's snapshot at c from the kept facts and
// says whether it was blocked (suspended, or lapsed without extension)
// within BlockHorizon after c.
func (b *HistoryBuilder) snapshotAt(t *building, c time.Time, rows []Day) (Snapshot, bool) {
	s := t.snap
	s.At = c
	from := c.Add(-historyDays * day)
	var exp time.Time
	for _, e := range t.exts {
		if e.at.Before(c) {
			exp = e.expires
			if !e.at.IsZero() {
				s.Extensions = append(s.Extensions, e.at)
			}
		}
	}
	s.ExpiresAt = &exp
	grace := exp.Add(t.grace)
	s.GraceUntil = &grace
	suspensions, reinstatements := countBefore(t.susp, c), countBefore(t.reinst, c)
	lastSusp, lastReinst := time.Time{}, time.Time{}
	if suspensions > 0 {
		lastSusp = t.susp[suspensions-1]
	}
	if reinstatements > 0 {
		lastReinst = t.reinst[reinstatements-1]
	}
	s.SupportActions = suspensions - countBefore(t.susp, from.Add(time.Nanosecond)) + reinstatements - countBefore(t.reinst, from.Add(time.Nanosecond))
	switch {
	case suspensions > 0 && lastSusp.After(lastReinst):
		s.Status = licensing.LicenseSuspended
	case !grace.After(c):
		s.Status = licensing.LicenseExpired
	default:
		s.Status = licensing.LicenseActive
	}
	seated := map[string]bool{}
	for _, sc := range t.seats {
		if !sc.at.Before(c) {
			break
		}
		if sc.on {
			seated[sc.machine] = true
		} else {
			delete(seated, sc.machine)
		}
	}
	s.ActiveMachines = len(seated)
	s.Payment = paymentAt(t.payments, c)
	s.PaymentTrouble = s.Payment.Troubled()
	s.Activations = between(t.acts, from, c, func(a *Activation) time.Time { return a.At })
	s.Deactivations = between(t.deacts, from, c, func(x *time.Time) time.Time { return *x })
	s.Refusals = between(t.refusals, from, c, func(r *RefusalEvent) time.Time { return r.At })
	s.ClockTampering = len(between(t.tamper, from, c, func(x *time.Time) time.Time { return *x }))
	s.Days = rows

	horizon := c.Add(BlockHorizon)
	suspended := len(between(t.susp, c, horizon, func(x *time.Time) time.Time { return *x })) > 0
	extended := false
	for _, e := range t.exts {
		if !e.at.IsZero() && !e.at.Before(c) && !e.at.After(grace) {
			extended = true
		}
	}
	lapsed := grace.After(c) && !grace.After(horizon) && !extended
	return s, suspended || lapsed
}

// paymentAt replays payment records (by time) before c: the state of the
// trouble running at c, if any (a paid record ends it).
func paymentAt(payments []Record, c time.Time) PaymentState {
	var st PaymentState
	for i := range payments {
		p := &payments[i]
		if !p.At.Before(c) {
			break
		}
		if p.Status == PaymentPaid {
			st = PaymentState{CardExpiresAt: p.CardExpiresAt}
			continue
		}
		at := p.At
		if !st.Troubled() {
			st.Since = &at
		}
		st.Status, st.LastFailedAt = p.Status, &at
		st.FailedAttempts = max(p.Attempts, st.FailedAttempts+1)
		if p.DunningEndsAt != nil {
			st.DunningEndsAt = p.DunningEndsAt
		}
		if p.CardExpiresAt != nil {
			st.CardExpiresAt = p.CardExpiresAt
		}
	}
	return st
}

// finish builds the license's snapshots and keeps their features.
func (b *HistoryBuilder) finish(t *building) {
	for _, xs := range [][]time.Time{t.susp, t.reinst, t.deacts, t.tamper} {
		slices.SortFunc(xs, func(x, y time.Time) int { return x.Compare(y) })
	}
	slices.SortStableFunc(t.seats, func(x, y seatChange) int { return x.at.Compare(y.at) })
	slices.SortStableFunc(t.exts, func(x, y timedExpiry) int { return x.at.Compare(y.at) })
	slices.SortStableFunc(t.payments, func(x, y Record) int { return x.At.Compare(y.At) })
	slices.SortStableFunc(t.acts, func(x, y Activation) int { return x.At.Compare(y.At) })
	slices.SortStableFunc(t.refusals, func(x, y RefusalEvent) int { return x.At.Compare(y.At) })
	keys := make([]histDay, 0, len(t.days))
	for k := range t.days {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b histDay) int {
		return cmp.Or(cmp.Compare(a.day, b.day), strings.Compare(a.machine, b.machine))
	})
	rows := make([]Day, len(keys))
	dayOf := make([]int64, len(keys))
	for i, k := range keys {
		rows[i] = t.rows[t.days[k]]
		rows[i].Day = b.dayName(k.day)
		dayOf[i] = k.day
	}
	// Machines used per day, for the earlier quarters.
	perDay := map[int64]int{}
	for k := range t.used {
		perDay[k.day]++
	}
	usedDays := make([]int64, 0, len(perDay))
	for d := range perDay {
		usedDays = append(usedDays, d)
	}
	slices.Sort(usedDays)
	label := new(Label) // not &t.label: the probes would keep the whole building
	*label = t.label
	for _, c := range t.cutoffs {
		// The rows of the 90 days before c's day.
		cd := dayStart(c).Unix() / 86400
		i, _ := slices.BinarySearch(dayOf, cd-historyDays+1)
		j, _ := slices.BinarySearch(dayOf, cd)
		if !dayStart(c).Equal(c) {
			j, _ = slices.BinarySearch(dayOf, cd+1) // a cutoff within a day sees that day
		}
		s, blocked := b.snapshotAt(t, c, rows[i:j:j])
		ei, _ := slices.BinarySearch(usedDays, cd-EarlierTo)
		ej, _ := slices.BinarySearch(usedDays, cd-EarlierFrom+1)
		for _, d := range usedDays[ei:ej] {
			s.EarlierDays = append(s.EarlierDays, DayCount{Day: b.dayName(d), Machines: perDay[d]})
		}
		f := Extract(&s)
		blocked = f.BlockEligible() && blocked
		if c.Equal(t.cutoff) {
			row := HistoryRow{Labelled: Labelled{Features: f, Churned: label.Churned, Blocked: blocked}, Label: *label}
			if b.KeepSnapshots {
				row.Snapshot = &s
			}
			b.done = append(b.done, row)
		}
		if b.Backtest.Every > 0 && !c.After(label.DecidedAt) {
			b.probes = append(b.probes, ProbeRow{Features: f, Blocked: blocked, Label: label})
		}
	}
	b.finished[t.snap.LicenseID] = true
	delete(b.open, t.snap.LicenseID)
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
	if !b.started {
		b.plan()
	}
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
		b.setUpgrades(&r.Features, up)
	}
	for i := range b.probes {
		p := &b.probes[i]
		b.setUpgrades(&p.Features, b.upgrades(p.Features.ProductID, p.Features.Seats))
	}
	slices.SortStableFunc(b.probes, func(x, y ProbeRow) int {
		return cmp.Or(x.Features.At.Compare(y.Features.At), strings.Compare(x.Features.LicenseID, y.Features.LicenseID))
	})
	slices.SortFunc(b.done, func(x, y HistoryRow) int {
		return cmp.Or(x.Label.DecidedAt.Compare(y.Label.DecidedAt), strings.Compare(x.Label.LicenseID, y.Label.LicenseID))
	})
	return b.done, nil
}

func (b *HistoryBuilder) setUpgrades(f *Features, up []licensing.Policy) {
	f.HasUpgradePolicies = len(up) > 0
	if len(up) > 0 {
		f.SuggestedPolicyID, f.SuggestedSeats = up[0].ID, up[0].MaxMachines
	}
}

// Probes are the backtest's snapshots (Backtest), by time then license;
// call after Finish.
func (b *HistoryBuilder) Probes() []ProbeRow { return b.probes }

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
	rows, _, err := HistoryProbes(history, labels, Backtest{})
	return rows, err
}

// HistoryProbes is HistoryRows with the backtest's probes too (none when
// bt.Every is 0).
func HistoryProbes(history io.Reader, labels []Label, bt Backtest) ([]HistoryRow, []ProbeRow, error) {
	b := NewHistoryBuilder(labels)
	b.Backtest = bt
	if err := ReadHistory(history, b.Add); err != nil {
		return nil, nil, err
	}
	rows, err := b.Finish()
	return rows, b.Probes(), err
}
