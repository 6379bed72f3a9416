package portal_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/mail"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/nzilacode/narcidicontrole/api"
	"github.com/nzilacode/narcidicontrole/api/portal"
	"github.com/nzilacode/narcidicontrole/keys/keystest"
	"github.com/nzilacode/narcidicontrole/licensing"
	"github.com/nzilacode/narcidicontrole/licensing/licensingtest"
	portalsignin "github.com/nzilacode/narcidicontrole/licensing/portal"
	"github.com/nzilacode/narcidicontrole/storage"
	"github.com/nzilacode/narcidicontrole/storage/storagetest"
	verifier "github.com/nzilacode/narcidicontrole/verifier-sdk"
	"github.com/nzilacode/narcidicontrole/workers"
	"github.com/nzilacode/narcidicontrole/workers/workerstest"
)

// env is a server with the portal over a real database, a real SMTP
// server for the links, and two customers with a license each.
type env struct {
	t     *testing.T
	app   *fiber.App
	svc   *licensing.Services
	clock *licensingtest.Clock
	box   *workerstest.Mailbox
	acme  tenant
	other tenant
}

// tenant is a customer with a license and one activated machine.
type tenant struct {
	customer *licensing.Customer
	license  *licensing.CreatedLicense
	machine  string
}

const base = "https://portal.example.test"

func newEnv(t *testing.T, st *storage.Store) *env {
	t.Helper()
	clock := licensingtest.NewClock(time.Now().UTC().Truncate(time.Second))
	kr, _ := keystest.Keyring(t, clock.Now)
	svc := licensing.NewServices(storage.Stores(st), licensing.Deps{Signer: kr, Clock: clock.Now, Issuer: "test"})
	box := workerstest.StartMailbox(t)
	mailer, err := workers.NewMailer("smtp://"+box.Addr+"?tls=none", "portal@narcidi.test")
	must(t, err)
	signIn, err := portalsignin.NewService(portalsignin.Config{Store: st.Portal(), Mailer: mailer, Clock: clock.Now})
	must(t, err)
	limiter := api.NewRateLimiter(nil, "", nil)
	srv := api.New(api.Config{Services: svc, Health: st, Keys: kr, Limiter: limiter,
		Portal: portal.New(portal.Config{SignIn: signIn, Services: svc, Limiter: limiter, BaseURL: func() string { return base }})})
	e := &env{t: t, app: srv.App(), svc: svc, clock: clock, box: box}
	ctx := context.Background()
	prod, err := svc.Catalog.CreateProduct(ctx, licensing.ProductInput{Code: "studio", Name: "Studio"})
	must(t, err)
	pol, err := svc.Catalog.CreatePolicy(ctx, licensing.PolicyInput{ProductID: prod.ID, Name: "Pro", DurationSeconds: 86400 * 365, MaxMachines: 2, Floating: true,
		LeaseTTLSeconds: 3600, HeartbeatWindowSeconds: 600, ExpiryAction: licensing.ExpiryRestrict})
	must(t, err)
	mk := func(name, email string, contacts []licensing.Contact, perms []licensing.Permission) tenant {
		c, err := svc.Customers.CreateCustomer(ctx, licensing.CustomerInput{Name: name, Email: email, Contacts: contacts, Permissions: perms})
		must(t, err)
		l, err := svc.Licenses.CreateLicense(ctx, licensing.LicenseInput{PolicyID: pol.ID, CustomerID: c.ID, Name: name + " studio"})
		must(t, err)
		g, err := svc.Leasing.Activate(ctx, licensing.MachineRequest{Key: l.Key, Fingerprint: verifier.FingerprintFrom("studio", name), Hostname: "pc-" + strings.ToLower(name)})
		must(t, err)
		return tenant{c, l, g.Machine.ID}
	}
	e.acme = mk("Acme", "it@acme.example", []licensing.Contact{{Name: "Bo", Email: "bo@acme.example"}}, nil)
	e.other = mk("Globex", "it@globex.example", nil,
		append([]licensing.Permission{licensing.WriteContacts}, licensing.DefaultCustomerPermissions...))
	return e
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
}

func (e *env) browser() *browser { return &browser{e: e, cookies: map[string]string{}} }

