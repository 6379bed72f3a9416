package verifier

import (
	"os"
	"path/filepath"
	"testing"
)

func TestFingerprint(t *testing.T) {
	t.Setenv(MachineIDEnv, "machine-abc")
	a, err := Fingerprint("app-one")
	if err != nil {
		t.Fatal(err)
	}
	if a != FingerprintFrom("app-one", "machine-abc") || len(a) != 64 {
		t.Errorf("fingerprint = %s", a)
	}
	b, _ := Fingerprint("app-two")
	if a == b {
		t.Error("two apps share a fingerprint")
	}
	if a2, _ := Fingerprint("app-one"); a2 != a {
		t.Error("fingerprint not stable")
	}
	if _, err := Fingerprint(""); err == nil {
		t.Error("empty app id accepted")
	}
}

func TestFingerprintFromFile(t *testing.T) {
	t.Setenv(MachineIDEnv, "")
	p := filepath.Join(t.TempDir(), "id")
	if err := os.WriteFile(p, []byte("  from-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv(MachineIDFileEnv, p)
	got, err := Fingerprint("app")
	if err != nil || got != FingerprintFrom("app", "from-file") {
		t.Fatalf("got %s, %v", got, err)
	}
	t.Setenv(MachineIDFileEnv, filepath.Join(t.TempDir(), "missing"))
	if _, err := Fingerprint("app"); err == nil {
		t.Error("missing id file accepted")
	}
}
