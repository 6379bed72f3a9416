package verifier

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// The two files of the SDK (README.md, "Air-gapped activation"): the lease
// file an app keeps (and an admin hands to an air-gapped machine), and the
// activation request file an air-gapped machine hands to an admin. Both are
// small JSON documents with a "type" and a version, parsed strictly (unknown
// members and trailing data are refused) and fuzzed.

// File types.
const (
	LeaseFileType             = "narcidi-lease-file"
	ActivationRequestFileType = "narcidi-activation-request"
	maxFileSize               = 64 << 10
)

// LeaseFile is the on-disk form of a lease:
//
//	{"type":"narcidi-lease-file","v":1,"lease":"<compact JWS>"}
type LeaseFile struct {
	Type  string `json:"type"`
	V     int    `json:"v"`
	Lease string `json:"lease"`
}

// ActivationRequest is what an air-gapped machine asks for:
//
//	{"type":"narcidi-activation-request","v":1,"product":"<product id>",
//	 "license_key":"NZL-...","fingerprint":"<hex>","hostname":"...","platform":"linux/amd64",
//	 "created_at":"<RFC 3339>"}
//
// The admin's server checks the license key and the seat exactly as an
// online activation does; the lease it returns is bound to the fingerprint,
// so the file is useless on another machine.
type ActivationRequest struct {
	Type        string    `json:"type"`
	V           int       `json:"v"`
	Product     string    `json:"product"`
	LicenseKey  string    `json:"license_key"`
	Fingerprint string    `json:"fingerprint"`
	Hostname    string    `json:"hostname,omitempty"`
	Platform    string    `json:"platform,omitempty"`
	CreatedAt   time.Time `json:"created_at"`
}

// MachineRequest is the request in the client API's terms.
func (r *ActivationRequest) MachineRequest() MachineRequest {
	return MachineRequest{LicenseKey: r.LicenseKey, Fingerprint: r.Fingerprint, Hostname: r.Hostname, Platform: r.Platform}
}

func decodeStrict(b []byte, v any) error {
	if len(b) > maxFileSize {
		return errors.New("file larger than 64 KiB")
	}
	d := json.NewDecoder(bytes.NewReader(b))
	d.DisallowUnknownFields()
	if err := d.Decode(v); err != nil {
		return err
	}
	if d.More() {
		return errors.New("trailing data")
	}
	var extra json.RawMessage
	if d.Decode(&extra) == nil {
		return errors.New("trailing data")
	}
	return nil
}

// ParseLeaseFile returns the lease token of a lease file. It does not verify
// the lease: Verifier.Verify does.
func ParseLeaseFile(b []byte) (string, error) {
	var f LeaseFile
	if err := decodeStrict(b, &f); err != nil {
		return "", fmt.Errorf("verifier: not a lease file: %w", err)
	}
	if f.Type != LeaseFileType || f.V != 1 || f.Lease == "" || len(f.Lease) > MaxTokenSize {
		return "", errors.New("verifier: not a lease file (type, version or lease)")
	}
	return f.Lease, nil
}

// MarshalLeaseFile is the lease file of token.
func MarshalLeaseFile(token string) []byte {
	b, _ := json.MarshalIndent(LeaseFile{Type: LeaseFileType, V: 1, Lease: token}, "", "  ")
	return append(b, '\n')
}

// WriteLeaseFile writes the lease file of token atomically, 0600.
func WriteLeaseFile(path, token string) error {
	return writeFileAtomic(path, MarshalLeaseFile(token))
}

// NewActivationRequest builds the request file of this machine for an
// air-gapped activation (write it with WriteActivationRequest).
func NewActivationRequest(product, licenseKey, fingerprint, hostname, platform string, now time.Time) ActivationRequest {
	return ActivationRequest{Type: ActivationRequestFileType, V: 1, Product: product, LicenseKey: licenseKey,
		Fingerprint: fingerprint, Hostname: hostname, Platform: platform, CreatedAt: now.UTC().Truncate(time.Second)}
}

// MarshalActivationRequest is the file form of r.
func MarshalActivationRequest(r ActivationRequest) []byte {
	b, _ := json.MarshalIndent(r, "", "  ")
	return append(b, '\n')
}

// WriteActivationRequest writes r to path atomically (0600: it holds the
// license key).
func WriteActivationRequest(path string, r ActivationRequest) error {
	return writeFileAtomic(path, MarshalActivationRequest(r))
}

// ParseActivationRequest reads an activation request file strictly.
func ParseActivationRequest(b []byte) (ActivationRequest, error) {
	var r ActivationRequest
	if err := decodeStrict(b, &r); err != nil {
		return ActivationRequest{}, fmt.Errorf("verifier: not an activation request: %w", err)
	}
	switch {
	case r.Type != ActivationRequestFileType || r.V != 1:
		return ActivationRequest{}, errors.New("verifier: not an activation request (type or version)")
	case r.Product == "" || r.LicenseKey == "" || r.Fingerprint == "":
		return ActivationRequest{}, errors.New("verifier: an activation request needs product, license_key and fingerprint")
	case len(r.LicenseKey) > 256 || len(r.Fingerprint) > 256 || len(r.Product) > 256 || len(r.Hostname) > 256 || len(r.Platform) > 256:
		return ActivationRequest{}, errors.New("verifier: an activation request field is too long")
	}
	return r, nil
}

// ImportLease verifies the lease of a lease file (from an admin, for an
// air-gapped machine) and, only if it verifies for this machine and product,
// stores it at path for the Manager.
func ImportLease(v *Verifier, leaseFile []byte, path string) (*Lease, error) {
	tok, err := ParseLeaseFile(leaseFile)
	if err != nil {
		return nil, err
	}
	l, err := v.Verify(tok)
	if err != nil {
		return nil, err
	}
	return l, WriteLeaseFile(path, tok)
}
