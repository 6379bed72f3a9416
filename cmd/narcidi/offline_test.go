package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	verifier "github.com/nzilacode/narcidicontrole/verifier-sdk"
)

// Air-gapped activation end to end: the SDK writes a request file, the admin
// turns it into a lease file with the CLI (over the API), the app imports it.
func TestAirGappedActivation(t *testing.T) {
	t.Parallel()
	app := startApp(t, "sqlite")
	admin := apiClient{t, app.URL(), adminToken}
	cat := seedCatalog(t, admin, 2)
	dir := t.TempDir()
	fp := verifier.FingerprintFrom("studio", "air-gapped-1")

	reqPath := filepath.Join(dir, "request.json")
	if err := verifier.WriteActivationRequest(reqPath, verifier.NewActivationRequest(cat.productID, cat.key, fp, "vault-pc", "linux/amd64", time.Now())); err != nil {
		t.Fatal(err)
	}
	leasePath := filepath.Join(dir, "lease-from-admin.json")
	env := map[string]string{"NARCIDI_URL": app.URL(), "NARCIDI_TOKEN": adminToken}
	runOK(t, env, "activate-offline", reqPath, "-out", leasePath, "-ttl", "240h")

	jwks, err := (&verifier.Client{BaseURL: app.URL()}).JWKS(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	v, err := verifier.New(verifier.Config{Keys: jwks, Product: cat.productID, Fingerprint: fp})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(leasePath)
	lease, err := verifier.ImportLease(v, b, filepath.Join(dir, "lease.json"))
	if err != nil {
		t.Fatal(err)
	}
	if ttl := lease.ExpiresAt().Sub(lease.IssuedAt()); ttl != 240*time.Hour {
		t.Fatalf("offline lease TTL %v, want 240h (the policy's online TTL is 1h)", ttl)
	}
	// Another machine cannot use the file.
	v2, _ := verifier.New(verifier.Config{Keys: jwks, Product: cat.productID, Fingerprint: verifier.FingerprintFrom("studio", "other")})
	if _, err := verifier.ImportLease(v2, b, filepath.Join(dir, "x.json")); err == nil {
		t.Fatal("another machine imported the lease file")
	}

	// Over the API: the TTL is capped (30 days by default), a request of
	// another product takes no seat, and only admins may call it.
	req := verifier.NewActivationRequest(cat.productID, cat.key, verifier.FingerprintFrom("studio", "air-gapped-2"), "pc2", "linux/amd64", time.Now())
	var out struct {
		LeaseFile      verifier.LeaseFile `json:"lease_file"`
		LeaseExpiresAt time.Time          `json:"lease_expires_at"`
	}
	if status, body := admin.call("POST", "/v1/offline-activations", map[string]any{"request": req, "ttl_seconds": 1 << 40}, &out); status != 201 {
		t.Fatalf("POST /v1/offline-activations = %d %s", status, body)
	}
	if d := time.Until(out.LeaseExpiresAt); d > 30*24*time.Hour || d < 29*24*time.Hour {
		t.Fatalf("capped lease ends in %v, want 30 days", d)
	}
	wrong := req
	wrong.Product, wrong.Fingerprint = "another-product", verifier.FingerprintFrom("studio", "air-gapped-3")
	if status, body := admin.call("POST", "/v1/offline-activations", map[string]any{"request": wrong}, nil); status != 422 || !bytes.Contains(body, []byte(`"code":"invalid"`)) {
		t.Fatalf("another product = %d %s", status, body)
	}
	// Both seats are taken now: a third machine gets seat_limit.
	third := verifier.NewActivationRequest(cat.productID, cat.key, verifier.FingerprintFrom("studio", "air-gapped-4"), "pc4", "linux/amd64", time.Now())
	if status, body := admin.call("POST", "/v1/offline-activations", map[string]any{"request": third}, nil); status != 409 || !bytes.Contains(body, []byte("seat_limit")) {
		t.Fatalf("third seat = %d %s", status, body)
	}
	anon := apiClient{t, app.URL(), ""}
	if status, _ := anon.call("POST", "/v1/offline-activations", map[string]any{"request": req}, nil); status != 401 {
		t.Fatalf("without a token = %d", status)
	}
}