func (b *browser) send(req *http.Request) (*http.Response, string) {
	b.e.t.Helper()
	for k, v := range b.cookies {
		req.AddCookie(&http.Cookie{Name: k, Value: v})
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
	return b.send(req)
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func (b *browser) csrf(path string) string {
	b.e.t.Helper()
	_, body := b.do("GET", path, nil)
	m := csrfField.FindStringSubmatch(body)
	if m == nil {
		b.e.t.Fatalf("no csrf field on %s:\n%s", path, body)
	}
	return m[1]
}

var linkRe = regexp.MustCompile(regexp.QuoteMeta(base) + `(/portal/link\?token=\S+)`)

// askLink asks for a link for email and returns the path of the n-th link
// mailed (waiting for the mail, which is sent in the background).
func (e *env) askLink(b *browser, email string, n int) string {
	e.t.Helper()
	resp, body := b.do("POST", "/portal/sign-in", url.Values{"csrf": {b.csrf("/portal/sign-in")}, "email": {email}})
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, "a sign-in link is on its way") {
		e.t.Fatalf("link request: %d %s", resp.StatusCode, body)
	}
	workerstest.WaitFor(e.t, "the sign-in mail", func() bool { return len(e.box.Bodies()) >= n })
	m := linkRe.FindStringSubmatch(e.box.Bodies()[n-1])
	if m == nil {
		e.t.Fatalf("no link in the mail:\n%s", e.box.Bodies()[n-1])
	}
	return m[1]
}

// redeem opens the link page and presses its button.
func (b *browser) redeem(link string) *http.Response {
	b.e.t.Helper()
	_, page := b.do("GET", link, nil)
	token := regexp.MustCompile(`name="token" value="([^"]+)"`).FindStringSubmatch(page)
	if token == nil {
		b.e.t.Fatalf("no token on the link page:\n%s", page)
	}
	resp, _ := b.do("POST", "/portal/link", url.Values{"csrf": {csrfField.FindStringSubmatch(page)[1]}, "token": {token[1]}})
	return resp
}

// signedIn is a browser of a customer signed in through a mailed link.
func (e *env) signedIn(email string, n int) *browser {
	e.t.Helper()
	b := e.browser()
	if resp := b.redeem(e.askLink(b, email, n)); resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/portal/" {
		e.t.Fatalf("redeem: %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	return b
}

func events(t *testing.T, e *env, action string) []licensing.Event {
	t.Helper()
	evs, err := e.svc.Notifications.Events(context.Background(), licensing.EventFilter{Action: action}, licensing.Page{})
	must(t, err)
	return evs
}

func TestMagicLinkSignInSingleUse(t *testing.T) {
	t.Parallel()
	storagetest.ForEach(t, func(t *testing.T, st *storage.Store) {
		e := newEnv(t, st)
		// A contact's email works too.
		b := e.browser()
		link := e.askLink(b, "Bo@Acme.example", 1)
		msg := e.box.Messages()[0]
		if len(msg.To) != 1 || msg.To[0] != "bo@acme.example" || msg.From != "portal@narcidi.test" {
			t.Fatalf("mail from %q to %v", msg.From, msg.To)
		}
		if resp := b.redeem(link); resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("redeem: %d", resp.StatusCode)
		}
		cookie := b.cookies[portal.CookieName]
		if cookie == "" {
			t.Fatal("no session cookie")
		}
		resp, body := b.do("GET", "/portal/", nil)
		if resp.StatusCode != http.StatusOK || !strings.Contains(body, "…"+e.acme.license.License.KeyHint) || !strings.Contains(body, "1 / 2") {
			t.Fatalf("licenses page: %d\n%s", resp.StatusCode, body)
		}
		if strings.Contains(body, e.other.license.License.KeyHint) {
			t.Error("the licenses page shows another customer's license")
		}
		// The link is single-use, also in another browser.
		if resp := e.browser().redeem(link); resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("second use of the link: %d, want 401", resp.StatusCode)
		}
		if evs := events(t, e, licensing.ActionPortalSignedIn); len(evs) != 1 || evs[0].Actor != "customer:"+e.acme.customer.ID || evs[0].ActorName != "bo@acme.example" {
			t.Fatalf("sign-in events: %+v", evs)
		}
		if evs := events(t, e, licensing.ActionPortalSignInFailed); len(evs) != 1 || !strings.Contains(evs[0].Reason, "used or expired") {
			t.Fatalf("failed sign-in events: %+v", evs)
		}
		// Sign-out: the cookie, replayed, opens nothing.
		resp, _ = b.do("POST", "/portal/sign-out", url.Values{"csrf": {b.csrf("/portal/")}})
		if resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("sign-out: %d", resp.StatusCode)
		}
		replay := e.browser()
		replay.cookies[portal.CookieName] = cookie
		if resp, _ := replay.do("GET", "/portal/", nil); resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/portal/sign-in" {
			t.Fatalf("signed-out cookie: %d to %q", resp.StatusCode, resp.Header.Get("Location"))
		}
	})
}

