package insights

import (
	"hash/maphash"
	"time"
)

// Decoding a history's lines with encoding/json was most of evaluate's
// time (issue 26: 10,000 licenses over 365 days, 17.7 M records). Nearly
// every line is written the one way HistoryWriter writes it: a flat
// object of Record's own field names, strings without escapes, small
// integers and UTC times. decodeFast reads those lines directly; any
// other line (escapes, another letter case, null, an offset, an unknown
// field, a syntax error) goes to encoding/json, which keeps the last word
// and its error messages, so what is accepted and refused is unchanged.

// interner keeps one copy of the strings a decoder sees again and again
// (record types, license and machine ids, addresses): a history repeats
// them on every line, a license's lines mostly follow each other. A
// direct-mapped cache: a string replaces the one in its slot, so it never
// grows nor rehashes. One per goroutine.
type interner struct {
	seed  maphash.Seed
	slots [internSlots]string
}

const internSlots = 1 << 13

func (in *interner) str(b []byte) string {
	slot := &in.slots[maphash.Bytes(in.seed, b)&(internSlots-1)]
	if *slot == string(b) {
		return *slot
	}
	*slot = string(b)
	return *slot
}

func newInterner() *interner { return &interner{seed: maphash.MakeSeed()} }

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// fastScanner walks one line.
type fastScanner struct {
	b []byte
	i int
}

func (s *fastScanner) skip() {
	for s.i < len(s.b) && isSpace(s.b[s.i]) {
		s.i++
	}
}

// str reads a string without escapes, control or non-ASCII bytes (the
// other strings go to encoding/json, which checks and decodes them).
func (s *fastScanner) str() ([]byte, bool) {
	if s.i >= len(s.b) || s.b[s.i] != '"' {
		return nil, false
	}
	start := s.i + 1
	for j := start; j < len(s.b); j++ {
		c := s.b[j]
		if c == '"' {
			s.i = j + 1
			return s.b[start:j], true
		}
		if c == '\\' || c < 0x20 || c >= 0x80 {
			return nil, false
		}
	}
	return nil, false
}

// int reads an integer of at most 9 digits, as JSON writes one.
func (s *fastScanner) int() (int, bool) {
	neg := false
	if s.i < len(s.b) && s.b[s.i] == '-' {
		neg = true
		s.i++
	}
	start, n := s.i, 0
	for s.i < len(s.b) && s.b[s.i] >= '0' && s.b[s.i] <= '9' {
		n = n*10 + int(s.b[s.i]-'0')
		s.i++
	}
	digits := s.i - start
	if digits == 0 || digits > 9 || digits > 1 && s.b[start] == '0' {
		return 0, false
	}
	if s.i < len(s.b) && (s.b[s.i] == '.' || s.b[s.i] == 'e' || s.b[s.i] == 'E') {
		return 0, false
	}
	if neg {
		n = -n
	}
	return n, true
}

func num[S ~string | ~[]byte](b S) (int, bool) {
	n := 0
	for i := range len(b) {
		c := b[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

// parseUTC reads YYYY-MM-DDTHH:MM:SS[.fraction]Z; false for any other
// form (offsets, out-of-range fields), which encoding/json then judges.
func parseUTC(b []byte) (time.Time, bool) {
	if len(b) < 20 || b[4] != '-' || b[7] != '-' || b[10] != 'T' || b[13] != ':' || b[16] != ':' || b[len(b)-1] != 'Z' {
		return time.Time{}, false
	}
	y, ok1 := num(b[0:4])
	mo, ok2 := num(b[5:7])
	d, ok3 := num(b[8:10])
	h, ok4 := num(b[11:13])
	mi, ok5 := num(b[14:16])
	sec, ok6 := num(b[17:19])
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6) || mo < 1 || mo > 12 || d < 1 || d > daysIn(mo, y) || h > 23 || mi > 59 || sec > 59 {
		return time.Time{}, false
	}
	nsec := 0
	if rest := b[19 : len(b)-1]; len(rest) > 0 {
		if rest[0] != '.' || len(rest) < 2 || len(rest) > 10 {
			return time.Time{}, false
		}
		f, ok := num(rest[1:])
		if !ok {
			return time.Time{}, false
		}
		for range 10 - len(rest) {
			f *= 10
		}
		nsec = f
	}
	return time.Date(y, time.Month(mo), d, h, mi, sec, nsec, time.UTC), true
}

func daysIn(m, y int) int {
	switch m {
	case 2:
		if y%4 == 0 && (y%100 != 0 || y%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// decodeFast fills rec from a line written the common way; false when
// the line needs encoding/json (rec may then hold part of it).
func decodeFast(b []byte, rec *Record, in *interner) bool {
	s := fastScanner{b: b}
	s.skip()
	if s.i >= len(b) || b[s.i] != '{' {
		return false
	}
	s.i++
	s.skip()
	if s.i < len(b) && b[s.i] == '}' {
		s.i++
		s.skip()
		return s.i == len(b)
	}
	for {
		s.skip()
		key, ok := s.str()
		if !ok {
			return false
		}
		s.skip()
		if s.i >= len(b) || b[s.i] != ':' {
			return false
		}
		s.i++
		s.skip()
		if !s.field(string(key), rec, in) {
			return false
		}
		s.skip()
		if s.i >= len(b) {
			return false
		}
		if b[s.i] == ',' {
			s.i++
			continue
		}
		if b[s.i] != '}' {
			return false
		}
		s.i++
		s.skip()
		return s.i == len(b)
	}
}

// field reads the value of key into rec.
func (s *fastScanner) field(key string, rec *Record, in *interner) bool {
	var sp *string
	var ip *int
	var tp **time.Time
	switch key {
	case "type":
		sp = &rec.Type
	case "id":
		sp = &rec.ID
	case "license_id":
		sp = &rec.LicenseID
	case "customer_id":
		sp = &rec.CustomerID
	case "policy":
		sp = &rec.Policy
	case "machine_id":
		sp = &rec.MachineID
	case "fingerprint":
		sp = &rec.Fingerprint
	case "platform":
		sp = &rec.Platform
	case "ip":
		sp = &rec.IP
	case "kind":
		sp = &rec.Kind
	case "code":
		sp = &rec.Code
	case "hostname":
		sp = &rec.Hostname
	case "product":
		sp = &rec.Product
	case "status":
		sp = &rec.Status
	case "seats":
		ip = &rec.Seats
	case "count":
		ip = &rec.Count
	case "grace_days":
		ip = &rec.GraceDays
	case "attempts":
		ip = &rec.Attempts
	case "at":
		v, ok := s.str()
		if !ok {
			return false
		}
		t, ok := parseUTC(v)
		rec.At = t
		return ok
	case "expires_at":
		tp = &rec.ExpiresAt
	case "dunning_ends_at":
		tp = &rec.DunningEndsAt
	case "card_expires_at":
		tp = &rec.CardExpiresAt
	default:
		return false // another case, or unknown: encoding/json decides
	}
	switch {
	case sp != nil:
		v, ok := s.str()
		if ok {
			*sp = in.str(v)
		}
		return ok
	case ip != nil:
		v, ok := s.int()
		*ip = v
		return ok
	}
	v, ok := s.str()
	if !ok {
		return false
	}
	t, ok := parseUTC(v)
	*tp = &t
	return ok
}
