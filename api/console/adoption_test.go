package console_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/nzilacode/narcidicontrole/licensing"
	"github.com/nzilacode/narcidicontrole/licensing/insights"
	"github.com/nzilacode/narcidicontrole/storage"
	"github.com/nzilacode/narcidicontrole/storage/storagetest"
)

// The product page counts, per app version the SDK reported in the window,
// the distinct machines and licenses (of this product only), and links the
// version to its release; a published release no one runs is named.
func TestProductPageShowsReleaseAdoption(t *testing.T) {
	t.Parallel()
	storagetest.ForEach(t, func(t *testing.T, st *storage.Store) {
		e := newEnv(t, st) // the clock is 2026-05-01
		ctx := context.Background()
		r241 := e.draftRelease("2.4.1")
		_, err := e.ops.releases.Publish(ctx, r241.ID)
		must(t, err)
		r250 := e.draftRelease("2.5.0")
		_, err = e.ops.releases.Publish(ctx, r250.ID)
		must(t, err)
		other, err := e.svc.Catalog.CreateProduct(ctx, licensing.ProductInput{Code: "other", Name: "Other"})
		must(t, err)
		opol, err := e.svc.Catalog.CreatePolicy(ctx, licensing.PolicyInput{ProductID: other.ID, Name: "Basic", MaxMachines: 1, LeaseTTLSeconds: 3600, HeartbeatWindowSeconds: 600})
		must(t, err)
		olic, err := e.svc.Licenses.CreateLicense(ctx, licensing.LicenseInput{PolicyID: opol.ID, CustomerID: e.license.CustomerID})
		must(t, err)
		second, err := e.svc.Licenses.CreateLicense(ctx, licensing.LicenseInput{PolicyID: e.license.PolicyID, CustomerID: e.license.CustomerID})
		must(t, err)
		lic := e.license.ID
		must(t, st.Insights().AddDays(ctx, []insights.Day{
			// 2.4.1: machines m1 (two days) and m2 of the first license,
			// m3 of the second: 3 machines, 2 licenses.
			{Day: "2026-04-28", LicenseID: lic, MachineID: "m1", Renewals: 1, AppVersions: []string{"2.4.1"}},
			{Day: "2026-04-29", LicenseID: lic, MachineID: "m1", Renewals: 1, AppVersions: []string{"2.4.1", "v2.6.0-beta.1"}},
			{Day: "2026-04-29", LicenseID: lic, MachineID: "m2", Heartbeats: 1, AppVersions: []string{"2.4.1"}},
			{Day: "2026-04-30", LicenseID: second.ID, MachineID: "m3", Renewals: 1, AppVersions: []string{"2.4.1"}},
			// Outside the 30 days: not counted (2.5.0 stays unused).
			{Day: "2026-03-01", LicenseID: lic, MachineID: "m4", Renewals: 1, AppVersions: []string{"2.5.0"}},
			// Another product's license: not this product's adoption.
			{Day: "2026-04-30", LicenseID: olic.ID, MachineID: "m5", Renewals: 1, AppVersions: []string{"2.4.1", "9.9.9"}},
		}))
		b := e.signedIn(licensing.RoleReadOnly)
		resp, body := b.do("GET", "/console/products/"+e.license.ProductID, nil)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("product page: %d", resp.StatusCode)
		}
		sec := section(t, body, "adoption", "</section>")
		for _, want := range []string{
			`<td><code>2.4.1</code></td><td><a href="/console/releases/` + r241.ID + `">2.4.1</a> stable, published</td><td>3</td><td>2</td><td>2026-04-30</td>`,
			`<td><code>v2.6.0-beta.1</code></td><td>no release of this version</td><td>1</td><td>1</td><td>2026-04-29</td>`,
			`reported by no machine in the window: <a href="/console/releases/` + r250.ID + `">2.5.0</a>`,
		} {
			if !strings.Contains(sec, want) {
				t.Errorf("the adoption section lacks %s:\n%s", want, sec)
			}
		}
		if strings.Contains(sec, "9.9.9") {
			t.Errorf("another product's versions are counted: %s", sec)
		}
		// 90 days reach March: 2.5.0 now has its machine.
		_, body = b.do("GET", "/console/products/"+e.license.ProductID+"?days=90", nil)
		if sec := section(t, body, "adoption", "</section>"); !strings.Contains(sec, `2.5.0</a> stable, published</td><td>1</td><td>1</td><td>2026-03-01</td>`) {
			t.Errorf("90 days: %s", sec)
		}
	})
}
