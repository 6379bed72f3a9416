package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	verifier "github.com/nzilacode/narcidicontrole/verifier-sdk"
)

// runOK runs the narcidi command line and fails the test on a non-zero exit.
func runOK(t *testing.T, env map[string]string, args ...string) string {
	t.Helper()
	var out, errOut bytes.Buffer
	if code := run(context.Background(), args, func(k string) string { return env[k] }, &out, &errOut); code != 0 {
		t.Fatalf("narcidi %s: exit %d: %s%s", strings.Join(args, " "), code, out.String(), errOut.String())
	}
	return out.String()
}

// startStop runs the server on the data dir of env until the returned
// function stops it: the rotation test restarts the server, as an operator
// does after attaching a certificate.
func startStop(t *testing.T, env map[string]string) (*App, func()) {
	t.Helper()
	app, _ := launch(t, env)
	return app, func() {
		if err := app.Close(); err != nil {
			t.Error(err)
		}
	}
}

func fetchJWKS(t *testing.T, app *App, path string) []byte {
	t.Helper()
	resp, err := http.Get(app.URL() + "/.well-known/jwks.json")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return b
}

// Key rotation end to end (issue 6): an app that pins only the root key
// accepts the leases of key 1 and, after a rotation, of key 2, with no new
// build; a key whose certificate has ended stops counting.
func TestKeyRotationThroughRootKey(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	offline := t.TempDir() // the root's machine
	runOK(t, nil, "keys", "root", "generate", "-out", offline)
	rootPath, rootsPath := filepath.Join(offline, "root.key.json"), filepath.Join(offline, "root.jwks.json")
	if fi, err := os.Stat(rootPath); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("root private key file: %v %v", fi, err)
	}
	rootsJSON, _ := os.ReadFile(rootsPath)
	roots, err := verifier.ParseJWKS(rootsJSON)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(rootsJSON), `"d"`) {
		t.Fatal("the public root file holds a private part")
	}

	env := map[string]string{
		"NARCIDI_ADDR": "127.0.0.1:0", "NARCIDI_DATA_DIR": t.TempDir(), "NARCIDI_ADMIN_TOKEN": adminToken,
		"NARCIDI_LOG_LEVEL": "warn", "NARCIDI_TOKEN_RATE": "10000/m",
	}
	certify := func(app *App, name, validFor string) {
		jwksPath := filepath.Join(offline, name+".jwks.json")
		fetchJWKS(t, app, jwksPath)
		certPath := filepath.Join(offline, name+".cert")
		runOK(t, nil, "keys", "certify", "-root", rootPath, "-jwks", jwksPath, "-not-before", time.Now().Add(-time.Minute).UTC().Format(time.RFC3339), "-valid-for", validFor, "-out", certPath)
		runOK(t, env, "keys", "attach", certPath, rootsPath)
	}

	// Key 1, certified for 30 minutes; the policy's leases last an hour.
	app, stop := startStop(t, env)
	cat := seedCatalog(t, apiClient{t, app.URL(), adminToken}, 2)
	fp := verifier.FingerprintFrom("studio", "machine-1")
	req := verifier.MachineRequest{LicenseKey: cat.key, Fingerprint: fp}
	if _, err := (&verifier.Client{BaseURL: app.URL()}).Activate(ctx, req); err != nil {
		t.Fatal(err)
	}
	certify(app, "key1", "30m")
	stop()

	app, stop = startStop(t, env)
	sdk := &verifier.Client{BaseURL: app.URL()}
	res1, err := sdk.Renew(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	jwks1, _ := sdk.JWKS(ctx)
	stop()

	// Rotate: key 2 becomes active, key 1 is retired but kept.
	runOK(t, env, "keys", "generate")
	app, stop = startStop(t, env)
	certify(app, "key2", "24h")
	stop()

	app, stop = startStop(t, env)
	defer stop()
	sdk = &verifier.Client{BaseURL: app.URL()}
	res2, err := sdk.Renew(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	jwks2Raw := fetchJWKS(t, app, filepath.Join(t.TempDir(), "jwks.json"))

	appAt := func(at time.Time) *verifier.Verifier {
		v, err := verifier.New(verifier.Config{Roots: roots, Product: cat.productID, Fingerprint: fp, Clock: func() time.Time { return at }})
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	now := time.Now()
	l1, err := appAt(now).Verify(res1.Lease)
	if err != nil {
		t.Fatalf("old lease (key 1) after the rotation: %v", err)
	}
	l2, err := appAt(now).Verify(res2.Lease)
	if err != nil {
		t.Fatalf("new lease (key 2): %v", err)
	}
	if l1.KeyID == l2.KeyID || l1.Certificate == nil || l2.Certificate == nil || l2.Certificate.Subject != l2.KeyID {
		t.Fatalf("kids %s %s, certificates %+v %+v", l1.KeyID, l2.KeyID, l1.Certificate, l2.Certificate)
	}
	if _, ok := jwks1.Lookup(l2.KeyID); ok {
		t.Fatal("key 2 existed before the rotation")
	}
	// Past key 1's window (30m) but within the lease's hour: refused.
	if _, err := appAt(now.Add(45 * time.Minute)).Verify(res1.Lease); !errors.Is(err, verifier.ErrCertificateExpired) {
		t.Fatalf("lease of a key whose certificate ended: %v", err)
	}
	if _, err := appAt(now.Add(45 * time.Minute)).Verify(res2.Lease); err != nil {
		t.Fatalf("key 2 at +45m: %v", err)
	}
	// Standard RFC 8037 verifiers still verify with the JWKS: the
	// certificate header is a private parameter they ignore.
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(jwks2Raw, &set); err != nil {
		t.Fatal(err)
	}
	for _, tok := range []string{res1.Lease, res2.Lease} {
		obj, err := jose.ParseSigned(tok, []jose.SignatureAlgorithm{jose.EdDSA})
		if err != nil {
			t.Fatal(err)
		}
		keys := set.Key(obj.Signatures[0].Header.KeyID)
		if len(keys) != 1 {
			t.Fatalf("kid %s not in the JWKS", obj.Signatures[0].Header.KeyID)
		}
		if _, err := obj.Verify(keys[0].Key); err != nil {
			t.Fatal(err)
		}
	}
	// A certificate for a key the server does not hold is refused.
	other := filepath.Join(offline, "other.cert")
	if err := os.WriteFile(other, []byte("x.y.z"), 0o644); err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	if code := run(ctx, []string{"keys", "attach", other, rootsPath}, func(k string) string { return env[k] }, &out, &errOut); code == 0 {
		t.Fatal("attaching garbage succeeded")
	}
}
