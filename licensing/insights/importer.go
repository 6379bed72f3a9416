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
	var res ImportResult
	lics := map[string]*importedLicense{}
	days := map[dayKey]*Day{}
	var refusals []RefusalEvent
	var end time.Time
	flushDays := func() error {
		if len(days) == 0 {
			return nil
		}
		batch := make([]Day, 0, len(days))
		for _, d := range days {
			batch = append(batch, *d)
		}
		if err := store.AddDays(ctx, batch); err != nil {
			return err
		}
		res.Days += len(batch)
		clear(days)
		return nil
	}
	flushRefusals := func() error {
		if len(refusals) == 0 {
			return nil
		}
		if err := store.AddRefusals(ctx, refusals); err != nil {
			return err
		}
		res.Refusals += len(refusals)
		refusals = refusals[:0]
		return nil
	}
	addDay := func(d Day) {
		k := dayKey{d.Day, d.LicenseID, d.MachineID}
		if cur, ok := days[k]; ok {
			cur.merge(&d)
		} else {
			days[k] = &d
		}
	}
	err := ReadHistory(r, func(rec *Record) error {
		res.Records++
		if rec.At.After(end) {
			end = rec.At
		}
		if rec.Type == RecordLicense {
			lics[rec.ID] = &importedLicense{customer: rec.CustomerID, seats: rec.Seats, created: rec.At.UTC(), grace: time.Duration(rec.GraceDays) * 24 * time.Hour,
				expiries: []time.Time{rec.ExpiresAt.UTC()}, platforms: map[string]string{}}
			return nil
		}
		l, ok := lics[rec.LicenseID]
		if !ok {
			return fmt.Errorf("record %d (%s): license %q has no license record before it", res.Records, rec.Type, rec.LicenseID)
		}
		at := rec.At.UTC()
		d := Day{Day: at.Format(DayLayout), LicenseID: rec.LicenseID}
		n := int64(rec.N())
		switch rec.Type {
		case RecordExtension:
			l.extendedAt = append(l.extendedAt, at)
			l.expiries = append(l.expiries, rec.ExpiresAt.UTC())
			return nil
		case RecordRefusal:
			id := uuid.NewSHA1(importNamespace, []byte(rec.LicenseID+"|"+strconv.Itoa(res.Records)+"|"+at.Format(time.RFC3339Nano))).String()
			fp := rec.Fingerprint
			if len(fp) > 256 {
				fp = fp[:256]
			}
			refusals = append(refusals, RefusalEvent{ID: id, At: at, Kind: licensing.UseKind(rec.Kind), Code: licensing.Code(rec.Code),
				LicenseID: rec.LicenseID, MachineID: rec.MachineID, Fingerprint: fp, Network: Network(rec.IP)})
			if len(refusals) >= importBatch {
				return flushRefusals()
			}
			return nil
		case RecordDeactivation:
			l.deacts = append(l.deacts, at)
			return nil
		// Not uses: kept with the license's outcomes, never a roll-up (an
		// empty one each, before).
		case RecordSuspension:
			l.suspended = append(l.suspended, at)
			return nil
		case RecordReinstatement:
			l.reinstated = append(l.reinstated, at)
			return nil
		case RecordPayment:
			p := *rec
			p.At = at
			l.payments = append(l.payments, p)
			return nil
		case RecordClockTampering:
			l.tampering = append(l.tampering, at)
			return nil
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
		addDay(d)
		if len(days) >= importBatch {
			return flushDays()
		}
		return nil
	})
	if err != nil {
		return res, err
	}
	if err := flushDays(); err != nil {
		return res, err
	}
	if err := flushRefusals(); err != nil {
		return res, err
	}
	res.Licenses = len(lics)
	var outcomes []PastOutcome
	ids := make([]string, 0, len(lics))
	for id := range lics {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		outcomes = append(outcomes, lics[id].outcomes(id, end)...)
		if len(outcomes) >= importBatch {
			if err := store.SaveOutcomes(ctx, outcomes); err != nil {
				return res, err
			}
			res.Outcomes += len(outcomes)
			outcomes = outcomes[:0]
		}
	}
	if err := store.SaveOutcomes(ctx, outcomes); err != nil {
		return res, err
	}
	res.Outcomes += len(outcomes)
	return res, nil
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
