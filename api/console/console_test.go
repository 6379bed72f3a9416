package console_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/pquerna/otp/totp"

	"github.com/nzilacode/narcidicontrole/api"
	"github.com/nzilacode/narcidicontrole/api/console"
	"github.com/nzilacode/narcidicontrole/keys"
	"github.com/nzilacode/narcidicontrole/keys/keystest"
	"github.com/nzilacode/narcidicontrole/licensing"
	"github.com/nzilacode/narcidicontrole/licensing/insights"
	"github.com/nzilacode/narcidicontrole/licensing/licensingtest"
	"github.com/nzilacode/narcidicontrole/licensing/portal"
	"github.com/nzilacode/narcidicontrole/licensing/release"
	"github.com/nzilacode/narcidicontrole/licensing/subscription"
	"github.com/nzilacode/narcidicontrole/licensing/users"
	"github.com/nzilacode/narcidicontrole/storage"
	"github.com/nzilacode/narcidicontrole/storage/storagetest"
)

// env is a server with the console over a real database, and a license
// to act on.
type env struct {
	t       *testing.T
	app     *fiber.App
	st      *storage.Store
	us      *users.Service
	svc     *licensing.Services
	clock   *licensingtest.Clock
	license *licensing.License
	ops     *opsEnv // what the operations pages need (ops_test.go)
	subs    *subscription.Service
}

func newEnv(t *testing.T, st *storage.Store) *env { t.Helper(); return newMailingEnv(t, st, nil) }

// newMailingEnv is newEnv whose console users service mails "forgot
// password" links with mailer (nil: none).
func newMailingEnv(t *testing.T, st *storage.Store, mailer users.Mailer) *env {
	t.Helper()
	return newEnvOn(t, st, mailer, nil)
}

// newEnvOn is newMailingEnv whose releases keep their bytes in blobs (nil:
// a local folder).
func newEnvOn(t *testing.T, st *storage.Store, mailer users.Mailer, blobs release.BlobStore) *env {
	t.Helper()
	clock := licensingtest.NewClock(time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC))
	kr, _ := keystest.Keyring(t, clock.Now)
	svc := licensing.NewServices(storage.Stores(st), licensing.Deps{Signer: kr, Clock: clock.Now, Issuer: "test", Box: webhookBox(t), AllowPrivate: true})
	ops := newOpsEnv(t, st, svc, clock, blobs)
	box, err := keys.NewSecretBox(make([]byte, 32), keys.BoxConsoleTOTP)
	if err != nil {
		t.Fatal(err)
	}
	us, err := users.NewService(users.Config{Store: st.Users(), Box: box, Clock: clock.Now, Mailer: mailer})
	if err != nil {
		t.Fatal(err)
	}
	limiter := api.NewRateLimiter(nil, "", nil)
	subs, err := subscription.NewService(subscription.Config{Store: st.Subscriptions(), Licenses: svc.Licenses, Customers: svc.Customers, Clock: clock.Now})
	must(t, err)
	srv := api.New(api.Config{Services: svc, Health: st, Keys: kr, Limiter: limiter,
		Console: console.New(console.Config{Users: us, Services: svc, Releases: ops.releases, Limiter: limiter, BaseURL: func() string { return "http://example.com" },
			Insights: insights.NewScores(st.InsightScores()), Clock: clock.Now}).WithSubscriptions(subs).WithPortalLinks(portalLinks(t, st, clock, mailer))})
	ctx := context.Background()
	prod, err := svc.Catalog.CreateProduct(ctx, licensing.ProductInput{Code: "studio", Name: "Studio"})
	must(t, err)
	pol, err := svc.Catalog.CreatePolicy(ctx, licensing.PolicyInput{ProductID: prod.ID, Name: "Pro", DurationSeconds: 86400 * 365, MaxMachines: 2, Floating: true,
		LeaseTTLSeconds: 3600, HeartbeatWindowSeconds: 600, ExpiryAction: licensing.ExpiryRestrict})
	must(t, err)
	cust, err := svc.Customers.CreateCustomer(ctx, licensing.CustomerInput{Name: "Acme", Email: "it@acme.example"})
	must(t, err)
	lic, err := svc.Licenses.CreateLicense(ctx, licensing.LicenseInput{PolicyID: pol.ID, CustomerID: cust.ID, Name: "Acme studio"})
	must(t, err)
	return &env{t: t, app: srv.App(), st: st, us: us, svc: svc, clock: clock, license: &lic.License, ops: ops, subs: subs}
}

