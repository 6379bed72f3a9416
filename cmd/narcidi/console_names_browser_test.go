package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/chromedp"

	"github.com/nzilacode/narcidicontrole/workers/workerstest"
)

// TestConsoleNamesInBrowser (issue 24, 7) walks the console by names in
// Chromium: a new license whose customer is picked by typing part of its
// name (the server narrows the list; no script), then the CSV export of
// the licenses; then every list page at 390 px, none of which may scroll
// sideways outside a marked table wrapper. (SQLite: the console's HTTP
// tests cover both databases.)
func TestConsoleNamesInBrowser(t *testing.T) {
	t.Parallel()
	app := startApp(t, "sqlite")
	m := setPasswordLink.FindStringSubmatch(app.Out.(*bytes.Buffer).String())
	if m == nil {
		t.Fatal("no set-password link printed")
	}
	email, link := m[1], m[2]
	admin := apiClient{t, app.URL(), adminToken}
	cat := seedCatalog(t, admin, 2)
	var globex struct{ ID string }
	admin.mustCreate("/v1/customers", map[string]any{"name": "Globex Corp", "email": "ops@globex.test"}, &globex)
	admin.mustCreate("/v1/customers", map[string]any{"name": "Initech", "email": "it@initech.test"}, nil)

	ctx := newBrowser(t, app.URL())
	dir := screenshotDir(t)
	run := func(what string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, actions...); err != nil {
			loc, _ := chromedp.Run(ctx, chromedp.Location())
			t.Fatalf("%s (at %s): %v", what, loc, err)
		}
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

	run("open the new-license form from the list",
		chromedp.Navigate(app.URL()+"/console/licenses"),
		chromedp.Click(chromedp.CSS(`#new-license`)),
		chromedp.WaitVisible(chromedp.CSS(`#license-product`)),
		chromedp.Click(chromedp.CSS(`#license-product button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`#license-form`)),
		chromedp.SendKeys(chromedp.CSS(`#name`), "Globex render farm"),
		chromedp.SendKeys(chromedp.CSS(`#customer_id-q`), "globex"),
		chromedp.Click(chromedp.CSS(`#customer_id-find`)),
		chromedp.WaitVisible(chromedp.CSS(`#customer_id-q[value="globex"]`)))
	shoot(t, ctx, dir, "license-new-picked-desktop.png", 1280)
	shoot(t, ctx, dir, "license-new-picked-phone.png", 390)
	run("back to desktop width", chromedp.EmulateViewport(1280, 900))
	opts, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll("#customer_id option")].map(o => o.textContent + (o.selected ? " *" : ""))`))
	if err != nil {
		t.Fatal(err)
	}
	if len(opts) != 1 || opts[0] != "Globex Corp (ops@globex.test) *" {
		t.Fatalf("after Find, the customer list is %q, want Globex alone and chosen", opts)
	}
	if v, _ := chromedp.Run(ctx, chromedp.Value(chromedp.CSS(`#name`))); v != "Globex render farm" {
		t.Errorf("Find lost the name typed: %q", v)
	}
	run("create the license",
		chromedp.Click(chromedp.CSS(`#create-license`)),
		chromedp.WaitVisible(chromedp.CSS(`#license-key`)))
	var ls struct {
		Data []struct {
			Name       string
			CustomerID string `json:"customer_id"`
		}
	}
	admin.call("GET", "/v1/licenses?customer_id="+globex.ID, nil, &ls)
	if len(ls.Data) != 1 || ls.Data[0].Name != "Globex render farm" {
		t.Fatalf("Globex's licenses: %+v", ls.Data)
	}

	// The list names the customer; its export is the CSV of the list.
	run("the list", chromedp.Navigate(app.URL()+"/console/licenses"), chromedp.WaitVisible(chromedp.CSS(`#export-csv`)))
	row, err := chromedp.Run(ctx, chromedp.Text(`//table[@id="licenses"]//tr[td//a[text()="Globex Corp"]]`))
	if err != nil || !strings.Contains(row, "Globex render farm") || !strings.Contains(row, "Studio") {
		t.Errorf("the list's Globex row: %q, %v", row, err)
	}
	downloads := t.TempDir()
	run("export the licenses",
		chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
			_, err := cdp.Call(ctx, chromedp.FromContext(ctx).Browser, browser.SetDownloadBehavior,
				browser.SetDownloadBehaviorParams{Behavior: browser.SetDownloadBehaviorBehaviorAllow, DownloadPath: downloads,
					BrowserContextID: chromedp.FromContext(ctx).BrowserContextID})
			return err
		}),
		chromedp.Click(chromedp.CSS(`#export-csv`)))
	var body string
	workerstest.WaitFor(t, "the exported file", func() bool {
		files, _ := filepath.Glob(filepath.Join(downloads, "licenses-*.csv"))
		if len(files) != 1 {
			return false
		}
		b, _ := os.ReadFile(files[0])
		body = string(b)
		return strings.HasSuffix(body, "\n")
	})
	rows, err := csv.NewReader(strings.NewReader(body)).ReadAll()
	if err != nil || len(rows) != 3 || rows[0][0] != "id" {
		t.Fatalf("the export: %v, %v", rows, err)
	}
	found := false
	for _, r := range rows[1:] {
		found = found || (r[2] == "Globex render farm" && r[4] == "Globex Corp" && r[3] == "Studio")
	}
	if !found {
		t.Errorf("the export lacks the new license by name: %v", rows)
	}

	// At 390 px nothing scrolls sideways but a table in its marked
	// wrapper (.table), and the menu is a <details>.
	pages := []string{"/console/", "/console/licenses", "/console/licenses/new?product=" + cat.productID, "/console/licenses/" + cat.licenseID,
		"/console/customers", "/console/customers/" + globex.ID, "/console/products", "/console/policies", "/console/entitlements",
		"/console/machines", "/console/releases", "/console/webhooks", "/console/deliveries", "/console/insights", "/console/audit",
		"/console/tokens", "/console/users", "/console/search?q=globex", "/console/no-such-page"}
	run("phone width", chromedp.EmulateViewport(390, 900))
	for _, p := range pages {
		run("open "+p, chromedp.Navigate(app.URL()+p), chromedp.WaitVisible(chromedp.CSS(`main h1`)))
		bad, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](sidewaysOverflow))
		if err != nil {
			t.Fatal(err)
		}
		if len(bad) > 0 {
			t.Errorf("%s at 390 px scrolls sideways: %v", p, bad)
		}
		if vis, _ := chromedp.Run(ctx, chromedp.Evaluate[bool](`getComputedStyle(document.querySelector("details.menu")).display !== "none" && getComputedStyle(document.querySelector("nav.wide-nav")).display === "none"`)); !vis {
			t.Errorf("%s at 390 px: the nav is not the collapsed menu", p)
		}
	}
	run("the licenses", chromedp.Navigate(app.URL()+"/console/licenses"), chromedp.WaitVisible(chromedp.CSS(`#licenses`)))
	shoot(t, ctx, dir, "licenses-phone.png", 390)
	run("open the menu", chromedp.EmulateViewport(390, 900), chromedp.Click(chromedp.CSS(`details.menu summary`)),
		chromedp.WaitVisible(chromedp.CSS(`details.menu nav a[href="/console/audit"]`)))
	shoot(t, ctx, dir, "menu-phone.png", 390)
}

// sidewaysOverflow lists (at most 5) elements that stick out of the
// viewport's width, and the page itself when it scrolls sideways; what is
// inside a marked table wrapper (.table) or a closed <details> is left out.
const sidewaysOverflow = `(() => {
	const w = document.documentElement.clientWidth, out = [];
	if (document.documentElement.scrollWidth > w) out.push("page " + document.documentElement.scrollWidth + " > " + w);
	for (const el of document.querySelectorAll("body *")) {
		if ((el.parentElement && el.parentElement.closest(".table")) || el.closest("details:not([open])")) continue;
		const r = el.getBoundingClientRect();
		if (r.width > 0 && (r.right > w + 1 || r.left < -1) && getComputedStyle(el).position !== "absolute") out.push(el.tagName.toLowerCase() + (el.id ? "#" + el.id : "") + (el.className ? "." + el.className : "") + " ends at " + Math.round(r.right));
	}
	return out.slice(0, 5);
})()`
