package verifier

import (
	"crypto/ed25519"
	"strings"
	"testing"
)

func TestParseJWKS(t *testing.T) {
	x := b64.EncodeToString(testPub)
	cases := []struct {
		name, doc, wantErr string
		kids               string
	}{
		{"one key", `{"keys":[{"kty":"OKP","crv":"Ed25519","x":"` + x + `","kid":"a","use":"sig","alg":"EdDSA"}]}`, "", "a"},
		{"skips other types", `{"keys":[{"kty":"EC","crv":"P-256","x":"AA","y":"AA","kid":"ec"},{"kty":"OKP","crv":"Ed25519","x":"` + x + `","kid":"b"}]}`, "", "b"},
		{"skips encryption keys", `{"keys":[{"kty":"OKP","crv":"Ed25519","x":"` + x + `","kid":"enc","use":"enc"},{"kty":"OKP","crv":"Ed25519","x":"` + x + `","kid":"c"}]}`, "", "c"},
		{"private key refused", `{"keys":[{"kty":"OKP","crv":"Ed25519","x":"` + x + `","d":"` + x + `","kid":"a"}]}`, "private key", ""},
		{"bad x length", `{"keys":[{"kty":"OKP","crv":"Ed25519","x":"AAAA","kid":"a"}]}`, "bad x", ""},
		{"no kid", `{"keys":[{"kty":"OKP","crv":"Ed25519","x":"` + x + `"}]}`, "no kid", ""},
		{"duplicate kid", `{"keys":[{"kty":"OKP","crv":"Ed25519","x":"` + x + `","kid":"a"},{"kty":"OKP","crv":"Ed25519","x":"` + x + `","kid":"a"}]}`, "twice", ""},
		{"empty", `{"keys":[]}`, "no trusted keys", ""},
		{"not json", `{`, "not valid JSON", ""},
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
		})
	}
}

func TestNewKeySetRejectsBadKeys(t *testing.T) {
	if _, err := NewKeySet(map[string]ed25519.PublicKey{"a": testPub[:10]}); err == nil {
		t.Error("short key accepted")
	}
	if _, err := NewKeySet(map[string]ed25519.PublicKey{"": testPub}); err == nil {
		t.Error("empty kid accepted")
	}
	src := map[string]ed25519.PublicKey{"a": append(ed25519.PublicKey(nil), testPub...)}
	ks, _ := NewKeySet(src)
	src["a"][0] ^= 0xff // the set keeps its own copy
	if k, _ := ks.Lookup("a"); !k.Equal(testPub) {
		t.Error("KeySet shares the caller's slice")
	}
}
