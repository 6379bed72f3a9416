package insights_test

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nzilacode/narcidicontrole/licensing/insights"
)

// TestReadHistoryInOrder: records decoded in parallel chunks reach fn in
// file order; a bad line stops the read after the records before it, and
// its error names the line; an error of fn stops the read too.
func TestReadHistoryInOrder(t *testing.T) {
	t.Parallel()
	var h bytes.Buffer
	w := insights.NewHistoryWriter(&h)
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	exp := at.AddDate(1, 0, 0)
	if err := w.Write(&insights.Record{Type: insights.RecordLicense, ID: "lic", Seats: 1, At: at, ExpiresAt: &exp}); err != nil {
		t.Fatal(err)
	}
	const n = 5000
	for i := 1; i < n; i++ {
		if err := w.Write(&insights.Record{Type: insights.RecordValidation, LicenseID: "lic", Count: i, At: at}); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitAfter(h.String(), "\n")
	read := func(text string, fn func(*insights.Record) error) (int, error) {
		got := 0
		err := insights.ReadHistory(strings.NewReader(text), func(r *insights.Record) error {
			if got > 0 && r.Count != got {
				return fmt.Errorf("record %d has count %d: out of order", got, r.Count)
			}
			got++
			return fn(r)
		})
		return got, err
	}
	ok := func(*insights.Record) error { return nil }
	if got, err := read(h.String(), ok); err != nil || got != n {
		t.Fatalf("read %d records (%v), want %d", got, err, n)
	}
	bad := strings.Join(lines[:4499], "") + `{"type":"validation","license_id":"lic","at":"2026-01-01T00:00:00Z","nope":1}` + "\n" + strings.Join(lines[4500:], "")
	if got, err := read(bad, ok); err == nil || !strings.Contains(err.Error(), "line 4500") || got != 4499 {
		t.Fatalf("a bad line 4500: read %d records, error %v; want 4499 and the line named", got, err)
	}
	stop := errors.New("enough")
	if got, err := read(h.String(), func(r *insights.Record) error {
		if r.Count == 3000 {
			return stop
		}
		return nil
	}); !errors.Is(err, stop) || got != 3001 {
		t.Fatalf("fn stopping: read %d, error %v", got, err)
	}
}
