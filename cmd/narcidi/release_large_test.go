package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	verifier "github.com/nzilacode/narcidicontrole/verifier-sdk"
)

// heapPeak samples the heap in use of this process (which runs the server,
// the CLI and the SDK) until stop is called, and returns the peak.
func heapPeak() (stop func() uint64) {
	var peak atomic.Uint64
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > peak.Load() {
				peak.Store(ms.HeapInuse)
			}
			select {
			case <-done:
				return
			case <-time.After(5 * time.Millisecond):
			}
		}
	}()
	return func() uint64 { close(done); wg.Wait(); return peak.Load() }
}

// writeLargeFile writes size pseudo-random bytes, 1 MiB at a time: the test
// never holds the file in memory either.
func writeLargeFile(t *testing.T, path string, size int64) {
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rng := rand.NewChaCha8([32]byte{42})
	w := bufio.NewWriterSize(f, 1<<20)
	if _, err := io.CopyN(w, rng, size); err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
}

// A large artifact goes from `narcidi release publish` through the presigned
// multipart upload, the server's finalize check and the SDK's verified
// download with a flat heap: nothing buffers the whole file.
func TestLargeReleaseFlatMemory(t *testing.T) {
	const size = 300 << 20
	dir := t.TempDir()
	ctx := context.Background()
	var out, errOut bytes.Buffer
	if code := run(ctx, []string{"release", "keygen", "-out", dir}, func(string) string { return "" }, &out, &errOut); code != 0 {
		t.Fatalf("keygen: %s", errOut.String())
	}
	pubText, _ := os.ReadFile(filepath.Join(dir, "release.pub"))
	app := startAppWith(t, map[string]string{"NARCIDI_RELEASE_PUBLIC_KEYS": strings.TrimSpace(string(pubText))})
	admin := apiClient{t, app.URL(), adminToken}
	cat := seedCatalog(t, admin, 3)

	big := filepath.Join(dir, "studio-linux-amd64")
	writeLargeFile(t, big, size)
	small := filepath.Join(dir, "studio-darwin.zip")
	os.WriteFile(small, []byte("a small build"), 0o644)

	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	base := ms.HeapInuse
	stop := heapPeak()

	env := map[string]string{"NARCIDI_URL": app.URL(), "NARCIDI_TOKEN": adminToken}
	out.Reset()
	errOut.Reset()
	code := run(ctx, []string{"release", "publish", "-product", cat.productID, "-version", "2.0.0", "-key", filepath.Join(dir, "release.key"),
		"linux/amd64=" + big, "darwin/arm64=" + small}, func(k string) string { return env[k] }, &out, &errOut)
	if code != 0 {
		stop()
		t.Fatalf("publish: %s\n%s", out.String(), errOut.String())
	}

	// The SDK, with the keys pinned, checks and downloads the update.
	var keysOut struct {
		MetadataKeys []struct {
			PublicKey string `json:"public_key"`
		} `json:"metadata_keys"`
	}
	apiClient{t, app.URL(), ""}.call("GET", "/v1/client/releases/keys", nil, &keysOut)
	metaPub, _ := base64.StdEncoding.DecodeString(keysOut.MetadataKeys[0].PublicKey)
	relPub, _ := base64.StdEncoding.DecodeString(strings.TrimSpace(string(pubText)))
	u, err := verifier.NewUpdater(verifier.UpdaterConfig{
		Client: &verifier.Client{BaseURL: app.URL()}, MetadataKeys: []ed25519.PublicKey{metaPub}, ReleaseKeys: []ed25519.PublicKey{relPub},
		Product: cat.productID, Platform: "linux", Arch: "amd64", StateFile: filepath.Join(dir, "state.json"),
	})
	if err != nil {
		t.Fatal(err)
	}
	creds := verifier.Credentials{LicenseKey: cat.key}
	upd, err := u.Check(ctx, creds, "1.9.0")
	if err != nil || upd == nil || upd.Version != "2.0.0" || upd.Artifact.Length != size {
		stop()
		t.Fatalf("Check = %+v, %v", upd, err)
	}
	dst := filepath.Join(dir, "studio.new")
	err = u.Download(ctx, creds, upd, dst)
	peak := stop()
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(dst); err != nil || fi.Size() != size {
		t.Fatalf("downloaded file: %v %v", fi, err)
	}
	growth := int64(peak) - int64(base)
	t.Logf("%d MiB artifact: heap in use %d MiB before, peak %d MiB (growth %d MiB)", size>>20, base>>20, peak>>20, growth>>20)
	// A generous bound that still catches any copy of the whole file (or of a
	// whole 64 MiB part) in memory.
	if growth > 48<<20 {
		t.Errorf("the heap grew by %d MiB while moving a %d MiB file: something buffers it", growth>>20, size>>20)
	}
}
