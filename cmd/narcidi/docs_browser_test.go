package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/nzilacode/narcidicontrole/licensing"
	"github.com/nzilacode/narcidicontrole/licensing/insights"
	verifier "github.com/nzilacode/narcidicontrole/verifier-sdk"
)

// watchCSP records, in every document the tab opens from now on, what the
// Content-Security-Policy blocked (the script is the browser's, not the
// page's: the CSP does not apply to it).
func watchCSP(t *testing.T, ctx context.Context) {
	t.Helper()
	err := chromedp.Do(ctx, func(ctx context.Context, tg *chromedp.Target) (chromedp.Void, error) {
		_, err := cdp.Call(ctx, tg, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{
			Source: `window.__csp = []; document.addEventListener("securitypolicyviolation", e => window.__csp.push(e.violatedDirective + " " + e.blockedURI));`})
		return chromedp.Void{}, err
	})
	if err != nil {
		t.Fatal(err)
	}
}

// save writes the PNG that shot takes (shoot is a whole page; this is a
// viewport or one element).
func save(t *testing.T, ctx context.Context, dir, name string, shot chromedp.Action[[]byte]) {
	t.Helper()
	png, err := chromedp.Run(ctx, shot)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name), png, 0o644); err != nil {
		t.Fatal(err)
	}
}

// cspViolations is what the CSP blocked in the current document.
func cspViolations(t *testing.T, ctx context.Context) []string {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`window.__csp || ["the CSP watch is not installed"]`))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestDocsInBrowser: /docs renders the server's OpenAPI document with the
// vendored Swagger UI: an operation opens, its request schema and the
// error codes of the problem+json answer are shown; nothing is blocked by
// the page's CSP and no request goes to another host (newBrowser).
func TestDocsInBrowser(t *testing.T) {
	t.Parallel()
	app := startApp(t, "sqlite")
	ctx := newBrowser(t, app.URL())
	watchCSP(t, ctx)
	dir := screenshotDir(t)
	run := func(what string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, actions...); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	suspend := `//div[contains(@class,"opblock-summary")][.//*[@data-path="/v1/licenses/{id}/actions/suspend"]]`
	run("load /docs",
		chromedp.Navigate(app.URL()+"/docs"),
		chromedp.WaitVisible(chromedp.CSS(`.swagger-ui .info .title`)),
		chromedp.WaitVisible(suspend))
	save(t, ctx, dir, "docs.png", chromedp.CaptureScreenshot()) // the top of the page, as a person first sees it
	run("open the suspend operation",
		chromedp.Click(suspend),
		chromedp.WaitVisible(chromedp.CSS(`.opblock.is-open .responses-table`)))
	op, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(`.opblock.is-open`)))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Suspend", "reason", "default", "license_suspended", "seat_limit", "rate_limited", "429", "application/problem+json"} {
		if !strings.Contains(op, want) {
			t.Errorf("the open operation does not show %q:\n%.2000s", want, op)
		}
	}
	save(t, ctx, dir, "docs-operation.png", chromedp.Screenshot(chromedp.CSS(`.opblock.is-open`)))
	shoot(t, ctx, dir, "docs-operation-phone.png", 390)
	if v := cspViolations(t, ctx); len(v) > 0 {
		t.Errorf("the CSP blocked: %v", v)
	}
}

