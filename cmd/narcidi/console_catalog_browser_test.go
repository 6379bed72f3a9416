package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	verifier "github.com/nzilacode/narcidicontrole/verifier-sdk"
)

// TestConsoleCatalogInBrowser walks what an admin does to sell a first
// license with nothing but the console's forms: create a product, a
// policy of it, a customer, then a license for that customer, whose key is
// shown once; an SDK then activates a machine with that key. Screenshots
// of each form at 1280 and 390 px. (SQLite: the console's HTTP tests cover
// both databases.)
func TestConsoleCatalogInBrowser(t *testing.T) {
	t.Parallel()
	app := startApp(t, "sqlite")
	m := setPasswordLink.FindStringSubmatch(app.Out.(*bytes.Buffer).String())
	if m == nil {
		t.Fatal("no set-password link printed")
	}
	email, link := m[1], m[2]
	ctx := newBrowser(t, app.URL())
	dir := screenshotDir(t)
	run := func(what string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, actions...); err != nil {
			loc, _ := chromedp.Run(ctx, chromedp.Location())
			t.Fatalf("%s (at %s): %v", what, loc, err)
		}
	}
	both := func(name string) {
		t.Helper()
		shoot(t, ctx, dir, name+"-desktop.png", 1280)
		shoot(t, ctx, dir, name+"-phone.png", 390)
		run("back to desktop width", chromedp.EmulateViewport(1280, 900))
	}
	const password = "a long console password"
	run("set the password and sign in",
		chromedp.Navigate(link),
		chromedp.WaitVisible(chromedp.CSS(`#password`)),
		chromedp.SendKeys(chromedp.CSS(`#password`), password),
		chromedp.SendKeys(chromedp.CSS(`#confirm`), password),
		chromedp.Click(chromedp.CSS(`main form button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`#email`)),
		chromedp.SendKeys(chromedp.CSS(`#email`), email),
		chromedp.SendKeys(chromedp.CSS(`#password`), password),
		chromedp.Click(chromedp.CSS(`main form button[type=submit]`)),
		chromedp.WaitVisible(`//h2[text()="Licenses"]`))

	run("create a product",
		chromedp.Navigate(app.URL()+"/console/products"),
		chromedp.Click(chromedp.CSS(`#new-product`)),
		chromedp.WaitVisible(chromedp.CSS(`#product-form`)),
		chromedp.SendKeys(chromedp.CSS(`#code`), "Not a code"),
		chromedp.SendKeys(chromedp.CSS(`#name`), "Desk"))
	// The browser's own check (pattern) would stop this code; the server's
	// refusal is what is tested, so the pattern goes.
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[any](`document.getElementById("code").removeAttribute("pattern")`)); err != nil {
		t.Fatal(err)
	}
	run("submit a bad code",
		chromedp.Click(chromedp.CSS(`#product-form button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`#form-error`)))
	both("product-error")
	if v, _ := chromedp.Run(ctx, chromedp.Value(chromedp.CSS(`#name`))); v != "Desk" {
		t.Errorf("the refused product form lost its name: %q", v)
	}
	run("fix the code",
		chromedp.SetValue(chromedp.CSS(`#code`), "desk"),
		chromedp.Click(chromedp.CSS(`#product-form button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`#new-policy`)))

	run("create a policy",
		chromedp.Click(chromedp.CSS(`#new-policy`)),
		chromedp.WaitVisible(chromedp.CSS(`#policy-form`)),
		chromedp.SendKeys(chromedp.CSS(`#name`), "Team"),
		chromedp.SetValue(chromedp.CSS(`#max_machines`), "3"),
		chromedp.Click(chromedp.CSS(`#floating`)),
		chromedp.SetValue(chromedp.CSS(`#heartbeat_minutes`), "30"))
	both("policy-new")
	run("save the policy",
		chromedp.Click(chromedp.CSS(`#policy-form button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`.notice`)))

	run("create a customer",
		chromedp.Navigate(app.URL()+"/console/customers"),
		chromedp.Click(chromedp.CSS(`#new-customer`)),
		chromedp.WaitVisible(chromedp.CSS(`#customer-form`)),
		chromedp.SendKeys(chromedp.CSS(`#name`), "Globex"),
		chromedp.SendKeys(chromedp.CSS(`#email`), "it@globex.example"),
		chromedp.SendKeys(chromedp.CSS(`#contact-name-0`), "Hank"),
		chromedp.SendKeys(chromedp.CSS(`#contact-email-0`), "hank@globex.example"))
	both("customer-new")
	run("save the customer",
		chromedp.Click(chromedp.CSS(`#customer-form button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`#new-license`)))

	run("create a license for the customer",
		chromedp.Click(chromedp.CSS(`#new-license`)),
		chromedp.WaitVisible(chromedp.CSS(`#license-product`)),
		chromedp.Click(chromedp.CSS(`#license-product button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`#license-form`)),
		chromedp.SendKeys(chromedp.CSS(`#name`), "Globex desk"))
	both("license-new")
	run("save the license",
		chromedp.Click(chromedp.CSS(`#create-license`)),
		chromedp.WaitVisible(chromedp.CSS(`#license-key`)))
	both("license-created")
	key, err := chromedp.Run(ctx, chromedp.Value(chromedp.CSS(`#license-key`)))
	if err != nil || key == "" {
		t.Fatalf("no key shown: %q, %v", key, err)
	}

	// The key shown works, and the license page lists the policy chosen.
	sdk := &verifier.Client{BaseURL: app.URL()}
	req := verifier.MachineRequest{LicenseKey: key, Fingerprint: verifier.FingerprintFrom("desk", "machine-1"), Hostname: "pc-1", Platform: "linux/amd64"}
	if _, err := sdk.Activate(context.Background(), req); err != nil {
		t.Fatalf("activating with the key the console showed: %v", err)
	}
	run("open the license", chromedp.Click(chromedp.CSS(`#to-license`)), chromedp.WaitVisible(chromedp.CSS(`#change-plan`)))
	props, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(`dl.props`)))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(props, "Team") || !strings.Contains(props, "Globex desk") || strings.Contains(props, key) {
		t.Errorf("the license page: %q", props)
	}
}
