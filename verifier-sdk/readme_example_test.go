package verifier_test

import (
	"context"
	"crypto/ed25519"
	_ "embed"
	"errors"
	"io/fs"
	"log"
	"os"
	"path/filepath"
	"sync"
	"time"

	verifier "github.com/nzilacode/narcidicontrole/verifier-sdk"
)

// The Go snippets of README.md's SDK sections are the regions between
// "readme:<name>" and "readme:end" below, word for word (one tab less):
// TestReadmeSnippetsAreTheExamples checks that README.md shows them, so
// what the README shows compiles with the SDK as it is. The examples have
// no Output: go test compiles them but does not run them (they need a
// server).

// pinnedJWKS is the server's public signing keys (or, with a root key, the
// root's root.jwks.json), fetched once from
// https://<server>/.well-known/jwks.json and shipped inside the app: the
// app trusts these keys, never keys it downloads at run time.
//
//go:embed testdata/readme.jwks.json
var pinnedJWKS []byte

// Example_activateAndVerify is the README's first SDK snippet: activate
// this machine, then verify the lease offline.
func Example_activateAndVerify() {
	ctx := context.Background()
	key, productID := os.Getenv("MYAPP_LICENSE_KEY"), "0190e2f4-0000-7000-8000-000000000000"
	run := func() error {
		// readme:quickstart
		fp, err := verifier.Fingerprint("my-app") // HMAC of the machine id
		if err != nil {
			return err
		}
		c := &verifier.Client{BaseURL: "https://licensing.nzilacode.com"}
		res, err := c.Activate(ctx, verifier.MachineRequest{LicenseKey: key, Fingerprint: fp})
		if err != nil {
			return err // *verifier.Error: seat_limit, license_suspended, ... (a nil res: never use it)
		}
		keys, err := verifier.ParseJWKS(pinnedJWKS) // shipped with the app (see "pinnedJWKS" below)
		if err != nil {
			return err
		}
		v, err := verifier.New(verifier.Config{Keys: keys, Product: productID, Fingerprint: fp})
		if err != nil {
			return err
		}
		lease, err := v.Verify(res.Lease) // offline; typed errors (verifier.ErrExpired, ...)
		if err != nil {
			return err
		}
		if lease.HasEntitlement("export") {
			log.Print("export is on")
		}
		// readme:end
		return nil
	}
	_ = run
}

// Example_manager is the README's lease manager snippet: activate once,
// then let the Manager renew.
func Example_manager() {
	ctx := context.Background()
	dir, _ := os.UserConfigDir()
	leasePath, clockPath := filepath.Join(dir, "my-app", "lease.json"), filepath.Join(dir, "my-app", "clock.json")
	appSecret := []byte("a secret compiled into the app")
	var c *verifier.Client
	var v *verifier.Verifier
	var req verifier.MachineRequest
	run := func() error {
		// readme:manager
		if _, err := os.Stat(leasePath); errors.Is(err, fs.ErrNotExist) {
			res, err := c.Activate(ctx, req) // takes a seat
			if err != nil {
				return err
			}
			if err := verifier.WriteLeaseFile(leasePath, res.Lease); err != nil {
				return err
			}
		}
		loaded := make(chan struct{})
		var once sync.Once
		m := &verifier.Manager{Verifier: v, Client: c, Request: req, Path: leasePath, Grace: time.Hour,
			Guard: &verifier.ClockGuard{Path: clockPath, Secret: appSecret},
			OnChange: func(e verifier.Event) {
				log.Print(e.State, e.Err)
				once.Do(func() { close(loaded) }) // the first call: the lease file is read and checked
			}}
		go m.Run(ctx)
		<-loaded // before this, HasEntitlement is false: no lease is in hand yet
		if m.HasEntitlement("export") {
			log.Print("export is on")
		}
		// readme:end
		return nil
	}
	_ = run
}

// Example_updater is the README's update snippet (section Releases).
func Example_updater() {
	ctx := context.Background()
	var m *verifier.Manager
	var key, url, productID, configDir, currentVersion, exe string
	var metaKey, releaseKey ed25519.PublicKey
	run := func() error {
		// readme:updater
		creds := verifier.Credentials{LicenseKey: key}
		u, err := verifier.NewUpdater(verifier.UpdaterConfig{
			Client: &verifier.Client{BaseURL: url}, Product: productID, Channel: "stable",
			MetadataKeys: []ed25519.PublicKey{metaKey}, ReleaseKeys: []ed25519.PublicKey{releaseKey},
			StateFile:      filepath.Join(configDir, "update-state.json"), // anti-rollback memory
			HasEntitlement: m.HasEntitlement,                              // skip releases this license cannot download
		})
		if err != nil {
			return err
		}
		upd, err := u.Check(ctx, creds, currentVersion) // nil, nil: up to date
		if err != nil || upd == nil {
			return err
		}
		if err := u.Download(ctx, creds, upd, exe+".new"); err != nil { // length, SHA-256/512 and signature checked
			return err // nothing was replaced
		}
		if err := verifier.ReplaceExecutable(exe+".new", exe); err != nil {
			return err
		}
		// readme:end
		return nil
	}
	_ = run
}
