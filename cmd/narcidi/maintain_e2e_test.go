package main

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nzilacode/narcidicontrole/licensing"
	"github.com/nzilacode/narcidicontrole/licensing/release"
	verifier "github.com/nzilacode/narcidicontrole/verifier-sdk"
)

// Under "maintain", through the real server and the SDK's client: an
// expired license still activates and renews its lease; a release
// published after its expiry answers updates_expired, an older one
// downloads; the SDK's updater offers the newer release and, asked to
// download it, says why it may not.
func TestMaintainEndToEnd(t *testing.T) {
	t.Parallel()
	key := newReleaseKey(t)
	app := startAppWith(t, map[string]string{"NARCIDI_RELEASE_PUBLIC_KEYS": base64.StdEncoding.EncodeToString(key.pub)})
	admin := apiClient{t, app.URL(), adminToken}
	cat := seedCatalog(t, admin, 2)
	publish := func(version string) release.Release {
		t.Helper()
		var rel release.Release
		admin.mustCreate("/v1/releases", map[string]any{"product_id": cat.productID, "version": version}, &rel)
		data := []byte("#!/bin/sh\necho " + version + "\n")
		var up release.Upload
		admin.mustCreate("/v1/releases/"+rel.ID+"/artifacts", key.artifactFor(cat.productID, version, "linux", "amd64", "app", data), &up)
		if status, b := uploadAndFinalize(t, admin, rel.ID, up, data); status != 200 {
			t.Fatalf("finalize %s: %d %s", version, status, b)
		}
		if status, b := admin.call("POST", "/v1/releases/"+rel.ID+"/actions/publish", nil, &rel); status != 200 || rel.PublishedAt == nil {
			t.Fatalf("publish %s: %d %s", version, status, b)
		}
		return rel
	}
	old := publish("1.0.0")
	// The license ends on the second after 1.0.0 came out (expiry dates are
	// kept to the second): 1.0.0 is before its expiry, a release published
	// once that second has passed is after it.
	end := old.PublishedAt.Truncate(time.Second).Add(time.Second)
	var pol struct{ ID string }
	admin.mustCreate("/v1/policies", map[string]any{"product_id": cat.productID, "name": "Maintained", "floating": true, "max_machines": 2,
		"lease_ttl_seconds": 3600, "expiry_action": "maintain"}, &pol)
	var lic struct{ ID, Key string }
	admin.mustCreate("/v1/licenses", map[string]any{"policy_id": pol.ID, "customer_id": cat.customerID, "expires_at": end}, &lic)
	time.Sleep(time.Until(end) + 10*time.Millisecond) // the real clock passes the end
	publish("2.0.0")

	sdk := &verifier.Client{BaseURL: app.URL()}
	ctx := context.Background()
	req := verifier.MachineRequest{LicenseKey: lic.Key, Fingerprint: verifier.FingerprintFrom("studio", "maintained-pc")}
	if _, err := sdk.Activate(ctx, req); err != nil {
		t.Fatalf("an expired license under maintain activates: %v", err)
	}
	ren, err := sdk.Renew(ctx, req)
	if err != nil || ren.Lease == "" {
		t.Fatalf("an expired license under maintain renews: %+v %v", ren, err)
	}
	dl := verifier.ReleaseDownloadRequest{LicenseKey: lic.Key, Fingerprint: req.Fingerprint, Platform: "linux", Arch: "amd64"}
	for _, c := range []struct {
		version string
		status  int
		code    string
	}{
		{"2.0.0", http.StatusForbidden, string(licensing.EUpdatesExpired)},
		{"1.0.0", http.StatusSeeOther, ""},
		{"latest", http.StatusSeeOther, ""}, // 1.0.0, the newest it may have
	} {
		dl.Version = c.version
		status, code, loc, _ := download(t, app.URL(), dl)
		if code != c.code || (c.code == "" && (status != c.status || loc == "")) || (c.code != "" && status < 400) {
			t.Errorf("download %s: %d %q (location %q), want %d %q", c.version, status, code, loc, c.status, c.code)
		}
	}

	// The updater, as an app runs it: 2.0.0 is offered, its download is
	// refused with ErrUpdateLicenseExpired and words a person can act on.
	var keysOut struct {
		MetadataKeys []struct {
			PublicKey string `json:"public_key"`
		} `json:"metadata_keys"`
	}
	apiClient{t, app.URL(), ""}.call("GET", "/v1/client/releases/keys", nil, &keysOut)
	if len(keysOut.MetadataKeys) == 0 {
		t.Fatal("no release metadata key")
	}
	metaPub, _ := base64.StdEncoding.DecodeString(keysOut.MetadataKeys[0].PublicKey)
	u, err := verifier.NewUpdater(verifier.UpdaterConfig{Client: sdk, MetadataKeys: []ed25519.PublicKey{metaPub},
		ReleaseKeys: []ed25519.PublicKey{key.pub}, Product: cat.productID, Platform: "linux", Arch: "amd64"})
	if err != nil {
		t.Fatal(err)
	}
	creds := verifier.Credentials{LicenseKey: lic.Key, Fingerprint: req.Fingerprint}
	upd, err := u.Check(ctx, creds, "1.0.0")
	if err != nil || upd == nil || upd.Version != "2.0.0" {
		t.Fatalf("Check from 1.0.0 = %+v, %v: want 2.0.0 offered", upd, err)
	}
	err = u.Download(ctx, creds, upd, filepath.Join(t.TempDir(), "app.new"))
	if !errors.Is(err, verifier.ErrUpdateLicenseExpired) || !strings.Contains(err.Error(), "published after the license expired") {
		t.Fatalf("Download 2.0.0 = %v: want ErrUpdateLicenseExpired, said plainly", err)
	}
}
