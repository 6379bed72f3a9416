package insights

import (
	"reflect"
	"strings"
	"testing"
)

// TestDecodeFastAsEncodingJSON: the fast path decodes the lines it takes
// exactly as encoding/json does, and leaves every other form to it (so
// what is accepted, refused and said stays encoding/json's).
func TestDecodeFastAsEncodingJSON(t *testing.T) {
	in := newInterner()
	for _, tc := range []struct {
		line string
		fast bool
	}{
		{`{"type":"license","id":"lic-1","customer_id":"cus-1","policy":"team","seats":3,"at":"2025-05-01T00:00:00Z","expires_at":"2026-05-01T00:00:00Z","product":"p","grace_days":7}`, true},
		{`{"type":"renewal","license_id":"lic-1","machine_id":"m-1","ip":"203.0.113.7","at":"2026-02-03T10:00:00Z","count":4}`, true},
		{` { "type" : "validation" , "license_id":"l","at":"2026-02-03T10:00:00.25Z" } `, true},
		{`{"type":"payment","license_id":"l","status":"past_due","attempts":2,"dunning_ends_at":"2028-02-29T00:00:00Z","at":"2028-02-29T23:59:59.123456789Z","card_expires_at":"2027-01-31T00:00:00Z"}`, true},
		{`{"type":"refusal","license_id":"l","kind":"activation","code":"seat_limit","fingerprint":"f","at":"2026-01-01T00:00:00Z","count":-0}`, true},
		{`{}`, true},
		// Left to encoding/json:
		{`{"Type":"validation","license_id":"l","at":"2026-01-01T00:00:00Z"}`, false},       // another letter case
		{`{"type":"validation","license_id":"l\u0041","at":"2026-01-01T00:00:00Z"}`, false}, // an escape
		{`{"type":"validation","license_id":"lé","at":"2026-01-01T00:00:00Z"}`, false},      // non-ASCII
		{`{"type":"validation","license_id":"l","at":"2026-01-01T00:00:00+02:00"}`, false},  // an offset
		{`{"type":"validation","license_id":"l","at":"2026-02-30T00:00:00Z"}`, false},       // no such day
		{`{"type":"validation","license_id":"l","at":"2026-01-01T24:00:00Z"}`, false},
		{`{"type":"validation","license_id":"l","at":"2026-01-01T00:00:00.Z"}`, false},
		{`{"type":"validation","license_id":"l","count":1.0,"at":"2026-01-01T00:00:00Z"}`, false},
		{`{"type":"validation","license_id":"l","count":01,"at":"2026-01-01T00:00:00Z"}`, false},
		{`{"type":"validation","license_id":"l","count":1e2,"at":"2026-01-01T00:00:00Z"}`, false},
		{`{"type":"validation","license_id":"l","count":12345678901,"at":"2026-01-01T00:00:00Z"}`, false},
		{`{"type":"validation","license_id":"l","count":"1","at":"2026-01-01T00:00:00Z"}`, false},
		{`{"type":"license","expires_at":null,"at":"2026-01-01T00:00:00Z"}`, false},
		{`{"type":"validation","license_id":"l","nope":1,"at":"2026-01-01T00:00:00Z"}`, false},
		{`{"type":"validation","license_id":"l","at":"2026-01-01T00:00:00Z"} {}`, false},
		{`{"type":"validation","license_id":"l","at":"2026-01-01T00:00:00Z",}`, false},
		{`{"type":"validation" "license_id":"l"}`, false},
		{`[1]`, false},
	} {
		var fast, slow Record
		ok := decodeFast([]byte(tc.line), &fast, in)
		if ok != tc.fast {
			t.Errorf("%s: fast path %v, want %v", tc.line, ok, tc.fast)
			continue
		}
		err := decodeJSON([]byte(tc.line), &slow)
		if ok && (err != nil || !reflect.DeepEqual(fast, slow)) {
			t.Errorf("%s:\nfast %+v\njson %+v (%v)", tc.line, fast, slow, err)
		}
		if ok && fast.At.Location() != slow.At.Location() {
			t.Errorf("%s: location %v, json %v", tc.line, fast.At.Location(), slow.At.Location())
		}
	}
	// A line the fast path gave up on half way is decoded from scratch.
	var rec Record
	line := `{"type":"validation","count":3,"license_id":"l","Count":2,"at":"2026-01-01T00:00:00Z"}`
	if err := decodeRecord(7, []byte(line), &rec, in); err != nil || rec.Count != 2 {
		t.Fatalf("decodeRecord: %+v, %v", rec, err)
	}
	if err := decodeRecord(9, []byte(`{"type":"validation","license_id":"l","nope":1,"at":"2026-01-01T00:00:00Z"}`), &rec, in); err == nil ||
		!strings.Contains(err.Error(), `line 9: json: unknown field "nope"`) {
		t.Fatalf("unknown field: %v", err)
	}
}
