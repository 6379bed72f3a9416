package verifier

import (
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// A strict, allocation-light reader for the two small JSON documents of a
// lease: its header and its claims. encoding/json alone costs more than the
// whole verification budget (Verify must stay within 1.15x of a bare
// ed25519.Verify), and it is lenient where a verifier should not be: it
// matches member names case-insensitively, lets the last of duplicate members
// win, and replaces invalid UTF-8. This reader instead refuses duplicate
// members, invalid UTF-8 and lone surrogates, and is checked against
// encoding/json by FuzzParseClaims: whatever it accepts, encoding/json decodes
// to the same LeaseClaims.

// maxDepth bounds the nesting of members the reader skips.
const maxDepth = 32

type scanner struct {
	s string
	i int
}

func (d *scanner) ws() {
	for d.i < len(d.s) {
		switch d.s[d.i] {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return
		}
	}
}

// consume skips white space and then c, if c is next.
func (d *scanner) consume(c byte) bool {
	d.ws()
	if d.i < len(d.s) && d.s[d.i] == c {
		d.i++
		return true
	}
	return false
}

// end reports whether only white space is left.
func (d *scanner) end() bool {
	d.ws()
	return d.i == len(d.s)
}

func (d *scanner) literal(lit string) bool {
	d.ws()
	if strings.HasPrefix(d.s[d.i:], lit) {
		d.i += len(lit)
		return true
	}
	return false
}

// str reads a string. Without escapes or non-ASCII bytes (the usual case) it
// returns a substring of the input and does not allocate.
func (d *scanner) str() (string, bool) {
	d.ws()
	if d.i >= len(d.s) || d.s[d.i] != '"' {
		return "", false
	}
	start := d.i + 1
	for j := start; j < len(d.s); j++ {
		switch c := d.s[j]; {
		case c == '"':
			d.i = j + 1
			return d.s[start:j], true
		case c == '\\' || c >= utf8.RuneSelf:
			return d.strSlow(start)
		case c < 0x20:
			return "", false
		}
	}
	return "", false
}

func (d *scanner) strSlow(start int) (string, bool) {
	var b strings.Builder
	s := d.s
	for j := start; j < len(s); {
		c := s[j]
		switch {
		case c == '"':
			d.i = j + 1
			return b.String(), true
		case c < 0x20:
			return "", false
		case c >= utf8.RuneSelf:
			r, n := utf8.DecodeRuneInString(s[j:])
			if r == utf8.RuneError && n == 1 {
				return "", false
			}
			b.WriteString(s[j : j+n])
			j += n
		case c != '\\':
			b.WriteByte(c)
			j++
		default:
			if j+1 >= len(s) {
				return "", false
			}
			esc := s[j+1]
			j += 2
			switch esc {
			case '"', '\\', '/':
				b.WriteByte(esc)
			case 'b':
				b.WriteByte('\b')
			case 'f':
				b.WriteByte('\f')
			case 'n':
				b.WriteByte('\n')
			case 'r':
				b.WriteByte('\r')
			case 't':
				b.WriteByte('\t')
			case 'u':
				r, ok := hex4(s, j)
				if !ok {
					return "", false
				}
				j += 4
				if r >= 0xD800 && r < 0xDC00 { // high surrogate: a low one must follow
					if j+1 >= len(s) || s[j] != '\\' || s[j+1] != 'u' {
						return "", false
					}
					lo, ok := hex4(s, j+2)
					if !ok || lo < 0xDC00 || lo >= 0xE000 {
						return "", false
					}
					j += 6
					r = 0x10000 + (r-0xD800)<<10 + (lo - 0xDC00)
				} else if r >= 0xDC00 && r < 0xE000 {
					return "", false
				}
				b.WriteRune(r)
			default:
				return "", false
			}
		}
	}
	return "", false
}

func hex4(s string, j int) (rune, bool) {
	if j+4 > len(s) {
		return 0, false
	}
	var r rune
	for _, c := range []byte(s[j : j+4]) {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c -= 'a' - 10
		case 'A' <= c && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}

// number reads a JSON number and reports whether it is written as an
// integer (no fraction, no exponent).
func (d *scanner) number() (lit string, isInt, ok bool) {
	d.ws()
	s, start := d.s, d.i
	j := start
	if j < len(s) && s[j] == '-' {
		j++
	}
	switch {
	case j < len(s) && s[j] == '0':
		j++
	case j < len(s) && '1' <= s[j] && s[j] <= '9':
		j = digits(s, j)
	default:
		return "", false, false
	}
	isInt = true
	if j < len(s) && s[j] == '.' {
		isInt = false
		if k := digits(s, j+1); k > j+1 {
			j = k
		} else {
			return "", false, false
		}
	}
	if j < len(s) && (s[j] == 'e' || s[j] == 'E') {
		isInt = false
		j++
		if j < len(s) && (s[j] == '+' || s[j] == '-') {
			j++
		}
		if k := digits(s, j); k > j {
			j = k
		} else {
			return "", false, false
		}
	}
	d.i = j
	return s[start:j], isInt, true
}

func digits(s string, j int) int {
	for j < len(s) && '0' <= s[j] && s[j] <= '9' {
		j++
	}
	return j
}

// skip reads and discards any JSON value.
func (d *scanner) skip(depth int) bool {
	d.ws()
	if d.i >= len(d.s) || depth > maxDepth {
		return false
	}
	switch d.s[d.i] {
	case '"':
		_, ok := d.str()
		return ok
	case '{':
		d.i++
		if d.consume('}') {
			return true
		}
		for {
			if _, ok := d.str(); !ok || !d.consume(':') || !d.skip(depth+1) {
				return false
			}
			if d.consume(',') {
				continue
			}
			return d.consume('}')
		}
	case '[':
		d.i++
		if d.consume(']') {
			return true
		}
		for {
			if !d.skip(depth + 1) {
				return false
			}
			if d.consume(',') {
				continue
			}
			return d.consume(']')
		}
	case 't':
		return d.literal("true")
	case 'f':
		return d.literal("false")
	case 'n':
		return d.literal("null")
	default:
		_, _, ok := d.number()
		return ok
	}
}

// stringField reads a string or null (left as "", like encoding/json).
func (d *scanner) stringField(dst *string) bool {
	if d.literal("null") {
		return true
	}
	s, ok := d.str()
	*dst = s
	return ok
}

// intField reads an integer or null (left as 0, like encoding/json).
func (d *scanner) intField(dst *int64) bool {
	if d.literal("null") {
		return true
	}
	lit, isInt, ok := d.number()
	if !ok || !isInt {
		return false
	}
	n, err := strconv.ParseInt(lit, 10, 64)
	*dst = n
	return err == nil
}

// stringsField reads an array of strings, or null.
func (d *scanner) stringsField(dst *[]string) bool {
	if d.literal("null") {
		return true
	}
	if !d.consume('[') {
		return false
	}
	out := make([]string, 0, 8)
	if !d.consume(']') {
		for {
			s, ok := d.str()
			if !ok {
				return false
			}
			out = append(out, s)
			if d.consume(',') {
				continue
			}
			if !d.consume(']') {
				return false
			}
			break
		}
	}
	*dst = out
	return true
}

// Bits of the lease claims, to refuse a claim given twice.
const (
	claimIss uint32 = 1 << iota
	claimSub
	claimAud
	claimJti
	claimIat
	claimNbf
	claimExp
	claimLicense
	claimPolicy
	claimCustomer
	claimMachine
	claimFingerprint
	claimEntitlements
	claimLicenseExpiry
	claimOverage
	claimMeters
)

var claimNames = [...]string{"iss", "sub", "aud", "jti", "iat", "nbf", "exp", "license", "policy",
	"customer", "machine", "fingerprint", "entitlements", "license_expiry", "overage", "meters"}

// parseClaims decodes the claims of a lease into c. Unknown members are
// skipped (claims only ever get added), but a member that encoding/json would
// take for a claim by case folding ("AUD", "ſub") is refused, so that every
// JSON library reads the same claims out of a lease.
func parseClaims(s string, c *LeaseClaims) bool {
	d := scanner{s: s}
	if !d.consume('{') {
		return false
	}
	if d.consume('}') {
		return d.end()
	}
	var seen uint32
	for {
		key, ok := d.str()
		if !ok || !d.consume(':') {
			return false
		}
		var bit uint32
		switch key {
		case "iss":
			bit, ok = claimIss, d.stringField(&c.Issuer)
		case "sub":
			bit, ok = claimSub, d.stringField(&c.Subject)
		case "aud":
			bit, ok = claimAud, d.stringField(&c.Audience)
		case "jti":
			bit, ok = claimJti, d.stringField(&c.ID)
		case "iat":
			bit, ok = claimIat, d.intField(&c.IssuedAt)
		case "nbf":
			bit, ok = claimNbf, d.intField(&c.NotBefore)
		case "exp":
			bit, ok = claimExp, d.intField(&c.Expiry)
		case "license":
			bit, ok = claimLicense, d.stringField(&c.License)
		case "policy":
			bit, ok = claimPolicy, d.stringField(&c.Policy)
		case "customer":
			bit, ok = claimCustomer, d.stringField(&c.Customer)
		case "machine":
			bit, ok = claimMachine, d.stringField(&c.Machine)
		case "fingerprint":
			bit, ok = claimFingerprint, d.stringField(&c.Fingerprint)
		case "entitlements":
			bit, ok = claimEntitlements, d.stringsField(&c.Entitlements)
		case "license_expiry":
			bit, ok = claimLicenseExpiry, d.intField(&c.LicenseExpiry)
		case "overage":
			bit, ok = claimOverage, d.intField(&c.Overage)
		case "meters":
			bit, ok = claimMeters, d.metersField(&c.Meters)
		default:
			for _, name := range claimNames {
				if foldEqual(key, name) {
					return false
				}
			}
			ok = d.skip(1)
		}
		if !ok || seen&bit != 0 {
			return false
		}
		seen |= bit
		if d.consume(',') {
			continue
		}
		return d.consume('}') && d.end()
	}
}

// foldEqual reports whether encoding/json would match member name key to the
// field name (it compares names folded by Unicode simple folding).
func foldEqual(key, name string) bool {
	j := 0
	for _, r := range key {
		if j >= len(name) || foldRune(r) != foldRune(rune(name[j])) {
			return false
		}
		j++
	}
	return j == len(name)
}

// foldRune is the smallest rune of r's simple-folding orbit, as encoding/json
// folds names.
func foldRune(r rune) rune {
	for {
		r2 := unicode.SimpleFold(r)
		if r2 <= r {
			return r2
		}
		r = r2
	}
}

// joseHeader is the protected header of a lease. A member present with a
// non-string value is kept as "" so that the check it feeds fails.
type joseHeader struct {
	alg, typ, kid string
	cert          string // the signing key's certificate (CertHeader), if any
	hasOther      bool   // a member other than alg, typ and kid is present
	other         string // the first such member
}

// parseHeader decodes a JOSE header, refusing duplicate members.
func parseHeader(s string) (h joseHeader, ok bool) {
	d := scanner{s: s}
	if !d.consume('{') {
		return h, false
	}
	if d.consume('}') {
		return h, d.end()
	}
	var seen uint8
	for {
		key, ok := d.str()
		if !ok || !d.consume(':') {
			return h, false
		}
		var dst *string
		var bit uint8
		switch key {
		case "alg":
			dst, bit = &h.alg, 1
		case "typ":
			dst, bit = &h.typ, 2
		case "kid":
			dst, bit = &h.kid, 4
		case CertHeader:
			dst, bit = &h.cert, 8
		default:
			if !h.hasOther {
				h.hasOther, h.other = true, key
			}
		}
		if seen&bit != 0 {
			return h, false
		}
		seen |= bit
		save := d.i
		if dst != nil {
			if v, isStr := d.str(); isStr {
				*dst = v
			} else {
				d.i = save
				if !d.skip(1) {
					return h, false
				}
			}
		} else if !d.skip(1) {
			return h, false
		}
		if d.consume(',') {
			continue
		}
		return h, d.consume('}') && d.end()
	}
}

// metersField reads the meters claim: null, or an array of objects whose
// members are exactly those of MeterClaim, each at most once.
func (d *scanner) metersField(dst *[]MeterClaim) bool {
	if d.literal("null") {
		return true
	}
	if !d.consume('[') {
		return false
	}
	out := []MeterClaim{}
	if d.consume(']') {
		*dst = out
		return true
	}
	for {
		var m MeterClaim
		if !d.consume('{') {
			return false
		}
		seen := 0
		for !d.consume('}') {
			if seen > 0 && !d.consume(',') {
				return false
			}
			key, ok := d.str()
			if !ok || !d.consume(':') {
				return false
			}
			switch key {
			case "meter":
				ok = seen&1 == 0 && d.stringField(&m.Meter)
				seen |= 1
			case "remaining":
				ok = seen&2 == 0 && d.intField(&m.Remaining)
				seen |= 2
			case "counter":
				ok = seen&4 == 0 && d.intField(&m.Counter)
				seen |= 4
			default:
				// Members added later are skipped, unless encoding/json
				// would read one as a known member by case folding.
				for _, name := range []string{"meter", "remaining", "counter"} {
					if foldEqual(key, name) {
						return false
					}
				}
				ok = d.skip(2)
				seen |= 8
			}
			if !ok {
				return false
			}
		}
		out = append(out, m)
		if len(out) > 100 {
			return false
		}
		if d.consume(',') {
			continue
		}
		if !d.consume(']') {
			return false
		}
		*dst = out
		return true
	}
}