// portalLinks is the portal's sign-in service, mailing with mailer (nil:
// none).
func portalLinks(t *testing.T, st *storage.Store, clock *licensingtest.Clock, mailer users.Mailer) *portal.Service {
	cfg := portal.Config{Store: st.Portal(), Clock: clock.Now}
	if m, ok := mailer.(portal.Mailer); ok && mailer != nil {
		cfg.Mailer = m // workers.Mailer sends both kinds
	}
	s, err := portal.NewService(cfg)
	must(t, err)
	return s
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// browser keeps cookies like a browser does for one site.
type browser struct {
	e       *env
	cookies map[string]string
	host    string // the Host header sent, when set
	accept  string // the Accept header sent, when set
	lang    string // the Accept-Language header sent, when set
}

func (e *env) browser() *browser { return &browser{e: e, cookies: map[string]string{}} }

func (b *browser) do(method, path string, form url.Values) (*http.Response, string) {
	b.e.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req := httptest.NewRequest(method, path, body)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for k, v := range b.cookies {
		req.AddCookie(&http.Cookie{Name: k, Value: v})
	}
	if b.lang != "" {
		req.Header.Set("Accept-Language", b.lang)
	}
	if b.accept != "" {
		req.Header.Set("Accept", b.accept)
	}
	if b.host != "" {
		req.Host = b.host
		req.Header.Set("X-Forwarded-Host", b.host)
	}
	resp, err := b.e.app.Test(req, -1)
	must(b.e.t, err)
	for _, c := range resp.Cookies() {
		if c.Value == "" || c.MaxAge < 0 {
			delete(b.cookies, c.Name)
		} else {
			b.cookies[c.Name] = c.Value
		}
	}
	out, _ := io.ReadAll(resp.Body)
	return resp, string(out)
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// csrf reads the token of the forms of a page.
func (b *browser) csrf(path string) string {
	b.e.t.Helper()
	_, body := b.do("GET", path, nil)
	m := csrfField.FindStringSubmatch(body)
	if m == nil {
		b.e.t.Fatalf("no csrf field on %s:\n%s", path, body)
	}
	return m[1]
}

// user makes a console user of role with a password.
func (e *env) user(email string, role licensing.Role) {
	e.t.Helper()
	_, link, err := e.us.CreateUser(context.Background(), email, role)
	must(e.t, err)
	_, err = e.us.SetPassword(context.Background(), link, "a long enough password")
	must(e.t, err)
}

// signedIn is a browser signed in as a new user of role.
func (e *env) signedIn(role licensing.Role) *browser {
	e.t.Helper()
	email := strings.ReplaceAll(string(role), "-", "") + "@example.com"
	e.user(email, role)
	b := e.browser()
	resp, _ := b.do("POST", "/console/sign-in", url.Values{"csrf": {b.csrf("/console/sign-in")}, "email": {email}, "password": {"a long enough password"}})
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/console/" {
		e.t.Fatalf("sign-in: %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	return b
}

func TestStateChangesNeedTheCSRFToken(t *testing.T) {
	t.Parallel()
	storagetest.OnPostgres(t, func(t *testing.T, st *storage.Store) {
		e := newEnv(t, st)
		b := e.signedIn(licensing.RoleAdmin)
		path := "/console/licenses/" + e.license.ID + "/suspend"
		for name, form := range map[string]url.Values{
			"none":  {"reason": {"x"}, "confirm": {"yes"}},
			"wrong": {"reason": {"x"}, "confirm": {"yes"}, "csrf": {"not-the-token"}},
		} {
			if resp, _ := b.do("POST", path, form); resp.StatusCode != http.StatusForbidden {
				t.Errorf("%s CSRF token: %d, want 403", name, resp.StatusCode)
			}
		}
		if resp, _ := b.do("POST", "/console/sign-out", url.Values{}); resp.StatusCode != http.StatusForbidden {
			t.Errorf("sign-out without the token: %d, want 403", resp.StatusCode)
		}
		// Before a session: the sign-in form's token is the pre-session cookie's.
		anon := e.browser()
		if resp, _ := anon.do("POST", "/console/sign-in", url.Values{"email": {"x@example.com"}, "password": {"y"}}); resp.StatusCode != http.StatusForbidden {
			t.Errorf("sign-in without the token: %d, want 403", resp.StatusCode)
		}
		l, err := e.svc.Licenses.License(context.Background(), e.license.ID)
		must(t, err)
		if l.Status != licensing.LicenseActive {
			t.Fatalf("a refused request changed the license: %s", l.Status)
		}
		// With the token, the same suspension goes through (confirmed).
		csrf := b.csrf("/console/licenses/" + e.license.ID)
		resp, body := b.do("POST", path, url.Values{"reason": {"fraud check"}, "csrf": {csrf}})
		if resp.StatusCode != http.StatusOK || !strings.Contains(body, `name="confirm" value="yes"`) {
			t.Fatalf("first step: %d, want the confirmation page", resp.StatusCode)
		}
		if l, _ := e.svc.Licenses.License(context.Background(), e.license.ID); l.Status != licensing.LicenseActive {
			t.Fatal("the first step suspended without confirmation")
		}
		resp, _ = b.do("POST", path, url.Values{"reason": {"fraud check"}, "csrf": {csrf}, "confirm": {"yes"}})
		if resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("confirmed: %d", resp.StatusCode)
		}
		if l, _ := e.svc.Licenses.License(context.Background(), e.license.ID); l.Status != licensing.LicenseSuspended || l.StatusReason != "fraud check" {
			t.Fatalf("after the confirmation: %s (%q)", l.Status, l.StatusReason)
		}
		evs, err := e.svc.Notifications.Events(context.Background(), licensing.EventFilter{TargetID: e.license.ID, Action: licensing.ActionLicenseSuspended}, licensing.Page{})
		must(t, err)
		if len(evs) != 1 || !strings.HasPrefix(evs[0].Actor, "user:") || evs[0].ActorName != "admin@example.com" {
			t.Fatalf("suspension events = %+v, want one by the console user", evs)
		}
	})
}

func TestWrongPasswordsAreSlowedDownAndAudited(t *testing.T) {
	t.Parallel()
	storagetest.OnPostgres(t, func(t *testing.T, st *storage.Store) {
		e := newEnv(t, st)
		e.user("ops@example.com", licensing.RoleSupport)
		b := e.browser()
		csrf := b.csrf("/console/sign-in")
		for i := range 5 {
			resp, body := b.do("POST", "/console/sign-in", url.Values{"csrf": {csrf}, "email": {"ops@example.com"}, "password": {"wrong password"}})
			if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(body, "Wrong email or password") {
				t.Fatalf("attempt %d: %d, want 401 with the form", i+1, resp.StatusCode)
			}
		}
		// The sixth, even with the right password, waits.
		resp, _ := b.do("POST", "/console/sign-in", url.Values{"csrf": {csrf}, "email": {"ops@example.com"}, "password": {"a long enough password"}})
		if resp.StatusCode != http.StatusTooManyRequests {
			t.Fatalf("sixth attempt: %d, want 429", resp.StatusCode)
		}
		evs, err := e.svc.Notifications.Events(context.Background(), licensing.EventFilter{Action: licensing.ActionUserSignInFailed}, licensing.Page{})
		must(t, err)
		if len(evs) != 5 || !strings.Contains(evs[0].Reason, "ops@example.com") {
			t.Fatalf("%d failed sign-ins audited (%+v), want 5", len(evs), evs)
		}
	})
}

func TestSessionTimeoutAndSignOut(t *testing.T) {
	t.Parallel()
	storagetest.OnPostgres(t, func(t *testing.T, st *storage.Store) {
		e := newEnv(t, st)
		b := e.signedIn(licensing.RoleReadOnly)
		if resp, _ := b.do("GET", "/console/", nil); resp.StatusCode != http.StatusOK {
			t.Fatalf("signed in: %d", resp.StatusCode)
		}
		e.clock.Add(31 * time.Minute) // past the idle timeout
		resp, _ := b.do("GET", "/console/", nil)
		if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/console/sign-in" {
			t.Fatalf("idle session: %d to %q, want the sign-in page", resp.StatusCode, resp.Header.Get("Location"))
		}
		if _, ok := b.cookies[console.CookieName]; ok {
			t.Error("the idle session's cookie was not cleared")
		}

		// Sign-out: the old cookie, replayed, opens nothing.
		e.clock.Add(time.Minute)
		b2 := e.signedIn(licensing.RoleAdmin)
		old := b2.cookies[console.CookieName]
		resp, _ = b2.do("POST", "/console/sign-out", url.Values{"csrf": {b2.csrf("/console/")}})
		if resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("sign-out: %d", resp.StatusCode)
		}
		replay := e.browser()
		replay.cookies[console.CookieName] = old
		if resp, _ := replay.do("GET", "/console/licenses", nil); resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("a signed-out cookie: %d, want a redirect to sign in", resp.StatusCode)
		}
		if resp, _ := replay.do("POST", "/console/licenses/"+e.license.ID+"/suspend", url.Values{"reason": {"x"}}); resp.StatusCode != http.StatusForbidden && resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("a signed-out cookie posting: %d, want 401 or 403", resp.StatusCode)
		}
	})
}