// TestOverviewInBrowser signs the first admin in and shows the overview
// with its charts over a month of activity (screenshots at 1280 and 390
// px); the charts are drawn, the page's CSP blocks nothing, and no request
// goes to another host.
func TestOverviewInBrowser(t *testing.T) {
	t.Parallel()
	app := startApp(t, "sqlite")
	m := setPasswordLink.FindStringSubmatch(app.Out.(*bytes.Buffer).String())
	if m == nil {
		t.Fatal("no set-password link printed")
	}
	email, link := m[1], m[2]

	// Activity: a license with machines activated and renewed by the SDK
	// today, and the month before as events and telemetry roll-ups.
	admin := apiClient{t, app.URL(), adminToken}
	cat := seedCatalog(t, admin, 5)
	sdk := &verifier.Client{BaseURL: app.URL()}
	for i := range 3 {
		req := verifier.MachineRequest{LicenseKey: cat.key, Fingerprint: verifier.FingerprintFrom("studio", fmt.Sprint("machine-", i)), Platform: "linux/amd64"}
		if _, err := sdk.Activate(context.Background(), req); err != nil {
			t.Fatal(err)
		}
		if _, err := sdk.Renew(context.Background(), req); err != nil {
			t.Fatal(err)
		}
	}
	ctx := context.Background()
	now := time.Now().UTC()
	var days []insights.Day
	for i := 1; i < 30; i++ {
		day := now.AddDate(0, 0, -i)
		days = append(days, insights.Day{Day: day.Format(time.DateOnly), LicenseID: cat.licenseID, Renewals: int64(40 + (i*37)%60)})
		for n := range (i * 7) % 5 {
			if err := app.store.AppendEvent(ctx, &licensing.Event{Time: day.Add(-time.Duration(n) * time.Minute), Action: licensing.ActionMachineActivated,
				TargetType: "machine", TargetID: fmt.Sprint("old-", i, "-", n), Actor: "system"}); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := app.store.Insights().AddDays(ctx, days); err != nil {
		t.Fatal(err)
	}
	if err := app.usage.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	// Insights: scores as the scoring job stores them, one naming the
	// next plan, for the overview's top scores and the insights page.
	var team struct{ ID string }
	admin.mustCreate("/v1/policies", map[string]any{"product_id": cat.productID, "name": "Team", "floating": true, "max_machines": 20,
		"lease_ttl_seconds": 3600, "duration_seconds": 365 * 86400}, &team)
	score := func(k insights.Kind, v float64, version string, reasons ...string) insights.Score {
		s := insights.Score{LicenseID: cat.licenseID, CustomerID: cat.customerID, ProductID: cat.productID, PolicyID: cat.policyID,
			Kind: k, Value: v, ModelVersion: version, StartingModel: strings.Contains(version, "starting"), ComputedAt: now}
		for _, r := range reasons {
			s.Reasons = append(s.Reasons, insights.Reason{Text: r})
		}
		return s
	}
	if err := app.store.InsightScores().SaveScores(ctx, []insights.Score{
		score(insights.KindChurn, 0.18, "churn-starting-1", "used on 27 of the last 28 days (was 26)", "3 of 5 seats in use"),
		score(insights.KindBlock, 0.06, "block-starting-1", "expires in 364 days"),
		func() insights.Score {
			s := score(insights.KindUpgrade, 0.86, "upgrade-rules-1", "activation refused for the seat limit on 9 of the last 14 days", "all 5 seats in use on 12 of the last 14 days")
			s.SuggestedPolicyID = team.ID
			return s
		}(),
		score(insights.KindSharing, 0.74, "sharing-robust-1", "7 fingerprints cycled through the seats in 14 days (peers: 1)", "used from 6 networks at once"),
	}, nil); err != nil {
		t.Fatal(err)
	}

	bctx := newBrowser(t, app.URL())
	watchCSP(t, bctx)
	dir := screenshotDir(t)
	const password = "a long console password"
	submit := chromedp.CSS(`main form button[type=submit]`)
	if err := chromedp.Do(bctx,
		chromedp.Navigate(link),
		chromedp.WaitVisible(chromedp.CSS(`#password`)),
		chromedp.SendKeys(chromedp.CSS(`#password`), password),
		chromedp.SendKeys(chromedp.CSS(`#confirm`), password),
		chromedp.Click(submit),
		chromedp.WaitVisible(chromedp.CSS(`#email`)),
		chromedp.SendKeys(chromedp.CSS(`#email`), email),
		chromedp.SendKeys(chromedp.CSS(`#password`), password),
		chromedp.Click(submit),
		chromedp.WaitVisible(chromedp.CSS(`svg#chart-renewals rect.bar`))); err != nil {
		t.Fatalf("sign in to the overview: %v", err)
	}
	// The charts are drawn at a real size, with their accessible names.
	size, err := chromedp.Run(bctx, chromedp.Evaluate[[]float64](`[...document.querySelectorAll("svg[role=img]")].map(s => s.getBoundingClientRect().height)`))
	if err != nil {
		t.Fatal(err)
	}
	if len(size) != 2 || size[0] < 100 || size[1] < 100 {
		t.Errorf("chart heights %v, want two charts drawn", size)
	}
	bars, err := chromedp.Run(bctx, chromedp.Evaluate[int](`document.querySelectorAll("svg#chart-renewals rect.bar").length`))
	if err != nil || bars != 30 {
		t.Errorf("%d renewal bars (%v), want 30 (a month of renewals, today's from the SDK)", bars, err)
	}
	today, err := chromedp.Run(bctx, chromedp.TextContent(chromedp.CSS(`svg#chart-renewals rect.bar:last-of-type title`)))
	if err != nil || today != now.Format(time.DateOnly)+": 3" {
		t.Errorf("today's renewal bar says %q (%v), want the SDK's 3 renewals", today, err)
	}
	shoot(t, bctx, dir, "overview.png", 1280)
	shoot(t, bctx, dir, "overview-phone.png", 390)
	if err := chromedp.Do(bctx, chromedp.EmulateViewport(1280, 900),
		chromedp.Click(chromedp.CSS(`#top-upgrade_suggested h3 a`)),
		chromedp.WaitVisible(chromedp.CSS(`#insights-table a.suggested`))); err != nil {
		t.Fatalf("from the overview to the upgrade suggestions: %v", err)
	}
	if name, err := chromedp.Run(bctx, chromedp.TextContent(chromedp.CSS(`#insights-table a.suggested`))); err != nil || name != "Team" {
		t.Errorf("the suggested policy reads %q (%v), want Team", name, err)
	}
	shoot(t, bctx, dir, "insights.png", 1280)
	shoot(t, bctx, dir, "insights-phone.png", 390)
	if v := cspViolations(t, bctx); len(v) > 0 {
		t.Errorf("the CSP blocked: %v", v)
	}
}
