package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/nzilacode/narcidicontrole/workers/workerstest"
)

// browserRun runs actions in ctx and stops the test, naming what was
// done and where the browser was, when one fails.
func browserRun(t *testing.T, ctx context.Context) func(string, ...chromedp.Action[chromedp.Void]) {
	return func(what string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, actions...); err != nil {
			loc, _ := chromedp.Run(ctx, chromedp.Location())
			t.Fatalf("%s (at %s): %v", what, loc, err)
		}
	}
}

// signInFirstAdmin sets the first admin's password from the link the
// server printed and signs in; it returns the admin's email.
func signInFirstAdmin(t *testing.T, app *App, run func(string, ...chromedp.Action[chromedp.Void]), password string) string {
	t.Helper()
	m := setPasswordLink.FindStringSubmatch(app.Out.(*bytes.Buffer).String())
	if m == nil {
		t.Fatal("no set-password link printed")
	}
	run("set the first password and sign in",
		chromedp.Navigate(m[2]),
		chromedp.WaitVisible(chromedp.CSS(`#password`)),
		chromedp.SendKeys(chromedp.CSS(`#password`), password),
		chromedp.SendKeys(chromedp.CSS(`#confirm`), password),
		chromedp.Click(chromedp.CSS(`main form button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`#email`)),
		chromedp.SendKeys(chromedp.CSS(`#email`), m[1]),
		chromedp.SendKeys(chromedp.CSS(`#password`), password),
		chromedp.Click(chromedp.CSS(`main form button[type=submit]`)),
		chromedp.WaitVisible(`//h2[text()="Licenses"]`))
	return m[1]
}

// consoleSignIn signs in on the console's sign-in page.
func consoleSignIn(server, email, password string) []chromedp.Action[chromedp.Void] {
	return []chromedp.Action[chromedp.Void]{
		chromedp.Navigate(server + "/console/sign-in"),
		chromedp.WaitVisible(chromedp.CSS(`#email`)),
		chromedp.SendKeys(chromedp.CSS(`#email`), email),
		chromedp.SendKeys(chromedp.CSS(`#password`), password),
		chromedp.Click(chromedp.CSS(`main form button[type=submit]`)),
		chromedp.WaitVisible(`//h2[text()="Licenses"]`),
	}
}

var consoleResetLink = regexp.MustCompile(`(http://\S+/console/set-password\?\S+)`)

// TestConsolePasswordResetInBrowser (issue 24): a console user who forgot
// their password asks for a link, gets it through the SMTP server, chooses
// a new password and signs in with it; the old one no longer works.
func TestConsolePasswordResetInBrowser(t *testing.T) {
	t.Parallel()
	box := workerstest.StartMailbox(t)
	app := startAppWith(t, map[string]string{"NARCIDI_SMTP_URL": "smtp://" + box.Addr + "?tls=none", "NARCIDI_SMTP_FROM": "licensing@nzilacode.test"})
	ctx := newBrowser(t, app.URL())
	run := browserRun(t, ctx)
	dir := screenshotDir(t)
	email := signInFirstAdmin(t, app, run, "the first console password")
	run("sign out", chromedp.Click(chromedp.CSS(`form[action="/console/sign-out"] button`)), chromedp.WaitVisible(chromedp.CSS(`#email`)))

	run("ask for a link",
		chromedp.Navigate(app.URL()+"/console/forgot-password"),
		chromedp.WaitVisible(chromedp.CSS(`#email`)))
	shoot(t, ctx, dir, "forgot-password-desktop.png", 1280)
	shoot(t, ctx, dir, "forgot-password-phone.png", 390)
	run("send it",
		chromedp.EmulateViewport(1280, 900),
		chromedp.SendKeys(chromedp.CSS(`#email`), email),
		chromedp.Click(chromedp.CSS(`main form button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`#reset-sent`)))
	workerstest.WaitFor(t, "the reset mail", func() bool { return len(box.Bodies()) == 1 })
	if to := box.Messages()[0].To; len(to) != 1 || to[0] != email {
		t.Fatalf("the link went to %v, want %s", to, email)
	}
	m := consoleResetLink.FindStringSubmatch(box.Bodies()[0])
	if m == nil || !strings.HasPrefix(m[1], app.URL()) {
		t.Fatalf("no set-password link to this server in the mail:\n%s", box.Bodies()[0])
	}
	const fresh = "a fresh console password"
	run("choose a new password",
		chromedp.Navigate(m[1]),
		chromedp.WaitVisible(chromedp.CSS(`#password`)),
		chromedp.SendKeys(chromedp.CSS(`#password`), fresh),
		chromedp.SendKeys(chromedp.CSS(`#confirm`), fresh),
		chromedp.Click(chromedp.CSS(`main form button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`#email`)))
	run("the old password is refused",
		chromedp.SendKeys(chromedp.CSS(`#email`), email),
		chromedp.SendKeys(chromedp.CSS(`#password`), "the first console password"),
		chromedp.Click(chromedp.CSS(`main form button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`.error`)))
	run("sign in with the new one", consoleSignIn(app.URL(), email, fresh)...)
	run("the link is spent", chromedp.Navigate(m[1]), chromedp.WaitVisible(chromedp.CSS(`main`)))
	if n, _ := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll("#password").length`)); n != 0 {
		t.Error("a used set-password link still shows the form")
	}
}

// TestConsoleFlowsInBrowser (issue 24) walks, on a server without SMTP:
// signing a customer in to the portal from the console (copy the link,
// open it, the portal); a test webhook whose receiver's answer is read on
// its delivery's page; a release uploaded from the console (hashed and
// signed in the browser, the bytes PUT to the local blob store); the
// product page's app versions. Then every console and portal page at 1280
// and 390 px (screenshots), none of which may scroll sideways at 390 px
// outside a marked table wrapper.
func TestConsoleFlowsInBrowser(t *testing.T) {
	t.Parallel()
	key := newReleaseKey(t)
	app := startAppWith(t, map[string]string{"NARCIDI_WEBHOOK_ALLOW_PRIVATE": "true",
		"NARCIDI_RELEASE_PUBLIC_KEYS": base64.StdEncoding.EncodeToString(key.pub)})
	admin := apiClient{t, app.URL(), adminToken}
	cat := seedCatalog(t, admin, 2) // Acme, it@acme.test
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"received":"by the test receiver"}`)
	}))
	t.Cleanup(receiver.Close)
	var hook struct{ ID string }
	admin.mustCreate("/v1/webhooks", map[string]any{"url": receiver.URL + "/hook", "event_types": []string{"*"}}, &hook)

	ctx := newBrowser(t, app.URL(), app.blobs.ln.Addr().String())
	run := browserRun(t, ctx)
	dir := screenshotDir(t)
	const password = "a long console password"
	email := signInFirstAdmin(t, app, run, password)

	// A customer signed in without SMTP: the console's copyable link.
	run("copy a portal link",
		chromedp.Navigate(app.URL()+"/console/customers/"+cat.customerID+"/portal-link"),
		chromedp.Click(chromedp.CSS(`#portal-link-copy`)),
		chromedp.WaitVisible(chromedp.CSS(`#portal-link`)))
	shoot(t, ctx, dir, "portal-link-desktop.png", 1280)
	run("desktop", chromedp.EmulateViewport(1280, 900))
	link, err := chromedp.Run(ctx, chromedp.Value(chromedp.CSS(`#portal-link`)))
	if err != nil || !strings.HasPrefix(link, app.URL()+"/portal/link?token=") {
		t.Fatalf("the copied link: %q, %v", link, err)
	}
	run("open it", chromedp.Navigate(link), chromedp.Click(chromedp.CSS(`#sign-in`)), chromedp.WaitVisible(chromedp.CSS(`#licenses`)))
	if s, _ := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(`#licenses`))); !strings.Contains(s, cat.key[len(cat.key)-4:]) {
		t.Errorf("the portal after the copied link: %q", s)
	}

	// A test event, and the receiver's answer on the delivery's page.
	run("send a test event",
		chromedp.Navigate(app.URL()+"/console/webhooks/"+hook.ID),
		chromedp.Click(chromedp.CSS(`#test-webhook`)),
		chromedp.WaitVisible(chromedp.CSS(`.notice`)))
	var delivery string
	workerstest.WaitFor(t, "the test delivery", func() bool {
		_ = chromedp.Do(ctx, chromedp.Navigate(app.URL()+"/console/webhooks/"+hook.ID))
		delivery, _ = chromedp.Run(ctx, chromedp.Evaluate[string](`(() => { const a = [...document.querySelectorAll("#deliveries tr")].find(r => r.textContent.includes("webhook.test") && r.textContent.includes("delivered")); return a ? a.querySelector("a[href*='/console/deliveries/']").getAttribute("href") : ""; })()`))
		return delivery != ""
	})
	run("open the delivery", chromedp.Navigate(app.URL()+delivery), chromedp.WaitVisible(chromedp.CSS(`#attempt-1-response`)))
	if s, _ := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(`#attempt-1-response`))); !strings.Contains(s, "by the test receiver") {
		t.Errorf("the delivery's response body: %q", s)
	}
	if s, _ := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(`#attempt-1-request`))); !strings.Contains(s, "webhook.test") {
		t.Errorf("the delivery's request body: %q", s)
	}
	shoot(t, ctx, dir, "delivery-test-desktop.png", 1280)
	shoot(t, ctx, dir, "delivery-test-phone.png", 390)
	run("desktop", chromedp.EmulateViewport(1280, 900))

	// A release from the console: the bytes go to the local blob store.
	files := t.TempDir()
	binary := bytes.Repeat([]byte("studio 3.0.0 build\n"), 5000)
	keyFile := filepath.Join(files, "release.key")
	for name, data := range map[string][]byte{"studio": binary, "release.key": []byte(base64.StdEncoding.EncodeToString(key.priv.Seed()) + "\n")} {
		if err := os.WriteFile(filepath.Join(files, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	run("a new draft",
		chromedp.Navigate(app.URL()+"/console/releases"),
		chromedp.Click(chromedp.CSS(`#new-release`)),
		chromedp.WaitVisible(chromedp.CSS(`#release-form`)),
		chromedp.SetValue(chromedp.CSS(`#product_id`), cat.productID),
		chromedp.SendKeys(chromedp.CSS(`#version`), "3.0.0"),
		chromedp.SendKeys(chromedp.CSS(`#notes`), "Made in the console."))
	shoot(t, ctx, dir, "release-new-desktop.png", 1280)
	shoot(t, ctx, dir, "release-new-phone.png", 390)
	run("create it",
		chromedp.EmulateViewport(1280, 900),
		chromedp.Click(chromedp.CSS(`#release-form button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`#artifact-form input[type=file]#file`)),
		chromedp.SendKeys(chromedp.CSS(`#platform`), "linux"),
		chromedp.SendKeys(chromedp.CSS(`#arch`), "amd64"),
		chromedp.SetUploadFiles(chromedp.CSS(`#file`), []string{filepath.Join(files, "studio")}),
		chromedp.SetUploadFiles(chromedp.CSS(`#keyfile`), []string{keyFile}))
	shoot(t, ctx, dir, "release-draft-desktop.png", 1280)
	shoot(t, ctx, dir, "release-draft-phone.png", 390)
	run("upload it",
		chromedp.EmulateViewport(1280, 900),
		chromedp.Click(chromedp.CSS(`#add-artifact`)))
	var done string
	workerstest.WaitFor(t, "the upload", func() bool {
		done, _ = chromedp.Run(ctx, chromedp.Evaluate[string](`(document.querySelector("p.notice:not(#upload-status)") || {textContent: ""}).textContent + "|" + (document.querySelector("#upload-error") || {textContent: ""}).textContent`))
		return strings.Contains(done, "uploaded") || !strings.HasSuffix(done, "|")
	})
	if !strings.Contains(done, "Done: uploaded studio") {
		t.Fatalf("the upload: %q", done)
	}
	// The notice comes before the page shows the new artifact (it reloads
	// the list): wait for the list.
	workerstest.WaitFor(t, "the draft's artifacts", func() bool {
		s, _ := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(`#artifacts`)))
		return strings.Contains(s, fmt.Sprintf("%d bytes", len(binary))) && strings.Contains(s, "ready")
	})
	run("publish it",
		chromedp.Click(chromedp.CSS(`#action-publish`)),
		chromedp.WaitVisible(chromedp.CSS(`main form button[type=submit]`)),
		chromedp.Click(chromedp.CSS(`main form button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`#release-status`)))
	if s, _ := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(`#release-status`))); s != "published" {
		t.Fatalf("after publish: %q", s)
	}

	// Every page at both widths; none scrolls sideways at 390 px. Each
	// part in a new browser: a walk this long needs its own time budget;
	// the parts walk at once, each in its own tab.
	relID, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`location.pathname.split("/").pop()`))
	walk := func(part string, signIn, portal bool, pages map[string]string) {
		t.Run(part, func(t *testing.T) {
			t.Parallel()
			ctx := newBrowser(t, app.URL(), app.blobs.ln.Addr().String())
			run := browserRun(t, ctx)
			if signIn {
				run("sign in again", consoleSignIn(app.URL(), email, password)...)
			}
			if portal {
				run("copy a link",
					chromedp.Navigate(app.URL()+"/console/customers/"+cat.customerID+"/portal-link"),
					chromedp.Click(chromedp.CSS(`#portal-link-copy`)),
					chromedp.WaitVisible(chromedp.CSS(`#portal-link`)))
				link, err := chromedp.Run(ctx, chromedp.Value(chromedp.CSS(`#portal-link`)))
				if err != nil {
					t.Fatal(err)
				}
				run("and to the portal", chromedp.Navigate(link), chromedp.Click(chromedp.CSS(`#sign-in`)), chromedp.WaitVisible(chromedp.CSS(`#licenses`)))
			}
			for name, p := range pages {
				for _, width := range []int64{1280, 390} {
					run("open "+p, chromedp.EmulateViewport(width, 800), chromedp.Navigate(app.URL()+p), chromedp.WaitVisible(chromedp.CSS(`main`)))
					if width == 390 {
						bad, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](sidewaysOverflow))
						if err != nil {
							t.Fatal(err)
						}
						if len(bad) > 0 {
							t.Errorf("%s at 390 px scrolls sideways: %v", p, bad)
						}
					}
					shot(t, ctx, dir, fmt.Sprintf("page-%s-%d.png", name, width))
				}
			}
		})
	}
	walk("console pages", true, false, map[string]string{
		"overview": "/console/", "licenses": "/console/licenses", "license-new": "/console/licenses/new?product=" + cat.productID,
		"license": "/console/licenses/" + cat.licenseID, "customers": "/console/customers", "customer": "/console/customers/" + cat.customerID,
		"customer-new": "/console/customers/new", "products": "/console/products", "product": "/console/products/" + cat.productID,
		"policies": "/console/policies", "policy": "/console/policies/" + cat.policyID, "entitlements": "/console/entitlements",
		"machines": "/console/machines", "releases": "/console/releases", "release": "/console/releases/" + relID,
	})
	walk("console pages, continued", true, false, map[string]string{
		"webhooks": "/console/webhooks", "webhook": "/console/webhooks/" + hook.ID, "deliveries": "/console/deliveries",
		"insights": "/console/insights", "audit": "/console/audit", "tokens": "/console/tokens", "users": "/console/users",
		"search": "/console/search?q=acme", "mail-previews": "/console/mail-previews", "subscriptions": "/console/customers/" + cat.customerID + "/subscriptions",
		"not-found": "/console/no-such-page",
	})
	walk("portal pages", true, true, map[string]string{
		"portal-licenses": "/portal/", "portal-license": "/portal/licenses/" + cat.licenseID, "portal-machines": "/portal/machines",
		"portal-downloads": "/portal/downloads", "portal-password": "/portal/password", "portal-not-found": "/portal/no-such-page",
	})
	walk("signed-out pages", false, false, map[string]string{
		"sign-in": "/console/sign-in", "forgot-password": "/console/forgot-password", "portal-sign-in": "/portal/sign-in",
	})
}

// shot saves the viewport (not the whole page: the screenshots stay small)
// as a PNG.
func shot(t *testing.T, ctx context.Context, dir, name string) {
	t.Helper()
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name), png, 0o644); err != nil {
		t.Fatal(err)
	}
}