// TestRoutesByRole is the console's routes × roles matrix: every
// signed-in route answers 403 to a role without its permission in
// licensing's table and serves the others (a POST of the matrix's empty
// form may be refused by the page, 4xx, but not by the role check).
func TestRoutesByRole(t *testing.T) {
	t.Parallel()
	storagetest.OnPostgres(t, func(t *testing.T, st *storage.Store) {
		e := newEnv(t, st)
		for _, role := range users.ConsoleRoles {
			b := e.signedIn(role)
			csrf := b.csrf("/console/licenses")
			for _, rt := range console.Routes() {
				path := e.routePath(rt)
				var form url.Values
				if rt.Method == "POST" {
					form = url.Values{"csrf": {csrf}, "reason": {"matrix"}} // no confirm: nothing changes
				}
				resp, _ := b.do(rt.Method, path, form)
				allowed := (&licensing.Actor{Role: role}).Allows(rt.Perm)
				switch {
				case !allowed && resp.StatusCode != http.StatusForbidden:
					t.Errorf("%s %s %s: %d, want 403", role, rt.Method, path, resp.StatusCode)
				case allowed && rt.Method == "GET" && resp.StatusCode != http.StatusOK:
					t.Errorf("%s %s %s: %d, want 200", role, rt.Method, path, resp.StatusCode)
				// A form posted empty may be refused as invalid, never as
				// forbidden (and nothing is confirmed, so nothing changes).
				case allowed && (resp.StatusCode == http.StatusForbidden || resp.StatusCode == http.StatusUnauthorized || resp.StatusCode >= 500):
					t.Errorf("%s %s %s: %d, want the form's answer", role, rt.Method, path, resp.StatusCode)
				}
			}
		}
		// Signed out, every route sends to the sign-in page.
		anon := e.browser()
		for _, rt := range console.Routes() {
			if rt.Method != "GET" {
				continue
			}
			path := e.routePath(rt)
			if resp, _ := anon.do("GET", path, nil); resp.StatusCode != http.StatusSeeOther {
				t.Errorf("signed out GET %s: %d, want 303", path, resp.StatusCode)
			}
		}
	})
}

