package console_test

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/nzilacode/narcidicontrole/licensing"
	"github.com/nzilacode/narcidicontrole/storage"
	"github.com/nzilacode/narcidicontrole/storage/storagetest"
	"github.com/nzilacode/narcidicontrole/workers"
	"github.com/nzilacode/narcidicontrole/workers/workerstest"
)

var setPasswordLinkRe = regexp.MustCompile(`http://example\.com(/console/set-password\?token=\S+)`)

func (e *env) events(action string) []licensing.Event {
	e.t.Helper()
	evs, err := e.svc.Notifications.Events(context.Background(), licensing.EventFilter{Action: action}, licensing.Page{Limit: 100})
	must(e.t, err)
	return evs
}

// setPassword opens a set-password link and submits the form.
func (b *browser) setPassword(link, password string) (*http.Response, string) {
	b.e.t.Helper()
	resp, page := b.do("GET", link, nil)
	if resp.StatusCode != http.StatusOK {
		return resp, page
	}
	u, _ := url.Parse(link)
	return b.do("POST", "/console/set-password", url.Values{"csrf": {csrfField.FindStringSubmatch(page)[1]}, "token": {u.Query().Get("token")},
		"password": {password}, "confirm": {password}})
}

// TestForgotPasswordByMail: the sign-in page leads to "forgot password",
// which mails a one-time link (words, not Go durations) to a console
// user and answers the same for an unknown email; the link sets a new
// password and ends the user's sessions; used again it shows a page that
// says so, not the form. Each step is audited, and the form is rate
// limited.
func TestForgotPasswordByMail(t *testing.T) {
	t.Parallel()
	storagetest.ForEach(t, func(t *testing.T, st *storage.Store) {
		box := workerstest.StartMailbox(t)
		mailer, err := workers.NewMailer("smtp://"+box.Addr+"?tls=none", "console@narcidi.test")
		must(t, err)
		e := newMailingEnv(t, st, mailer)
		old := e.signedIn(licensing.RoleSupport) // support@example.com, signed in elsewhere

		anon := e.browser()
		if _, page := anon.do("GET", "/console/sign-in", nil); !strings.Contains(page, `href="/console/forgot-password"`) {
			t.Fatalf("the sign-in page has no forgot-password link:\n%s", page)
		}
		ask := func(email string) string {
			t.Helper()
			resp, page := anon.do("POST", "/console/forgot-password", url.Values{"csrf": {anon.csrf("/console/forgot-password")}, "email": {email}})
			if resp.StatusCode != http.StatusOK || !strings.Contains(page, "is on its way") {
				t.Fatalf("forgot password for %s: %d\n%s", email, resp.StatusCode, page)
			}
			return page
		}
		unknown, known := ask("nobody@example.com"), ask("Support@Example.com")
		if strings.ReplaceAll(unknown, "nobody@example.com", "X") != strings.ReplaceAll(known, "Support@Example.com", "X") {
			t.Error("the answers for a known and an unknown email differ")
		}
		workerstest.WaitFor(t, "the reset mail", func() bool { return len(box.Bodies()) == 1 })
		workerstest.WaitFor(t, "the unknown email's audit", func() bool {
			for _, ev := range e.events(licensing.ActionUserSignInFailed) {
				if strings.Contains(ev.Reason, "password reset asked for nobody@example.com") {
					return true
				}
			}
			return false
		})
		msg := box.Messages()[0]
		if len(msg.To) != 1 || msg.To[0] != "support@example.com" || box.Subjects()[0] != "Reset your NzilaCode console password" {
			t.Errorf("mail to %v subject %q", msg.To, box.Subjects()[0])
		}
		body := box.Bodies()[0]
		if !strings.Contains(body, "works once, for 24 hours") || strings.Contains(body, "24h0m0s") {
			t.Errorf("the mail does not say how long the link works in words:\n%s", body)
		}
		m := setPasswordLinkRe.FindStringSubmatch(body)
		if m == nil {
			t.Fatalf("no link in the mail:\n%s", body)
		}
		if evs := e.events(licensing.ActionUserPasswordLink); len(evs) != 1 || !strings.Contains(evs[0].Reason, "forgot-password") {
			t.Errorf("password link events = %+v", evs)
		}

		resp, _ := anon.setPassword(m[1], "a brand new password")
		if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/console/sign-in?password=set" {
			t.Fatalf("set password: %d to %q", resp.StatusCode, resp.Header.Get("Location"))
		}
		if _, page := anon.do("GET", "/console/sign-in?password=set", nil); !strings.Contains(page, `id="password-set"`) {
			t.Error("the sign-in page does not say the password is set")
		}
		// The session opened with the old password has ended.
		if resp, _ := old.do("GET", "/console/licenses", nil); resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/console/sign-in" {
			t.Errorf("the old session after the reset: %d to %q, want the sign-in page", resp.StatusCode, resp.Header.Get("Location"))
		}
		resp, _ = anon.do("POST", "/console/sign-in", url.Values{"csrf": {anon.csrf("/console/sign-in")}, "email": {"support@example.com"}, "password": {"a brand new password"}})
		if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/console/" {
			t.Errorf("sign-in with the new password: %d to %q", resp.StatusCode, resp.Header.Get("Location"))
		}
		// The used link shows a page that says so, not the form.
		resp, page := e.browser().do("GET", m[1], nil)
		if resp.StatusCode != http.StatusGone || !strings.Contains(page, "used already") || strings.Contains(page, `name="password"`) {
			t.Errorf("the used link: %d\n%s", resp.StatusCode, page)
		}
		// An expired one too.
		_, link, err := e.us.CreateUser(context.Background(), "late@example.com", licensing.RoleReadOnly)
		must(t, err)
		e.clock.Add(25 * 60 * 60 * 1e9)
		resp, page = e.browser().do("GET", "/console/set-password?token="+url.QueryEscape(link), nil)
		if resp.StatusCode != http.StatusGone || !strings.Contains(page, "has expired") || !strings.Contains(page, `href="/console/forgot-password"`) {
			t.Errorf("an expired link: %d\n%s", resp.StatusCode, page)
		}
		if resp, _ := e.browser().do("GET", "/console/set-password?token=nzp_nonsense", nil); resp.StatusCode != http.StatusNotFound {
			t.Errorf("an unknown link: %d, want 404", resp.StatusCode)
		}

		// The form is limited per IP and email, as sign-in is.
		limited := false
		for range 8 {
			resp, _ := anon.do("POST", "/console/forgot-password", url.Values{"csrf": {anon.csrf("/console/forgot-password")}, "email": {"flood@example.com"}})
			if resp.StatusCode == http.StatusTooManyRequests {
				limited = true
				break
			}
		}
		if !limited {
			t.Error("8 forgot-password requests for one email were not rate limited")
		}
	})
}