// A mail server that answers "try again later" twice does not cost the
// customer the link: it is tried again, arrives once, and signs in.
func TestMagicLinkMailTriedAgain(t *testing.T) {
	t.Parallel()
	storagetest.ForEach(t, func(t *testing.T, st *storage.Store) {
		e := newEnv(t, st)
		e.box.RefuseNext(2)
		b := e.browser()
		link := e.askLink(b, "it@acme.example", 1)
		if got := e.box.Refused(); got != 2 {
			t.Fatalf("%d tries refused, want 2", got)
		}
		if n := len(e.box.Messages()); n != 1 {
			t.Fatalf("%d messages arrived, want 1", n)
		}
		if resp := b.redeem(link); resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("redeem the link mailed on the third try: %d", resp.StatusCode)
		}
	})
}

func TestUnknownEmailGetsTheSameAnswer(t *testing.T) {
	t.Parallel()
	storagetest.OnPostgres(t, func(t *testing.T, st *storage.Store) {
		e := newEnv(t, st)
		b := e.browser()
		csrf := b.csrf("/portal/sign-in")
		known, kbody := b.do("POST", "/portal/sign-in", url.Values{"csrf": {csrf}, "email": {"it@acme.example"}})
		unknown, ubody := b.do("POST", "/portal/sign-in", url.Values{"csrf": {csrf}, "email": {"nobody@acme.example"}})
		if known.StatusCode != unknown.StatusCode || strings.ReplaceAll(kbody, "it@acme.example", "X") != strings.ReplaceAll(ubody, "nobody@acme.example", "X") {
			t.Fatalf("the answers differ: %d vs %d", known.StatusCode, unknown.StatusCode)
		}
		workerstest.WaitFor(t, "the unknown email's audit", func() bool { return len(events(t, e, licensing.ActionPortalSignInFailed)) == 1 })
		if evs := events(t, e, licensing.ActionPortalSignInFailed); !strings.Contains(evs[0].Reason, "nobody@acme.example") {
			t.Errorf("audit: %+v", evs)
		}
		workerstest.WaitFor(t, "the known email's mail", func() bool { return len(e.box.Messages()) == 1 })
		time.Sleep(200 * time.Millisecond)
		if n := len(e.box.Messages()); n != 1 {
			t.Errorf("%d mails, want only the known email's", n)
		}
		// Asking again and again is slowed down.
		var last int
		for range 6 {
			resp, _ := b.do("POST", "/portal/sign-in", url.Values{"csrf": {csrf}, "email": {"nobody@acme.example"}})
			last = resp.StatusCode
		}
		if last != http.StatusTooManyRequests {
			t.Errorf("seventh request: %d, want 429", last)
		}
	})
}

func TestExpiredLinkIsRefused(t *testing.T) {
	t.Parallel()
	storagetest.ForEach(t, func(t *testing.T, st *storage.Store) {
		e := newEnv(t, st)
		b := e.browser()
		link := e.askLink(b, "it@acme.example", 1)
		e.clock.Add(15*time.Minute + time.Second)
		if resp := b.redeem(link); resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("expired link: %d, want 401", resp.StatusCode)
		}
		if _, ok := b.cookies[portal.CookieName]; ok {
			t.Fatal("an expired link opened a session")
		}
		// A fresh one works; its session ends after 30 idle minutes.
		b = e.signedIn("it@acme.example", 2)
		e.clock.Add(31 * time.Minute)
		if resp, _ := b.do("GET", "/portal/", nil); resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("idle session: %d, want a redirect to sign in", resp.StatusCode)
		}
	})
}

