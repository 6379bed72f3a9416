package verifier

import (
	"fmt"
	"net/http"
)

// Code is the kind of a lease verification failure. Codes cross the wire
// (apps report them, switch on them, log them): they are append-only, never
// renamed or reused.
type Code string

const (
	CodeMalformed            Code = "malformed"             // not a lease at all: size, shape, encoding, header or claims syntax, a forbidden header member, no exp
	CodeUnsupportedAlgorithm Code = "unsupported_algorithm" // alg is not EdDSA
	CodeBadSignature         Code = "bad_signature"         // the trusted key of its kid did not sign it
	CodeUnknownKey           Code = "unknown_key"           // no kid, or a kid the KeySet does not trust
	CodeWrongKind            Code = "wrong_kind"            // typ is not LeaseType: another kind of token
	CodeWrongProduct         Code = "wrong_product"         // aud is not Config.Product
	CodeExpired              Code = "expired"               // past exp (plus leeway): renew
	CodeNotYetValid          Code = "not_yet_valid"         // nbf or iat ahead of now (plus leeway): check the clock
	CodeFingerprintMismatch  Code = "fingerprint_mismatch"  // issued for another machine
	CodeBadCertificate       Code = "bad_certificate"       // the signing key's certificate does not chain to a pinned root, or the lease lies outside its window
	CodeCertificateExpired   Code = "certificate_expired"   // the signing key's certificate has ended: the key is retired
	CodeClockTampered        Code = "clock_tampered"        // the clock ran back beyond the tolerance, or the time record was altered
)

// Error is a lease verification failure. errors.Is matches it against the
// Err* sentinels by Code: errors.Is(err, verifier.ErrExpired).
type Error struct {
	Code   Code
	Detail string // for people; not stable
	Err    error  // the cause, if any
}

func (e *Error) Error() string {
	msg := "verifier: lease " + string(e.Code)
	if e.Detail != "" {
		msg += ": " + e.Detail
	}
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

func (e *Error) Unwrap() error { return e.Err }

// Is reports whether target is an *Error of the same Code.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t != nil && t.Code == e.Code
}

// Sentinels for errors.Is, one per Code.
var (
	ErrMalformed            = &Error{Code: CodeMalformed}
	ErrUnsupportedAlgorithm = &Error{Code: CodeUnsupportedAlgorithm}
	ErrBadSignature         = &Error{Code: CodeBadSignature}
	ErrUnknownKey           = &Error{Code: CodeUnknownKey}
	ErrWrongKind            = &Error{Code: CodeWrongKind}
	ErrWrongProduct         = &Error{Code: CodeWrongProduct}
	ErrExpired              = &Error{Code: CodeExpired}
	ErrNotYetValid          = &Error{Code: CodeNotYetValid}
	ErrFingerprintMismatch  = &Error{Code: CodeFingerprintMismatch}
	ErrBadCertificate       = &Error{Code: CodeBadCertificate}
	ErrCertificateExpired   = &Error{Code: CodeCertificateExpired}
	ErrClockTampered        = &Error{Code: CodeClockTampered}
)

func fail(code Code, detail string, err error) *Error {
	return &Error{Code: code, Detail: detail, Err: err}
}

// APIError is a refusal from the Narcidi server: a non-2xx answer, with the
// problem document (RFC 9457) it sent. When the body was not a problem
// document (a proxy's error page, say), Problem is synthesized from the
// status and its Code is "http_<status>".
type APIError struct {
	Status  int
	Problem Problem
}

func (e *APIError) Error() string {
	if e.Problem.Detail != "" {
		return fmt.Sprintf("narcidi: %d %s: %s", e.Status, e.Problem.Code, e.Problem.Detail)
	}
	return fmt.Sprintf("narcidi: %d %s", e.Status, e.Problem.Code)
}

// Code is the server's stable error code, e.g. "license_suspended" or "seat_limit".
func (e *APIError) Code() string { return e.Problem.Code }

func synthesizedProblem(status int) Problem {
	return Problem{
		Type:   "about:blank",
		Title:  http.StatusText(status),
		Status: status,
		Code:   fmt.Sprintf("http_%d", status),
	}
}
