package console_test

import (
	"context"
	"strings"
	"testing"

	"github.com/nzilacode/narcidicontrole/licensing"
	"github.com/nzilacode/narcidicontrole/storage"
	"github.com/nzilacode/narcidicontrole/storage/storagetest"
)

// The license page shows the effective policy and marks what the license
// overrides; the machine page shows the components the machine reported.
func TestLicensePageShowsTheEffectivePolicy(t *testing.T) {
	storagetest.ForEach(t, func(t *testing.T, st *storage.Store) {
		e := newEnv(t, st)
		ctx := context.Background()
		ttl := int64(600)
		lic, err := e.svc.Licenses.CreateLicense(ctx, licensing.LicenseInput{PolicyID: e.license.PolicyID, CustomerID: e.license.CustomerID,
			Overrides: &licensing.OverridesInput{LicenseOverrides: licensing.LicenseOverrides{LeaseTTLSeconds: &ttl}}})
		must(t, err)
		g, err := e.svc.Leasing.Activate(ctx, licensing.MachineRequest{Key: lic.Key, Fingerprint: "fingerprint-console",
			Components: []string{"disk-abc", "board-xyz"}})
		must(t, err)
		b := e.signedIn(licensing.RoleAdmin)
		_, page := b.do("GET", "/console/licenses/"+lic.ID, nil)
		for _, want := range []string{`<dd id="effective-lease-ttl">600 s <em>overridden</em>`, `<dd id="effective-grace">`} {
			if !strings.Contains(page, want) {
				t.Errorf("the license page lacks %s:\n%s", want, page)
			}
		}
		if strings.Contains(page, `<dd id="effective-grace">0 s <em>`) {
			t.Error("grace is marked overridden")
		}
		_, page = b.do("GET", "/console/machines/"+g.Machine.ID, nil)
		if !strings.Contains(page, `<code class="id">board-xyz</code> <code class="id">disk-abc</code>`) {
			t.Errorf("the machine page lacks its components:\n%s", page)
		}
	})
}
