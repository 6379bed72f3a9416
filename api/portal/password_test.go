package portal_test

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/nzilacode/narcidicontrole/api/portal"
	"github.com/nzilacode/narcidicontrole/licensing"
	signin "github.com/nzilacode/narcidicontrole/licensing/portal"
	"github.com/nzilacode/narcidicontrole/storage"
	"github.com/nzilacode/narcidicontrole/storage/storagetest"
)

const goodPassword = "correct horse battery"

// setPassword sets a first password pw on the Password page of a
// signed-in browser.
func (b *browser) setPassword(pw, again string) (*http.Response, string) {
	b.e.t.Helper()
	return b.changePassword("", pw, again)
}

// changePassword replaces the password current with pw.
func (b *browser) changePassword(current, pw, again string) (*http.Response, string) {
	b.e.t.Helper()
	return b.do("POST", "/portal/password", url.Values{"csrf": {b.csrf("/portal/password")}, "current": {current}, "password": {pw}, "again": {again}})
}

// passwordSignIn posts the sign-in page's password form.
func (b *browser) passwordSignIn(email, pw string) (*http.Response, string) {
	b.e.t.Helper()
	return b.do("POST", "/portal/sign-in/password", url.Values{"csrf": {b.csrf("/portal/sign-in")}, "email": {email}, "password": {pw}})
}

// wantPasswordSignIn signs in with email and pw in a new browser and
// checks the status: 303 for a session, 401 for a refusal.
func (e *env) wantPasswordSignIn(what, email, pw string, status int) {
	e.t.Helper()
	if resp, _ := e.browser().passwordSignIn(email, pw); resp.StatusCode != status {
		e.t.Errorf("%s: %d, want %d", what, resp.StatusCode, status)
	}
}

// withPassword is a browser signed in by link as email (the n-th mail)
// that set goodPassword, then signed out.
func (e *env) withPassword(email string, n int) {
	e.t.Helper()
	b := e.signedIn(email, n)
	if resp, body := b.setPassword(goodPassword, goodPassword); resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/portal/password?done=password-set" {
		e.t.Fatalf("set password: %d to %q\n%s", resp.StatusCode, resp.Header.Get("Location"), body)
	}
	if resp, _ := b.do("POST", "/portal/sign-out", url.Values{"csrf": {b.csrf("/portal/")}}); resp.StatusCode != http.StatusSeeOther {
		e.t.Fatalf("sign out: %d", resp.StatusCode)
	}
}

func TestPortalPasswordSetThenSignIn(t *testing.T) {
	t.Parallel()
	storagetest.ForEach(t, func(t *testing.T, st *storage.Store) {
		e := newEnv(t, st)
		b := e.signedIn("it@acme.example", 1)
		if _, page := b.do("GET", "/portal/", nil); !strings.Contains(page, `href="/portal/password"`) {
			t.Fatalf("no Password link on the pages:\n%s", page)
		}
		for name, pw := range map[string][2]string{"differ": {goodPassword, goodPassword + "!"}, "short": {"short", "short"}} {
			if resp, body := b.setPassword(pw[0], pw[1]); resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, `role="alert"`) {
				t.Errorf("%s passwords: %d\n%s", name, resp.StatusCode, body)
			}
		}
		if evs := events(t, e, licensing.ActionPortalPasswordSet); len(evs) != 0 {
			t.Fatalf("refused passwords were recorded: %+v", evs)
		}
		e.withPassword("it@acme.example", 2)
		evs := events(t, e, licensing.ActionPortalPasswordSet)
		if len(evs) != 1 || evs[0].TargetID != e.acme.customer.ID || evs[0].Actor != "customer:"+e.acme.customer.ID {
			t.Fatalf("password events: %+v", evs)
		}

		p := e.browser()
		resp, _ := p.passwordSignIn("IT@acme.example", goodPassword)
		if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/portal/" || p.cookies[portal.CookieName] == "" {
			t.Fatalf("password sign-in: %d to %q", resp.StatusCode, resp.Header.Get("Location"))
		}
		if resp, page := p.do("GET", "/portal/", nil); resp.StatusCode != http.StatusOK || !strings.Contains(page, "Acme · it@acme.example") {
			t.Fatalf("after password sign-in: %d\n%s", resp.StatusCode, page)
		}
		in := events(t, e, licensing.ActionPortalSignedIn)
		if len(in) != 3 || !strings.Contains(in[0].Reason+in[len(in)-1].Reason, "with a password") {
			t.Errorf("sign-in events: %+v", in)
		}
		// Changing it replaces the old one and ends the email's other
		// sessions (b's, a link's), not the one that changed it.
		if resp, _ := p.changePassword(goodPassword, goodPassword+" two", goodPassword+" two"); resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("change: %d", resp.StatusCode)
		}
		if resp, _ := b.do("GET", "/portal/", nil); resp.StatusCode != http.StatusSeeOther {
			t.Errorf("another session after the change: %d, want a redirect to sign in", resp.StatusCode)
		}
		if resp, _ := p.do("GET", "/portal/", nil); resp.StatusCode != http.StatusOK {
			t.Errorf("the session that changed it: %d", resp.StatusCode)
		}
		e.wantPasswordSignIn("the old password after a change", "it@acme.example", goodPassword, http.StatusUnauthorized)
		e.wantPasswordSignIn("the new password", "it@acme.example", goodPassword+" two", http.StatusSeeOther)
	})
}