// TestAnotherCustomersIDsAnswer404 puts the other customer's license and
// machine ids in the URLs: not found, never forbidden, and nothing changes.
func TestAnotherCustomersIDsAnswer404(t *testing.T) {
	t.Parallel()
	storagetest.ForEach(t, func(t *testing.T, st *storage.Store) {
		e := newEnv(t, st)
		b := e.signedIn("it@acme.example", 1)
		csrf := b.csrf("/portal/")
		if resp, body := b.do("GET", "/portal/licenses/"+e.other.license.License.ID, nil); resp.StatusCode != http.StatusNotFound || strings.Contains(body, "Globex") {
			t.Errorf("another's license: %d", resp.StatusCode)
		}
		if resp, _ := b.do("GET", "/portal/licenses/"+e.acme.license.License.ID, nil); resp.StatusCode != http.StatusOK {
			t.Errorf("own license: %d", resp.StatusCode)
		}
		if resp, _ := b.do("POST", "/portal/machines/"+e.other.machine+"/deactivate", url.Values{"csrf": {csrf}}); resp.StatusCode != http.StatusNotFound {
			t.Errorf("freeing another's seat: %d, want 404", resp.StatusCode)
		}
		if _, err := e.svc.Licenses.Machine(context.Background(), e.other.machine); err != nil {
			t.Fatalf("another's machine after the attempt: %v", err)
		}
		_, body := b.do("GET", "/portal/machines", nil)
		if !strings.Contains(body, "pc-acme") || strings.Contains(body, "pc-globex") {
			t.Errorf("machines page:\n%s", body)
		}
		// The offline exchange with the other customer's key takes no seat.
		req := verifier.NewActivationRequest(e.other.license.License.ProductID, e.other.license.Key, verifier.FingerprintFrom("studio", "air"), "air-gapped", "linux/amd64", time.Now())
		if resp, _ := b.upload("/portal/offline", csrf, verifier.MarshalActivationRequest(req)); resp.StatusCode != http.StatusNotFound {
			t.Errorf("offline exchange of another's license: %d, want 404", resp.StatusCode)
		}
		ms, err := e.svc.Licenses.Machines(context.Background(), licensing.MachineFilter{LicenseID: e.other.license.License.ID}, licensing.Page{})
		must(t, err)
		if len(ms) != 1 {
			t.Errorf("the other license has %d machines, want 1", len(ms))
		}
	})
}

func (b *browser) upload(path, csrf string, file []byte) (*http.Response, string) {
	b.e.t.Helper()
	var buf strings.Builder
	w := multipart.NewWriter(&buf)
	must(b.e.t, w.WriteField("csrf", csrf))
	fw, err := w.CreateFormFile("request", "request.json")
	must(b.e.t, err)
	_, _ = fw.Write(file)
	must(b.e.t, w.Close())
	req := httptest.NewRequest("POST", path, strings.NewReader(buf.String()))
	req.Header.Set("Content-Type", w.FormDataContentType())
	return b.send(req)
}

func TestFreeASeatAndOfflineExchange(t *testing.T) {
	t.Parallel()
	storagetest.ForEach(t, func(t *testing.T, st *storage.Store) {
		e := newEnv(t, st)
		b := e.signedIn("it@acme.example", 1)
		csrf := b.csrf("/portal/machines")
		resp, _ := b.do("POST", "/portal/machines/"+e.acme.machine+"/deactivate", url.Values{"csrf": {csrf}, "back": {"/portal/licenses/" + e.acme.license.License.ID}})
		if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/portal/licenses/"+e.acme.license.License.ID+"?done=seat-freed" {
			t.Fatalf("free a seat: %d to %q", resp.StatusCode, resp.Header.Get("Location"))
		}
		if _, err := e.svc.Licenses.Machine(context.Background(), e.acme.machine); licensing.ErrorCode(err) != licensing.ENotFound {
			t.Fatalf("the freed machine: %v", err)
		}
		if evs := events(t, e, licensing.ActionMachineDeactivated); len(evs) != 1 || evs[0].Actor != "customer:"+e.acme.customer.ID {
			t.Fatalf("deactivation events: %+v", evs)
		}
		// The freed seat goes to an air-gapped machine through a request file.
		fp := verifier.FingerprintFrom("studio", "air")
		req := verifier.NewActivationRequest(e.acme.license.License.ProductID, e.acme.license.Key, fp, "air-gapped", "linux/amd64", time.Now())
		resp, body := b.upload("/portal/offline", csrf, verifier.MarshalActivationRequest(req))
		if resp.StatusCode != http.StatusOK || !strings.Contains(resp.Header.Get("Content-Disposition"), "attachment") {
			t.Fatalf("offline exchange: %d %s", resp.StatusCode, body)
		}
		if _, err := verifier.ParseLeaseFile([]byte(body)); err != nil {
			t.Fatalf("the answer is not a lease file: %v\n%s", err, body)
		}
		_, page := b.do("GET", "/portal/licenses/"+e.acme.license.License.ID, nil)
		if !strings.Contains(page, "air-gapped") {
			t.Errorf("the offline machine is not on the license page")
		}
	})
}