// TestPasswordLinksWithoutMail: without SMTP the forgot-password page
// says it cannot mail and who can help; an admin issues a new link on the
// user's page (shown once, audited) that works.
func TestPasswordLinksWithoutMail(t *testing.T) {
	t.Parallel()
	storagetest.ForEach(t, func(t *testing.T, st *storage.Store) {
		e := newEnv(t, st)
		anon := e.browser()
		_, page := anon.do("GET", "/console/forgot-password", nil)
		if !strings.Contains(page, "cannot mail you a link") || strings.Contains(page, "on its way") || !strings.Contains(page, "narcidi users link") {
			t.Errorf("the forgot-password page without SMTP:\n%s", page)
		}
		resp, page := anon.do("POST", "/console/forgot-password", url.Values{"csrf": {anon.csrf("/console/sign-in")}, "email": {"x@example.com"}})
		if resp.StatusCode != http.StatusServiceUnavailable || strings.Contains(page, "on its way") {
			t.Errorf("forgot password without SMTP: %d\n%s", resp.StatusCode, page)
		}

		admin := e.signedIn(licensing.RoleAdmin)
		e.user("ops@example.com", licensing.RoleReadOnly)
		u, err := e.us.UserByEmail(context.Background(), "ops@example.com")
		must(t, err)
		if _, page := admin.do("GET", "/console/users/"+u.ID, nil); !strings.Contains(page, `action="/console/users/`+u.ID+`/password-link"`) {
			t.Fatalf("the user page has no new-link action:\n%s", page)
		}
		resp, page = admin.do("POST", "/console/users/"+u.ID+"/password-link", url.Values{"csrf": {admin.csrf("/console/users/" + u.ID)}})
		m := setPasswordLinkRe.FindStringSubmatch(page)
		if resp.StatusCode != http.StatusCreated || m == nil || !strings.Contains(page, "for 24 hours") {
			t.Fatalf("new set-password link: %d\n%s", resp.StatusCode, page)
		}
		link := strings.TrimSuffix(m[1], `"`)
		evs := e.events(licensing.ActionUserPasswordLink)
		if len(evs) != 1 || evs[0].TargetID != u.ID || !strings.HasPrefix(evs[0].Actor, "user:") || evs[0].Reason != "shown to an admin in the console" {
			t.Errorf("password link events = %+v", evs)
		}
		if resp, _ := e.browser().setPassword(link, "another long password"); resp.StatusCode != http.StatusSeeOther {
			t.Errorf("the admin's link: %d", resp.StatusCode)
		}
		// Others than admins may not.
		support := e.signedIn(licensing.RoleSupport)
		if resp, _ := support.do("POST", "/console/users/"+u.ID+"/password-link", url.Values{"csrf": {support.csrf("/console/")}}); resp.StatusCode != http.StatusForbidden {
			t.Errorf("support issuing a link: %d, want 403", resp.StatusCode)
		}
	})
}

// A reset asked from a Portuguese browser, for a user of no language of
// their own, is mailed in the browser's Portuguese (the page's language
// is handed to the mail, which is sent after the answer).
func TestForgotPasswordMailFollowsThePage(t *testing.T) {
	t.Parallel()
	st := storagetest.Open(t, "sqlite")
	box := workerstest.StartMailbox(t)
	mailer, err := workers.NewMailer("smtp://"+box.Addr+"?tls=none", "console@narcidi.test")
	must(t, err)
	e := newMailingEnv(t, st, mailer)
	e.user("support@example.com", licensing.RoleSupport)
	anon := e.browser()
	anon.lang = "pt-BR,pt;q=0.9"
	resp, _ := anon.do("POST", "/console/forgot-password", url.Values{"csrf": {anon.csrf("/console/forgot-password")}, "email": {"support@example.com"}})
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("forgot password: %d", resp.StatusCode)
	}
	workerstest.WaitFor(t, "the reset mail", func() bool { return len(box.Bodies()) == 1 })
	if got := box.Subjects()[0]; got != "Redefina sua senha do console NzilaCode" {
		t.Errorf("subject %q, want the pt-BR one", got)
	}
}
