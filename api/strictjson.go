package api

import (
	"bytes"
	"encoding"
	"encoding/json"
	"reflect"
	"strconv"
	"strings"
	"sync"

	"github.com/nzilacode/narcidicontrole/licensing"
)

// encoding/json is lenient where an API that grants permissions must not be:
// it matches member names case-insensitively ("Role" sets role), and the last
// of duplicate members wins ({"role":"read-only","role":"admin"} makes an
// admin token after a proxy or a log read the first). It also lets U+0000
// through, which PostgreSQL refuses in text (a 500). checkStrict is a pass
// over the tokens before decoding that refuses all three, against the Go type
// the body is decoded into, so encoding/json's own decoding then only ever
// sees bodies every JSON reader understands the same way.

// maxBodyDepth bounds the nesting of a body: no request needs more than a
// few levels, and the walk is recursive.
const maxBodyDepth = 32

// checkStrict reads one JSON value from body and refuses, as EInvalid naming
// the member: a member given twice in an object, a member name that is not
// exactly one of the struct's json names (unknown, or another case), and a
// string or member name holding U+0000. Syntax errors are EMalformed.
//
// Most bodies are small and clean, and the token walk costs about as much
// as the decoding itself (an allocation per token): a byte scan
// (passesStrict) first accepts, without allocating, the bodies it can
// judge surely clean; any other body, a refusal included, goes through the
// token walk, so every error is the walk's own.
func checkStrict(body []byte, t reflect.Type) error {
	if json.Valid(body) && (&scan{b: body}).value(t, 0) {
		return nil
	}
	return checkStrictTokens(body, t)
}

// checkStrictTokens is checkStrict's token walk: the reference behaviour.
func checkStrictTokens(body []byte, t reflect.Type) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber() // numbers are only skipped here; no float conversion error
	w := walker{dec: dec, unknown: &unknownMembers{}}
	if err := w.value(t, "", "", 0); err != nil {
		return err
	}
	return w.unknown.refusal()
}

// walker walks one body. Any refusal but an unknown member ends the walk;
// unknown members are collected (their values skipped, still checked) so
// that one answer names them all.
type walker struct {
	dec     *json.Decoder
	unknown *unknownMembers
}

// value reads one value that decodes into t (nil: not tracked, such as
// any, json.RawMessage or a type with its own UnmarshalJSON). path is where
// it is as the messages say it ("contacts[1].email"), param as
// invalid_params and licensing.Error.Field name it ("contacts.1.email").
func (w walker) value(t reflect.Type, path, param string, depth int) error {
	if depth > maxBodyDepth {
		return licensing.Errorf(licensing.EInvalid, "the body is nested more than %d levels deep", maxBodyDepth)
	}
	tok, err := w.dec.Token()
	if err != nil {
		return jsonError(err)
	}
	t = trackedTypeCached(t)
	switch v := tok.(type) {
	case json.Delim:
		if v == '{' {
			return w.object(t, path, param, depth)
		}
		var elem reflect.Type
		if t != nil && (t.Kind() == reflect.Slice || t.Kind() == reflect.Array) {
			elem = t.Elem()
		}
		for i := 0; w.dec.More(); i++ {
			if err := w.value(elem, path+"["+strconv.Itoa(i)+"]", join(param, strconv.Itoa(i)), depth+1); err != nil {
				return err
			}
		}
		return w.end()
	case string:
		if strings.ContainsRune(v, 0) {
			return licensing.FieldErrorf(param, "field %q must not contain a NUL character", fieldName(path))
		}
	}
	return nil
}

// memberTypes says what an object decoded into t may hold: a struct's json
// members, or a map's element type (neither for an unknown t).
func memberTypes(t reflect.Type) (fields map[string]reflect.Type, elem reflect.Type) {
	if t == nil {
		return nil, nil
	}
	switch t.Kind() {
	case reflect.Struct:
		return jsonFields(t), nil
	case reflect.Map:
		return nil, t.Elem()
	}
	return nil, nil
}

