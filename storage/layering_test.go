package storage_test

import (
	"os/exec"
	"strings"
	"testing"
)

// Adapters import licensing, never each other (ARCHITECTURE.md): storage,
// its subpackages and their tests must not depend, even indirectly, on
// another adapter or on cmd. The API's idempotency records are converted in
// cmd, not by importing api here.
func TestStorageImportsNoOtherAdapter(t *testing.T) {
	t.Parallel()
	out, err := exec.Command("go", "list", "-deps", "-test", "../storage/...").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	const module = "github.com/nzilacode/narcidicontrole/"
	deps := strings.Fields(string(out))
	if len(deps) < 10 {
		t.Fatalf("go list gave too little to judge: %q", deps)
	}
	for _, forbidden := range []string{"api", "workers", "keys", "cmd"} {
		for _, d := range deps {
			if d == module+forbidden || strings.HasPrefix(d, module+forbidden+"/") {
				t.Errorf("storage depends on %s (adapters import licensing, never each other)", d)
			}
		}
	}
}