func TestPagesSendASecurityPolicy(t *testing.T) {
	t.Parallel()
	storagetest.OnPostgres(t, func(t *testing.T, st *storage.Store) {
		e := newEnv(t, st)
		resp, body := e.browser().do("GET", "/console/sign-in", nil)
		csp := resp.Header.Get("Content-Security-Policy")
		for _, want := range []string{"default-src 'none'", "script-src 'self'", "frame-ancestors 'none'"} {
			if !strings.Contains(csp, want) {
				t.Errorf("CSP %q lacks %q", csp, want)
			}
		}
		if strings.Contains(body, "<script") || strings.Contains(body, "http://") || strings.Contains(body, "https://") {
			t.Error("the sign-in page has a script or an outside URL")
		}
		for _, c := range resp.Cookies() {
			if !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Path != "/console" {
				t.Errorf("cookie %s: HttpOnly %v SameSite %v Path %q", c.Name, c.HttpOnly, c.SameSite, c.Path)
			}
		}
		if resp, _ := e.browser().do("GET", "/console/static/console.css", nil); resp.StatusCode != http.StatusOK {
			t.Errorf("stylesheet: %d", resp.StatusCode)
		}
	})
}

// TestSignInIsLimitedPerIP: one client trying many emails (each with its
// own per-email budget) meets the per-IP limit; the attempts refused there
// leave no audit row. A 60 kB email is an ordinary wrong attempt.
func TestSignInIsLimitedPerIP(t *testing.T) {
	t.Parallel()
	storagetest.OnPostgres(t, func(t *testing.T, st *storage.Store) {
		e := newEnv(t, st)
		b := e.browser()
		csrf := b.csrf("/console/sign-in")
		limited := 0
		for i := range 30 {
			email := strconv.Itoa(i) + "@example.com"
			if i == 0 {
				email = strings.Repeat("x", 60<<10) + "@example.com"
			}
			resp, _ := b.do("POST", "/console/sign-in", url.Values{"csrf": {csrf}, "email": {email}, "password": {"wrong password"}})
			switch resp.StatusCode {
			case http.StatusUnauthorized:
			case http.StatusTooManyRequests:
				limited++
			default:
				t.Fatalf("attempt %d: %d", i, resp.StatusCode)
			}
		}
		if limited != 30-console.DefaultSignInIPRate.Burst {
			t.Errorf("%d of 30 attempts with distinct emails from one IP refused, want %d", limited, 30-console.DefaultSignInIPRate.Burst)
		}
		evs, err := e.svc.Notifications.Events(context.Background(), licensing.EventFilter{Action: licensing.ActionUserSignInFailed}, licensing.Page{Limit: 100})
		must(t, err)
		if len(evs) != console.DefaultSignInIPRate.Burst {
			t.Errorf("%d failed sign-ins audited, want %d", len(evs), console.DefaultSignInIPRate.Burst)
		}
	})
}

