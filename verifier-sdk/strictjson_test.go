package verifier

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

var claimsDocs = []struct {
	doc string
	ok  bool
}{
	{string(mustJSON(testClaims())), true},
	{`{}`, true},
	{` { } `, true},
	{`{"exp":1,"entitlements":[]}`, true},
	{`{"exp":1,"entitlements":null,"aud":null,"iat":null}`, true},
	{`{"exp":-0}`, true},
	{`{"iss":"a\"b\\c\/d\b\f\n\r\t\u0000\u00e9\ud834\udd1e"}`, true},
	{`{"iss":"é𝄞✓"}`, true},
	{`{"x":{"y":[1,-2.5,3e10,1E-2,true,false,null,"s",{}],"z":{}},"exp":1}`, true},
	{`{"X":1}`, true},               // unknown, and folds to no claim
	{`{"expire":1}`, true},          // unknown
	{`{"exp":1,"x":1,"x":2}`, true}, // repeated unknown members are not claims

	{``, false},
	{`null`, false},
	{`[]`, false},
	{`"x"`, false},
	{`{`, false},
	{`{"exp":1,}`, false},
	{`{"exp":1}x`, false},
	{`{"exp":1}{}`, false},
	{`{"exp" 1}`, false},
	{`{exp:1}`, false},
	{`{'exp':1}`, false},
	{`{"exp":01}`, false},
	{`{"exp":1.0}`, false},
	{`{"exp":1e3}`, false},
	{`{"exp":+1}`, false},
	{`{"exp":"1"}`, false},
	{`{"exp":9223372036854775808}`, false},
	{`{"exp":1,"exp":2}`, false},
	{`{"Exp":1}`, false},
	{`{"EXP":1}`, false},
	{`{"\u017fub":"x"}`, false}, // folds to "sub" in encoding/json
	{`{"licen\u017fe":"x"}`, false},
	{`{"iss":1}`, false},
	{`{"iss":"a` + "\n" + `"}`, false},
	{`{"iss":"\x"}`, false},
	{`{"iss":"\u12"}`, false},
	{`{"iss":"\ud800"}`, false},
	{`{"iss":"\udc00"}`, false},
	{`{"iss":"\ud800\u0041"}`, false},
	{"{\"iss\":\"\xff\"}", false},
	{"{\"iss\":\"\xed\xa0\x80\"}", false}, // an encoded surrogate
	{`{"entitlements":["a",null]}`, false},
	{`{"entitlements":"a"}`, false},
	{`{"entitlements":["a",]}`, false},
	{`{"x":[1,]}`, false},
	{`{"x":tru}`, false},
	{`{"x":-}`, false},
	{`{"x":1.}`, false},
	{`{"x":1e}`, false},
	{`{"x":` + strings.Repeat("[", 40) + strings.Repeat("]", 40) + `}`, false}, // deeper than maxDepth
}

func TestParseClaims(t *testing.T) {
	for _, tc := range claimsDocs {
		var got LeaseClaims
		if ok := parseClaims(tc.doc, &got); ok != tc.ok {
			t.Errorf("parseClaims(%q) = %v, want %v", tc.doc, ok, tc.ok)
			continue
		}
		if tc.ok {
			sameAsEncodingJSON(t, tc.doc, got)
		}
	}
}

// sameAsEncodingJSON checks that encoding/json reads doc as got.
func sameAsEncodingJSON(t *testing.T, doc string, got LeaseClaims) {
	t.Helper()
	var want LeaseClaims
	if err := json.Unmarshal([]byte(doc), &want); err != nil {
		t.Fatalf("parseClaims accepted %q, encoding/json refuses it: %v", doc, err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("parseClaims(%q) =\n %#v\nencoding/json reads\n %#v", doc, got, want)
	}
}

// FuzzParseClaims holds the claims reader to encoding/json: whatever it
// accepts, encoding/json must decode to the same LeaseClaims.
func FuzzParseClaims(f *testing.F) {
	for _, tc := range claimsDocs {
		f.Add(tc.doc)
	}
	f.Fuzz(func(t *testing.T, doc string) {
		var got LeaseClaims
		if parseClaims(doc, &got) {
			sameAsEncodingJSON(t, doc, got)
		}
	})
}

func TestParseHeader(t *testing.T) {
	cases := []struct {
		doc  string
		ok   bool
		want joseHeader
	}{
		{`{"alg":"EdDSA","kid":"k","typ":"t"}`, true, joseHeader{alg: "EdDSA", kid: "k", typ: "t"}},
		{` {"typ" : "t" , "kid":"k\u0031"} `, true, joseHeader{kid: "k1", typ: "t"}},
		{`{"alg":1,"kid":{},"typ":null}`, true, joseHeader{}},
		{`{"alg":"EdDSA","crit":["b64"],"b64":false}`, true, joseHeader{alg: "EdDSA", hasOther: true, other: "crit"}},
		{`{"":1}`, true, joseHeader{hasOther: true, other: ""}},
		{`{}`, true, joseHeader{}},
		{`{"alg":"EdDSA","alg":"EdDSA"}`, false, joseHeader{}},
		{`{"alg":"EdDSA"`, false, joseHeader{}},
		{`{"alg":"EdDSA"} x`, false, joseHeader{}},
		{`{"alg":[}`, false, joseHeader{}},
		{`[]`, false, joseHeader{}},
	}
	for _, tc := range cases {
		h, ok := parseHeader(tc.doc)
		if ok != tc.ok || (ok && h != tc.want) {
			t.Errorf("parseHeader(%q) = %+v, %v; want %+v, %v", tc.doc, h, ok, tc.want, tc.ok)
		}
	}
}