func (w walker) object(t reflect.Type, path, param string, depth int) error {
	fields, elem := memberTypes(t)
	seen := map[string]bool{}
	for w.dec.More() {
		tok, err := w.dec.Token()
		if err != nil {
			return jsonError(err)
		}
		key, _ := tok.(string)
		child, childParam := join(path, key), join(param, key)
		if strings.ContainsRune(key, 0) {
			return licensing.FieldErrorf(param, "member names in %q must not contain a NUL character", fieldName(path))
		}
		if seen[key] {
			return licensing.FieldErrorf(childParam, "field %q is given twice", child)
		}
		seen[key] = true
		next := elem
		if fields != nil {
			ft, ok := fields[key]
			if !ok {
				w.unknown.add(child, childParam, caseVariant(fields, path, key))
			}
			next = ft // nil for an unknown member: its value is only skipped
		}
		if err := w.value(next, child, childParam, depth+1); err != nil {
			return err
		}
	}
	return w.end()
}

// caseVariant is the member of fields that key spells in another case,
// joined to path ("" when there is none).
func caseVariant(fields map[string]reflect.Type, path, key string) string {
	for name := range fields {
		if strings.EqualFold(name, key) {
			return join(path, name)
		}
	}
	return ""
}

// unknownMembers collects the members of a body that its Go type does not
// have. As an error it is the refusal of them all: EInvalid naming the
// first in its Field, and every one in the problem's invalid_params
// (errorHandler), so a client fixes them in one go.
type unknownMembers struct {
	names  []string // as invalid_params spell them
	quoted []string // as the message says them
	err    *licensing.Error
}

func (u *unknownMembers) add(path, param, variant string) {
	q := strconv.Quote(path)
	if variant != "" {
		q += " (member names are case-sensitive: " + strconv.Quote(variant) + ")"
	}
	u.names, u.quoted = append(u.names, param), append(u.quoted, q)
}

// refusal is u as an error, nil when no member was unknown.
func (u *unknownMembers) refusal() error {
	if len(u.names) == 0 {
		return nil
	}
	msg := "unknown field " + u.quoted[0]
	if len(u.quoted) > 1 {
		msg = "unknown fields " + strings.Join(u.quoted, ", ")
	}
	u.err = licensing.FieldErrorf(u.names[0], "%s", msg)
	return u
}

func (u *unknownMembers) Error() string { return u.err.Error() }
func (u *unknownMembers) Unwrap() error { return u.err }

