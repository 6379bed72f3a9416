package main

import (
	"bytes"
	"context"
	"fmt"
	"github.com/nzilacode/narcidicontrole/licensing"
	"github.com/nzilacode/narcidicontrole/workers/workerstest"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/pquerna/otp/totp"

	verifier "github.com/nzilacode/narcidicontrole/verifier-sdk"
)

// chromiumPath is Debian's Chromium (.ci/run installs it); no test
// downloads a browser.
const chromiumPath = "/usr/bin/chromium"

// chromium is the package's one headless Chromium, started by the first
// browser test and stopped by TestMain (stopChromium). Each test gets its
// own tab in its own browser context (cookies, storage, downloads are its
// alone), which costs a fraction of a browser start.
var chromium struct {
	once    sync.Once
	ctx     context.Context // the first tab's: its children share the browser
	err     error
	stop    func()
	profile string
}

func sharedChromium(t *testing.T) context.Context {
	t.Helper()
	chromium.once.Do(func() {
		if _, err := exec.LookPath(chromiumPath); err != nil {
			chromium.err = fmt.Errorf("%s is missing: apt-get install -y chromium (.ci/run does)", chromiumPath)
			return
		}
		chromium.profile, chromium.err = os.MkdirTemp("", "narcidi-chromium-")
		if chromium.err != nil {
			return
		}
		opts := []chromedp.ExecAllocatorOption{
			chromedp.ExecPath(chromiumPath),
			chromedp.UserDataDir(chromium.profile),
			chromedp.Flag("headless", true), chromedp.Flag("no-sandbox", true), chromedp.Flag("disable-gpu", true),
			chromedp.Flag("disable-quic", true), chromedp.Flag("no-first-run", true), chromedp.Flag("disable-background-networking", true),
			chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true),
			// Tabs of parallel tests are all in the foreground.
			chromedp.Flag("disable-background-timer-throttling", true), chromedp.Flag("disable-renderer-backgrounding", true),
			chromedp.Flag("disable-backgrounding-occluded-windows", true),
			chromedp.WindowSize(1280, 900),
		}
		actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
		ctx, cancelCtx := chromedp.NewContext(actx)
		chromium.ctx = ctx
		chromium.stop = func() { cancelCtx(); cancelAlloc() }
		chromium.err = chromedp.Do(ctx) // starts the browser
	})
	if chromium.err != nil {
		t.Fatal(chromium.err)
	}
	return chromium.ctx
}

// stopChromium ends the shared browser, if a test started it.
func stopChromium() {
	if chromium.stop != nil {
		chromium.stop()
	}
	if chromium.profile != "" {
		_ = os.RemoveAll(chromium.profile)
	}
}

