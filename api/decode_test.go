package api

import (
	"reflect"
	"testing"

	"github.com/nzilacode/narcidicontrole/licensing"
)

// Every write route's body type, from the route table.
func bodyTypes() []reflect.Type {
	var out []reflect.Type
	for _, r := range routeTable() {
		if r.in != nil {
			out = append(out, reflect.TypeOf(r.in))
		}
	}
	return out
}

func TestDecodeBody(t *testing.T) {
	type in struct {
		Name  string `json:"name"`
		Count int    `json:"count"`
	}
	cases := []struct {
		name, ct, body string
		code           licensing.Code
	}{
		{"ok", "application/json", `{"name":"a","count":2}`, ""},
		{"charset", "application/json; charset=utf-8", `{"name":"a"}`, ""},
		{"wrong type", "text/plain", `{"name":"a"}`, licensing.EUnsupportedMedia},
		{"no type", "", `{"name":"a"}`, licensing.EUnsupportedMedia},
		{"empty", "application/json", ``, licensing.EMalformed},
		{"truncated", "application/json", `{"name":`, licensing.EMalformed},
		{"syntax", "application/json", `{name:1}`, licensing.EMalformed},
		{"trailing", "application/json", `{"name":"a"}{}`, licensing.EMalformed},
		{"unknown field", "application/json", `{"nme":"a"}`, licensing.EInvalid},
		{"field type", "application/json", `{"count":"2"}`, licensing.EInvalid},
		{"array", "application/json", `[1]`, licensing.EInvalid},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var v in
			if got := licensing.ErrorCode(decodeBody(tc.ct, []byte(tc.body), &v)); got != tc.code {
				t.Errorf("code = %q, want %q", got, tc.code)
			}
		})
	}
}

// FuzzDecodeBody feeds arbitrary bodies to every write route's decoder: no
// panic, and every refusal is a client error of the vocabulary.
func FuzzDecodeBody(f *testing.F) {
	for _, s := range []string{`{}`, `{"name":"x"}`, `{"license_key":"k","fingerprint":"f"}`, `[]`, `null`, `{"metadata":{"a":"b"}}`, `{"expires_at":"2026-01-01T00:00:00Z"}`} {
		f.Add([]byte(s))
	}
	types := bodyTypes()
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, typ := range types {
			v := reflect.New(typ).Interface()
			err := decodeBody("application/json", body, v)
			switch licensing.ErrorCode(err) {
			case "", licensing.EMalformed, licensing.EInvalid:
			default:
				t.Fatalf("%s: %v", typ, err)
			}
		}
	})
}