func TestPortalWrongPasswordLooksLikeUnknownEmail(t *testing.T) {
	t.Parallel()
	storagetest.ForEach(t, func(t *testing.T, st *storage.Store) {
		e := newEnv(t, st)
		e.withPassword("it@acme.example", 1)
		b := e.browser()
		wrong, wbody := b.passwordSignIn("it@acme.example", "not the password at all")
		unknown, ubody := b.passwordSignIn("nobody@acme.example", "not the password at all")
		// A known email without a password answers the same too.
		nopw, nbody := b.passwordSignIn("it@globex.example", "not the password at all")
		csrf := regexp.MustCompile(`name="csrf" value="[^"]+"`)
		norm := func(body, email string) string {
			return csrf.ReplaceAllString(strings.ReplaceAll(body, email, "X"), "")
		}
		if wrong.StatusCode != http.StatusUnauthorized || unknown.StatusCode != wrong.StatusCode || nopw.StatusCode != wrong.StatusCode {
			t.Fatalf("statuses: wrong %d, unknown %d, no password %d", wrong.StatusCode, unknown.StatusCode, nopw.StatusCode)
		}
		if norm(wbody, "it@acme.example") != norm(ubody, "nobody@acme.example") || norm(wbody, "it@acme.example") != norm(nbody, "it@globex.example") {
			t.Fatalf("the pages differ:\n%s\n---\n%s", wbody, ubody)
		}
		if !strings.Contains(wbody, "the email or the password is wrong") || b.cookies[portal.CookieName] != "" {
			t.Fatalf("refusal page:\n%s", wbody)
		}
		evs := events(t, e, licensing.ActionPortalSignInFailed)
		if len(evs) != 3 || !strings.Contains(evs[0].Reason+evs[1].Reason+evs[2].Reason, "nobody@acme.example") {
			t.Fatalf("failed sign-in audit: %+v", evs)
		}
		// The same allowance as link requests: 5 per IP and email (the link
		// request of withPassword and the wrong one above spent two), then
		// 429, even for the right password.
		for i := 3; i <= 5; i++ {
			if resp, _ := b.passwordSignIn("it@acme.example", "still wrong, still wrong"); resp.StatusCode != http.StatusUnauthorized {
				t.Fatalf("attempt %d: %d, want 401", i, resp.StatusCode)
			}
		}
		if resp, _ := b.passwordSignIn("it@acme.example", goodPassword); resp.StatusCode != http.StatusTooManyRequests {
			t.Fatalf("sixth attempt: %d, want 429", resp.StatusCode)
		}
		if resp, _ := b.do("POST", "/portal/sign-in", url.Values{"csrf": {b.csrf("/portal/sign-in")}, "email": {"it@acme.example"}}); resp.StatusCode != http.StatusTooManyRequests {
			t.Errorf("a link request after the password attempts: %d, want 429 (one allowance)", resp.StatusCode)
		}
	})
}

