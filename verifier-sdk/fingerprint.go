package verifier

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"strings"
)

// Environment variables that override the machine id, for containers and
// cloned VMs whose /etc/machine-id is shared or missing: give each instance
// its own stable id.
const (
	MachineIDEnv     = "NARCIDI_MACHINE_ID"
	MachineIDFileEnv = "NARCIDI_MACHINE_ID_FILE"
)

var machineIDFiles = []string{"/etc/machine-id", "/var/lib/dbus/machine-id"}

// Fingerprint returns this machine's fingerprint for the app appID: the
// HMAC-SHA256 of the machine id keyed by appID, in hex. The raw machine id
// never leaves the machine, and two apps see different fingerprints.
//
// The machine id comes from, in order: $NARCIDI_MACHINE_ID; the file named
// by $NARCIDI_MACHINE_ID_FILE (when set, it is the only file read: a missing
// file is an error rather than a silent fall back to an id that clones
// share); /etc/machine-id; /var/lib/dbus/machine-id. Surrounding white space
// is trimmed.
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