// TestNULInAFormFieldIsRefused: a NUL in a form field is a client mistake
// (422), on PostgreSQL too, which refuses NUL in text (it was a 500 there).
func TestNULInAFormFieldIsRefused(t *testing.T) {
	t.Parallel()
	storagetest.OnPostgres(t, func(t *testing.T, st *storage.Store) {
		e := newEnv(t, st)
		b := e.browser()
		csrf := b.csrf("/console/sign-in")
		for _, form := range []url.Values{
			{"csrf": {csrf}, "email": {"ops\x00@example.com"}, "password": {"wrong password"}},
			{"csrf": {csrf}, "email": {"ops@example.com"}, "password": {"wrong\x00password"}},
		} {
			resp, body := b.do("POST", "/console/sign-in", form)
			if resp.StatusCode != http.StatusUnprocessableEntity {
				t.Errorf("a NUL in a form field: %d %s, want 422", resp.StatusCode, body)
			}
		}
	})
}

// TestSetPasswordLinkUsesThePublicURL: the link shown to the admin who
// creates a user starts with the configured public URL, whatever Host or
// X-Forwarded-Host the request carried (a forged one would send the new
// user's secret to another site).
func TestSetPasswordLinkUsesThePublicURL(t *testing.T) {
	t.Parallel()
	storagetest.OnPostgres(t, func(t *testing.T, st *storage.Store) {
		e := newEnv(t, st)
		admin := e.signedIn(licensing.RoleAdmin)
		admin.host = "evil.example"
		resp, body := admin.post("/console/users", url.Values{"email": {"new@example.com"}, "role": {"read-only"}})
		if resp.StatusCode != http.StatusCreated {
			t.Fatalf("create: %d", resp.StatusCode)
		}
		if link := shownOnce(t, body); !strings.HasPrefix(link, "http://example.com/console/set-password?token=") {
			t.Errorf("link = %q, want it on the public URL", link)
		}
	})
}

