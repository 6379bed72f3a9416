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

var portalLinkRe = regexp.MustCompile(`http://example\.com(/portal/link\?token=[^"\s]+)`)

// customerPage returns the id of the env's customer (Acme).
func (e *env) customerID() string { return e.license.CustomerID }

// TestPortalLinkWithoutMail: without SMTP the customer's portal-link page
// offers only "copy", shows the link once, audits it with the admin as
// actor, and the link signs the customer in to the portal.
func TestPortalLinkWithoutMail(t *testing.T) {
	t.Parallel()
	storagetest.ForEach(t, func(t *testing.T, st *storage.Store) {
		e := newEnv(t, st)
		admin := e.signedIn(licensing.RoleAdmin)
		id := e.customerID()
		if _, page := admin.do("GET", "/console/customers/"+id, nil); !strings.Contains(page, `href="/console/customers/`+id+`/portal-link"`) {
			t.Fatalf("the customer page has no portal-link link:\n%s", page)
		}
		_, page := admin.do("GET", "/console/customers/"+id+"/portal-link", nil)
		if strings.Contains(page, `id="portal-link-send"`) || !strings.Contains(page, `id="portal-link-copy"`) || !strings.Contains(page, "sends no email") {
			t.Fatalf("the portal-link page without SMTP:\n%s", page)
		}
		csrf := csrfField.FindStringSubmatch(page)[1]
		// Sending is refused, saying why; an email not the customer's too.
		if resp, page := admin.do("POST", "/console/customers/"+id+"/portal-link", url.Values{"csrf": {csrf}, "action": {"send"}, "email": {"it@acme.example"}}); resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(page, "not configured") {
			t.Errorf("send without SMTP: %d\n%s", resp.StatusCode, page)
		}
		if resp, page := admin.do("POST", "/console/customers/"+id+"/portal-link", url.Values{"csrf": {csrf}, "action": {"copy"}, "email": {"evil@example.com"}}); resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(page, "not the customer&#39;s email") {
			t.Errorf("a link for another email: %d\n%s", resp.StatusCode, page)
		}
		resp, page := admin.do("POST", "/console/customers/"+id+"/portal-link", url.Values{"csrf": {csrf}, "action": {"copy"}, "email": {"it@acme.example"}})
		m := portalLinkRe.FindStringSubmatch(page)
		if resp.StatusCode != http.StatusCreated || m == nil || !strings.Contains(page, "works once, for 15 minutes") {
			t.Fatalf("copy sign-in link: %d\n%s", resp.StatusCode, page)
		}
		evs := e.events(licensing.ActionPortalLinkSent)
		if len(evs) != 1 || evs[0].TargetID != id || !strings.HasPrefix(evs[0].Actor, "user:") || !strings.Contains(evs[0].Reason, "shown once") {
			t.Errorf("portal.link_sent events = %+v", evs)
		}
		// The link opens the portal's link page (redeemed there: the
		// portal's own tests press its button).
		l, _ := url.Parse(strings.ReplaceAll(m[1], "&amp;", "&"))
		in, err := portalLinks(t, st, e.clock, nil).Redeem(context.Background(), l.Query().Get("token"), "192.0.2.9", "t")
		if err != nil || in.Customer.ID != id {
			t.Fatalf("redeem the copied link: %+v %v", in, err)
		}
		// Read-only staff may not.
		ro := e.signedIn(licensing.RoleReadOnly)
		if resp, _ := ro.do("GET", "/console/customers/"+id+"/portal-link", nil); resp.StatusCode != http.StatusForbidden {
			t.Errorf("read-only on the portal-link page: %d, want 403", resp.StatusCode)
		}
	})
}

// TestPortalLinkByMail: with SMTP "send sign-in link" mails the customer
// a link in words a customer reads.
func TestPortalLinkByMail(t *testing.T) {
	t.Parallel()
	storagetest.ForEach(t, func(t *testing.T, st *storage.Store) {
		box := workerstest.StartMailbox(t)
		mailer, err := workers.NewMailer("smtp://"+box.Addr+"?tls=none", "portal@narcidi.test")
		must(t, err)
		e := newMailingEnv(t, st, mailer)
		support := e.signedIn(licensing.RoleSupport)
		id := e.customerID()
		csrf := support.csrf("/console/customers/" + id + "/portal-link")
		resp, page := support.do("POST", "/console/customers/"+id+"/portal-link", url.Values{"csrf": {csrf}, "action": {"send"}, "email": {"it@acme.example"}})
		if resp.StatusCode != http.StatusOK || !strings.Contains(page, "mailed to it@acme.example") || portalLinkRe.MatchString(page) {
			t.Fatalf("send sign-in link: %d\n%s", resp.StatusCode, page)
		}
		if len(box.Messages()) != 1 || box.Messages()[0].To[0] != "it@acme.example" {
			t.Fatalf("mails: %+v", box.Messages())
		}
		body := box.Bodies()[0]
		if !portalLinkRe.MatchString(body) || !strings.Contains(body, "Acme") || !strings.Contains(body, "works once, for 15 minutes") || strings.Contains(body, "15m0s") {
			t.Errorf("the mail:\n%s", body)
		}
		if evs := e.events(licensing.ActionPortalLinkSent); len(evs) != 1 || !strings.Contains(evs[0].Reason, "mailed") {
			t.Errorf("portal.link_sent events = %+v", evs)
		}
	})
}
