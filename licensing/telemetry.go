package licensing

import "time"

// UseKind is what a client call did, for telemetry.
type UseKind string

const (
	UseActivation UseKind = "activation"
	UseRenewal    UseKind = "renewal"
	UseHeartbeat  UseKind = "heartbeat"
	UseValidation UseKind = "validation"
	// UseClockTampering is not a call but a report riding on one: the SDK
	// saw the machine's clock set back (kept as a refusal-like event of
	// code ClockTampered).
	UseClockTampering UseKind = "clock_tampering"
)

// ClockTampered is the code of a clock tampering report in telemetry (the
// SDK's error code of the same name). Not an error of this API: nothing
// is refused for it.
const ClockTampered Code = "clock_tampered"

// ClockTampering is what the SDK reports on its next renewal after it saw
// the clock run back: how many times, and when first and last by the
// machine's own clock (which may be the tampered one: figures to read,
// not to trust).
type ClockTampering struct {
	Count   int
	FirstAt time.Time
	LastAt  time.Time
}

// Use is one answered client call, as telemetry sees it (licensing/insights
// rolls them up per day). MachineID is "" for a validation without a
// fingerprint.
type Use struct {
	Kind      UseKind
	LicenseID string
	MachineID string
	At        time.Time
	IP        string // the caller's address; telemetry keeps its /24 or /48 only
	Platform  string
	// AppVersion is the app's version when the SDK sends it.
	AppVersion string
}

// Refusal is a refused client call that matters to insights: an activation
// refused for the seat limit or a blocked machine, a renewal or heartbeat
// refused (Code is the error code).
type Refusal struct {
	Kind        UseKind
	Code        Code
	LicenseID   string
	MachineID   string // "" when the fingerprint holds no seat
	Fingerprint string
	At          time.Time
	IP          string
}

// TelemetryRecorder takes the uses and refusals of the client API. It must
// answer at once (it is on the request path): implementations queue and
// write in batches (insights.Recorder). Safe for concurrent use.
type TelemetryRecorder interface {
	RecordUse(u Use)
	RecordRefusal(r Refusal)
}

// noteUse hands u to the telemetry recorder, if any.
func (s *Leasing) noteUse(u Use) {
	if s.telemetry != nil {
		s.telemetry.RecordUse(u)
	}
}

// noteRefusal records err, a refusal of kind, when it is one insights
// keeps: an activation refused for the seat limit, the abuse caps
// (activation_limited: keys hopping between machines) or a blocked machine,
// any refused renewal or heartbeat of a license that exists. Other errors
// (infrastructure, unknown keys) are not kept.
func (s *Leasing) noteRefusal(kind UseKind, err error, lic *License, m *Machine, req MachineRequest, at time.Time) {
	if s.telemetry == nil || err == nil || lic == nil {
		return
	}
	code := ErrorCode(err)
	switch code {
	case ESeatLimit, EActivationLimited, EMachineBlocked:
	case ENotActivated, ELicenseSuspended, ELicenseRevoked, ELicenseExpired, EForbidden:
		if kind == UseActivation {
			return
		}
	default:
		return
	}
	r := Refusal{Kind: kind, Code: code, LicenseID: lic.ID, Fingerprint: req.Fingerprint, At: at, IP: req.IP}
	if m != nil {
		r.MachineID = m.ID
	}
	s.telemetry.RecordRefusal(r)
}

// noteTampering records the clock tampering a renewal reports, once per
// report (the SDK clears it once a renewal succeeds).
func (s *Leasing) noteTampering(req MachineRequest, licenseID, machineID string, at time.Time) {
	if s.telemetry == nil || req.ClockTampering == nil || req.ClockTampering.Count <= 0 {
		return
	}
	s.telemetry.RecordRefusal(Refusal{Kind: UseClockTampering, Code: ClockTampered, LicenseID: licenseID, MachineID: machineID,
		Fingerprint: req.Fingerprint, At: at, IP: req.IP})
}

// license is v's license; nil when v is.
func (v *LeaseView) license() *License {
	if v == nil {
		return nil
	}
	return v.License
}

// machine is v's machine; nil when v is.
func (v *LeaseView) machine() *Machine {
	if v == nil {
		return nil
	}
	return v.Machine
}
