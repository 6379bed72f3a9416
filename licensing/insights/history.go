package insights

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"runtime"
	"time"
)

// The history import format (README, "Insights"): JSON lines, one record
// per line, each with a "type". Times are RFC 3339. A license's records
// come after its "license" record, day by day (within a day, in any
// order); licenses may interleave.
// Count (renewal, heartbeat, validation) folds that many calls of one day
// into one line, so a history stays small; 0 means 1.
const (
	RecordLicense      = "license"      // id, customer_id, policy, seats, at (created), expires_at
	RecordActivation   = "activation"   // license_id, machine_id, fingerprint, platform, ip, at
	RecordDeactivation = "deactivation" // license_id, machine_id, at
	RecordRenewal      = "renewal"      // license_id, machine_id, ip, at, count
	RecordHeartbeat    = "heartbeat"    // license_id, machine_id, ip, at, count
	RecordValidation   = "validation"   // license_id, at, count
	RecordRefusal      = "refusal"      // license_id, fingerprint, machine_id?, kind, code, ip, at
	RecordExtension    = "extension"    // license_id, at, expires_at (the new expiry)
	// Added for the models (issue 14); older histories simply lack them.
	RecordSuspension     = "suspension"      // license_id, at: suspended (by support or for payment)
	RecordReinstatement  = "reinstatement"   // license_id, at: the suspension lifted
	RecordPayment        = "payment"         // license_id, status (past_due, unpaid or paid), at, attempts?, dunning_ends_at?, card_expires_at?
	RecordClockTampering = "clock_tampering" // license_id, machine_id?, at: the SDK reported a clock set back
)

// Payment statuses of a payment record: past_due and unpaid are payment
// trouble until a paid record.
const (
	PaymentPastDue = "past_due"
	PaymentUnpaid  = "unpaid"
	PaymentPaid    = "paid"
)

// Record is one line of a history.
type Record struct {
	Type        string `json:"type"`
	ID          string `json:"id,omitempty"`
	LicenseID   string `json:"license_id,omitempty"`
	CustomerID  string `json:"customer_id,omitempty"`
	Policy      string `json:"policy,omitempty"`
	Seats       int    `json:"seats,omitempty"`
	MachineID   string `json:"machine_id,omitempty"`
	Fingerprint string `json:"fingerprint,omitempty"`
	Platform    string `json:"platform,omitempty"`
	IP          string `json:"ip,omitempty"`
	Kind        string `json:"kind,omitempty"`
	Code        string `json:"code,omitempty"`
	Count       int    `json:"count,omitempty"`
	Hostname    string `json:"hostname,omitempty"`   // activation: the machine's host name (cloned machines show several)
	Product     string `json:"product,omitempty"`    // license: its product (upgrade candidates are the same product's policies)
	GraceDays   int    `json:"grace_days,omitempty"` // license: the policy's grace period after expiry
	Status      string `json:"status,omitempty"`     // payment: past_due, unpaid or paid
	// Payment records of a provider that says more (issue 26): the failed
	// attempts so far, when the dunning window ends (the license is
	// suspended then if still unpaid), and the card's expiry.
	Attempts      int        `json:"attempts,omitempty"`
	DunningEndsAt *time.Time `json:"dunning_ends_at,omitempty"`
	CardExpiresAt *time.Time `json:"card_expires_at,omitempty"`
	At            time.Time  `json:"at"`
	ExpiresAt     *time.Time `json:"expires_at,omitempty"`
}

// N is how many calls the record stands for (Count, at least 1).
func (r *Record) N() int { return max(r.Count, 1) }

// check says what a record of its type lacks.
func (r *Record) check() error {
	if r.At.IsZero() {
		return errors.New(`"at" is required`)
	}
	switch r.Type {
	case RecordLicense:
		if r.ID == "" || r.Seats < 1 || r.ExpiresAt == nil {
			return errors.New(`a license needs "id", "seats" (at least 1) and "expires_at"`)
		}
		if r.GraceDays < 0 {
			return errors.New(`"grace_days" cannot be negative`)
		}
		return nil
	case RecordExtension:
		if r.ExpiresAt == nil {
			return errors.New(`an extension needs "expires_at"`)
		}
	case RecordActivation, RecordDeactivation, RecordRenewal, RecordHeartbeat:
		if r.MachineID == "" {
			return fmt.Errorf(`a %s needs "machine_id"`, r.Type)
		}
	case RecordRefusal:
		if r.Kind == "" || r.Code == "" {
			return errors.New(`a refusal needs "kind" and "code"`)
		}
	case RecordPayment:
		if r.Status != PaymentPastDue && r.Status != PaymentUnpaid && r.Status != PaymentPaid {
			return errors.New(`a payment needs "status": past_due, unpaid or paid`)
		}
	case RecordValidation, RecordSuspension, RecordReinstatement, RecordClockTampering:
	default:
		return fmt.Errorf("unknown type %q", r.Type)
	}
	if r.LicenseID == "" {
		return fmt.Errorf(`a %s needs "license_id"`, r.Type)
	}
	if r.Count < 0 || r.Attempts < 0 {
		return errors.New(`"count" and "attempts" cannot be negative`)
	}
	return nil
}

