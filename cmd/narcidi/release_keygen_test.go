package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
)

// keygen -out creates a missing folder (nested too) with mode 0700, and
// never overwrites a key already there.
func TestReleaseKeygenCreatesFolder(t *testing.T) {
	t.Parallel()
	for _, sub := range []string{"keys", "a/b/keys"} {
		t.Run(sub, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), sub)
			var out, errOut bytes.Buffer
			if code := run(context.Background(), []string{"release", "keygen", "-out", dir}, func(string) string { return "" }, &out, &errOut); code != 0 {
				t.Fatalf("keygen into a missing folder: %d %s", code, errOut.String())
			}
			fi, err := os.Stat(dir)
			if err != nil || fi.Mode().Perm() != 0o700 {
				t.Fatalf("folder: %v %v", fi, err)
			}
			ki, err := os.Stat(filepath.Join(dir, "release.key"))
			if err != nil || ki.Mode().Perm() != 0o600 {
				t.Fatalf("release.key: %v %v", ki, err)
			}
			if code := run(context.Background(), []string{"release", "keygen", "-out", dir}, func(string) string { return "" }, &out, &errOut); code == 0 {
				t.Fatal("a second keygen overwrote the key")
			}
		})
	}
}
