package verifier

import (
	"crypto/ed25519"
	"strings"
	"testing"
)

func TestParseJWKS(t *testing.T) {
	x := b64.EncodeToString(testPub)
	okp := func(extra string) string { return `{"kty":"OKP","crv":"Ed25519","x":"` + x + `"` + extra + `}` }
	set := func(keys ...string) string { return `{"keys":[` + strings.Join(keys, ",") + `]}` }
	cases := []struct {
		name, doc, wantErr string
		kids               string
	}{
		{"one key", set(okp(`,"kid":"a","use":"sig","alg":"EdDSA"`)), "", "a"},
		{"sorted kids", set(okp(`,"kid":"b"`), okp(`,"kid":"a"`)), "", "a,b"},
		{"unknown members ignored", set(okp(`,"kid":"a","key_ops":["verify"],"ext":true`)), "", "a"},
		{"skips other key types", set(`{"kty":"EC","crv":"P-256","x":"AA","y":"AA","kid":"ec"}`, `{"kty":"RSA","n":"AQAB","e":"AQAB","kid":"rsa"}`, okp(`,"kid":"b"`)), "", "b"},
		{"skips other curves", set(`{"kty":"OKP","crv":"X25519","x":"`+x+`","kid":"x"}`, okp(`,"kid":"c"`)), "", "c"},
		{"skips encryption keys", set(okp(`,"kid":"enc","use":"enc"`), okp(`,"kid":"c"`)), "", "c"},
		{"skips other algs", set(okp(`,"kid":"other","alg":"ES256"`), okp(`,"kid":"c"`)), "", "c"},
		{"private key refused", set(okp(`,"kid":"a","d":"` + x + `"`)), "private or secret key", ""},
		{"empty d refused", set(okp(`,"kid":"a","d":""`)), "private or secret key", ""},
		{"private key of a skipped type refused", set(`{"kty":"RSA","n":"AQAB","e":"AQAB","d":"AQAB","kid":"rsa"}`, okp(`,"kid":"a"`)), "private or secret key", ""},
		{"symmetric key refused", set(`{"kty":"oct","k":"c2VjcmV0","kid":"hmac"}`, okp(`,"kid":"a"`)), "private or secret key", ""},
		{"wrong kty only", set(`{"kty":"EC","crv":"Ed25519","x":"` + x + `","kid":"a"}`), "no trusted keys", ""},
		{"short x", set(`{"kty":"OKP","crv":"Ed25519","x":"AAAA","kid":"a"}`), "bad x", ""},
		{"long x", set(`{"kty":"OKP","crv":"Ed25519","x":"` + b64.EncodeToString(append(testPub[:32:32], 0)) + `","kid":"a"}`), "bad x", ""},
		{"x not base64url", set(`{"kty":"OKP","crv":"Ed25519","x":"` + strings.Repeat("+", 43) + `","kid":"a"}`), "bad x", ""},
		{"no kid", set(okp(``)), "no kid", ""},
		{"duplicate kid", set(okp(`,"kid":"a"`), okp(`,"kid":"a"`)), "twice", ""},
		{"empty", `{"keys":[]}`, "no trusted keys", ""},
		{"no keys member", `{}`, "no trusted keys", ""},
		{"not json", `{`, "not valid JSON", ""},
		{"keys not an array", `{"keys":{}}`, "not valid JSON", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ks, err := ParseJWKS([]byte(tc.doc))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := strings.Join(ks.Kids(), ","); got != tc.kids {
				t.Errorf("kids = %s, want %s", got, tc.kids)
			}
			for _, kid := range ks.Kids() {
				if k, ok := ks.Lookup(kid); !ok || !k.Equal(testPub) {
					t.Errorf("key %s = %x", kid, k)
				}
			}
		})
	}
}

func TestNewKeySet(t *testing.T) {
	for name, keys := range map[string]map[string]ed25519.PublicKey{
		"short key": {"a": testPub[:10]},
		"empty kid": {"": testPub},
		"no key":    {},
		"nil":       nil,
	} {
		if _, err := NewKeySet(keys); err == nil {
			t.Errorf("%s accepted", name)
		}
	}
}

func TestKeySetIsImmutable(t *testing.T) {
	src := map[string]ed25519.PublicKey{"a": append(ed25519.PublicKey(nil), testPub...)}
	ks, err := NewKeySet(src)
	if err != nil {
		t.Fatal(err)
	}
	src["a"][0] ^= 0xff // the set keeps its own copy...
	src["b"] = testPub
	k, _ := ks.Lookup("a")
	if !k.Equal(testPub) || len(ks.Kids()) != 1 {
		t.Fatal("KeySet shares the caller's map or slice")
	}
	k[0] ^= 0xff // ...and hands out copies
	if k2, _ := ks.Lookup("a"); !k2.Equal(testPub) {
		t.Fatal("Lookup exposes the KeySet's key")
	}
	if _, ok := ks.Lookup("missing"); ok {
		t.Error("Lookup found a missing kid")
	}
	var nilSet *KeySet
	if _, ok := nilSet.Lookup("a"); ok || nilSet.Kids() != nil {
		t.Error("a nil KeySet is not empty")
	}
}
