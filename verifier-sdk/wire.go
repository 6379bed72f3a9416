package verifier

import "time"

// The JSON bodies of the client API (/v1/client/...). They live here, beside
// the lease claims, because they are the contract between the server and the
// apps: the server decodes exactly these types and the SDK's Client sends them.

// MachineRequest names a license and the machine asking. It is the body of
// activate, renew, heartbeat, deactivate and validate; activate also reads the
// descriptive fields.
type MachineRequest struct {
	LicenseKey  string `json:"license_key"`
	Fingerprint string `json:"fingerprint"`
	Name        string `json:"name,omitempty"`
	Hostname    string `json:"hostname,omitempty"`
	Platform    string `json:"platform,omitempty"`
	// AppVersion is the app's version, at most 64 characters (optional:
	// usage telemetry; the server keeps the versions seen each day).
	AppVersion string `json:"app_version,omitempty"`
	// ClockTampering reports the clock tampering the SDK saw since its last
	// renewal (optional; Manager sends it on its next renewal and clears it
	// once one succeeds). Servers before it refuse the member, so Manager
	// sends it only when there is something to report.
	ClockTampering *ClockTamperingReport `json:"clock_tampering,omitempty"`
	// Components are the machine's hardware component ids (board, disk,
	// MAC, OS install id), each hashed with the app's HMAC as the
	// fingerprint is: at most 16, each at most 128 characters. A policy's
	// matching rule uses them to keep the seat of a machine whose
	// fingerprint drifted. Servers before it refuse the member, so the
	// SDK sends it only when the app collected components.
	Components []string `json:"components,omitempty"`
}

// ClockTamperingReport says how often the ClockGuard refused the clock
// since the last renewal, and when, by the machine's own clock (the
// tampered one, possibly: figures to read, not to trust).
type ClockTamperingReport struct {
	Count   int       `json:"count"`
	FirstAt time.Time `json:"first_at"`
	LastAt  time.Time `json:"last_at"`
}

// LeaseResponse is the answer to activate and renew.
type LeaseResponse struct {
	Lease          string    `json:"lease"`
	LeaseExpiresAt time.Time `json:"lease_expires_at"`
	MachineID      string    `json:"machine_id"`
	LicenseID      string    `json:"license_id"`
	ProductID      string    `json:"product_id"`
	// HeartbeatInterval is how often to heartbeat, in seconds (0: no heartbeat
	// required): half the policy's heartbeat window (at least 1), so a
	// heartbeat at this pace arrives well before the machine counts as offline.
	HeartbeatInterval int `json:"heartbeat_interval"`
	// Overage is how many machines the license has beyond its seats, in
	// the overage its policy allows (0: not over); the lease says so too.
	Overage int `json:"overage,omitempty"`
}

// HeartbeatResponse is the answer to a heartbeat.
type HeartbeatResponse struct {
	MachineID     string    `json:"machine_id"`
	LastHeartbeat time.Time `json:"last_heartbeat"`
	NextHeartbeat time.Time `json:"next_heartbeat_before"`
}

// ValidateResponse is the answer to an online validation. Code is one of the
// Validation* constants.
type ValidateResponse struct {
	Valid     bool       `json:"valid"`
	Code      string     `json:"code"`
	Detail    string     `json:"detail"`
	LicenseID string     `json:"license_id,omitempty"`
	Status    string     `json:"status,omitempty"`
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
}

// Validation reason codes. They cross the wire: only ever add.
const (
	ValidationValid        = "valid"
	ValidationNotFound     = "not_found"
	ValidationSuspended    = "suspended"
	ValidationRevoked      = "revoked"
	ValidationExpired      = "expired"
	ValidationNotActivated = "not_activated" // the fingerprint holds no seat on the license
)

// Problem is an RFC 9457 problem document, as every error of the API is sent.
// Code is stable and machine-readable; Detail is for people.
type Problem struct {
	Type      string `json:"type"`
	Title     string `json:"title"`
	Status    int    `json:"status"`
	Detail    string `json:"detail,omitempty"`
	Code      string `json:"code"`
	RequestID string `json:"request_id,omitempty"`
	// InvalidParams names the request fields a refusal is about (RFC 9457
	// section 3's "invalid-params" extension, snake_cased like every other
	// member), so a client can put the message beside the field it concerns.
	InvalidParams []InvalidParam `json:"invalid_params,omitempty"`
}

// InvalidParam is one field a request was refused for: its name as the
// request spells it (a JSON member, dotted for nested ones) and why.
type InvalidParam struct {
	Name   string `json:"name"`
	Reason string `json:"reason"`
}

// UseRequest spends uses of a meter of the license (POST
// /v1/client/meters/use). Meter is the entitlement code the meter counts
// ("" for the license's own); ID is chosen by the app, at most 128 bytes,
// one per increment: the server counts an ID once, however often it is
// sent. Uses defaults to 1. Report marks uses already spent offline out of
// a lease's allowance: they are counted even past the bound (they
// happened), and never twice. The server takes this type as it is
// (licensing.UseRequest is an alias of it): a field added here is one the
// server reads.
type UseRequest struct {
	LicenseKey  string `json:"license_key"`
	Fingerprint string `json:"fingerprint"`
	Meter       string `json:"meter,omitempty"`
	ID          string `json:"id"`
	Uses        int64  `json:"uses,omitempty"`
	Report      bool   `json:"report,omitempty"`
}

// UseResponse is the meter after a use. Remaining is -1 for a meter without
// bound; Total counts every use ever accepted (it never goes down);
// Replayed says the ID had been counted before and nothing was added.
type UseResponse struct {
	MeterID   string `json:"meter_id"`
	Meter     string `json:"meter"`
	Uses      int64  `json:"uses"`
	MaxUses   int64  `json:"max_uses"`
	Remaining int64  `json:"remaining"`
	Total     int64  `json:"total"`
	Replayed  bool   `json:"replayed"`
}
