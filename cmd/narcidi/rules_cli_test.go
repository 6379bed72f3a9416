package main

import (
	"testing"
)

// licenses create and override set a license's overrides; "none" clears
// one; the answer shows the effective policy.
func TestCLILicenseOverrides(t *testing.T) {
	t.Parallel()
	app := startApp(t, "sqlite")
	admin := apiClient{t, app.URL(), adminToken}
	cat := seedCatalog(t, admin, 2)
	c := newCLI(t, app)
	type effective struct {
		ID        string
		Overrides struct {
			GraceSeconds    *int64 `json:"grace_seconds"`
			LeaseTTLSeconds *int64 `json:"lease_ttl_seconds"`
		}
		Effective struct {
			Seats           int      `json:"seats"`
			LeaseTTLSeconds int64    `json:"lease_ttl_seconds"`
			GraceSeconds    int64    `json:"grace_seconds"`
			Overridden      []string `json:"overridden"`
		}
	}
	var lic effective
	c.json(&lic, "licenses", "create", "-policy", cat.policyID, "-customer", cat.customerID, "-seats", "4", "-grace", "2d", "-lease-ttl", "30m")
	if lic.Effective.Seats != 4 || lic.Effective.GraceSeconds != 2*86400 || lic.Effective.LeaseTTLSeconds != 1800 {
		t.Fatalf("create with overrides: %+v", lic)
	}
	var after effective
	c.json(&after, "licenses", "override", lic.ID, "-lease-ttl", "none", "-max-activations", "5")
	if after.Overrides.LeaseTTLSeconds != nil || after.Overrides.GraceSeconds == nil || after.Effective.Seats != 4 ||
		len(after.Effective.Overridden) != 3 {
		t.Fatalf("override: %+v", after)
	}
	if code, _, errOut := c.run("licenses", "override", lic.ID, "-grace", "soon"); code == 0 {
		t.Errorf("a bad duration was taken: %s", errOut)
	}
}