func TestStateChangesNeedTheCSRFToken(t *testing.T) {
	t.Parallel()
	storagetest.OnPostgres(t, func(t *testing.T, st *storage.Store) {
		e := newEnv(t, st)
		b := e.signedIn("it@acme.example", 1)
		path := "/portal/machines/" + e.acme.machine + "/deactivate"
		for name, form := range map[string]url.Values{"none": {}, "wrong": {"csrf": {"not-the-token"}}} {
			if resp, _ := b.do("POST", path, form); resp.StatusCode != http.StatusForbidden {
				t.Errorf("%s CSRF token: %d, want 403", name, resp.StatusCode)
			}
		}
		if _, err := e.svc.Licenses.Machine(context.Background(), e.acme.machine); err != nil {
			t.Fatalf("a refused request freed the seat: %v", err)
		}
		if resp, _ := b.do("POST", "/portal/sign-out", url.Values{}); resp.StatusCode != http.StatusForbidden {
			t.Errorf("sign-out without the token: %d", resp.StatusCode)
		}
		// Before a session: the link request and the redemption need the
		// pre-session token.
		anon := e.browser()
		if resp, _ := anon.do("POST", "/portal/sign-in", url.Values{"email": {"it@acme.example"}}); resp.StatusCode != http.StatusForbidden {
			t.Errorf("link request without the token: %d", resp.StatusCode)
		}
		if resp, _ := anon.do("POST", "/portal/link", url.Values{"token": {"nzm_x"}}); resp.StatusCode != http.StatusForbidden {
			t.Errorf("redemption without the token: %d", resp.StatusCode)
		}
		resp, body := e.browser().do("GET", "/portal/sign-in", nil)
		if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") || strings.Contains(body, "<script") {
			t.Errorf("CSP %q", csp)
		}
		for _, c := range resp.Cookies() {
			if !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Path != "/portal" {
				t.Errorf("cookie %s: HttpOnly %v SameSite %v Path %q", c.Name, c.HttpOnly, c.SameSite, c.Path)
			}
		}
	})
}

// TestContactsFollowThePermissions: Acme's record does not grant contact
// edits (the default), Globex's does.
func TestContactsFollowThePermissions(t *testing.T) {
	t.Parallel()
	storagetest.OnPostgres(t, func(t *testing.T, st *storage.Store) {
		e := newEnv(t, st)
		acme := e.signedIn("it@acme.example", 1)
		_, page := acme.do("GET", "/portal/contacts", nil)
		if !strings.Contains(page, "bo@acme.example") || strings.Contains(page, `action="/portal/contacts"`) {
			t.Fatalf("read-only contacts page:\n%s", page)
		}
		if resp, _ := acme.do("POST", "/portal/contacts", url.Values{"csrf": {acme.csrf("/portal/contacts")}, "email-0": {"x@acme.example"}}); resp.StatusCode != http.StatusForbidden {
			t.Errorf("contact edit without the permission: %d, want 403", resp.StatusCode)
		}
		globex := e.signedIn("it@globex.example", 2)
		resp, _ := globex.do("POST", "/portal/contacts", url.Values{"csrf": {globex.csrf("/portal/contacts")},
			"name-0": {"Hank"}, "email-0": {"hank@globex.example"}, "role-0": {"billing"}, "email-1": {""}})
		if resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("contact edit: %d", resp.StatusCode)
		}
		c, err := e.svc.Customers.Customer(context.Background(), e.other.customer.ID)
		must(t, err)
		if len(c.Contacts) != 1 || c.Contacts[0].Email != "hank@globex.example" || len(c.Permissions) != len(e.other.customer.Permissions) {
			t.Fatalf("after the edit: %+v", c)
		}
	})
}

