package verifier

import "fmt"

// Code is the kind of a verification failure. Codes are part of the SDK's
// contract (apps switch on them, the C and Python bindings return them):
// only ever add new ones.
type Code string

const (
	CodeMalformed           Code = "malformed"
	CodeUnsupportedAlg      Code = "unsupported_algorithm"
	CodeBadSignature        Code = "bad_signature"
	CodeUnknownKey          Code = "unknown_key"
	CodeWrongKind           Code = "wrong_kind"
	CodeWrongProduct        Code = "wrong_product"
	CodeExpired             Code = "expired"
	CodeNotYetValid         Code = "not_yet_valid"
	CodeFingerprintMismatch Code = "fingerprint_mismatch"
)

// Error is a verification failure. errors.Is matches it against the Err*
// sentinels by Code, so callers write errors.Is(err, verifier.ErrExpired).
type Error struct {
	Code   Code
	Detail string
	Err    error
}

func (e *Error) Error() string {
	msg := "lease " + string(e.Code)
	if e.Detail != "" {
		msg += ": " + e.Detail
	}
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

func (e *Error) Unwrap() error { return e.Err }

// Is matches any *Error of the same code.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code
}

// Sentinels for errors.Is.
var (
	ErrMalformed           = &Error{Code: CodeMalformed}
	ErrUnsupportedAlg      = &Error{Code: CodeUnsupportedAlg}
	ErrBadSignature        = &Error{Code: CodeBadSignature}
	ErrUnknownKey          = &Error{Code: CodeUnknownKey}
	ErrWrongKind           = &Error{Code: CodeWrongKind}
	ErrWrongProduct        = &Error{Code: CodeWrongProduct}
	ErrExpired             = &Error{Code: CodeExpired}
	ErrNotYetValid         = &Error{Code: CodeNotYetValid}
	ErrFingerprintMismatch = &Error{Code: CodeFingerprintMismatch}
)

func fail(code Code, detail string, err error) *Error {
	return &Error{Code: code, Detail: detail, Err: err}
}

// APIError is a refusal from the Narcidi server: its HTTP status and the
// problem document it sent.
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
