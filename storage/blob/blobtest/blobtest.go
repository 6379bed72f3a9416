// Package blobtest gives tests a real S3-compatible store: versitygw on a
// free loopback port with a temp folder, one per test, and a fresh bucket. A
// missing versitygw binary fails the test with the command that installs it;
// it is never skipped.
package blobtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/nzilacode/narcidicontrole/storage/blob"
)

const installHint = "install it with: go install github.com/versity/versitygw/cmd/versitygw@v1.8.0 (it lands in $HOME/go/bin, which must be on PATH)"

// Test credentials of the throwaway store.
const (
	AccessKey = "narcidi-test-access"
	SecretKey = "narcidi-test-secret-0123456789"
)

// S3 starts versitygw for the test and returns the configuration of a new,
// empty bucket in it. The server stops when the test ends.
func S3(t testing.TB) blob.S3Config {
	t.Helper()
	return Start(t).Config
}

// Server is a running versitygw with one bucket.
type Server struct {
	Config blob.S3Config
	// Stop ends the server before the test does (to test a store that is down).
	Stop func()
}

// Start is S3 that also gives a way to stop the store early.
func Start(t testing.TB) *Server {
	t.Helper()
	bin, err := exec.LookPath("versitygw")
	if err != nil {
		home, _ := os.UserHomeDir()
		if p := filepath.Join(home, "go", "bin", "versitygw"); fileExists(p) {
			bin = p
		} else {
			t.Fatalf("versitygw (the S3-compatible test store) is not installed: %s", installHint)
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin, "--port", "127.0.0.1:"+strconv.Itoa(port), "posix", dir)
	cmd.Env = append(os.Environ(), "ROOT_ACCESS_KEY="+AccessKey, "ROOT_SECRET_KEY="+SecretKey)
	logFile, err := os.Create(filepath.Join(t.TempDir(), "versitygw.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatalf("start versitygw: %v (%s)", err, installHint)
	}
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			_ = cmd.Wait()
			logFile.Close()
		})
	}
	t.Cleanup(stop)
	endpoint := "http://127.0.0.1:" + strconv.Itoa(port)
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get(endpoint + "/")
		if err == nil {
			resp.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			b, _ := os.ReadFile(logFile.Name())
			t.Fatalf("versitygw did not start on %s: %v\n%s", endpoint, err, b)
		}
		time.Sleep(50 * time.Millisecond)
	}
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	cfg := blob.S3Config{Bucket: "narcidi-test-" + hex.EncodeToString(b), Endpoint: endpoint, PathStyle: true,
		AccessKey: AccessKey, SecretKey: SecretKey, Region: "us-east-1"}
	st, err := blob.NewS3(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.EnsureBucket(context.Background()); err != nil {
		t.Fatalf("create bucket: %v", err)
	}
	return &Server{Config: cfg, Stop: stop}
}

func fileExists(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && !fi.IsDir()
}
