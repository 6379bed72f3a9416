package verifier

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestFingerprintFrom(t *testing.T) {
	// Known answers, computed independently (Python hmac).
	for _, tc := range []struct{ app, id, want string }{
		{"app-one", "machine-abc", "f574fc2e757f99d38d1d5513963ded6c2e728de43d8e358572a05d388f6f0643"},
		{"com.nzilacode.studio", "4c4c4544003a4d1080384ac04f4e3232", "410d3edfb34657eb9611df2c717fd3af625fa41ad93d6a0dee3c810fbc34ac6d"},
	} {
		if got := FingerprintFrom(tc.app, tc.id); got != tc.want {
			t.Errorf("FingerprintFrom(%q, %q) = %s, want %s", tc.app, tc.id, got, tc.want)
		}
	}
	if FingerprintFrom("app-one", "m") == FingerprintFrom("app-two", "m") {
		t.Error("two apps share a fingerprint")
	}
	if FingerprintFrom("app", "m1") == FingerprintFrom("app", "m2") {
		t.Error("two machines share a fingerprint")
	}
}

// withMachineIDFiles replaces /etc/machine-id and /var/lib/dbus/machine-id
// for the test.
func withMachineIDFiles(t *testing.T, paths ...string) {
	saved, savedPlatform := machineIDFiles, platformMachineID
	machineIDFiles = paths
	platformMachineID = func() (string, error) { return "", errors.New("no platform id in this test") }
	t.Cleanup(func() { machineIDFiles, platformMachineID = saved, savedPlatform })
}

func writeFile(t *testing.T, content string) string {
	p := filepath.Join(t.TempDir(), "machine-id")
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestFingerprintSources(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "missing")
	etc := writeFile(t, "from-etc\n")
	dbus := writeFile(t, "from-dbus\n")
	custom := writeFile(t, "  from-custom-file \n")
	cases := []struct {
		name     string
		env      string
		fileEnv  string
		defaults []string
		wantID   string // "" for an error
	}{
		{"env wins", " from-env\n", custom, []string{etc}, "from-env"},
		{"then the file env", "", custom, []string{etc}, "from-custom-file"},
		{"a missing file env is an error, not a fall back", "", missing, []string{etc}, ""},
		{"then /etc/machine-id", "", "", []string{etc, dbus}, "from-etc"},
		{"then dbus", "", "", []string{missing, dbus}, "from-dbus"},
		{"empty files are skipped", "", "", []string{writeFile(t, " \n"), dbus}, "from-dbus"},
		{"an uninitialized image id is skipped", "", "", []string{writeFile(t, "uninitialized\n"), dbus}, "from-dbus"},
		{"nothing", "", "", []string{missing}, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv(MachineIDEnv, tc.env)
			t.Setenv(MachineIDFileEnv, tc.fileEnv)
			withMachineIDFiles(t, tc.defaults...)
			got, err := Fingerprint("app")
			if tc.wantID == "" {
				if err == nil {
					t.Fatalf("got %s, want an error", got)
				}
				return
			}
			if err != nil || got != FingerprintFrom("app", tc.wantID) {
				t.Fatalf("got %s, %v; want the fingerprint of %q", got, err, tc.wantID)
			}
		})
	}
}

func TestFingerprint(t *testing.T) {
	t.Setenv(MachineIDEnv, "machine-abc")
	a, err := Fingerprint("app-one")
	if err != nil {
		t.Fatal(err)
	}
	if a != "f574fc2e757f99d38d1d5513963ded6c2e728de43d8e358572a05d388f6f0643" {
		t.Errorf("fingerprint = %s", a)
	}
	if b, _ := Fingerprint("app-two"); b == a || len(b) != 64 {
		t.Errorf("app-two: %s", b)
	}
	if a2, _ := Fingerprint("app-one"); a2 != a {
		t.Error("fingerprint not stable")
	}
	if _, err := Fingerprint(""); err == nil {
		t.Error("empty app id accepted")
	}
}

// Without overrides the id comes from the machine-id library; on Linux it is
// the systemd machine id.
func TestFingerprintUsesMachineIDLibrary(t *testing.T) {
	t.Setenv(MachineIDEnv, "")
	t.Setenv(MachineIDFileEnv, "")
	b, err := os.ReadFile("/etc/machine-id")
	if err != nil {
		t.Fatalf("this test needs /etc/machine-id (Linux with systemd or dbus): %v", err)
	}
	lib, err := platformMachineID()
	if err != nil {
		t.Fatal(err)
	}
	got, err := Fingerprint("app")
	if err != nil || got != FingerprintFrom("app", strings.TrimSpace(lib)) {
		t.Fatalf("Fingerprint = %s, %v", got, err)
	}
	if strings.TrimSpace(lib) != strings.TrimSpace(string(b)) {
		t.Logf("library id differs from /etc/machine-id (dbus copy): fine")
	}
	withMachineIDFiles(t, writeFile(t, "fallback")) // restores the library at the end
	platformMachineID = func() (string, error) { return "uninitialized", nil }
	if got, _ := Fingerprint("app"); got != FingerprintFrom("app", "fallback") {
		t.Fatal("no fall back to the files")
	}
}
