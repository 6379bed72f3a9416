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
	t.Parallel()
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

// An entitlement retired from its page, confirmed first, shows as retired
// and leaves the policies that granted it.
func TestRetireEntitlementPage(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := storagetest.Open(t, "sqlite")
	e := newEnv(t, st)
	ent, err := e.svc.Catalog.CreateEntitlement(ctx, licensing.EntitlementInput{Code: "old", Name: "Old"})
	must(t, err)
	_, err = e.svc.Licenses.ChangeEntitlements(ctx, e.license.ID, licensing.EntitlementChange{Attach: []string{"old"}})
	must(t, err)
	b := e.signedIn(licensing.RoleAdmin)
	path := "/console/entitlements/" + ent.ID
	if resp, _ := b.act(path+"/retire", url.Values{"reason": {"end of line"}}); resp.StatusCode >= 400 {
		t.Fatalf("retire: %d", resp.StatusCode)
	}
	if _, page := b.do("GET", path, nil); !strings.Contains(page, `id="retired-at"`) || strings.Contains(page, `id="retire-form"`) {
		t.Errorf("the page does not show it retired:\n%s", page)
	}
	l, err := e.svc.Licenses.License(ctx, e.license.ID)
	must(t, err)
	if slices.Contains(l.Entitlements, "old") {
		t.Fatalf("still granted: %v", l.Entitlements)
	}
}
