package api

import (
	"reflect"
	"testing"

	verifier "github.com/nzilacode/narcidicontrole/verifier-sdk"
)

// renewBody is what the SDK sends on a renewal (a 32-byte key, a 64-hex
// fingerprint): the body every renewal and heartbeat decodes.
var renewBody = []byte(`{"license_key":"NARC-AAAAA-BBBBB-CCCCC-DDDDD-EEEEE-FFFFF","fingerprint":"` +
	"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef" + `","name":"","hostname":"build-07","platform":"linux/amd64"}`)

func BenchmarkDecodeBody(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		var in verifier.MachineRequest
		if err := decodeBody("application/json", renewBody, &in); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCheckStrict(b *testing.B) {
	t := reflect.TypeFor[*verifier.MachineRequest]()
	b.ReportAllocs()
	for b.Loop() {
		if err := checkStrict(renewBody, t); err != nil {
			b.Fatal(err)
		}
	}
}

// strictCases are bodies on both sides of every rule of checkStrict, for the
// fast scan to be compared with the token walk.
var strictCases = []string{
	string(renewBody),
	`{}`, `[]`, `null`, `1`, `"x"`, ` {"license_key" : "k" , "fingerprint":"f"} `,
	`{"license_key":"k","license_key":"k"}`, `{"License_key":"k"}`, `{"license\u005fkey":"k"}`,
	`{"license\u005fkey":"k","license_key":"k"}`, `{"license_key":"a\u0000"}`, `{"license_key":"a\\u0000"}`,
	`{"license_key":"é"}`, `{"licensé":"k"}`, "{\"license_key\xff\":\"k\"}", "{\"license_key\":\"\xff\"}",
	`{"nope":1}`, `{"name":"x","metadata":{"a":"1","a":"2"}}`, `{"metadata":{"a":"1","b":"2"}}`,
	`{"metadata":{"a\u0000":"1"}}`, `{"entitlements":["a","b"]}`, `{"entitlements":["a","\u0000"]}`,
	`{"contacts":[{"email":"x"},{"Email":"x"}]}`, `{"request":{"type":"x","V":1}}`,
	`[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]`,
	`[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]`,
	`[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]`,
	`[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]`,
	`{"a":1,"b":2,"c":3,"d":4,"e":5,"f":6,"g":7,"h":8,"i":9,"j":10,"k":11,"l":12,"m":13,"n":14,"o":15,"p":16,"q":17,"r":18,"s":19,"t":20,"u":21,"v":22,"w":23,"x":24,"y":25,"z":26,"A":27,"B":28,"C":29,"D":30,"E":31,"F":32,"G":33}`,
	`{"metadata":{"a":1,"b":2,"c":3,"d":4,"e":5,"f":6,"g":7,"h":8,"i":9,"j":10,"k":11,"l":12,"m":13,"n":14,"o":15,"p":16,"q":17,"r":18,"s":19,"t":20,"u":21,"v":22,"w":23,"x":24,"y":25,"z":26,"A":27,"B":28,"C":29,"D":30,"E":31,"F":32,"a":33}}`,
	`{"x":true,"y":false,"z":null,"n":-1.5e+3}`, `{"a":tru}`, `{"a":1`, `{"a":1}}`, ``, `{"a" 1}`,
}

// sameStrict fails when checkStrict (with its fast scan) and the token walk
// judge body differently, for any write route's body type and a few others.
func sameStrict(t *testing.T, body []byte, types []reflect.Type) {
	t.Helper()
	for _, typ := range types {
		fast, slow := checkStrict(body, typ), checkStrictTokens(body, typ)
		if (fast == nil) != (slow == nil) || fast != nil && fast.Error() != slow.Error() {
			t.Fatalf("%s on %q: checkStrict %v, token walk %v", typ, body, fast, slow)
		}
	}
}

func strictTypes() []reflect.Type {
	return append(bodyTypes(), reflect.TypeFor[*verifier.MachineRequest](), reflect.TypeFor[map[string]any](),
		reflect.TypeFor[any](), reflect.TypeFor[[]string](), reflect.TypeFor[[][]map[string]int]())
}

func TestCheckStrictFastScanAgrees(t *testing.T) {
	types := strictTypes()
	for _, c := range strictCases {
		sameStrict(t, []byte(c), types)
	}
}

// The renewal body takes the fast scan: no allocation at all.
func TestCheckStrictRenewBodyAllocationFree(t *testing.T) {
	typ := reflect.TypeFor[*verifier.MachineRequest]()
	_ = checkStrict(renewBody, typ) // fill the caches
	if n := testing.AllocsPerRun(100, func() { _ = checkStrict(renewBody, typ) }); n != 0 {
		t.Fatalf("checkStrict allocates %v times on a renewal body", n)
	}
	if !(&scan{b: renewBody}).value(typ, 0) {
		t.Fatal("the renewal body does not take the fast scan")
	}
}

// FuzzCheckStrictFastScan: on any body, checkStrict answers exactly as the
// token walk alone.
func FuzzCheckStrictFastScan(f *testing.F) {
	for _, c := range strictCases {
		f.Add([]byte(c))
	}
	types := strictTypes()
	f.Fuzz(func(t *testing.T, body []byte) { sameStrict(t, body, types) })
}
