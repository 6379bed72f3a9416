package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Issue 11 item 22: under a pinned root, `keys generate` warns that the new
// key needs a certificate and says the order; `keys list` shows each key's
// certificate; `keys jwks` lets the new key be certified before a restart.
func TestKeysCertificateStatusAndWarning(t *testing.T) {
	t.Parallel()
	env := map[string]string{"NARCIDI_DATA_DIR": t.TempDir(), "NARCIDI_LOG_LEVEL": "warn"}
	keysRun := func(args ...string) (string, string) {
		t.Helper()
		var out, errOut bytes.Buffer
		if code := run(context.Background(), args, func(k string) string { return env[k] }, &out, &errOut); code != 0 {
			t.Fatalf("narcidi %s: exit %d: %s%s", strings.Join(args, " "), code, out.String(), errOut.String())
		}
		return out.String(), errOut.String()
	}
	offline := t.TempDir()
	keysRun("keys", "root", "generate", "-out", offline)

	// No root in use yet: no warning.
	if _, warn := keysRun("keys", "generate"); strings.Contains(warn, "WARNING") {
		t.Errorf("warned without a pinned root: %s", warn)
	}
	list, _ := keysRun("keys", "list")
	if !strings.Contains(list, "CERTIFICATE") || !strings.Contains(list, "none") {
		t.Errorf("keys list:\n%s", list)
	}

	// Certify and attach key 1 from `keys jwks`, with no server running.
	jwks, _ := keysRun("keys", "jwks")
	jwksPath, certPath := filepath.Join(offline, "keys.jwks.json"), filepath.Join(offline, "key1.cert")
	if err := os.WriteFile(jwksPath, []byte(jwks), 0o644); err != nil {
		t.Fatal(err)
	}
	keysRun("keys", "certify", "-root", filepath.Join(offline, "root.key.json"), "-jwks", jwksPath, "-out", certPath)
	keysRun("keys", "attach", certPath, filepath.Join(offline, "root.jwks.json"))
	if list, _ = keysRun("keys", "list"); !strings.Contains(list, "valid until") {
		t.Errorf("keys list after attach:\n%s", list)
	}

	// Key 2 under the pinned root: a warning with the order, and the list
	// says the active key lacks a certificate.
	out, warn := keysRun("keys", "generate")
	for _, want := range []string{"WARNING", "refuse every lease", "narcidi keys jwks", "narcidi keys certify", "narcidi keys attach", "restart"} {
		if !strings.Contains(warn, want) {
			t.Errorf("keys generate under a pinned root: the warning lacks %q:\n%s%s", want, out, warn)
		}
	}
	if list, _ = keysRun("keys", "list"); !strings.Contains(list, "apps that pin the root refuse its leases") || !strings.Contains(list, "valid until") {
		t.Errorf("keys list after the new key:\n%s", list)
	}
}
