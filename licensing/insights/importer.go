package insights

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strconv"
	"time"

	"github.com/google/uuid"
	"github.com/nzilacode/narcidicontrole/licensing"
)

// ImportResult counts what Import wrote.
type ImportResult struct {
	Records  int // lines read
	Licenses int
	Days     int // roll-up rows written (a row is a day of a license or of one of its machines)
	Refusals int
	Outcomes int // past outcomes: expiries followed by an extension (renewed) or not (churned)
}

// maxImportedActivations bounds the activations kept per license while a
// history is read (the newest): a snapshot looks 90 days back, and a
// license activating more than this in that time is sharing anyway.
const maxImportedActivations = 1000

// importNamespace makes the ids of imported refusals: the same line of the
// same history gets the same id, so an import run again stores each
// refusal once (roll-ups, which are counts, do add up again: import a
// history once).
var importNamespace = uuid.MustParse("6f1d1c4e-7a53-4a8e-9a53-0c1f2b7d9e10")

// importBatch is how many roll-ups or refusals are written at once.
const importBatch = 500

// importedLicense is what Import keeps of a license while reading.
type importedLicense struct {
	customer    string
	seats       int
	grace       time.Duration
	created     time.Time
	expiries    []time.Time // the first expiry, then each extension's new one
	extendedAt  []time.Time // extendedAt[i] replaced expiries[i]
	activations []Activation
	deacts      []time.Time
	platforms   map[string]string // machine → platform
	suspended   []time.Time       // suspensions
	reinstated  []time.Time
	payments    []Record
	tampering   []time.Time
}

// Import loads a history (the JSON-lines format of ReadHistory) into the
// installation: its calls become daily roll-ups of the license and of each
// machine (counts, /24 or /48 networks, platforms), its refusals become
// refusal events, and its licenses' fates become past outcomes the scoring
// job trains on (each expiry followed by an extension: renewed; a last
// expiry before the history ends: churned and lapsed). The history's
// licenses need not exist in the installation: they only teach the model.
func Import(ctx context.Context, r io.Reader, store ImportStore) (ImportResult, error) {
	im := &importer{ctx: ctx, store: store, lics: map[string]*importedLicense{}, days: map[dayKey]*Day{}}
	if err := ReadHistory(r, im.record); err != nil {
		return im.res, err
	}
	if err := im.flushDays(); err != nil {
		return im.res, err
	}
	if err := im.flushRefusals(); err != nil {
		return im.res, err
	}
	im.res.Licenses = len(im.lics)
	return im.res, im.saveOutcomes()
}

// importer is one Import: the licenses read so far, and the roll-ups and
// refusals waiting for their batch.
type importer struct {
	ctx      context.Context
	store    ImportStore
	res      ImportResult
	lics     map[string]*importedLicense
	days     map[dayKey]*Day
	refusals []RefusalEvent
	end      time.Time // the history's last time
}

func (im *importer) flushDays() error {
	if len(im.days) == 0 {
		return nil
	}
	batch := make([]Day, 0, len(im.days))
	for _, d := range im.days {
		batch = append(batch, *d)
	}
	if err := im.store.AddDays(im.ctx, batch); err != nil {
		return err
	}
	im.res.Days += len(batch)
	clear(im.days)
	return nil
}

func (im *importer) flushRefusals() error {
	if len(im.refusals) == 0 {
		return nil
	}
	if err := im.store.AddRefusals(im.ctx, im.refusals); err != nil {
		return err
	}
	im.res.Refusals += len(im.refusals)
	im.refusals = im.refusals[:0]
	return nil
}

// record takes the next record of the history.
func (im *importer) record(rec *Record) error {
	im.res.Records++
	if rec.At.After(im.end) {
		im.end = rec.At
	}
	if rec.Type == RecordLicense {
		im.lics[rec.ID] = &importedLicense{customer: rec.CustomerID, seats: rec.Seats, created: rec.At.UTC(), grace: time.Duration(rec.GraceDays) * 24 * time.Hour,
			expiries: []time.Time{rec.ExpiresAt.UTC()}, platforms: map[string]string{}}
		return nil
	}
	l, ok := im.lics[rec.LicenseID]
	if !ok {
		return fmt.Errorf("record %d (%s): license %q has no license record before it", im.res.Records, rec.Type, rec.LicenseID)
	}
	at := rec.At.UTC()
	if rec.Type == RecordRefusal {
		id := uuid.NewSHA1(importNamespace, []byte(rec.LicenseID+"|"+strconv.Itoa(im.res.Records)+"|"+at.Format(time.RFC3339Nano))).String()
		fp := rec.Fingerprint
		if len(fp) > 256 {
			fp = fp[:256]
		}
		im.refusals = append(im.refusals, RefusalEvent{ID: id, At: at, Kind: licensing.UseKind(rec.Kind), Code: licensing.Code(rec.Code),
			LicenseID: rec.LicenseID, MachineID: rec.MachineID, Fingerprint: fp, Network: Network(rec.IP)})
		if len(im.refusals) >= importBatch {
			return im.flushRefusals()
		}
		return nil
	}
	if l.keepFact(rec, at) {
		return nil
	}
	im.addUse(l, rec, at)
	if len(im.days) >= importBatch {
		return im.flushDays()
	}
	return nil
}

