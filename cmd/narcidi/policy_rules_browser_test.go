package main

import (
	"context"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/nzilacode/narcidicontrole/licensing"
	verifier "github.com/nzilacode/narcidicontrole/verifier-sdk"
)

// TestPolicyRulesInBrowser (issue 27): the console's policy form sets the
// matching rule, an activation cap and an overage; the license page then
// shows the effective policy, with a license override marked, and a meter
// an app spent from. Screenshots at 1280 and 390 px. (SQLite: the
// console's HTTP tests cover both databases.)
func TestPolicyRulesInBrowser(t *testing.T) {
	t.Parallel()
	app := startApp(t, "sqlite")
	admin := apiClient{t, app.URL(), adminToken}
	cat := seedCatalog(t, admin, 2)
	ctx := newBrowser(t, app.URL())
	dir := screenshotDir(t)
	run := browserRun(t, ctx)
	text := func(sel string) string {
		t.Helper()
		s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
		if err != nil {
			t.Fatalf("text of %s: %v", sel, err)
		}
		return strings.Join(strings.Fields(s), " ")
	}
	both := func(name string) {
		t.Helper()
		shoot(t, ctx, dir, name+"-desktop.png", 1280)
		shoot(t, ctx, dir, name+"-phone.png", 390)
		run("back to desktop width", chromedp.EmulateViewport(1280, 900))
	}
	signInFirstAdmin(t, app, run, "a long console password")

	run("set the policy's activation rules",
		chromedp.Navigate(app.URL()+"/console/policies/"+cat.policyID),
		chromedp.WaitVisible(chromedp.CSS(`#policy-rules`)),
		chromedp.SetValue(chromedp.CSS(`#rule_matching`), "most"),
		chromedp.SetValue(chromedp.CSS(`#rule_max_activations`), "5"),
		chromedp.SetValue(chromedp.CSS(`#rule_limit_period_hours`), "1"),
		chromedp.SetValue(chromedp.CSS(`#rule_overage_factor`), "1.5"))
	both("policy-rules")
	run("save the policy",
		chromedp.Click(chromedp.CSS(`#policy-form button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`.notice`)))
	var pol licensing.Policy
	admin.call("GET", "/v1/policies/"+cat.policyID, nil, &pol)
	if r := pol.Rules; r.Matching != licensing.MatchMost || r.MaxActivations != 5 || r.LimitPeriodSeconds != 3600 || r.OverageFactor != 1.5 {
		t.Fatalf("the policy's rules after the form: %+v", r)
	}

	// The license overrides its grace; an app spends 3 uses of its meter.
	if s, b := admin.call("PATCH", "/v1/licenses/"+cat.licenseID, map[string]any{"overrides": map[string]any{"grace_seconds": 7200}}, nil); s != 200 {
		t.Fatalf("override: %d %s", s, b)
	}
	admin.mustCreate("/v1/licenses/"+cat.licenseID+"/meters", map[string]any{"max_uses": 100}, nil)
	sdk := &verifier.Client{BaseURL: app.URL()}
	fp := verifier.FingerprintFrom("studio", "rules-pc")
	if _, err := sdk.Activate(context.Background(), verifier.MachineRequest{LicenseKey: cat.key, Fingerprint: fp}); err != nil {
		t.Fatal(err)
	}
	if _, err := sdk.UseMeter(context.Background(), verifier.UseRequest{LicenseKey: cat.key, Fingerprint: fp, ID: "job-1", Uses: 3}); err != nil {
		t.Fatal(err)
	}

	run("open the license", chromedp.Navigate(app.URL()+"/console/licenses/"+cat.licenseID), chromedp.WaitVisible(chromedp.CSS(`#effective-policy`)))
	both("license-effective-policy")
	for sel, want := range map[string]string{
		"#effective-seats":           "2 (up to 3 with overage)",
		"#effective-grace":           "7200 s overridden",
		"#effective-max-activations": "5 per 3600 s",
		"#meters tbody":              "the license 3 100 3",
	} {
		if got := text(sel); !strings.HasPrefix(got, want) {
			t.Errorf("%s: %q, want it to start with %q", sel, got, want)
		}
	}
	if got := text("#effective-lease-ttl"); strings.Contains(got, "overridden") {
		t.Errorf("the lease TTL is not overridden, the page says %q", got)
	}
}
