// Command cabi is the verifier SDK as a C library, for apps not written in
// Go (NzilaCode's Python apps use it through python/narcidi.py):
//
//	go build -buildmode=c-shared -o libnarcidi.so ./cabi
//
// The ABI is the one of narcidi.h: strings in (UTF-8, NUL-terminated),
// JSON strings out, which the caller frees with narcidi_free. JSON keeps the
// ABI to three functions that never change shape as claims get added.
package main

/*
#include <stdlib.h>
*/
import "C"

import (
	"encoding/json"
	"errors"
	"time"
	"unsafe"

	verifier "github.com/nzilacode/narcidicontrole/verifier-sdk"
)

func main() {}

type verifyResult struct {
	OK          bool                  `json:"ok"`
	Code        string                `json:"code,omitempty"`  // a verifier.Code when !OK, or "bad_config"
	Error       string                `json:"error,omitempty"` // for people
	KeyID       string                `json:"kid,omitempty"`
	Claims      *verifier.LeaseClaims `json:"claims,omitempty"`
	Certificate *verifier.CertClaims  `json:"certificate,omitempty"`
}

func cstring(v any) *C.char {
	b, _ := json.Marshal(v)
	return C.CString(string(b))
}

// narcidi_verify verifies a lease offline. keys_json is a JWKS: the
// server's signing keys, or the pinned root keys when keys_are_roots is not
// 0. now_unix is the time to check against (0: the system clock).
//
//export narcidi_verify
func narcidi_verify(token, keysJSON *C.char, keysAreRoots C.int, product, fingerprint *C.char, nowUnix C.longlong) *C.char {
	return cstring(verify(C.GoString(token), C.GoString(keysJSON), keysAreRoots != 0, C.GoString(product), C.GoString(fingerprint), int64(nowUnix)))
}

func verify(token, keysJSON string, roots bool, product, fingerprint string, nowUnix int64) (res verifyResult) {
	defer func() { // a Go panic must never cross into C
		if r := recover(); r != nil {
			res = verifyResult{Code: "internal", Error: "panic in the verifier"}
		}
	}()
	ks, err := verifier.ParseJWKS([]byte(keysJSON))
	if err != nil {
		return verifyResult{Code: "bad_config", Error: err.Error()}
	}
	cfg := verifier.Config{Product: product, Fingerprint: fingerprint}
	if roots {
		cfg.Roots = ks
	} else {
		cfg.Keys = ks
	}
	if nowUnix != 0 {
		cfg.Clock = func() time.Time { return time.Unix(nowUnix, 0) }
	}
	v, err := verifier.New(cfg)
	if err != nil {
		return verifyResult{Code: "bad_config", Error: err.Error()}
	}
	l, err := v.Verify(token)
	if err != nil {
		var e *verifier.Error
		if errors.As(err, &e) {
			return verifyResult{Code: string(e.Code), Error: err.Error()}
		}
		return verifyResult{Code: "internal", Error: err.Error()}
	}
	return verifyResult{OK: true, KeyID: l.KeyID, Claims: &l.Claims, Certificate: l.Certificate}
}

// narcidi_fingerprint returns {"ok":true,"fingerprint":"<hex>"} for app_id
// on this machine (see verifier.Fingerprint), or {"ok":false,"error":...}.
//
//export narcidi_fingerprint
func narcidi_fingerprint(appID *C.char) *C.char {
	fp, err := verifier.Fingerprint(C.GoString(appID))
	if err != nil {
		return cstring(map[string]any{"ok": false, "error": err.Error()})
	}
	return cstring(map[string]any{"ok": true, "fingerprint": fp})
}

// narcidi_free frees a string returned by this library.
//
//export narcidi_free
func narcidi_free(s *C.char) { C.free(unsafe.Pointer(s)) }
