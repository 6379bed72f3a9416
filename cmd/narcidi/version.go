package main

import (
	"fmt"
	"io"
	"runtime"
	"runtime/debug"

	"github.com/nzilacode/narcidicontrole/storage"
	"github.com/nzilacode/narcidicontrole/wiring"
)

// stampedVersion and stampedRevision are the release and its commit, set at
// build time (deploy/Dockerfile does, since the image is built without .git):
// go build -ldflags "-X main.stampedVersion=v1.2.0 -X main.stampedRevision=abc123" ./cmd/narcidi
// Unset, the Go toolchain's stamps are used (wiring.BuildVersion).
var stampedVersion, stampedRevision string

// binarySchema is the schema range this binary checks databases against
// (storage/schema.go); tests set an older one to play an older binary.
var binarySchema = storage.BinarySchema()

// buildInfo is what a binary says of itself in `narcidi version` and in
// its start and stop log lines.
type buildInfo struct {
	Version, Revision, GoVersion string
	Modified                     bool
	Schema                       storage.SchemaRange
}

func currentBuild() buildInfo {
	v, r := wiring.BuildVersion(stampedVersion, stampedRevision)
	b := buildInfo{Version: v, Revision: r, GoVersion: runtime.Version(), Schema: binarySchema}
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, s := range info.Settings {
			if s.Key == "vcs.modified" {
				b.Modified = s.Value == "true"
			}
		}
	}
	return b
}

// logAttrs are the build's fields for log lines.
func (b buildInfo) logAttrs() []any {
	return []any{"version", b.Version, "revision", b.Revision, "schema", b.Schema.Version}
}

func printVersion(w io.Writer) {
	b := currentBuild()
	mod := ""
	if b.Modified {
		mod = " (modified)"
	}
	fmt.Fprintf(w, "narcidi %s\nrevision %s%s\n%s\nschema %d (databases it migrates accept binaries of schema %d or newer)\n",
		b.Version, b.Revision, mod, b.GoVersion, b.Schema.Version, b.Schema.OldestBinary)
}