// newBrowser opens a tab in a fresh browser context of the shared Chromium
// and fails the test on any request to a host other than the server's, or
// than the host:ports of also (the server's own local blob store, for
// downloads); data: URLs, the QR code, are not requests.
func newBrowser(t *testing.T, server string, also ...string) context.Context {
	t.Helper()
	ctx, cancelCtx := chromedp.NewContext(sharedChromium(t), chromedp.WithNewBrowserContext())
	ctx, cancelTimeout := context.WithTimeout(ctx, 4*time.Minute)
	t.Cleanup(func() { cancelTimeout(); cancelCtx() })
	host := strings.TrimPrefix(server, "http://")
	var mu sync.Mutex
	var outside []string
	seen := 0
	err := chromedp.Listen(ctx, func(ev any) {
		var req *network.Request
		switch e := ev.(type) {
		case *network.EventRequestWillBeSent:
			req = e.Request
		case network.EventRequestWillBeSent:
			req = e.Request
		default:
			return
		}
		mu.Lock()
		defer mu.Unlock()
		seen++
		u, err := url.Parse(req.URL)
		if err != nil || (u.Scheme != "data" && u.Host != host && !slices.Contains(also, u.Host)) {
			outside = append(outside, req.URL)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		mu.Lock()
		defer mu.Unlock()
		if len(outside) > 0 {
			t.Errorf("the console made requests to other hosts: %v", outside)
		}
		if seen == 0 {
			t.Error("no request event was seen: the outside-request check is blind")
		}
	})
	return ctx
}

// screenshotDir is NARCIDI_SCREENSHOTS, or a temporary folder; the test
// prints it.
func screenshotDir(t *testing.T) string {
	dir := os.Getenv("NARCIDI_SCREENSHOTS")
	if dir == "" {
		dir = t.TempDir()
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshots in %s", dir)
	return dir
}

// shoot saves a full-page PNG of the current page at width.
func shoot(t *testing.T, ctx context.Context, dir, name string, width int64) {
	t.Helper()
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(width, 900), chromedp.Sleep(200*time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name), png, 0o644); err != nil {
		t.Fatal(err)
	}
}

var setPasswordLink = regexp.MustCompile(`console: first admin (\S+), set a password .*: (http\S+)`)

// TestConsoleInBrowser walks what the first admin does in a real browser:
// set a password from the printed link, enrol TOTP, sign in with a code,
// find a license, suspend it with a reason after a confirmation, see it
// suspended in its timeline; the SDK's renewal is then refused.
// (SQLite: the console's HTTP tests cover both databases.)
func TestConsoleInBrowser(t *testing.T) {
	t.Parallel()
	for _, dialect := range []string{"sqlite", "postgres"} {
		t.Run(dialect, func(t *testing.T) {
			t.Parallel()
			consoleInBrowser(t, dialect)
		})
	}
}

// consoleInBrowser walks the first admin's way on one database: the
// printed link, TOTP enrolment, a license an SDK activated, a suspension
// the SDK's next renewal sees, and the webhook of that suspension, failed
// at its only attempt, redelivered from the console.
func consoleInBrowser(t *testing.T, dialect string) {
	failFirst := func(n int) int {
		if n == 0 {
			return http.StatusServiceUnavailable
		}
		return http.StatusOK
	}
	rcv := workerstest.StartReceiver(t, failFirst)
	env := map[string]string{"NARCIDI_WEBHOOK_ALLOW_PRIVATE": "true", "NARCIDI_DELIVERY_ATTEMPTS": "1"}
	if dialect == "postgres" {
		usePostgres(t, env)
	}
	app := startAppWith(t, env)
	out := app.Out.(*bytes.Buffer).String()
	m := setPasswordLink.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no set-password link printed:\n%s", out)
	}
	email, link := m[1], m[2]
	if !strings.HasPrefix(link, app.URL()+"/console/set-password?token=") {
		t.Fatalf("link %q is not on the server", link)
	}

	// A license with a machine an SDK activated (made through the API: the
	// console has no create forms yet).
	admin := apiClient{t, app.URL(), adminToken}
	cat := seedCatalog(t, admin, 2)
	hook := registerHook(t, admin, rcv, licensing.ActionLicenseSuspended)
	sdk := &verifier.Client{BaseURL: app.URL()}
	req := verifier.MachineRequest{LicenseKey: cat.key, Fingerprint: verifier.FingerprintFrom("studio", "machine-1"), Hostname: "pc-1", Platform: "linux/amd64"}
	if _, err := sdk.Activate(context.Background(), req); err != nil {
		t.Fatal(err)
	}

	ctx := newBrowser(t, app.URL())
	dir := filepath.Join(screenshotDir(t), dialect)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	const password = "a long console password"
	submit := chromedp.CSS(`main form button[type=submit]`)
	run := func(what string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, actions...); err != nil {
			loc, _ := chromedp.Run(ctx, chromedp.Location())
			t.Fatalf("%s (at %s): %v", what, loc, err)
		}
	}
	text := func(sel chromedp.CSS) string {
		t.Helper()
		s, err := chromedp.Run(ctx, chromedp.Text(sel))
		if err != nil {
			t.Fatalf("text of %s: %v", sel, err)
		}
		return strings.TrimSpace(s)
	}

	run("set the password",
		chromedp.Navigate(link),
		chromedp.WaitVisible(chromedp.CSS(`#password`)),
		chromedp.SendKeys(chromedp.CSS(`#password`), password),
		chromedp.SendKeys(chromedp.CSS(`#confirm`), password),
		chromedp.Click(submit),
		chromedp.WaitVisible(chromedp.CSS(`#email`)))
	shoot(t, ctx, dir, "sign-in-phone.png", 390)
	signIn := func() {
		run("sign in",
			chromedp.EmulateViewport(1280, 900),
			chromedp.Navigate(app.URL()+"/console/sign-in"),
			chromedp.WaitVisible(chromedp.CSS(`#email`)),
			chromedp.SendKeys(chromedp.CSS(`#email`), email),
			chromedp.SendKeys(chromedp.CSS(`#password`), password),
			chromedp.Click(submit))
	}
	signIn()
	run("enrol TOTP",
		chromedp.WaitVisible(`//h2[text()="Licenses"]`),
		chromedp.Navigate(app.URL()+"/console/enrol"),
		chromedp.WaitVisible(chromedp.CSS(`img.qr`)))
	secret := text(`#totp-secret`)
	code, err := totp.GenerateCode(secret, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	run("confirm TOTP",
		chromedp.SendKeys(chromedp.CSS(`#code`), code),
		chromedp.SendKeys(chromedp.CSS(`#password`), password), // re-authentication
		chromedp.Click(submit),
		chromedp.WaitVisible(chromedp.CSS(`#recovery-codes`)))

	// Sign out, and in again: now the code is asked for.
	run("sign out", chromedp.Click(`//button[text()="Sign out"]`), chromedp.WaitVisible(chromedp.CSS(`#email`)))
	signIn()
	// A code is accepted once (RFC 6238 §5.2): the enrolment spent this
	// time step, so sign in with the next one, which the server's one step
	// of skew accepts.
	code, _ = totp.GenerateCode(secret, time.Now().Add(30*time.Second))
	run("second factor",
		chromedp.WaitVisible(chromedp.CSS(`#code`)),
		chromedp.SendKeys(chromedp.CSS(`#code`), code),
		chromedp.Click(submit),
		chromedp.WaitVisible(`//h2[text()="Licenses"]`))
	shoot(t, ctx, dir, "overview-desktop.png", 1280)

	run("find the license",
		chromedp.Navigate(app.URL()+"/console/licenses?status=active"),
		chromedp.Click(chromedp.CSS(`a[href="/console/licenses/`+cat.licenseID+`"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#reason-suspend`)))
	machines, err := chromedp.Run(ctx, chromedp.Text(`//h2[text()="Machines"]/..`))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(machines, "pc-1") || !strings.Contains(machines, "linux/amd64") {
		t.Errorf("the SDK's machine is not on the license page: %q", machines)
	}
	run("suspend",
		chromedp.SendKeys(chromedp.CSS(`#reason-suspend`), "chargeback under review"),
		chromedp.Click(chromedp.CSS(`#action-suspend`)),
		chromedp.WaitVisible(chromedp.CSS(`#confirm`)))
	run("confirm",
		chromedp.Click(chromedp.CSS(`#confirm`)),
		chromedp.WaitVisible(chromedp.CSS(`.notice`)))
	status, timeline := text(`#license-status`), text(`#timeline`)
	if status != "suspended" {
		t.Errorf("status after the suspension: %q", status)
	}
	if !strings.Contains(timeline, "license.suspended by "+email+": chargeback under review") {
		t.Errorf("timeline lacks the suspension: %q", timeline)
	}
	shoot(t, ctx, dir, "license-desktop.png", 1280)
	shoot(t, ctx, dir, "license-phone.png", 390)

	if _, err := sdk.Renew(context.Background(), req); apiCode(err) != "license_suspended" {
		t.Fatalf("renewal after the console's suspension: %v, want license_suspended", err)
	}

	// The suspension's webhook failed at its only attempt (503): an admin
	// finds it and redelivers it; the receiver then gets it (200).
	workerstest.WaitFor(t, "the failed first delivery", func() bool { return len(rcv.StatusCodes()) == 1 })
	run("find the failed delivery",
		chromedp.Navigate(app.URL()+"/console/webhooks/"+hook.ID+"?status=failed"),
		chromedp.Click(chromedp.CSS(`#deliveries a`)),
		chromedp.WaitVisible(chromedp.CSS(`#action-redeliver`)))
	if st := text(`#delivery-status`); st != "failed" {
		t.Fatalf("delivery status before the redelivery: %q, want failed", st)
	}
	run("redeliver",
		chromedp.SendKeys(chromedp.CSS(`#reason`), "receiver was down"),
		chromedp.Click(chromedp.CSS(`#action-redeliver`)),
		chromedp.WaitVisible(chromedp.CSS(`#confirm`)),
		chromedp.Click(chromedp.CSS(`#confirm`)),
		chromedp.WaitVisible(chromedp.CSS(`#attempts`)))
	workerstest.WaitFor(t, "the redelivered webhook", func() bool { return slices.Equal(rcv.StatusCodes(), []int{503, 200}) })
	if got := rcv.Received(); len(got) != 1 || got[0].Type != licensing.ActionLicenseSuspended { // the receiver keeps what it accepted
		t.Fatalf("receiver accepted %d payloads, want the suspension once", len(got))
	}
	workerstest.WaitFor(t, "the console to show the delivery delivered", func() bool {
		if err := chromedp.Do(ctx, chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS(`#delivery-status`))); err != nil {
			return false
		}
		return text(`#delivery-status`) == "delivered"
	})
	shoot(t, ctx, dir, "delivery-desktop.png", 1280)
}
