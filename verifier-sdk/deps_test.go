package verifier

import (
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
)

// An app that links the SDK pulls in the standard library and the
// machine-id library, nothing else: no server code, no JOSE library.
func TestDependencies(t *testing.T) {
	goCmd := filepath.Join(runtime.GOROOT(), "bin", "go")
	for _, goos := range []string{"linux", "darwin", "windows"} {
		cmd := exec.Command(goCmd, "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", ".", "./cabi")
		cmd.Env = append(cmd.Environ(), "GOOS="+goos, "CGO_ENABLED=1")
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("go list -deps (GOOS=%s): %v", goos, err)
		}
		allowed := []string{"github.com/nzilacode/narcidicontrole/verifier-sdk", "github.com/nzilacode/narcidicontrole/verifier-sdk/cabi",
			"github.com/denisbrodbeck/machineid", "golang.org/x/sys/windows", "golang.org/x/sys/windows/registry",
			"golang.org/x/sys/internal/unsafeheader"}
		for _, p := range strings.Fields(string(out)) {
			if !slices.Contains(allowed, p) {
				t.Errorf("GOOS=%s: the SDK depends on %s", goos, p)
			}
		}
	}
}