// end reads the closing delimiter of an object or array.
func (w walker) end() error {
	if _, err := w.dec.Token(); err != nil {
		return jsonError(err)
	}
	return nil
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func fieldName(path string) string {
	if path == "" {
		return "(body)"
	}
	return path
}

var (
	jsonUnmarshaler = reflect.TypeFor[json.Unmarshaler]()
	textUnmarshaler = reflect.TypeFor[encoding.TextUnmarshaler]()
)

// trackedType strips pointers and returns nil for types whose members the
// walk cannot know: interfaces and types that decode themselves.
func trackedType(t reflect.Type) reflect.Type {
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == nil || t.Kind() == reflect.Interface {
		return nil
	}
	if t.Implements(jsonUnmarshaler) || reflect.PointerTo(t).Implements(jsonUnmarshaler) ||
		t.Implements(textUnmarshaler) || reflect.PointerTo(t).Implements(textUnmarshaler) {
		return nil
	}
	return t
}

var fieldCache sync.Map // reflect.Type → map[string]reflect.Type

// jsonFields maps the member names encoding/json decodes into struct t
// (json tags, field names, promoted fields of embedded structs) to their
// types.
func jsonFields(t reflect.Type) map[string]reflect.Type {
	if m, ok := fieldCache.Load(t); ok {
		return m.(map[string]reflect.Type)
	}
	m := map[string]reflect.Type{}
	addFields(m, t, 0)
	fieldCache.Store(t, m)
	return m
}

func addFields(m map[string]reflect.Type, t reflect.Type, depth int) {
	if depth > 8 {
		return
	}
	var embedded []reflect.Type
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, _, _ := strings.Cut(tag, ",")
		if f.Anonymous && name == "" {
			et := f.Type
			if et.Kind() == reflect.Pointer {
				et = et.Elem()
			}
			if et.Kind() == reflect.Struct {
				embedded = append(embedded, et)
				continue
			}
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		m[name] = f.Type
	}
	// Promoted fields come after: the outer struct's own fields win.
	for _, et := range embedded {
		inner := map[string]reflect.Type{}
		addFields(inner, et, depth+1)
		for k, v := range inner {
			if _, ok := m[k]; !ok {
				m[k] = v
			}
		}
	}
}

var trackedCache sync.Map // reflect.Type → tracked{t}

type tracked struct{ t reflect.Type }

// trackedTypeCached is trackedType remembered per type: its Implements
// checks ran for every value of every body.
func trackedTypeCached(t reflect.Type) reflect.Type {
	if t == nil {
		return nil
	}
	if v, ok := trackedCache.Load(t); ok {
		return v.(tracked).t
	}
	tt := trackedType(t)
	trackedCache.Store(t, tracked{tt})
	return tt
}

// maxScanMembers bounds the members of one object the scan judges (it
// looks for duplicates pairwise); a bigger object goes to the token walk.
const maxScanMembers = 32

// scan is checkStrict's fast path over a body json.Valid accepted. Its
// methods return true only when the token walk would accept the value
// (same types followed, same depth rule, same member sets), and false when
// it cannot be sure: on anything refused, and also on any string with an
// escape or a control character and on any member name that is not plain
// ASCII, whose decoded form (unescaped, U+FFFD for bad UTF-8) only the
// walk computes.
type scan struct {
	b []byte
	i int
}

func (s *scan) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// value mirrors walker.value.
func (s *scan) value(t reflect.Type, depth int) bool {
	if depth > maxBodyDepth {
		return false
	}
	s.ws()
	if s.i >= len(s.b) {
		return false
	}
	t = trackedTypeCached(t)
	switch s.b[s.i] {
	case '{':
		return s.object(t, depth)
	case '[':
		s.i++
		var elem reflect.Type
		if t != nil && (t.Kind() == reflect.Slice || t.Kind() == reflect.Array) {
			elem = t.Elem()
		}
		if s.ws(); s.i < len(s.b) && s.b[s.i] == ']' {
			s.i++
			return true
		}
		for {
			if !s.value(elem, depth+1) {
				return false
			}
			if more, ok := s.after(']'); !more {
				return ok
			}
		}
	case '"':
		_, _, ok := s.str()
		return ok
	default:
		// true, false, null or a number (json.Valid checked which).
		start := s.i
		for s.i < len(s.b) && strings.IndexByte("0123456789+-.eEtruefalsn", s.b[s.i]) >= 0 {
			s.i++
		}
		return s.i > start
	}
}

// object mirrors walker.object.
func (s *scan) object(t reflect.Type, depth int) bool {
	s.i++ // '{'
	fields, elem := memberTypes(t)
	if s.ws(); s.i < len(s.b) && s.b[s.i] == '}' {
		s.i++
		return true
	}
	var seenBuf [maxScanMembers][]byte
	seen := seenBuf[:0]
	for {
		if s.ws(); s.i >= len(s.b) || s.b[s.i] != '"' {
			return false
		}
		key, ascii, ok := s.str()
		if !ok || !ascii || len(seen) == maxScanMembers {
			return false
		}
		for _, k := range seen {
			if bytes.Equal(k, key) {
				return false
			}
		}
		seen = append(seen, key)
		next := elem
		if fields != nil {
			ft, ok := fields[string(key)]
			if !ok {
				return false
			}
			next = ft
		}
		if s.ws(); s.i >= len(s.b) || s.b[s.i] != ':' {
			return false
		}
		s.i++
		if !s.value(next, depth+1) {
			return false
		}
		if more, ok := s.after('}'); !more {
			return ok
		}
	}
}

// after reads what follows a member or an element: a comma (more is true)
// or the closing delimiter (more false, ok true).
func (s *scan) after(closing byte) (more, ok bool) {
	s.ws()
	if s.i >= len(s.b) {
		return false, false
	}
	switch s.b[s.i] {
	case ',':
		s.i++
		return true, true
	case closing:
		s.i++
		return false, true
	}
	return false, false
}

// str reads a string at s.i (its opening quote) and returns its bytes
// between the quotes. ok is false for a string the walk must judge: one
// with an escape (it may hide a NUL or spell a member name another way) or
// a control character; ascii is false when a byte is not ASCII.
func (s *scan) str() (raw []byte, ascii, ok bool) {
	s.i++
	start := s.i
	ascii = true
	for ; s.i < len(s.b); s.i++ {
		switch c := s.b[s.i]; {
		case c == '"':
			raw = s.b[start:s.i]
			s.i++
			return raw, ascii, true
		case c == '\\' || c < 0x20:
			return nil, false, false
		case c >= 0x80:
			ascii = false
		}
	}
	return nil, false, false
}