// TestRoutesFollowTheCustomerRecord is the portal's routes × permissions
// check: a customer record that grants only licenses:read opens the
// license pages and nothing else; disabling the customer ends its sessions.
func TestRoutesFollowTheCustomerRecord(t *testing.T) {
	t.Parallel()
	storagetest.OnPostgres(t, func(t *testing.T, st *storage.Store) {
		e := newEnv(t, st)
		ctx := context.Background()
		readOnly := []licensing.Permission{licensing.ReadLicenses}
		_, err := e.svc.Customers.UpdateCustomer(ctx, e.acme.customer.ID, licensing.CustomerPatch{Permissions: &readOnly})
		must(t, err)
		b := e.signedIn("it@acme.example", 1)
		csrf := b.csrf("/portal/")
		for _, rt := range portal.Routes() {
			path := strings.NewReplacer(":id", e.acme.license.License.ID, ":license", e.acme.license.License.ID,
				":version", "1.0.0", ":platform", "linux", ":arch", "amd64").Replace(rt.Path)
			if strings.HasPrefix(path, "/machines/") {
				path = "/machines/" + e.acme.machine + "/deactivate"
			}
			var form url.Values
			if rt.Method == "POST" {
				form = url.Values{"csrf": {csrf}}
			}
			resp, _ := b.do(rt.Method, "/portal"+path, form)
			allowed := rt.Perm == licensing.ReadLicenses
			if allowed && resp.StatusCode == http.StatusForbidden || !allowed && resp.StatusCode != http.StatusForbidden {
				t.Errorf("%s %s (%s): %d", rt.Method, path, rt.Perm, resp.StatusCode)
			}
		}
		if _, err := e.svc.Licenses.Machine(ctx, e.acme.machine); err != nil {
			t.Fatalf("a refused route freed the seat: %v", err)
		}
		disabled := licensing.CustomerDisabled
		_, err = e.svc.Customers.UpdateCustomer(ctx, e.acme.customer.ID, licensing.CustomerPatch{Status: &disabled})
		must(t, err)
		if resp, _ := b.do("GET", "/portal/", nil); resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("a disabled customer's session: %d, want a redirect to sign in", resp.StatusCode)
		}
	})
}

// TestRedirectTargetsAreAllowedLocalPaths: the "Free seat" form's back
// field goes to Location only when it is one of the portal's pages; CR/LF
// (a second response on the kept-alive connection), other hosts and
// unknown paths send the customer to the machines page instead.
func TestRedirectTargetsAreAllowedLocalPaths(t *testing.T) {
	t.Parallel()
	storagetest.OnPostgres(t, func(t *testing.T, st *storage.Store) {
		e := newEnv(t, st)
		ctx := context.Background()
		b := e.signedIn("it@acme.example", 1)
		csrf := b.csrf("/portal/machines")
		lic := "/portal/licenses/" + e.acme.license.License.ID
		for _, back := range []string{
			lic + "\r\n\r\nHTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\n<script>alert(1)</script>",
			lic + "\rSet-Cookie: narcidi_portal=x",
			lic + "\nSet-Cookie: narcidi_portal=x",
			"/portal//evil.example", "/portal/\\evil.example", "https://evil.example/portal/", "//evil.example",
			"/portal/licenses/../../console/", "/portal/sign-out", "/portal/machines%0d%0aX: y",
		} {
			g, err := e.svc.Leasing.Activate(ctx, licensing.MachineRequest{Key: e.acme.license.Key, Fingerprint: verifier.FingerprintFrom("studio", back), Hostname: "pc"})
			must(t, err)
			resp, body := b.do("POST", "/portal/machines/"+g.Machine.ID+"/deactivate", url.Values{"csrf": {csrf}, "back": {back}})
			if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/portal/machines?done=seat-freed" {
				t.Errorf("back %q: %d to %q, want the machines page", back, resp.StatusCode, resp.Header.Get("Location"))
			}
			if resp.Header.Get("X") != "" || len(resp.Header.Values("Set-Cookie")) > 0 || strings.Contains(body, "<script>") {
				t.Errorf("back %q injected into the response: %v %q", back, resp.Header, body)
			}
		}
		g, err := e.svc.Leasing.Activate(ctx, licensing.MachineRequest{Key: e.acme.license.Key, Fingerprint: verifier.FingerprintFrom("studio", "ok"), Hostname: "pc"})
		must(t, err)
		resp, _ := b.do("POST", "/portal/machines/"+g.Machine.ID+"/deactivate", url.Values{"csrf": {csrf}, "back": {lic}})
		if resp.Header.Get("Location") != lic+"?done=seat-freed" {
			t.Errorf("an allowed back: to %q", resp.Header.Get("Location"))
		}
	})
}