// TestSecondFactorRenewsTheSessionCookie: the cookie a browser got after
// the password no longer opens the console once the second factor is
// given; the renewed one does.
func TestSecondFactorRenewsTheSessionCookie(t *testing.T) {
	t.Parallel()
	storagetest.OnPostgres(t, func(t *testing.T, st *storage.Store) {
		e := newEnv(t, st)
		ctx := context.Background()
		e.user("ops@example.com", licensing.RoleSupport)
		in, err := e.us.SignIn(ctx, "ops@example.com", "a long enough password", "", "")
		must(t, err)
		cur, err := e.us.Authenticate(ctx, in.Secret)
		must(t, err)
		enr, err := e.us.BeginTOTP(ctx, cur.User.ID)
		must(t, err)
		c, _ := totp.GenerateCode(enr.Secret, e.clock.Now())
		_, err = e.us.ConfirmTOTP(ctx, cur, "a long enough password", c)
		must(t, err)
		e.clock.Add(time.Minute)

		b := e.browser()
		resp, _ := b.do("POST", "/console/sign-in", url.Values{"csrf": {b.csrf("/console/sign-in")}, "email": {"ops@example.com"}, "password": {"a long enough password"}})
		if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/console/two-factor" {
			t.Fatalf("sign-in: %d to %q", resp.StatusCode, resp.Header.Get("Location"))
		}
		pre := b.cookies[console.CookieName]
		c, _ = totp.GenerateCode(enr.Secret, e.clock.Now())
		resp, _ = b.do("POST", "/console/two-factor", url.Values{"csrf": {b.csrf("/console/two-factor")}, "code": {c}})
		if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/console/" {
			t.Fatalf("second factor: %d to %q", resp.StatusCode, resp.Header.Get("Location"))
		}
		if b.cookies[console.CookieName] == pre {
			t.Fatal("the session cookie was not renewed")
		}
		if resp, _ := b.do("GET", "/console/", nil); resp.StatusCode != http.StatusOK {
			t.Fatalf("the renewed cookie: %d", resp.StatusCode)
		}
		old := e.browser()
		old.cookies[console.CookieName] = pre
		if resp, _ := old.do("GET", "/console/", nil); resp.StatusCode == http.StatusOK {
			t.Error("the cookie from before the second factor opens the console")
		}
	})
}

// TestEnrolmentNeedsThePassword (issue 22, 8): turning on two-factor
// sign-in asks for the user's current password, so a console left open
// cannot be bound to someone else's authenticator; a wrong one changes
// nothing and keeps the secret already scanned.
func TestEnrolmentNeedsThePassword(t *testing.T) {
	t.Parallel()
	storagetest.OnPostgres(t, func(t *testing.T, st *storage.Store) {
		e := newEnv(t, st)
		b := e.signedIn(licensing.RoleSupport)
		_, page := b.do("GET", "/console/enrol", nil)
		m := regexp.MustCompile(`<code id="totp-secret">([A-Z2-7]+)</code>`).FindStringSubmatch(page)
		if m == nil || !strings.Contains(page, `name="password"`) {
			t.Fatalf("the enrolment form has no secret or no password field:\n%s", page)
		}
		code, _ := totp.GenerateCode(m[1], e.clock.Now())
		for _, pw := range []string{"", "not the password at all"} {
			resp, body := b.post("/console/enrol", url.Values{"code": {code}, "password": {pw}})
			if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(body, m[1]) || strings.Contains(body, "recovery-codes") {
				t.Fatalf("enrol with password %q: %d, want 401 and the same secret:\n%s", pw, resp.StatusCode, body)
			}
		}
		// Still off: turning it on now works (it answers 409 once on).
		resp, body := b.post("/console/enrol", url.Values{"code": {code}, "password": {"a long enough password"}})
		if resp.StatusCode != http.StatusOK || !strings.Contains(body, "recovery-codes") {
			t.Fatalf("enrol with the password: %d\n%s", resp.StatusCode, body)
		}
	})
}
