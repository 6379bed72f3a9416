package api

import (
	"reflect"
	"strings"
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
	type inner struct {
		Email string `json:"email"`
	}
	type Base struct {
		ID string `json:"id"`
	}
	type in struct {
		Base
		Name     string            `json:"name"`
		Count    int               `json:"count"`
		Contacts []inner           `json:"contacts"`
		Metadata map[string]string `json:"metadata"`
		Raw      any               `json:"raw"`
		Secret   string            `json:"-"`
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
		{"nested ok", "application/json", `{"id":"x","contacts":[{"email":"a@b"}],"metadata":{"A":"1","a":"2"},"raw":{"K":1}}`, ""},
		{"duplicate", "application/json", `{"name":"a","name":"b"}`, licensing.EInvalid},
		{"duplicate promoted", "application/json", `{"id":"a","id":"b"}`, licensing.EInvalid},
		{"duplicate in array", "application/json", `{"contacts":[{"email":"a","email":"b"}]}`, licensing.EInvalid},
		{"duplicate map key", "application/json", `{"metadata":{"a":"1","a":"2"}}`, licensing.EInvalid},
		{"duplicate in any", "application/json", `{"raw":{"k":1,"k":2}}`, licensing.EInvalid},
		{"case variant", "application/json", `{"Name":"a"}`, licensing.EInvalid},
		{"case variant nested", "application/json", `{"contacts":[{"Email":"a"}]}`, licensing.EInvalid},
		{"case variant promoted", "application/json", `{"ID":"a"}`, licensing.EInvalid},
		{"kelvin fold", "application/json", `{"metadata":{},"\u212aount":1}`, licensing.EInvalid},
		{"long s fold", "application/json", `{"\u017fecret":"x"}`, licensing.EInvalid},
		{"ignored field", "application/json", `{"Secret":"x"}`, licensing.EInvalid},
		{"nul value", "application/json", `{"name":"a\u0000b"}`, licensing.EInvalid},
		{"nul nested", "application/json", `{"contacts":[{"email":"\u0000"}]}`, licensing.EInvalid},
		{"nul map value", "application/json", `{"metadata":{"a":"\u0000"}}`, licensing.EInvalid},
		{"nul map key", "application/json", `{"metadata":{"a\u0000":"x"}}`, licensing.EInvalid},
		{"nul in any", "application/json", `{"raw":["\u0000"]}`, licensing.EInvalid},
		{"deep", "application/json", `{"raw":` + strings.Repeat("[", 40) + strings.Repeat("]", 40) + `}`, licensing.EInvalid},
		{"truncated after a bad name", "application/json", `{"Name":`, licensing.EMalformed},
		{"big number", "application/json", `{"raw":123456789012345678901234567890}`, ""},
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

// The refusals name the member, so the caller can find it.
func TestDecodeBodyNamesTheField(t *testing.T) {
	type contact struct {
		Email string `json:"email"`
	}
	type in struct {
		Role     string            `json:"role"`
		Contacts []contact         `json:"contacts"`
		Metadata map[string]string `json:"metadata"`
	}
	for body, want := range map[string]string{
		`{"role":"read-only","role":"admin"}`: `"role" is given twice`,
		`{"Role":"admin"}`:                    `unknown field "Role" (member names are case-sensitive: "role")`,
		`{"contacts":[{},{"EMAIL":"x"}]}`:     `"contacts[1].EMAIL"`,
		`{"metadata":{"k":"a\u0000"}}`:        `field "metadata.k" must not contain a NUL character`,
		`{"contacts":[{"email":"\u0000x"}]}`:  `field "contacts[0].email" must not contain a NUL`,
		`{"metadata":{"k":"1","k":"2"}}`:      `field "metadata.k" is given twice`,
		`{"metadata":{"\u0000":"1"}}`:         `member names in "metadata" must not contain a NUL`,
	} {
		err := decodeBody("application/json", []byte(body), new(in))
		if licensing.ErrorCode(err) != licensing.EInvalid || !strings.Contains(licensing.ErrorMessage(err), want) {
			t.Errorf("%s: %v, want invalid with %q", body, err, want)
		}
	}
}

// FuzzDecodeBody feeds arbitrary bodies to every write route's decoder: no
// panic, and every refusal is a client error of the vocabulary.
func FuzzDecodeBody(f *testing.F) {
	for _, s := range []string{`{}`, `{"name":"x"}`, `{"license_key":"k","fingerprint":"f"}`, `[]`, `null`, `{"metadata":{"a":"b"}}`, `{"expires_at":"2026-01-01T00:00:00Z"}`,
		`{"role":"read-only","role":"admin"}`, `{"Name":"x"}`, `{"name":"a\u0000"}`, `{"metadata":{"a":"1","a":"2"}}`, `{"contacts":[{"Email":"x"}]}`,
		`{"request":{"type":"x","V":1}}`, `{"name":"\u017f"}`, `{"entitlements":["a","\u0000"]}`, `[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]`} {
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