func TestPortalPasswordFollowsTheCustomerRecord(t *testing.T) {
	t.Parallel()
	storagetest.ForEach(t, func(t *testing.T, st *storage.Store) {
		e := newEnv(t, st)
		ctx := context.Background()
		e.withPassword("bo@acme.example", 1) // a contact's email
		e.wantPasswordSignIn("a contact's password", "bo@acme.example", goodPassword, http.StatusSeeOther)
		// Globex lists Bo too: the password opens a choice of the two.
		_, err := e.svc.Customers.UpdateCustomer(ctx, e.other.customer.ID, licensing.CustomerPatch{Contacts: &[]licensing.Contact{{Name: "Bo", Email: "bo@acme.example"}}})
		must(t, err)
		b := e.browser()
		resp, page := b.passwordSignIn("bo@acme.example", goodPassword)
		if resp.StatusCode != http.StatusOK || !strings.Contains(page, ">Acme</button>") || !strings.Contains(page, ">Globex</button>") || b.cookies[portal.CookieName] != "" {
			t.Fatalf("several customers: %d\n%s", resp.StatusCode, page)
		}
		m := regexp.MustCompile(`name="token" value="([^"]+)">\s*<button type="submit">Globex<`).FindStringSubmatch(page)
		if m == nil {
			t.Fatalf("no Globex choice:\n%s", page)
		}
		resp, _ = b.do("POST", "/portal/link", url.Values{"csrf": {csrfField.FindStringSubmatch(page)[1]}, "token": {m[1]}})
		if resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("choosing Globex: %d", resp.StatusCode)
		}
		if _, page := b.do("GET", "/portal/", nil); !strings.Contains(page, "Globex · bo@acme.example") {
			t.Fatalf("after the choice:\n%s", page)
		}
		// Bo leaves both: the password opens nothing, with the same answer
		// as a wrong one, and the open session ends.
		for _, id := range []string{e.acme.customer.ID, e.other.customer.ID} {
			_, err := e.svc.Customers.UpdateCustomer(ctx, id, licensing.CustomerPatch{Contacts: &[]licensing.Contact{}})
			must(t, err)
		}
		if resp, body := e.browser().passwordSignIn("bo@acme.example", goodPassword); resp.StatusCode != http.StatusUnauthorized || !strings.Contains(body, "the email or the password is wrong") {
			t.Fatalf("removed contact's password: %d\n%s", resp.StatusCode, body)
		}
		if resp, _ := b.do("GET", "/portal/", nil); resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("removed contact's session: %d, want a redirect to sign in", resp.StatusCode)
		}
		// A disabled customer's own email: refused too.
		e.withPassword("it@globex.example", 2)
		disabled := licensing.CustomerDisabled
		_, err = e.svc.Customers.UpdateCustomer(ctx, e.other.customer.ID, licensing.CustomerPatch{Status: &disabled})
		must(t, err)
		e.wantPasswordSignIn("a disabled customer's password", "it@globex.example", goodPassword, http.StatusUnauthorized)
	})
}

func TestPortalPasswordFormsNeedTheCSRFToken(t *testing.T) {
	t.Parallel()
	storagetest.OnPostgres(t, func(t *testing.T, st *storage.Store) {
		e := newEnv(t, st)
		e.withPassword("it@acme.example", 1)
		anon := e.browser()
		anon.csrf("/portal/sign-in") // has the pre-session cookie, not the field
		if resp, _ := anon.do("POST", "/portal/sign-in/password", url.Values{"email": {"it@acme.example"}, "password": {goodPassword}}); resp.StatusCode != http.StatusForbidden || anon.cookies[portal.CookieName] != "" {
			t.Fatalf("password sign-in without the token: %d", resp.StatusCode)
		}
		b := e.signedIn("it@acme.example", 2)
		for name, form := range map[string]url.Values{"none": {}, "wrong": {"csrf": {"not-the-token"}}} {
			form.Set("password", "a password set by someone else")
			form.Set("again", "a password set by someone else")
			if resp, _ := b.do("POST", "/portal/password", form); resp.StatusCode != http.StatusForbidden {
				t.Errorf("%s CSRF token: %d, want 403", name, resp.StatusCode)
			}
		}
		e.wantPasswordSignIn("the password after refused changes", "it@acme.example", goodPassword, http.StatusSeeOther)
		// Without a session the Password page is not there.
		if resp, _ := e.browser().do("GET", "/portal/password", nil); resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/portal/sign-in" {
			t.Errorf("password page signed out: %d to %q", resp.StatusCode, resp.Header.Get("Location"))
		}
	})
}

// TestPasswordNeedsReauthentication (issue 22, 8): a first password is set
// only within FreshSignIn of signing in with a link, and a password is
// changed only with the current one; a refusal changes nothing.
func TestPasswordNeedsReauthentication(t *testing.T) {
	t.Parallel()
	storagetest.ForEach(t, func(t *testing.T, st *storage.Store) {
		e := newEnv(t, st)
		b := e.signedIn("it@acme.example", 1)
		e.clock.Add(signin.FreshSignIn + time.Minute)
		if resp, body := b.setPassword(goodPassword, goodPassword); resp.StatusCode != http.StatusUnauthorized || !strings.Contains(body, "new link") {
			t.Fatalf("a first password from a stale session: %d, want 401\n%s", resp.StatusCode, body)
		}

		e.withPassword("it@acme.example", 2) // a fresh link: the first password is set
		p := e.browser()
		if resp, _ := p.passwordSignIn("it@acme.example", goodPassword); resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("password sign-in: %d", resp.StatusCode)
		}
		for _, cur := range []string{"", "not the password at all"} {
			if resp, _ := p.changePassword(cur, "a new password, long", "a new password, long"); resp.StatusCode != http.StatusUnauthorized {
				t.Errorf("change with current password %q: %d, want 401", cur, resp.StatusCode)
			}
		}
		e.wantPasswordSignIn("a password changed without the current one", "it@acme.example", "a new password, long", http.StatusUnauthorized)
		if resp, _ := p.changePassword(goodPassword, "a new password, long", "a new password, long"); resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("change with the current password: %d", resp.StatusCode)
		}
		e.wantPasswordSignIn("the changed password", "it@acme.example", "a new password, long", http.StatusSeeOther)
	})
}
