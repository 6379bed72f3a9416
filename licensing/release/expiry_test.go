package release_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/nzilacode/narcidicontrole/licensing"
	"github.com/nzilacode/narcidicontrole/licensing/release"
	"github.com/nzilacode/narcidicontrole/storage"
	"github.com/nzilacode/narcidicontrole/storage/storagetest"
)

// Under a maintaining policy an expired license still downloads the
// releases published before its expiry, and a newer one answers
// updates_expired ("latest" is the newest it may have); under restrict it
// downloads nothing, under revoke it is revoked.
func TestExpiryStrategiesOnDownloads(t *testing.T) {
	t.Parallel()
	storagetest.ForEach(t, func(t *testing.T, st *storage.Store) {
		ctx := context.Background()
		f := newFixture(t, st)
		publish := func(version string) {
			t.Helper()
			r, err := f.svc.CreateRelease(ctx, release.ReleaseInput{ProductID: f.prod, Version: version})
			if err != nil {
				t.Fatal(err)
			}
			data := []byte("build " + version)
			up, err := f.svc.AddArtifact(ctx, r.ID, f.artifact(version, "linux", data))
			if err != nil {
				t.Fatal(err)
			}
			put(t, up.URL, data)
			if _, err := f.svc.Finalize(ctx, r.ID, up.Artifact.ID, release.FinalizeInput{}); err != nil {
				t.Fatal(err)
			}
			if _, err := f.svc.Publish(ctx, r.ID); err != nil {
				t.Fatal(err)
			}
		}
		license := func(action licensing.ExpiryAction) *licensing.CreatedLicense {
			t.Helper()
			pol, err := f.lic.Catalog.CreatePolicy(ctx, licensing.PolicyInput{ProductID: f.prod, Name: string(action), LeaseTTLSeconds: 3600,
				DurationSeconds: 86400, ExpiryAction: action})
			if err != nil {
				t.Fatal(err)
			}
			c, err := f.lic.Customers.CreateCustomer(ctx, licensing.CustomerInput{Name: "Acme " + string(action)})
			if err != nil {
				t.Fatal(err)
			}
			l, err := f.lic.Licenses.CreateLicense(ctx, licensing.LicenseInput{PolicyID: pol.ID, CustomerID: c.ID})
			if err != nil {
				t.Fatal(err)
			}
			return l
		}
		lics := map[licensing.ExpiryAction]*licensing.CreatedLicense{}
		for _, a := range licensing.ExpiryActions {
			lics[a] = license(a)
		}
		publish("1.0.0")
		f.clock.Add(2 * 24 * time.Hour) // every license is past its expiry
		publish("2.0.0")
		download := func(a licensing.ExpiryAction, version string) (string, error) {
			return f.svc.Download(ctx, release.DownloadRequest{Credential: release.Credential{LicenseKey: lics[a].Key},
				Version: version, Platform: "linux", Arch: "amd64"})
		}
		urls := map[string]string{}
		path := func(u string) string { p, _, _ := strings.Cut(u, "?"); return p }
		for _, c := range []struct {
			action  licensing.ExpiryAction
			version string
			code    licensing.Code
		}{
			{licensing.ExpiryMaintain, "1.0.0", ""},
			{licensing.ExpiryMaintain, "latest", ""}, // 1.0.0
			{licensing.ExpiryMaintain, "2.0.0", licensing.EUpdatesExpired},
			{licensing.ExpiryAllow, "2.0.0", ""},
			{licensing.ExpiryRestrict, "1.0.0", licensing.ELicenseExpired},
			{licensing.ExpiryRevoke, "1.0.0", licensing.ELicenseRevoked},
		} {
			u, err := download(c.action, c.version)
			if licensing.ErrorCode(err) != c.code {
				t.Fatalf("%s %s: %v, want %q", c.action, c.version, err, c.code)
			}
			urls[string(c.action)+" "+c.version] = path(u)
		}
		if urls["maintain latest"] != urls["maintain 1.0.0"] {
			t.Errorf("latest under maintain: %s, want 1.0.0's %s", urls["maintain latest"], urls["maintain 1.0.0"])
		}
	})
}
