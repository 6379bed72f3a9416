package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/chromedp"

	"github.com/nzilacode/narcidicontrole/licensing/release"
	verifier "github.com/nzilacode/narcidicontrole/verifier-sdk"
	"github.com/nzilacode/narcidicontrole/workers/workerstest"
)

var portalLink = regexp.MustCompile(`(http://\S+/portal/link\?token=\S+)`)

// TestPortalInBrowser walks what a customer does in a real browser: ask
// for a sign-in link, get it through the SMTP server, sign in, see only
// their own licenses, free a seat, download a release of their license, and
// find another customer's license and machine out of reach by URL (404).
// (SQLite: the portal's HTTP tests cover both databases.)
func TestPortalInBrowser(t *testing.T) {
	t.Parallel()
	box := workerstest.StartMailbox(t)
	key := newReleaseKey(t)
	app := startAppWith(t, map[string]string{
		"NARCIDI_SMTP_URL": "smtp://" + box.Addr + "?tls=none", "NARCIDI_SMTP_FROM": "licensing@nzilacode.test",
		"NARCIDI_RELEASE_PUBLIC_KEYS": base64.StdEncoding.EncodeToString(key.pub),
	})
	admin := apiClient{t, app.URL(), adminToken}
	cat := seedCatalog(t, admin, 2) // Acme, it@acme.test, 2 seats
	var other struct{ ID string }
	var otherLic struct{ ID, Key string }
	admin.mustCreate("/v1/customers", map[string]any{"name": "Globex", "email": "it@globex.test"}, &other)
	admin.mustCreate("/v1/licenses", map[string]any{"policy_id": cat.policyID, "customer_id": other.ID}, &otherLic)

	sdk := &verifier.Client{BaseURL: app.URL()}
	activate := func(key, host string) string {
		g, err := sdk.Activate(context.Background(), verifier.MachineRequest{LicenseKey: key, Fingerprint: verifier.FingerprintFrom("studio", host), Hostname: host, Platform: "linux/amd64"})
		if err != nil {
			t.Fatal(err)
		}
		return g.MachineID
	}
	activate(cat.key, "pc-1")
	activate(cat.key, "pc-2")
	otherMachine := activate(otherLic.Key, "globex-pc")

	// A published release of the product, with one artifact.
	binary := []byte("#!/bin/sh\necho studio 1.0.0\n")
	var rel release.Release
	admin.mustCreate("/v1/releases", map[string]any{"product_id": cat.productID, "version": "1.0.0", "notes": "first"}, &rel)
	var up release.Upload
	admin.mustCreate("/v1/releases/"+rel.ID+"/artifacts", key.artifactFor(cat.productID, "1.0.0", "linux", "amd64", "studio.sh", binary), &up)
	if status, b := uploadAndFinalize(t, admin, rel.ID, up, binary); status != 200 {
		t.Fatalf("finalize: %d %s", status, b)
	}
	if status, b := admin.call("POST", "/v1/releases/"+rel.ID+"/actions/publish", nil, nil); status != 200 {
		t.Fatalf("publish: %d %s", status, b)
	}

	// Downloads come from the server's own local blob store (another port).
	ctx := newBrowser(t, app.URL(), app.blobs.ln.Addr().String())
	dir := screenshotDir(t)
	downloads := t.TempDir()
	run, text := browserRun(t, ctx), browserText(t, ctx)

	run("ask for a link",
		chromedp.Navigate(app.URL()+"/portal/sign-in"),
		chromedp.WaitVisible(chromedp.CSS(`#email`)))
	shoot(t, ctx, dir, "portal-sign-in-phone.png", 390)
	run("send the email",
		chromedp.EmulateViewport(1280, 900),
		chromedp.SendKeys(chromedp.CSS(`#email`), "it@acme.test"),
		chromedp.Click(chromedp.CSS(`main form button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`#link-sent`)))
	workerstest.WaitFor(t, "the sign-in mail", func() bool { return len(box.Bodies()) == 1 })
	m := portalLink.FindStringSubmatch(box.Bodies()[0])
	if m == nil || !strings.HasPrefix(m[1], app.URL()+"/portal/link?token=") {
		t.Fatalf("no link to this server in the mail:\n%s", box.Bodies()[0])
	}
	if to := box.Messages()[0].To; len(to) != 1 || to[0] != "it@acme.test" {
		t.Fatalf("the link went to %v", to)
	}
	run("sign in with the link",
		chromedp.Navigate(m[1]),
		chromedp.Click(chromedp.CSS(`#sign-in`)),
		chromedp.WaitVisible(chromedp.CSS(`#licenses`)))

	licenses := text(`#licenses`)
	hint := cat.key[len(cat.key)-4:]
	if !strings.Contains(licenses, hint) || !strings.Contains(licenses, "2 / 2") || !strings.Contains(licenses, "active") {
		t.Errorf("my licenses: %q", licenses)
	}
	if strings.Contains(licenses, otherLic.Key[len(otherLic.Key)-4:]) {
		t.Errorf("another customer's license is listed: %q", licenses)
	}
	shoot(t, ctx, dir, "portal-licenses-desktop.png", 1280)
	shoot(t, ctx, dir, "portal-licenses-phone.png", 390)

	run("free a seat",
		chromedp.EmulateViewport(1280, 900),
		chromedp.Navigate(app.URL()+"/portal/licenses/"+cat.licenseID),
		chromedp.Click(chromedp.CSS(`button[aria-label="Free the seat of pc-1"]`)),
		chromedp.WaitVisible(chromedp.CSS(`.notice`)))
	if seats := text(`#seats`); seats != "1 / 2" {
		t.Errorf("seats after freeing one: %q", seats)
	}
	if ms := text(`#machines`); strings.Contains(ms, "pc-1") || !strings.Contains(ms, "pc-2") {
		t.Errorf("machines after freeing pc-1: %q", ms)
	}
	shoot(t, ctx, dir, "portal-license-desktop.png", 1280)
	shoot(t, ctx, dir, "portal-license-phone.png", 390)

	run("open the downloads",
		chromedp.EmulateViewport(1280, 900),
		chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
			_, err := cdp.Call(ctx, chromedp.FromContext(ctx).Browser, browser.SetDownloadBehavior,
				browser.SetDownloadBehaviorParams{Behavior: browser.SetDownloadBehaviorBehaviorAllow, DownloadPath: downloads,
					BrowserContextID: chromedp.FromContext(ctx).BrowserContextID})
			return err
		}),
		chromedp.Navigate(app.URL()+"/portal/downloads"),
		chromedp.WaitVisible(chromedp.CSS(`a.download`)))
	shoot(t, ctx, dir, "portal-downloads-desktop.png", 1280)
	shoot(t, ctx, dir, "portal-downloads-phone.png", 390)
	run("download", chromedp.EmulateViewport(1280, 900), chromedp.Click(chromedp.CSS(`a.download`)))
	var got []byte
	workerstest.WaitFor(t, "the downloaded file", func() bool {
		got, _ = os.ReadFile(filepath.Join(downloads, "studio.sh"))
		return len(got) > 0
	})
	if !bytes.Equal(got, binary) {
		t.Errorf("downloaded %q, want the release's bytes", got)
	}

	// Another customer's pages, by URL: not found.
	for _, path := range []string{"/portal/licenses/" + otherLic.ID, "/portal/downloads/" + otherLic.ID + "/1.0.0/linux/amd64"} {
		run("open "+path,
			chromedp.Navigate(app.URL()+path),
			chromedp.WaitVisible(chromedp.CSS(`main h1`)))
		if s, err := chromedp.Run(ctx, chromedp.Text(`main`)); err != nil || !strings.Contains(s, "not found") {
			t.Errorf("%s shows %q (%v), want not found", path, s, err)
		}
		status, err := chromedp.Run(ctx, chromedp.Evaluate[int](`performance.getEntriesByType("navigation")[0].responseStatus`))
		if err != nil || status != http.StatusNotFound {
			t.Errorf("%s: status %d (%v), want 404", path, status, err)
		}
	}
	shoot(t, ctx, dir, "portal-not-found-phone.png", 390)
	// My machines list only mine (the HTTP tests post to another's
	// machine: 404, and it stays).
	run("my machines",
		chromedp.EmulateViewport(1280, 900),
		chromedp.Navigate(app.URL()+"/portal/machines"),
		chromedp.WaitVisible(chromedp.CSS(`#machines`)))
	if ms := text(`#machines`); strings.Contains(ms, "globex-pc") {
		t.Errorf("another customer's machine is listed: %q", ms)
	}
	var m2 struct{ ID string }
	if status, _ := admin.call("GET", "/v1/machines/"+otherMachine, nil, &m2); status != 200 || m2.ID != otherMachine {
		t.Errorf("the other customer's machine: %d", status)
	}
}
