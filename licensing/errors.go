package licensing

import (
	"errors"
	"fmt"
)

// Code is a stable, machine-readable error kind. Codes cross the wire (the API
// sends them in problem+json, the SDK reads them): only ever add new ones.
type Code string

// The one error vocabulary of Narcidi. Adapters translate their failures into
// these; api maps them to HTTP status codes in exactly one place.
const (
	EInvalid          Code = "invalid"               // the request breaks a rule (bad field, bad value)
	EMalformed        Code = "malformed"             // the request could not be parsed at all
	ENotFound         Code = "not_found"             // no such thing (or not visible to the caller)
	EConflict         Code = "conflict"              // clashes with existing state (duplicate key...)
	EUnauthorized     Code = "unauthorized"          // no or bad credentials
	EForbidden        Code = "forbidden"             // credentials fine, action not allowed
	ESeatLimit        Code = "seat_limit"            // the license has no free machine seat
	ELicenseSuspended Code = "license_suspended"     // suspended: no new lease until reinstated
	ELicenseRevoked   Code = "license_revoked"       // revoked for good
	ELicenseExpired   Code = "license_expired"       // past its expiry (and grace period)
	ENotActivated     Code = "machine_not_activated" // the fingerprint holds no seat on the license
	EMachineBlocked   Code = "machine_blocked"       // an admin blocked this fingerprint on the license
	ETooLarge         Code = "too_large"             // body over the limit
	EUnsupportedMedia Code = "unsupported_media_type"
	ERateLimited      Code = "rate_limited"
	EUnavailable      Code = "unavailable" // a dependency (database...) is down; retry later
	EInternal         Code = "internal"
	ENotEntitled      Code = "not_entitled"       // the license does not cover this (another product, a missing entitlement)
	EMethodNotAllowed Code = "method_not_allowed" // the path exists, not with this HTTP method
	ETrialUsed        Code = "trial_used"         // this machine already had the product's trial
	// EFingerprintTaken: the fingerprint holds a seat elsewhere in the
	// policy's uniqueness scope (another license of the policy, product...).
	EFingerprintTaken Code = "fingerprint_taken"
	// EActivationLimited: the license's activations or deactivations in the
	// rolling period reached the policy's cap (seat hopping).
	EActivationLimited Code = "activation_limited"
	// ESeatHeld: the seat was taken too recently to be freed (the policy's
	// minimum seat hold time).
	ESeatHeld       Code = "seat_held"
	EMeterExhausted Code = "meter_exhausted" // the meter has no uses left in this period
	EUpdatesExpired Code = "updates_expired" // a release published after the license's expiry (policy "maintain")
)

// Codes is the whole vocabulary, so that adapters can check they map every
// code (api's status table is tested against it, and a test checks this
// list against the constants above).
var Codes = []Code{
	EInvalid, EMalformed, ENotFound, EConflict, EUnauthorized, EForbidden, ESeatLimit,
	ELicenseSuspended, ELicenseRevoked, ELicenseExpired, ENotActivated, EMachineBlocked,
	ETooLarge, EUnsupportedMedia, ERateLimited, EUnavailable, EInternal, ENotEntitled,
	EMethodNotAllowed, ETrialUsed, EFingerprintTaken, EActivationLimited, ESeatHeld,
	EMeterExhausted, EUpdatesExpired,
}

// Error is a domain error: a code for machines, a message safe to show to the
// caller, an optional cause and an optional operation for the logs (neither
// shown to callers), and the input field it is about when there is one.
type Error struct {
	Code    Code
	Message string
	Err     error
	Op      string // what failed, e.g. "storage.GetPolicy", so a logged 500 says where
	// Field names the input the error is about, as the API's JSON spells it
	// ("seats", "entitlements.0"): the API sends it as invalid_params and the
	// console highlights that field, so neither has to read the message.
	Field string
}

func (e *Error) Error() string {
	s := fmt.Sprintf("%s: %s", e.Code, e.Message)
	if e.Op != "" {
		s = e.Op + ": " + s
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

func (e *Error) Unwrap() error { return e.Err }

// Errorf builds an Error with a formatted message.
func Errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// FieldErrorf builds an EInvalid error about one input field (see Error.Field).
func FieldErrorf(field, format string, args ...any) *Error {
	return &Error{Code: EInvalid, Message: fmt.Sprintf(format, args...), Field: field}
}

// WithField sets the input field e is about (see Error.Field) and returns e,
// for the codes other than EInvalid (a duplicate key, a missing reference).
// Call it on a fresh error only: errors kept in variables are shared.
func (e *Error) WithField(field string) *Error {
	e.Field = field
	return e
}

// Wrap attaches a code and message to a cause.
func Wrap(code Code, err error, message string) *Error {
	return &Error{Code: code, Message: message, Err: err}
}

// ErrorCode returns the code of the first *Error in err's chain, EInternal
// for any other non-nil error, and "" for nil.
func ErrorCode(err error) Code {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return EInternal
}

// ErrorMessage returns the caller-safe message of err: the message of its
// *Error, or a generic text for anything else (internal details stay in logs).
func ErrorMessage(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Message
	}
	return "internal error"
}

// ErrorField returns the field the first *Error in err's chain is about, or
// "" when it names none.
func ErrorField(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Field
	}
	return ""
}