// ReadHistory reads a history, calling fn for every record in file order.
// A malformed line stops it with an error naming the line. Decoding JSON
// is most of the cost of reading a history, so lines are decoded in
// chunks by several goroutines (up to GOMAXPROCS, at most 4) while fn
// takes the records of earlier chunks, in order, on the caller's
// goroutine.
func ReadHistory(r io.Reader, fn func(*Record) error) error {
	workers := min(runtime.GOMAXPROCS(0), 4)
	if workers < 2 {
		in := newInterner()
		return readLines(r, func(line int, b []byte) error {
			var rec Record
			if err := decodeRecord(line, b, &rec, in); err != nil {
				return err
			}
			return fn(&rec)
		})
	}
	// A chunk's lines sit end to end in buf (line i is
	// buf[ends[i-1]:ends[i]]): one allocation per chunk, not one per line.
	type chunk struct {
		lines []int
		buf   []byte
		ends  []int
		recs  []Record
		err   error
		done  chan struct{}
	}
	const chunkLines, chunkBytes = 2048, 2048 * 160
	work := make(chan *chunk, workers)
	order := make(chan *chunk, 2*workers)
	stop := make(chan struct{})
	defer close(stop)
	var readErr error
	go func() {
		defer close(order)
		defer close(work)
		c := &chunk{done: make(chan struct{})}
		send := func() bool {
			select {
			case order <- c:
			case <-stop:
				return false
			}
			select {
			case work <- c:
			case <-stop:
				return false
			}
			c = &chunk{done: make(chan struct{})}
			return true
		}
		readErr = readLines(r, func(line int, b []byte) error {
			if c.buf == nil {
				c.buf = make([]byte, 0, chunkBytes)
			}
			c.buf = append(c.buf, b...)
			c.lines, c.ends = append(c.lines, line), append(c.ends, len(c.buf))
			if len(c.lines) == chunkLines && !send() {
				return errStopped
			}
			return nil
		})
		if len(c.lines) > 0 {
			send()
		}
	}()
	for range workers {
		go func() {
			in := newInterner()
			for c := range work {
				c.recs = make([]Record, len(c.lines))
				from := 0
				for i, end := range c.ends {
					if c.err = decodeRecord(c.lines[i], c.buf[from:end], &c.recs[i], in); c.err != nil {
						c.recs = c.recs[:i]
						break
					}
					from = end
				}
				c.buf, c.ends = nil, nil
				close(c.done)
			}
		}()
	}
	for c := range order {
		<-c.done
		for i := range c.recs {
			if err := fn(&c.recs[i]); err != nil {
				return err
			}
		}
		if c.err != nil {
			return c.err
		}
	}
	if readErr == errStopped {
		return nil
	}
	return readErr // read after order closed: the reader has returned
}

var errStopped = errors.New("stopped")

func decodeRecord(line int, b []byte, rec *Record, in *interner) error {
	if !decodeFast(b, rec, in) {
		*rec = Record{}
		if err := decodeJSON(b, rec); err != nil {
			return fmt.Errorf("line %d: %w", line, err)
		}
	}
	if err := rec.check(); err != nil {
		return fmt.Errorf("line %d: %w", line, err)
	}
	return nil
}

// decodeJSON decodes a line strictly with encoding/json.
func decodeJSON(b []byte, rec *Record) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	return dec.Decode(rec)
}

// HistoryWriter writes records as JSON lines.
type HistoryWriter struct {
	w   *bufio.Writer
	enc *json.Encoder
}

// NewHistoryWriter writes to w; call Flush at the end.
func NewHistoryWriter(w io.Writer) *HistoryWriter {
	bw := bufio.NewWriterSize(w, 64<<10)
	return &HistoryWriter{w: bw, enc: json.NewEncoder(bw)}
}

// Write writes one record (checked as ReadHistory checks it).
func (h *HistoryWriter) Write(r *Record) error {
	if err := r.check(); err != nil {
		return fmt.Errorf("%s record: %w", r.Type, err)
	}
	return h.enc.Encode(r)
}

// Flush writes what is buffered.
func (h *HistoryWriter) Flush() error { return h.w.Flush() }

// Label is the known outcome of a license, one JSON line per license in a
// labels file: whether it churned (expired without extension) at
// DecidedAt, and, from a simulator, the behaviour it was given.
type Label struct {
	LicenseID string    `json:"license_id"`
	Churned   bool      `json:"churned"`
	DecidedAt time.Time `json:"decided_at"`
	// Profile is the simulator's ground truth: "steady", "churner",
	// "grower", "sharer" or "delinquent" ("" for real histories, or
	// "grower" / "sharer" for licenses known to have outgrown their plan or
	// been shared: evaluate takes them as the truth of upgrade_suggested
	// and sharing_suspected).
	Profile string `json:"profile,omitempty"`
}

// ReadLabels reads a labels file.
func ReadLabels(r io.Reader) ([]Label, error) {
	var out []Label
	err := readLines(r, func(line int, b []byte) error {
		var l Label
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&l); err != nil {
			return fmt.Errorf("line %d: %w", line, err)
		}
		if l.LicenseID == "" || l.DecidedAt.IsZero() {
			return fmt.Errorf(`line %d: a label needs "license_id" and "decided_at"`, line)
		}
		out = append(out, l)
		return nil
	})
	return out, err
}

// WriteLabels writes labels as JSON lines.
func WriteLabels(w io.Writer, labels []Label) error {
	bw := bufio.NewWriter(w)
	enc := json.NewEncoder(bw)
	for i := range labels {
		if err := enc.Encode(&labels[i]); err != nil {
			return err
		}
	}
	return bw.Flush()
}

// readLines calls fn with every non-empty line (numbered from 1).
func readLines(r io.Reader, fn func(line int, b []byte) error) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for n := 1; sc.Scan(); n++ {
		b := sc.Bytes()
		if len(b) == 0 {
			continue
		}
		if err := fn(n, b); err != nil {
			return err
		}
	}
	return sc.Err()
}
