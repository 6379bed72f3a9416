package insights

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/nzilacode/narcidicontrole/licensing"
	"github.com/nzilacode/narcidicontrole/licensing/writebehind"
)

// RecorderConfig tunes a Recorder.
type RecorderConfig struct {
	// MaxDelay is the longest a use waits before its batch is written
	// (default 5s): telemetry is read by a daily job, so it can wait.
	MaxDelay time.Duration
	// MaxBatch writes a batch early once it holds that many roll-ups and
	// refusals together (default 1000).
	MaxBatch int
	// MaxPending bounds what is kept while the database cannot be written
	// (default 100000 roll-ups and refusals): beyond it new uses are
	// dropped and counted (Dropped), so telemetry never grows a server's
	// memory without bound.
	MaxPending int
	// Log receives write failures (default slog.Default()).
	Log *slog.Logger
}

type dayKey struct{ day, license, machine string }

// Recorder is the write-behind licensing.TelemetryRecorder: RecordUse and
// RecordRefusal answer at once; it rolls uses up per day and machine (per
// day and license for a use that names no machine, see Day) in memory and
// writes them, with the refusals, in one statement per table per batch,
// MaxDelay after the first use of the batch or as soon as MaxBatch are
// waiting. Close writes what is left, so a clean stop
// loses nothing; a crash loses at most the last MaxDelay. A batch that
// fails to be written is kept (merged into the next) and reported to the
// log. Safe for concurrent use.
type Recorder struct {
	store    Store
	maxDelay time.Duration
	maxBatch int
	maxPend  int
	log      *slog.Logger

	mu       sync.Mutex
	days     map[dayKey]*Day
	refusals []RefusalEvent
	closed   bool
	dropped  int64

	loop    *writebehind.Loop // when the batch is written
	flushMu chan struct{}     // a one-slot lock: writes are serialized
}

// NewRecorder starts a recorder writing to store. Call Close on stop.
func NewRecorder(store Store, cfg RecorderConfig) *Recorder {
	if cfg.MaxDelay <= 0 {
		cfg.MaxDelay = 5 * time.Second
	}
	if cfg.MaxBatch <= 0 {
		cfg.MaxBatch = 1000
	}
	if cfg.MaxPending <= 0 {
		cfg.MaxPending = 100_000
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	r := &Recorder{
		store: store, maxDelay: cfg.MaxDelay, maxBatch: cfg.MaxBatch, maxPend: cfg.MaxPending, log: cfg.Log,
		days: map[dayKey]*Day{}, flushMu: make(chan struct{}, 1),
	}
	r.loop = writebehind.Start(writebehind.Config{MaxDelay: r.maxDelay, Flush: r.Flush, Pending: r.Pending, Failed: func(err error) {
		r.log.Warn("could not write telemetry; trying again with the next batch", "error", err)
	}})
	return r
}

// RecordUse implements licensing.TelemetryRecorder.
func (r *Recorder) RecordUse(u licensing.Use) {
	if u.LicenseID == "" {
		return
	}
	d := Day{Day: u.At.UTC().Format(DayLayout), LicenseID: u.LicenseID}
	switch u.Kind {
	case licensing.UseActivation:
		d.Activations = 1
	case licensing.UseRenewal:
		d.Renewals = 1
	case licensing.UseHeartbeat:
		d.Heartbeats = 1
	case licensing.UseValidation:
		d.Validations = 1
	default:
		return
	}
	if n := Network(u.IP); n != "" {
		d.Networks = []string{n}
	}
	if u.Platform != "" && len(u.Platform) <= 100 {
		d.Platforms = []string{u.Platform}
	}
	if u.AppVersion != "" && len(u.AppVersion) <= 64 {
		d.AppVersions = []string{u.AppVersion}
	}
	// One row per use: the machine's, or the license's when no machine
	// was named (readers build the license's totals, LicenseDays).
	d.MachineID = u.MachineID
	r.add(func() { r.addDay(d) })
}

// RecordRefusal implements licensing.TelemetryRecorder.
func (r *Recorder) RecordRefusal(f licensing.Refusal) {
	if f.LicenseID == "" {
		return
	}
	e := RefusalEvent{ID: licensing.NewID(), At: f.At.UTC(), Kind: f.Kind, Code: f.Code, LicenseID: f.LicenseID,
		MachineID: f.MachineID, Fingerprint: f.Fingerprint, Network: Network(f.IP)}
	if len(e.Fingerprint) > 256 {
		e.Fingerprint = e.Fingerprint[:256]
	}
	r.add(func() { r.refusals = append(r.refusals, e) })
}

// add runs put (which adds to the batch) under the lock, unless the batch
// is at MaxPending.
func (r *Recorder) add(put func()) {
	r.mu.Lock()
	before := len(r.days) + len(r.refusals)
	if before >= r.maxPend {
		r.dropped++
		r.mu.Unlock()
		return
	}
	put()
	size := len(r.days) + len(r.refusals)
	closed := r.closed
	r.mu.Unlock()
	switch {
	case closed:
		// After Close nothing batches: write now, so a late request
		// still counts.
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		if err := r.Flush(ctx); err != nil {
			r.log.Warn("could not write telemetry recorded after the stop", "error", err)
		}
		cancel()
	case before == 0:
		r.loop.Opened()
	case size >= r.maxBatch:
		r.loop.Full()
	}
}

// addDay merges d into the batch.
func (r *Recorder) addDay(d Day) {
	k := dayKey{d.Day, d.LicenseID, d.MachineID}
	if cur, ok := r.days[k]; ok {
		cur.merge(&d)
		return
	}
	r.days[k] = &d
}

// Pending counts the roll-ups and refusals waiting to be written.
func (r *Recorder) Pending() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.days) + len(r.refusals)
}

// Dropped counts the uses and refusals dropped because MaxPending were
// waiting (the database could not be written for long).
func (r *Recorder) Dropped() int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.dropped
}

// Flush writes what waits now: the roll-ups in one statement, the
// refusals in another. What fails to be written is kept for the next.
func (r *Recorder) Flush(ctx context.Context) error {
	select {
	case r.flushMu <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-r.flushMu }()
	r.mu.Lock()
	days, refusals := r.days, r.refusals
	r.days, r.refusals = make(map[dayKey]*Day, len(days)), nil
	r.mu.Unlock()
	var errs []error
	if len(days) > 0 {
		batch := make([]Day, 0, len(days))
		for _, d := range days {
			batch = append(batch, *d)
		}
		if err := r.store.AddDays(ctx, batch); err != nil {
			errs = append(errs, err)
			r.mu.Lock()
			for k, d := range days {
				if cur, ok := r.days[k]; ok {
					d.merge(cur)
				}
				r.days[k] = d
			}
			r.mu.Unlock()
		}
	}
	if len(refusals) > 0 {
		if err := r.store.AddRefusals(ctx, refusals); err != nil {
			errs = append(errs, err)
			r.mu.Lock()
			r.refusals = append(refusals, r.refusals...)
			r.mu.Unlock()
		}
	}
	return errors.Join(errs...)
}

// Close stops the recorder and writes what is left (within ctx). Uses
// recorded after Close are written at once. An error means some telemetry
// could not be written.
func (r *Recorder) Close(ctx context.Context) error {
	if err := r.loop.Close(ctx, &r.mu, &r.closed); err != nil {
		return fmt.Errorf("telemetry: %d roll-ups and refusals not written: %w", r.Pending(), err)
	}
	return nil
}

var _ licensing.TelemetryRecorder = (*Recorder)(nil)