// keepFact keeps a record that is not a use with the license's outcomes
// (never a roll-up: an empty one each, before) and says whether it was
// one.
func (l *importedLicense) keepFact(rec *Record, at time.Time) bool {
	switch rec.Type {
	case RecordExtension:
		l.extendedAt = append(l.extendedAt, at)
		l.expiries = append(l.expiries, rec.ExpiresAt.UTC())
	case RecordDeactivation:
		l.deacts = append(l.deacts, at)
	case RecordSuspension:
		l.suspended = append(l.suspended, at)
	case RecordReinstatement:
		l.reinstated = append(l.reinstated, at)
	case RecordPayment:
		p := *rec
		p.At = at
		l.payments = append(l.payments, p)
	case RecordClockTampering:
		l.tampering = append(l.tampering, at)
	default:
		return false
	}
	return true
}

// addUse adds a use (an activation, renewal, heartbeat or validation) to
// its day's roll-up.
func (im *importer) addUse(l *importedLicense, rec *Record, at time.Time) {
	d := Day{Day: at.Format(DayLayout), LicenseID: rec.LicenseID}
	n := int64(rec.N())
	switch rec.Type {
	case RecordActivation:
		d.Activations = 1
		l.platforms[rec.MachineID] = rec.Platform
		l.activations = append(l.activations, Activation{At: at, MachineID: rec.MachineID, Fingerprint: rec.Fingerprint,
			Hostname: rec.Hostname, Platform: rec.Platform, Network: Network(rec.IP)})
		if len(l.activations) > maxImportedActivations {
			l.activations = slices.Delete(l.activations, 0, len(l.activations)-maxImportedActivations)
		}
	case RecordRenewal:
		d.Renewals = n
	case RecordHeartbeat:
		d.Heartbeats = n
	case RecordValidation:
		d.Validations = n
	}
	if nw := Network(rec.IP); nw != "" {
		d.Networks = []string{nw}
	}
	if p := l.platforms[rec.MachineID]; p != "" && len(p) <= 100 {
		d.Platforms = []string{p}
	}
	d.MachineID = rec.MachineID // one row per record, as the recorder writes (see Day)
	k := dayKey{d.Day, d.LicenseID, d.MachineID}
	if cur, ok := im.days[k]; ok {
		cur.merge(&d)
	} else {
		im.days[k] = &d
	}
}

// saveOutcomes saves every license's decided outcomes, in license order,
// batch by batch.
func (im *importer) saveOutcomes() error {
	var outcomes []PastOutcome
	ids := make([]string, 0, len(im.lics))
	for id := range im.lics {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		outcomes = append(outcomes, im.lics[id].outcomes(id, im.end)...)
		if len(outcomes) >= importBatch {
			if err := im.store.SaveOutcomes(im.ctx, outcomes); err != nil {
				return err
			}
			im.res.Outcomes += len(outcomes)
			outcomes = outcomes[:0]
		}
	}
	if err := im.store.SaveOutcomes(im.ctx, outcomes); err != nil {
		return err
	}
	im.res.Outcomes += len(outcomes)
	return nil
}

// outcomes are the license's decided fates by end (the history's last
// time): every expiry an extension replaced (renewed, decided at the
// earlier of the expiry and the extension), and the last expiry if it
// passed before end (churned: expired without extension). The kinds stay
// apart: churned is "not renewed"; blocked is "suspended, or lapsed at
// the end of its grace period, within BlockHorizon after the snapshot" (a
// renewed license may have been blocked; a churned one whose expiry lies
// beyond the horizon was not yet).
func (l *importedLicense) outcomes(id string, end time.Time) []PastOutcome {
	var out []PastOutcome
	slices.SortStableFunc(l.payments, func(a, b Record) int { return a.At.Compare(b.At) })
	add := func(expiry, decided time.Time, churned bool) {
		p := PastOutcome{LicenseID: id, CustomerID: l.customer, Seats: l.seats, CreatedAt: l.created, ExpiresAt: expiry,
			DecidedAt: decided, Churned: churned, Imported: true}
		// What a snapshot EvalLead before the decision sees (as evaluate takes it).
		q := FactsQuery{From: decided.Add(-EvalLead(id) - Window), To: decided.Add(-EvalLead(id))}
		p.Activations = within(l.activations, q, func(a Activation) time.Time { return a.At })
		p.Deactivations = within(l.deacts, q, func(t time.Time) time.Time { return t })
		p.Extensions = within(l.extendedAt, FactsQuery{To: q.To}, func(t time.Time) time.Time { return t })
		p.Suspensions = append(within(l.suspended, q, func(t time.Time) time.Time { return t }), within(l.reinstated, q, func(t time.Time) time.Time { return t })...)
		p.ClockTampering = len(within(l.tampering, q, func(t time.Time) time.Time { return t }))
		p.Payment = paymentAt(l.payments, q.To)
		ahead := FactsQuery{From: q.To, To: q.To.Add(BlockHorizon)}
		grace := expiry.Add(l.grace)
		lapsed := churned && grace.After(q.To) && !grace.After(ahead.To)
		p.Blocked = lapsed || len(within(l.suspended, ahead, func(t time.Time) time.Time { return t })) > 0
		out = append(out, p)
	}
	for i, at := range l.extendedAt {
		add(l.expiries[i], minTime(l.expiries[i], at), false)
	}
	if last := l.expiries[len(l.expiries)-1]; last.Before(end) {
		add(last, last, true)
	}
	return out
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}
