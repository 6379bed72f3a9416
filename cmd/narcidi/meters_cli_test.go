package main

import (
	"context"
	"strings"
	"testing"

	verifier "github.com/nzilacode/narcidicontrole/verifier-sdk"
)

// Entitlements after issue and meters through the CLI, and the SDK's
// client spending uses on the real server.
func TestCLIMetersAndEntitlements(t *testing.T) {
	t.Parallel()
	app := startApp(t, "sqlite")
	admin := apiClient{t, app.URL(), adminToken}
	cat := seedCatalog(t, admin, 2)
	admin.mustCreate("/v1/entitlements", map[string]any{"code": "render", "name": "Render"}, nil)
	var ent struct{ ID string }
	admin.mustCreate("/v1/entitlements", map[string]any{"code": "legacy", "name": "Legacy"}, &ent)
	c := newCLI(t, app)

	var lic struct{ Entitlements []string }
	c.json(&lic, "licenses", "entitlements", cat.licenseID, "-attach", "render,legacy", "-reason", "upsell")
	if strings.Join(lic.Entitlements, ",") != "legacy,render" {
		t.Fatalf("attach: %+v", lic)
	}
	var pol struct{ Entitlements []string }
	c.json(&pol, "policies", "entitlements", cat.policyID, "-detach", "sync")
	if strings.Join(pol.Entitlements, ",") != "export" {
		t.Fatalf("policy detach: %+v", pol)
	}
	if errOut := c.fails(2, "licenses", "entitlements", cat.licenseID); !strings.Contains(errOut, "-attach or -detach") {
		t.Fatalf("neither flag: %s", errOut)
	}
	if row := oneRow(t, c.ok("entitlements", "retire", ent.ID, "-reason", "gone")); row["RETIRED"] == "-" || row["CODE"] != "legacy" {
		t.Fatalf("retire: %v", row)
	}

	row := oneRow(t, c.ok("licenses", "add-meter", cat.licenseID, "-entitlement", "render", "-max-uses", "3"))
	meterID := row["ID"]
	if row["ENTITLEMENT"] != "render" || row["MAX"] != "3" {
		t.Fatalf("add-meter: %v", row)
	}
	sdk := &verifier.Client{BaseURL: app.URL()}
	ctx := context.Background()
	fp := "fingerprint-cli-meter-0123456789"
	lease, err := sdk.Activate(ctx, verifier.MachineRequest{LicenseKey: cat.key, Fingerprint: fp})
	if err != nil {
		t.Fatal(err)
	}
	_ = lease
	use := verifier.UseRequest{LicenseKey: cat.key, Fingerprint: fp, Meter: "render", ID: "job-1", Uses: 3}
	for range 2 {
		if u, err := sdk.UseMeter(ctx, use); err != nil || u.Remaining != 0 || u.Total != 3 {
			t.Fatalf("use: %+v %v", u, err)
		}
	}
	use.ID = "job-2"
	if _, err := sdk.UseMeter(ctx, use); apiCode(err) != "meter_exhausted" {
		t.Fatalf("past the bound: %v", err)
	}
	if rows := table(t, c.ok("licenses", "meters", cat.licenseID)); len(rows) != 1 || rows[0]["USES"] != "3" {
		t.Fatalf("meters: %v", rows)
	}
	if row := oneRow(t, c.ok("meters", "reset", meterID, "-reason", "goodwill")); row["USES"] != "0" || row["TOTAL"] != "3" {
		t.Fatalf("reset: %v", row)
	}
	if row := oneRow(t, c.ok("meters", "set-max", meterID, "-max-uses", "10")); row["MAX"] != "10" {
		t.Fatalf("set-max: %v", row)
	}
	if row := oneRow(t, c.ok("meters", "get", meterID)); row["ID"] != meterID {
		t.Fatalf("get: %v", row)
	}
}