// leaseExpiry reads the exp claim of a lease (its signature is the SDK's
// business; here only its lifetime matters).
func leaseExpiry(t *testing.T, lease string) time.Time {
	t.Helper()
	parts := strings.Split(lease, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWS: %q", lease)
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	must(t, err)
	var claims struct {
		Exp int64 `json:"exp"`
	}
	must(t, json.Unmarshal(raw, &claims))
	return time.Unix(claims.Exp, 0).UTC()
}

// TestOfflineSeatsHoldThroughThePortal: 50 offline activations through the
// portal, each followed by "Free seat", on a license of 2 seats: never more
// than 2 machines hold a lease that still works. An offline lease lasts
// the plan's lease lifetime (no offline cap in the plan), and its seat is
// freed only once it has ended; the portal says until when.
func TestOfflineSeatsHoldThroughThePortal(t *testing.T) {
	t.Parallel()
	storagetest.ForEach(t, func(t *testing.T, st *storage.Store) {
		e := newEnv(t, st)
		ctx := context.Background()
		b := e.signedIn("it@acme.example", 1)
		csrf := b.csrf("/portal/offline")
		lic := e.acme.license
		const seats = 3 // as the check: 50 activations + frees on a 3-seat license
		n := seats
		if _, err := e.svc.Catalog.UpdatePolicy(ctx, lic.License.PolicyID, licensing.PolicyPatch{MaxMachines: &n}); err != nil {
			t.Fatal(err)
		}
		var leases []time.Time // of the offline machines; the online one holds a working lease too
		refusedFree, maxWorking := 0, 0
		for i := range 50 {
			fp := verifier.FingerprintFrom("studio", "air-"+strconv.Itoa(i))
			req := verifier.NewActivationRequest(lic.License.ProductID, lic.Key, fp, "air-"+strconv.Itoa(i), "linux/amd64", e.clock.Now())
			resp, body := b.upload("/portal/offline", csrf, verifier.MarshalActivationRequest(req))
			if resp.StatusCode == http.StatusOK {
				lease, err := verifier.ParseLeaseFile([]byte(body))
				must(t, err)
				exp := leaseExpiry(t, lease)
				if exp.After(e.clock.Now().Add(time.Hour)) {
					t.Fatalf("an offline lease to %s, past the plan's 1 h lease lifetime", exp)
				}
				leases = append(leases, exp)
			}
			ms, err := e.svc.Licenses.Machines(ctx, licensing.MachineFilter{LicenseID: lic.License.ID}, licensing.Page{Limit: 100})
			must(t, err)
			for _, m := range ms {
				if m.ID == e.acme.machine {
					continue
				}
				resp, body := b.do("POST", "/portal/machines/"+m.ID+"/deactivate", url.Values{"csrf": {csrf}})
				if resp.StatusCode == http.StatusConflict && strings.Contains(body, "lease ends") {
					refusedFree++
				} else if resp.StatusCode != http.StatusSeeOther {
					t.Fatalf("free the seat of an offline machine: %d %s", resp.StatusCode, body)
				}
			}
			working := 1 // the online machine of the fixture
			for _, exp := range leases {
				if exp.After(e.clock.Now()) {
					working++
				}
			}
			if working > seats {
				t.Fatalf("after %d offline activations and frees: %d working leases on %d seats", i+1, working, seats)
			}
			maxWorking = max(maxWorking, working)
			e.clock.Add(2 * time.Minute)
		}
		if refusedFree == 0 {
			t.Error("no free of an offline machine's seat was refused")
		}
		if maxWorking != seats {
			t.Errorf("at most %d working leases at once: the test never filled the %d seats", maxWorking, seats)
		}
		if _, page := b.do("GET", "/portal/machines", nil); !strings.Contains(page, "Activated offline: its seat can be freed once its lease ends") {
			t.Error("the machines page does not say when an offline machine's seat frees")
		}
		if len(leases) < seats {
			t.Errorf("%d offline activations went through in 100 minutes; the seat of an ended lease is free again", len(leases))
		}
	})
}

// TestSignInMailIsPlain: a customer name (which a buyer sets through the
// billing provider) cannot add lines to the sign-in mail, such as a fake
// link; the Message-ID has one pair of angle brackets.
func TestSignInMailIsPlain(t *testing.T) {
	t.Parallel()
	storagetest.OnPostgres(t, func(t *testing.T, st *storage.Store) {
		e := newEnv(t, st)
		ctx := context.Background()
		name := "Acme\r\n\r\nYour account is locked: https://evil.example/unlock\n"
		if _, err := e.svc.Customers.UpdateCustomer(ctx, e.acme.customer.ID, licensing.CustomerPatch{Name: &name}); err != nil {
			t.Fatal(err)
		}
		e.askLink(e.browser(), "it@acme.example", 1)
		body := e.box.Bodies()[0]
		for _, line := range strings.Split(body, "\n") {
			if strings.HasPrefix(strings.TrimSpace(line), "Your account is locked") {
				t.Errorf("the customer name started a line of its own:\n%s", body)
			}
		}
		msg, err := mail.ReadMessage(strings.NewReader(e.box.Messages()[0].Data))
		must(t, err)
		if id := msg.Header.Get("Message-Id"); !strings.HasPrefix(id, "<") || strings.HasPrefix(id, "<<") || strings.HasSuffix(id, ">>") {
			t.Errorf("Message-ID = %q", id)
		}
	})
}

// TestSuspensionReasonStaysInternal: the reason an admin types to suspend
// is for the audit log; the customer's portal shows the status and the
// message written for the customer, if any.
func TestSuspensionReasonStaysInternal(t *testing.T) {
	t.Parallel()
	storagetest.OnPostgres(t, func(t *testing.T, st *storage.Store) {
		e := newEnv(t, st)
		admin := licensing.WithActor(context.Background(), &licensing.Actor{Name: "ops", Role: licensing.RoleAdmin})
		in := licensing.SuspendInput{Reason: "chargeback fraud suspected, ticket 4711", Message: "Your payment bounced; call billing."}
		if _, err := e.svc.Licenses.Suspend(admin, e.acme.license.License.ID, in); err != nil {
			t.Fatal(err)
		}
		b := e.signedIn("it@acme.example", 1)
		_, page := b.do("GET", "/portal/licenses/"+e.acme.license.License.ID, nil)
		if !strings.Contains(page, "suspended") {
			t.Fatalf("the license page does not show the status:\n%s", page)
		}
		if strings.Contains(page, "ticket 4711") {
			t.Error("the portal shows the internal suspension reason")
		}
		if !strings.Contains(page, `<p id="status-message">Your payment bounced; call billing.</p>`) {
			t.Errorf("the portal does not show the message to the customer:\n%s", page)
		}
	})
}

// TestRedeemedLinksDoNotCount (issue 22, 8): a redeemed link gives back
// what it spent of the client's allowance; only failures count. Six links
// in a row from one IP all open (the allowance is five), and wrong tokens
// are still refused with 429 after five.
func TestRedeemedLinksDoNotCount(t *testing.T) {
	t.Parallel()
	storagetest.ForEach(t, func(t *testing.T, st *storage.Store) {
		e := newEnv(t, st)
		n := 0
		for _, email := range []string{"it@acme.example", "bo@acme.example"} {
			for range 3 {
				n++
				b := e.browser()
				if resp := b.redeem(e.askLink(b, email, n)); resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/portal/" {
					t.Fatalf("link %d: %d to %q", n, resp.StatusCode, resp.Header.Get("Location"))
				}
			}
		}
		b := e.browser()
		csrf := b.csrf("/portal/link")
		codes := []int{}
		for i := range 6 {
			resp, _ := b.do("POST", "/portal/link", url.Values{"csrf": {csrf}, "token": {"wrong-token-" + strconv.Itoa(i)}})
			codes = append(codes, resp.StatusCode)
		}
		if codes[4] != http.StatusUnauthorized || codes[5] != http.StatusTooManyRequests {
			t.Errorf("wrong tokens: %v, want five 401 then 429", codes)
		}
	})
}
