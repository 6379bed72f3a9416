package verifier

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"strings"

	"github.com/denisbrodbeck/machineid"
)

// Environment variables that override the machine id, for containers and
// cloned VMs whose /etc/machine-id is shared or missing: give each instance
// its own stable id.
const (
	MachineIDEnv     = "NARCIDI_MACHINE_ID"
	MachineIDFileEnv = "NARCIDI_MACHINE_ID_FILE"
)

// platformMachineID reads the operating system's machine id through
// denisbrodbeck/machineid (systemd/dbus machine-id on Linux, IOPlatformUUID on
// macOS, MachineGuid on Windows, hostuuid on BSD): one well-kept library
// rather than our own code per platform. A variable for tests.
var platformMachineID = machineid.ID

// machineIDFiles are read when the library finds nothing (a minimal image
// where it fails, say).
var machineIDFiles = []string{"/etc/machine-id", "/var/lib/dbus/machine-id"}

// Fingerprint returns this machine's fingerprint for the app appID: the
// HMAC-SHA256 of the machine id keyed by appID, in hex. The raw machine id
// never leaves the machine, and two apps see different fingerprints.
//
// The machine id comes from, in order: $NARCIDI_MACHINE_ID; the file named
// by $NARCIDI_MACHINE_ID_FILE (when set, it is the only file read: a missing
// file is an error rather than a silent fall back to an id that clones
// share); the platform's id through github.com/denisbrodbeck/machineid;
// /etc/machine-id; /var/lib/dbus/machine-id. Surrounding white space is
// trimmed. Containers and cloned VMs share the platform id: give each
// instance its own with one of the two variables.
func Fingerprint(appID string) (string, error) {
	if appID == "" {
		return "", errors.New("verifier: an app id is required for the fingerprint")
	}
	id, err := machineID()
	if err != nil {
		return "", err
	}
	return FingerprintFrom(appID, id), nil
}

// FingerprintFrom is the fingerprint of a given machine id.
func FingerprintFrom(appID, machineID string) string {
	m := hmac.New(sha256.New, []byte(appID))
	m.Write([]byte(machineID))
	return hex.EncodeToString(m.Sum(nil))
}

func machineID() (string, error) {
	if id := strings.TrimSpace(os.Getenv(MachineIDEnv)); id != "" {
		return id, nil
	}
	files := machineIDFiles
	if f := os.Getenv(MachineIDFileEnv); f != "" {
		files = []string{f}
	} else if id, err := platformMachineID(); err == nil {
		if id = strings.TrimSpace(id); id != "" && id != "uninitialized" {
			return id, nil
		}
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		// systemd writes "uninitialized" into images until first boot: every
		// clone would share it.
		if id := strings.TrimSpace(string(b)); id != "" && id != "uninitialized" {
			return id, nil
		}
	}
	return "", errors.New("verifier: no machine id found; set " + MachineIDEnv + " or " + MachineIDFileEnv)
}
