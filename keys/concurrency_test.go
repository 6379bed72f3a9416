package keys

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	verifier "github.com/nzilacode/narcidicontrole/verifier-sdk"
)

// SignLease from many goroutines while the same keyring rotates and other
// keyrings on the folder (other processes, in effect) reload: no race, no
// error, and no reader ever sees a rotation half done.
func TestSignAndReloadDuringRotation(t *testing.T) {
	dir := t.TempDir()
	kr := openRing(t, dir, master(8))
	if _, _, err := kr.EnsureActive(); err != nil {
		t.Fatal(err)
	}
	readers := make([]*Keyring, 2)
	for i := range readers {
		readers[i] = openRing(t, dir, master(8))
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				if _, err := kr.SignLease(context.Background(), verifier.LeaseClaims{Subject: fmt.Sprint(i)}); err != nil {
					t.Error(err)
					return
				}
				_, _ = kr.JWKS()
				_ = kr.List()
			}
		}()
	}
	for _, r := range readers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				if err := r.Reload(); err != nil {
					t.Error("reload during rotation:", err)
					return
				}
				if _, ok := r.Active(); !ok {
					t.Error("a reader saw no active key")
					return
				}
			}
		}()
	}
	var kids []string
	for range 5 {
		kid, err := kr.Generate()
		if err != nil {
			t.Fatal(err)
		}
		kids = append(kids, kid)
		time.Sleep(5 * time.Millisecond)
	}
	close(stop)
	wg.Wait()
	if a, _ := kr.Active(); a != kids[len(kids)-1] {
		t.Errorf("active %s, want the last generated %s", a, kids[len(kids)-1])
	}
	if n := len(kr.List()); n != 6 {
		t.Errorf("%d keys, want 6", n)
	}
}

// Keys made within the same second still list (and publish) the active one
// first.
func TestListActiveFirstSameSecond(t *testing.T) {
	fixed := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	kr, err := Open(t.TempDir(), master(9), func() time.Time { return fixed })
	if err != nil {
		t.Fatal(err)
	}
	var last string
	for range 4 {
		if last, err = kr.Generate(); err != nil {
			t.Fatal(err)
		}
	}
	list := kr.List()
	if list[0].KID != last || list[0].Status != StatusActive {
		t.Errorf("list = %+v, want %s first", list, last)
	}
	for _, k := range list[1:] {
		if k.Status != StatusRetired {
			t.Errorf("key %s is %s", k.KID, k.Status)
		}
	}
}

// Separate processes calling EnsureActive on one empty folder end with one
// key: the flock on dir/.lock, tested across real processes (the test binary
// run again as a helper).
func TestEnsureActiveAcrossProcesses(t *testing.T) {
	dir := t.TempDir()
	const n = 4
	cmds := make([]*exec.Cmd, n)
	outs := make([]strings.Builder, n)
	for i := range cmds {
		cmds[i] = exec.Command(os.Args[0])
		cmds[i].Env = append(os.Environ(), "NARCIDI_KEYS_HELPER_DIR="+dir)
		cmds[i].Stdout, cmds[i].Stderr = &outs[i], &outs[i]
		if err := cmds[i].Start(); err != nil {
			t.Fatal(err)
		}
	}
	kids := map[string]bool{}
	for i, c := range cmds {
		if err := c.Wait(); err != nil {
			t.Fatalf("helper %d: %v\n%s", i, err, outs[i].String())
		}
		for line := range strings.Lines(outs[i].String()) {
			if kid, ok := strings.CutPrefix(strings.TrimSpace(line), "KID="); ok {
				kids[kid] = true
			}
		}
	}
	if len(kids) != 1 {
		t.Fatalf("processes reported %d active keys: %v", len(kids), kids)
	}
	if list := openRing(t, dir, master(10)).List(); len(list) != 1 || list[0].Status != StatusActive {
		t.Errorf("on disk: %+v", list)
	}
}

// TestMain doubles as the helper process of TestEnsureActiveAcrossProcesses:
// with NARCIDI_KEYS_HELPER_DIR set, the test binary only ensures a key there.
func TestMain(m *testing.M) {
	if dir := os.Getenv("NARCIDI_KEYS_HELPER_DIR"); dir != "" {
		kr, err := Open(dir, master(10), nil)
		if err == nil {
			var kid string
			if kid, _, err = kr.EnsureActive(); err == nil {
				fmt.Printf("KID=%s\n", kid)
				os.Exit(0)
			}
		}
		fmt.Println(err)
		os.Exit(1)
	}
	os.Exit(m.Run())
}
