package verifier

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestActivationRequestRoundTrip(t *testing.T) {
	r := NewActivationRequest(testProduct, "NZL-1", testFP, "pc-1", "linux/amd64", testNow)
	path := filepath.Join(t.TempDir(), "request.json")
	if err := WriteActivationRequest(path, r); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v", fi.Mode())
	}
	b, _ := os.ReadFile(path)
	got, err := ParseActivationRequest(b)
	if err != nil || got != r {
		t.Fatalf("ParseActivationRequest = %+v, %v", got, err)
	}
	for name, bad := range map[string]string{
		"unknown member": `{"type":"narcidi-activation-request","v":1,"product":"p","license_key":"k","fingerprint":"f","evil":1}`,
		"wrong type":     `{"type":"narcidi-lease-file","v":1,"product":"p","license_key":"k","fingerprint":"f"}`,
		"version 2":      `{"type":"narcidi-activation-request","v":2,"product":"p","license_key":"k","fingerprint":"f"}`,
		"no key":         `{"type":"narcidi-activation-request","v":1,"product":"p","fingerprint":"f"}`,
		"trailing":       `{"type":"narcidi-activation-request","v":1,"product":"p","license_key":"k","fingerprint":"f"} {}`,
	} {
		if _, err := ParseActivationRequest([]byte(bad)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestImportLease(t *testing.T) {
	v := testVerifier(t)
	path := filepath.Join(t.TempDir(), "lease.json")
	good := MarshalLeaseFile(signLease(t, testClaims()))
	if _, err := ImportLease(v, good, path); err != nil {
		t.Fatal(err)
	}
	other := MarshalLeaseFile(signLease(t, claimsWith(func(c *LeaseClaims) { c.Fingerprint = "another" })))
	if _, err := ImportLease(v, other, filepath.Join(t.TempDir(), "x")); !errors.Is(err, ErrFingerprintMismatch) {
		t.Fatalf("lease of another machine: %v", err)
	}
	if _, err := ImportLease(v, []byte(`{"type":"narcidi-lease-file","v":1,"lease":"x","more":1}`), path); err == nil {
		t.Fatal("unknown member accepted")
	}
}

func FuzzParseLeaseFile(f *testing.F) {
	f.Add(MarshalLeaseFile(signLease(f, testClaims())))
	f.Add([]byte(`{"type":"narcidi-lease-file","v":1,"lease":""}`))
	f.Add([]byte(`{"type":"narcidi-lease-file","v":1,"lease":"a.b.c"} x`))
	v := testVerifier(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		tok, err := ParseLeaseFile(b)
		if err != nil {
			return
		}
		if tok == "" || len(tok) > MaxTokenSize {
			t.Fatalf("accepted token of %d bytes", len(tok))
		}
		// Whatever it accepts, it writes back the same way.
		again, err := ParseLeaseFile(MarshalLeaseFile(tok))
		if err != nil || again != tok {
			t.Fatalf("round trip: %v", err)
		}
		_, _ = v.Verify(tok) // must not panic
	})
}

func FuzzParseActivationRequest(f *testing.F) {
	f.Add(MarshalActivationRequest(NewActivationRequest(testProduct, "NZL-1", testFP, "pc", "linux/amd64", testNow)))
	f.Add([]byte(`{"type":"narcidi-activation-request","v":1,"product":"p","license_key":"k","fingerprint":"f","created_at":"2026-01-01T00:00:00Z"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := ParseActivationRequest(b)
		if err != nil {
			return
		}
		if r.Type != ActivationRequestFileType || r.LicenseKey == "" || r.Fingerprint == "" || r.Product == "" {
			t.Fatalf("accepted %+v", r)
		}
		var loose map[string]json.RawMessage
		if json.Unmarshal(b, &loose) != nil {
			t.Fatal("accepted what encoding/json refuses")
		}
		again, err := ParseActivationRequest(MarshalActivationRequest(r))
		if err != nil || !bytes.Equal(MarshalActivationRequest(again), MarshalActivationRequest(r)) {
			t.Fatalf("round trip: %v", err)
		}
	})
}
