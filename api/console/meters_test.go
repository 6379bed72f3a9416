package console_test

import (
	"context"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/nzilacode/narcidicontrole/licensing"
	"github.com/nzilacode/narcidicontrole/storage"
	"github.com/nzilacode/narcidicontrole/storage/storagetest"
)

// The license page shows the license's meters, and its entitlements form
// attaches and detaches through the same service as the API, confirmed
// first and audited.
func TestLicensePageMetersAndEntitlements(t *testing.T) {
	storagetest.ForEach(t, func(t *testing.T, st *storage.Store) {
		ctx := context.Background()
		e := newEnv(t, st)
		_, err := e.svc.Catalog.CreateEntitlement(ctx, licensing.EntitlementInput{Code: "render", Name: "Render"})
		must(t, err)
		b := e.signedIn(licensing.RoleAdmin)
		path := "/console/licenses/" + e.license.ID
		resp, _ := b.act(path+"/entitlements", url.Values{"attach": {"render"}, "reason": {"upsell"}})
		if resp.StatusCode >= 400 {
			t.Fatalf("attach: %d", resp.StatusCode)
		}
		l, err := e.svc.Licenses.License(ctx, e.license.ID)
		must(t, err)
		if !slices.Contains(l.Entitlements, "render") {
			t.Fatalf("attached: %v", l.Entitlements)
		}
		_, err = e.svc.Metering.CreateMeter(ctx, e.license.ID, licensing.MeterInput{Entitlement: "render", MaxUses: 40})
		must(t, err)
		_, page := b.do("GET", path, nil)
		if !strings.Contains(page, `id="meters"`) || !strings.Contains(page, "<code>render</code></td><td>0</td><td>40</td>") {
			t.Errorf("the license page does not show the meter:\n%s", page)
		}
		if !strings.Contains(page, "license.entitlements_changed") {
			t.Errorf("the timeline does not name the change")
		}
	})
}
