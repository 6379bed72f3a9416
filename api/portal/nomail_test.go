package portal_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/nzilacode/narcidicontrole/api"
	"github.com/nzilacode/narcidicontrole/api/portal"
	"github.com/nzilacode/narcidicontrole/keys/keystest"
	"github.com/nzilacode/narcidicontrole/licensing"
	"github.com/nzilacode/narcidicontrole/licensing/licensingtest"
	portalsignin "github.com/nzilacode/narcidicontrole/licensing/portal"
	"github.com/nzilacode/narcidicontrole/storage"
	"github.com/nzilacode/narcidicontrole/storage/storagetest"
)

// TestSignInWithoutMail: a server without SMTP says so on the sign-in
// page (no "email me a link" form) and, when a link is asked for anyway,
// answers that none was sent (never "on its way") and audits the request;
// a link staff issue (the console's "copy sign-in link") signs the
// customer in.
func TestSignInWithoutMail(t *testing.T) {
	t.Parallel()
	storagetest.OnPostgres(t, func(t *testing.T, st *storage.Store) {
		clock := licensingtest.NewClock(time.Now().UTC().Truncate(time.Second))
		kr, _ := keystest.Keyring(t, clock.Now)
		svc := licensing.NewServices(storage.Stores(st), licensing.Deps{Signer: kr, Clock: clock.Now, Issuer: "test"})
		signIn, err := portalsignin.NewService(portalsignin.Config{Store: st.Portal(), Clock: clock.Now})
		must(t, err)
		limiter := api.NewRateLimiter(nil, "", nil)
		srv := api.New(api.Config{Services: svc, Health: st, Keys: kr, Limiter: limiter,
			Portal: portal.New(portal.Config{SignIn: signIn, Services: svc, Limiter: limiter, BaseURL: func() string { return base }})})
		e := &env{t: t, app: srv.App(), svc: svc, clock: clock}
		ctx := context.Background()
		acme, err := svc.Customers.CreateCustomer(ctx, licensing.CustomerInput{Name: "Acme", Email: "it@acme.example"})
		must(t, err)

		b := e.browser()
		_, page := b.do("GET", "/portal/sign-in", nil)
		if strings.Contains(page, `action="/portal/sign-in"`) || !strings.Contains(page, "cannot mail you a sign-in link") || !strings.Contains(page, "Ask NzilaCode to sign you in") {
			t.Errorf("the sign-in page without SMTP:\n%s", page)
		}
		resp, page := b.do("POST", "/portal/sign-in", url.Values{"csrf": {b.csrf("/portal/sign-in")}, "email": {"it@acme.example"}})
		if resp.StatusCode != http.StatusServiceUnavailable || strings.Contains(page, "on its way") || !strings.Contains(page, "No link was sent to it@acme.example") {
			t.Errorf("asking for a link without SMTP: %d\n%s", resp.StatusCode, page)
		}
		// Not an email: the form names its field (licensing.PlainEmail's).
		resp, page = b.do("POST", "/portal/sign-in", url.Values{"csrf": {b.csrf("/portal/sign-in")}, "email": {"it at acme"}})
		if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(page, "Email: this value is not accepted.") {
			t.Errorf("asking for a link for no email: %d\n%s", resp.StatusCode, page)
		}
		if evs := events(t, e, licensing.ActionPortalSignInFailed); len(evs) != 1 || !strings.Contains(evs[0].Reason, "sends no email") {
			t.Errorf("portal.sign_in_failed events = %+v", evs)
		}

		staff := licensing.WithActor(ctx, &licensing.Actor{UserID: "u1", Name: "ops@example.com", Role: licensing.RoleSupport})
		if _, err := signIn.IssueLink(staff, acme.ID, "", base, true); licensing.ErrorCode(err) != licensing.EUnavailable {
			t.Errorf("mailing a link without SMTP: %v, want unavailable", err)
		}
		link, err := signIn.IssueLink(staff, acme.ID, "", base, false)
		must(t, err)
		m := linkRe.FindStringSubmatch(link)
		if m == nil {
			t.Fatalf("IssueLink = %q", link)
		}
		if resp := b.redeem(m[1]); resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/portal/" {
			t.Fatalf("redeem the staff's link: %d to %q", resp.StatusCode, resp.Header.Get("Location"))
		}
		if resp, _ := b.do("GET", "/portal/", nil); resp.StatusCode != http.StatusOK {
			t.Errorf("the portal after the staff's link: %d", resp.StatusCode)
		}
		evs := events(t, e, licensing.ActionPortalLinkSent)
		if len(evs) != 1 || evs[0].Actor != "user:u1" || !strings.Contains(evs[0].Reason, "shown once") {
			t.Errorf("portal.link_sent events = %+v", evs)
		}
		// Not for an email the customer does not have.
		if _, err := signIn.IssueLink(staff, acme.ID, "mallory@example.com", base, false); licensing.ErrorCode(err) != licensing.EInvalid {
			t.Errorf("a link for another email: %v, want invalid", err)
		}
	})
}
