package verifier

// UpdateCode is the kind of an update check or download refusal. Like Code,
// update codes cross the wire (apps log and report them): append only.
type UpdateCode string

const (
	UpdateMalformed         UpdateCode = "metadata_malformed"     // not a signed metadata document, or not for this product and channel
	UpdateBadSignature      UpdateCode = "metadata_bad_signature" // no trusted metadata key signed it
	UpdateExpired           UpdateCode = "metadata_expired"       // past its expiry: a frozen or withheld list
	UpdateReplayed          UpdateCode = "metadata_replayed"      // an older metadata version than one already accepted
	UpdateRollback          UpdateCode = "rollback"               // a release older than the newest already accepted
	UpdateNoArtifact        UpdateCode = "no_artifact"            // no release for this platform and architecture
	UpdateLengthMismatch    UpdateCode = "length_mismatch"        // the file is not as long as the metadata says
	UpdateHashMismatch      UpdateCode = "hash_mismatch"          // SHA-256 or SHA-512 differ from the metadata
	UpdateArtifactSignature UpdateCode = "artifact_bad_signature" // no trusted release key signed the artifact
	UpdateState             UpdateCode = "state_unavailable"      // the anti-rollback state file cannot be read or written
	// The release was published after the license expired, and the
	// license's policy keeps the app working without newer releases
	// ("maintain"): renew the license to update. The server's refusal
	// (an *APIError, problem code "updates_expired") is wrapped.
	UpdateLicenseExpired UpdateCode = "updates_expired"
)

// UpdateError is a refused update. errors.Is matches it against the
// ErrUpdate* sentinels by Code.
type UpdateError struct {
	Code   UpdateCode
	Detail string
	Err    error
}

func (e *UpdateError) Error() string {
	msg := "verifier: update " + string(e.Code)
	if e.Detail != "" {
		msg += ": " + e.Detail
	}
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

func (e *UpdateError) Unwrap() error { return e.Err }

// Is reports whether target is an *UpdateError of the same Code.
func (e *UpdateError) Is(target error) bool {
	t, ok := target.(*UpdateError)
	return ok && t != nil && t.Code == e.Code
}

// Sentinels for errors.Is, one per UpdateCode.
var (
	ErrUpdateMalformed         = &UpdateError{Code: UpdateMalformed}
	ErrUpdateBadSignature      = &UpdateError{Code: UpdateBadSignature}
	ErrUpdateExpired           = &UpdateError{Code: UpdateExpired}
	ErrUpdateReplayed          = &UpdateError{Code: UpdateReplayed}
	ErrUpdateRollback          = &UpdateError{Code: UpdateRollback}
	ErrUpdateNoArtifact        = &UpdateError{Code: UpdateNoArtifact}
	ErrUpdateLengthMismatch    = &UpdateError{Code: UpdateLengthMismatch}
	ErrUpdateHashMismatch      = &UpdateError{Code: UpdateHashMismatch}
	ErrUpdateArtifactSignature = &UpdateError{Code: UpdateArtifactSignature}
	ErrUpdateState             = &UpdateError{Code: UpdateState}
	ErrUpdateLicenseExpired    = &UpdateError{Code: UpdateLicenseExpired}
)

func updateFail(code UpdateCode, detail string, err error) *UpdateError {
	return &UpdateError{Code: code, Detail: detail, Err: err}
}
