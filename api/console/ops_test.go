package console_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nzilacode/narcidicontrole/api/console"
	"github.com/nzilacode/narcidicontrole/keys"
	"github.com/nzilacode/narcidicontrole/licensing"
	"github.com/nzilacode/narcidicontrole/licensing/licensingtest"
	"github.com/nzilacode/narcidicontrole/licensing/release"
	"github.com/nzilacode/narcidicontrole/licensing/users"
	"github.com/nzilacode/narcidicontrole/storage"
	"github.com/nzilacode/narcidicontrole/storage/blob"
	"github.com/nzilacode/narcidicontrole/storage/storagetest"
	verifier "github.com/nzilacode/narcidicontrole/verifier-sdk"
	"github.com/nzilacode/narcidicontrole/workers"
	"github.com/nzilacode/narcidicontrole/workers/workerstest"
)

// opsEnv is what the operations pages need beyond newEnv's license: a
// release service over a local blob store, and one id of each kind for the
// routes × roles matrix.
type opsEnv struct {
	releases *release.Service
	key      ed25519.PrivateKey // the publisher's release key
	ids      map[string]string  // route parameter → an id of that kind
	areaIDs  map[string]string  // first path segment → the id its :id takes
}

func webhookBox(t *testing.T) *keys.SecretBox {
	t.Helper()
	box, err := keys.NewSecretBox(make([]byte, 32), keys.BoxWebhooks)
	must(t, err)
	return box
}

// newOpsEnv's releases keep their bytes in blobs (nil: a local folder
// served on loopback).
func newOpsEnv(t *testing.T, st *storage.Store, svc *licensing.Services, clock *licensingtest.Clock, blobs release.BlobStore) *opsEnv {
	t.Helper()
	if blobs == nil {
		local, err := blob.NewLocal(t.TempDir(), "", bytes.Repeat([]byte{9}, 32), clock.Now)
		must(t, err)
		srv := httptest.NewServer(local.Handler())
		t.Cleanup(srv.Close)
		local.SetBaseURL(srv.URL)
		blobs = local
	}
	key := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{5}, 32))
	rs, err := release.NewService(release.Config{Store: st.Releases(), Blobs: blobs, Leasing: svc.Leasing, Catalog: svc.Catalog,
		MetadataKey: ed25519.NewKeyFromSeed(bytes.Repeat([]byte{6}, 32)), ReleaseKeys: []ed25519.PublicKey{key.Public().(ed25519.PublicKey)},
		Clock: clock.Now, PartSize: 5 << 20})
	must(t, err)
	return &opsEnv{releases: rs, key: key}
}

// draftRelease is a draft of the license's product with one uploaded and
// finalized artifact: ready to publish.
func (e *env) draftRelease(version string) *release.Release {
	e.t.Helper()
	ctx, prod := context.Background(), e.license.ProductID
	r, err := e.ops.releases.CreateRelease(ctx, release.ReleaseInput{ProductID: prod, Version: version})
	must(e.t, err)
	data := []byte("build " + version)
	s256, s512 := sha256.Sum256(data), sha512.Sum512(data)
	in := release.ArtifactInput{Platform: "linux", Arch: "amd64", Filename: "studio", Size: int64(len(data)),
		SHA256: hex.EncodeToString(s256[:]), SHA512: hex.EncodeToString(s512[:])}
	in.Signature = base64.StdEncoding.EncodeToString(ed25519.Sign(e.ops.key,
		verifier.ArtifactStatement(prod, version, "linux", "amd64", "studio", in.Size, in.SHA256, in.SHA512)))
	up, err := e.ops.releases.AddArtifact(ctx, r.ID, in)
	must(e.t, err)
	req, _ := http.NewRequest("PUT", up.URL, bytes.NewReader(data))
	resp, err := http.DefaultClient.Do(req)
	must(e.t, err)
	resp.Body.Close()
	_, err = e.ops.releases.Finalize(ctx, r.ID, up.Artifact.ID, release.FinalizeInput{})
	must(e.t, err)
	return r
}

// activate is a machine of a new license of the env's policy.
func (e *env) activate(hostname string) *licensing.Machine {
	e.t.Helper()
	ctx := context.Background()
	lic, err := e.svc.Licenses.CreateLicense(ctx, licensing.LicenseInput{PolicyID: e.license.PolicyID, CustomerID: e.license.CustomerID})
	must(e.t, err)
	g, err := e.svc.Leasing.Activate(ctx, licensing.MachineRequest{Key: lic.Key, Fingerprint: "fp-" + hostname + "-0001",
		Hostname: hostname, Platform: "linux/amd64", IP: "192.0.2.7"})
	must(e.t, err)
	return g.Machine
}

// routePath is rt's path with an id of the right kind in each parameter.
func (e *env) routePath(rt console.Route) string {
	e.t.Helper()
	if e.ops.ids == nil {
		ctx := context.Background()
		hook, err := e.svc.Notifications.CreateWebhook(ctx, licensing.WebhookInput{URL: "http://127.0.0.1:9/hook", EventTypes: []string{"*"}})
		must(e.t, err)
		ds, err := e.svc.Notifications.FanOut(ctx, e.lastEvent(licensing.ActionWebhookCreated).ID, func(string) bool { return false }, 1)
		must(e.t, err)
		tok, err := e.svc.Access.CreateToken(ctx, licensing.TokenInput{Name: "matrix", Role: licensing.RoleReadOnly})
		must(e.t, err)
		u, _, err := e.us.CreateUser(ctx, "matrix@example.com", licensing.RoleReadOnly)
		must(e.t, err)
		e.ops.ids = map[string]string{"id": e.license.ID, "action": "suspend", "machine": e.activate("matrix").ID,
			"release": e.draftRelease("9.9.9").ID, "webhook": hook.ID, "delivery": ds[0].ID, "token": tok.Token.ID, "user": u.ID,
			"artifact": licensing.NewID()}
		ent, err := e.svc.Catalog.CreateEntitlement(ctx, licensing.EntitlementInput{Code: "matrix", Name: "Matrix"})
		must(e.t, err)
		// The :id of the catalog's and customers' areas is of the kind
		// their first segment names; elsewhere it is a license's.
		e.ops.areaIDs = map[string]string{"products": e.license.ProductID, "policies": e.license.PolicyID,
			"customers": e.license.CustomerID, "entitlements": ent.ID}
	}
	path := "/console" + regexp.MustCompile(`:[a-z]+`).ReplaceAllStringFunc(rt.Path, func(p string) string {
		if id, ok := e.ops.areaIDs[strings.Split(rt.Path, "/")[1]]; ok && p == ":id" {
			return id
		}
		return e.ops.ids[p[1:]]
	})
	if path == "/console/" || path == "/console" {
		return "/console/"
	}
	return strings.TrimSuffix(path, "/")
}

func (e *env) lastEvent(action string) licensing.Event {
	e.t.Helper()
	evs, err := e.svc.Notifications.Events(context.Background(), licensing.EventFilter{Action: action}, licensing.Page{Limit: licensing.MaxPageLimit})
	must(e.t, err)
	if len(evs) == 0 {
		e.t.Fatalf("no %s event", action)
	}
	return evs[len(evs)-1]
}

// audited fails unless the last event of action is about targetID and
// was made by the console user email.
func (e *env) audited(action, targetID, email, reason string) {
	e.t.Helper()
	ev := e.lastEvent(action)
	if ev.TargetID != targetID || !strings.HasPrefix(ev.Actor, "user:") || ev.ActorName != email || ev.Reason != reason {
		e.t.Fatalf("%s event = %+v, want one about %s by %s (reason %q)", action, ev, targetID, email, reason)
	}
}

// post sends a form with the session's CSRF token.
func (b *browser) post(path string, form url.Values) (*http.Response, string) {
	b.e.t.Helper()
	form.Set("csrf", b.csrf("/console/"))
	return b.do("POST", path, form)
}

// act posts an action, checks that the first step only asks to confirm,
// then confirms it; it returns the confirmed answer.
func (b *browser) act(path string, form url.Values) (*http.Response, string) {
	b.e.t.Helper()
	resp, body := b.post(path, form)
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, `name="confirm" value="yes"`) {
		b.e.t.Fatalf("POST %s: %d, want the confirmation page:\n%s", path, resp.StatusCode, body)
	}
	form.Set("confirm", "yes")
	return b.post(path, form)
}

func wantStatus(t *testing.T, what string, resp *http.Response, want int) {
	t.Helper()
	if resp.StatusCode != want {
		t.Fatalf("%s: %d, want %d", what, resp.StatusCode, want)
	}
}

func TestMachinesPages(t *testing.T) {
	t.Parallel()
	storagetest.ForEach(t, func(t *testing.T, st *storage.Store) {
		e := newEnv(t, st)
		ctx := context.Background()
		m1, m2 := e.activate("build-01"), e.activate("build-02")
		admin := e.signedIn(licensing.RoleAdmin)

		resp, body := admin.do("GET", "/console/machines?license="+m1.LicenseID, nil)
		wantStatus(t, "machines of a license", resp, http.StatusOK)
		if !strings.Contains(body, "build-01") || strings.Contains(body, "build-02") {
			t.Fatalf("the license filter: %s", body)
		}
		if _, body := admin.do("GET", "/console/machines?status=blocked", nil); strings.Contains(body, "build-0") {
			t.Fatal("the status filter lists active machines as blocked")
		}
		_, body = admin.do("GET", "/console/machines/"+m1.ID, nil)
		for _, want := range []string{"192.0.2.7", "linux/amd64", "fp-build-01-0001", "build-01", `id="action-block"`, `id="action-deactivate"`} {
			if !strings.Contains(body, want) {
				t.Errorf("the machine page lacks %q", want)
			}
		}

		// Without a reason: refused, nothing changes.
		resp, _ = admin.post("/console/machines/"+m1.ID+"/block", url.Values{"confirm": {"yes"}})
		wantStatus(t, "block without a reason", resp, http.StatusUnprocessableEntity)
		resp, _ = admin.act("/console/machines/"+m1.ID+"/block", url.Values{"reason": {"shared key"}})
		wantStatus(t, "block", resp, http.StatusSeeOther)
		if m, _ := e.svc.Licenses.Machine(ctx, m1.ID); m.Status != licensing.MachineBlocked {
			t.Fatalf("after block: %s", m.Status)
		}
		e.audited(licensing.ActionMachineBlocked, m1.ID, "admin@example.com", "shared key")

		// Read-only sees the machine, may not act on it.
		ro := e.signedIn(licensing.RoleReadOnly)
		for _, a := range []string{"block", "unblock", "deactivate"} {
			resp, _ := ro.post("/console/machines/"+m2.ID+"/"+a, url.Values{"reason": {"x"}, "confirm": {"yes"}})
			wantStatus(t, "read-only "+a, resp, http.StatusForbidden)
		}
		if _, body := ro.do("GET", "/console/machines/"+m1.ID, nil); strings.Contains(body, "action-") {
			t.Error("the read-only user is offered actions")
		}

		// Support may (licenses:write and machines:write).
		sup := e.signedIn(licensing.RoleSupport)
		resp, _ = sup.act("/console/machines/"+m1.ID+"/unblock", url.Values{"reason": {"cleared"}})
		wantStatus(t, "unblock", resp, http.StatusSeeOther)
		e.audited(licensing.ActionMachineUnblocked, m1.ID, "support@example.com", "cleared")
		resp, _ = sup.act("/console/machines/"+m2.ID+"/deactivate", url.Values{"reason": {"reinstalled"}})
		wantStatus(t, "deactivate", resp, http.StatusSeeOther)
		e.audited(licensing.ActionMachineDeactivated, m2.ID, "support@example.com", "reinstalled")
		for _, id := range []string{m1.ID, m2.ID} {
			if _, err := e.svc.Licenses.Machine(ctx, id); licensing.ErrorCode(err) != licensing.ENotFound {
				t.Fatalf("machine %s after unblock/deactivate: %v, want it gone", id, err)
			}
		}
	})
}

func TestReleasesPages(t *testing.T) {
	t.Parallel()
	storagetest.ForEach(t, func(t *testing.T, st *storage.Store) {
		e := newEnv(t, st)
		ctx := context.Background()
		r := e.draftRelease("1.2.0")
		admin := e.signedIn(licensing.RoleAdmin)
		_, body := admin.do("GET", "/console/releases?product="+e.license.ProductID, nil)
		if !strings.Contains(body, "1.2.0") || !strings.Contains(body, "Studio") || !strings.Contains(body, "draft") {
			t.Fatalf("the product's releases: %s", body)
		}
		if _, body := admin.do("GET", "/console/releases?status=published", nil); strings.Contains(body, "1.2.0") {
			t.Fatal("the status filter lists a draft as published")
		}
		_, body = admin.do("GET", "/console/releases/"+r.ID, nil)
		if !strings.Contains(body, "linux/amd64") || !strings.Contains(body, `id="action-publish"`) {
			t.Fatalf("the release page: %s", body)
		}

		sup := e.signedIn(licensing.RoleSupport) // releases:read only
		if resp, _ := sup.do("GET", "/console/releases/"+r.ID, nil); resp.StatusCode != http.StatusOK {
			t.Fatalf("support reading a release: %d", resp.StatusCode)
		}
		resp, _ := sup.post("/console/releases/"+r.ID+"/publish", url.Values{"confirm": {"yes"}})
		wantStatus(t, "support publishing", resp, http.StatusForbidden)

		resp, _ = admin.act("/console/releases/"+r.ID+"/publish", url.Values{})
		wantStatus(t, "publish", resp, http.StatusSeeOther)
		if got, _ := e.ops.releases.Release(ctx, r.ID); got.Status != release.StatusPublished {
			t.Fatalf("after publish: %s", got.Status)
		}
		e.audited(licensing.ActionReleasePublished, r.ID, "admin@example.com", "")

		resp, _ = admin.post("/console/releases/"+r.ID+"/yank", url.Values{"confirm": {"yes"}})
		wantStatus(t, "yank without a reason", resp, http.StatusUnprocessableEntity)
		resp, _ = admin.act("/console/releases/"+r.ID+"/yank", url.Values{"reason": {"crashes on start"}})
		wantStatus(t, "yank", resp, http.StatusSeeOther)
		if got, _ := e.ops.releases.Release(ctx, r.ID); got.Status != release.StatusYanked || got.YankReason != "crashes on start" {
			t.Fatalf("after yank: %s (%q)", got.Status, got.YankReason)
		}
		e.audited(licensing.ActionReleaseYanked, r.ID, "admin@example.com", "crashes on start")
	})
}

var secretShown = regexp.MustCompile(`id="(?:webhook-secret|token-secret|password-link)" value="([^"]+)"`)

// shownOnce reads the secret a page shows once.
func shownOnce(t *testing.T, body string) string {
	t.Helper()
	m := secretShown.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no secret on the page:\n%s", body)
	}
	return strings.ReplaceAll(m[1], "&amp;", "&")
}

func TestWebhooksPages(t *testing.T) {
	t.Parallel()
	storagetest.ForEach(t, func(t *testing.T, st *storage.Store) {
		e := newEnv(t, st)
		ctx := context.Background()
		// The receiver refuses the first request and takes the next ones.
		hook := workerstest.StartReceiver(t, func(n int) int {
			if n == 0 {
				return http.StatusServiceUnavailable
			}
			return http.StatusOK
		})
		admin := e.signedIn(licensing.RoleAdmin)
		_, body := admin.do("GET", "/console/webhooks/new", nil)
		for _, a := range []string{licensing.ActionLicenseSuspended, licensing.ActionMachineBlocked, licensing.ActionUserCreated} {
			if !strings.Contains(body, `value="`+a+`"`) {
				t.Errorf("the form has no box for %s", a)
			}
		}
		resp, body := admin.post("/console/webhooks", url.Values{"url": {"ftp://nope"}, "events": {licensing.ActionLicenseSuspended}})
		wantStatus(t, "a bad URL", resp, http.StatusUnprocessableEntity)
		if !strings.Contains(body, `class="error" role="alert"`) || !strings.Contains(body, `value="ftp://nope"`) {
			t.Fatalf("the refused form does not say why or lost its values:\n%s", body)
		}
		form := url.Values{"url": {hook.URL + "/hook"}, "description": {"ops"}, "events": {licensing.ActionLicenseSuspended, licensing.ActionLicenseReinstated}}
		resp, body = admin.post("/console/webhooks", form)
		wantStatus(t, "create", resp, http.StatusCreated)
		secret := shownOnce(t, body)
		hook.SetSecret(secret)
		ws, err := e.svc.Notifications.Webhooks(ctx, licensing.Page{})
		must(t, err)
		if len(ws) != 1 || len(ws[0].EventTypes) != 2 || ws[0].Description != "ops" {
			t.Fatalf("endpoints = %+v", ws)
		}
		w := ws[0]
		e.audited(licensing.ActionWebhookCreated, w.ID, "admin@example.com", "")
		for _, p := range []string{"/console/webhooks", "/console/webhooks/" + w.ID, "/console/webhooks/" + w.ID + "/edit"} {
			if _, body := admin.do("GET", p, nil); strings.Contains(body, secret) || !strings.Contains(body, hook.URL) {
				t.Errorf("%s shows the secret again, or not the endpoint", p)
			}
		}

		// Read-only sees, support (webhooks:read) may not change.
		ro, sup := e.signedIn(licensing.RoleReadOnly), e.signedIn(licensing.RoleSupport)
		wantStatus(t, "read-only reading", first(ro.do("GET", "/console/webhooks/"+w.ID, nil)), http.StatusOK)
		wantStatus(t, "support creating", first(sup.post("/console/webhooks", form)), http.StatusForbidden)
		wantStatus(t, "support editing", first(sup.post("/console/webhooks/"+w.ID, form)), http.StatusForbidden)

		// A suspension is delivered by the workers: the first try fails.
		local := workers.NewLocal(workers.Config{Notifications: e.svc.Notifications, Automation: e.svc.Automation, Clock: e.clock.Now,
			AllowPrivate: true, MaxAttempts: 1, RetryBase: 10 * time.Millisecond, RetryMax: 50 * time.Millisecond, RelayEvery: 20 * time.Millisecond}, 1)
		must(t, local.Start(ctx))
		t.Cleanup(local.Shutdown)
		_, err = e.svc.Licenses.SuspendLicense(ctx, e.license.ID, "unpaid")
		must(t, err)
		var d *licensing.Delivery
		settled := func(status licensing.DeliveryStatus) func() bool {
			return func() bool {
				ds, err := e.svc.Notifications.Deliveries(ctx, licensing.DeliveryFilter{EndpointID: w.ID}, licensing.Page{})
				if err != nil || len(ds) != 1 {
					return false
				}
				d, err = e.svc.Notifications.Delivery(ctx, ds[0].ID)
				return err == nil && d.Status == status
			}
		}
		workerstest.WaitFor(t, "the first delivery to fail", settled(licensing.DeliveryFailed))
		_, body = admin.do("GET", "/console/deliveries/"+d.ID, nil)
		if !strings.Contains(body, "HTTP 503") || !strings.Contains(body, `id="action-redeliver"`) {
			t.Fatalf("the failed delivery's page: %s", body)
		}
		wantStatus(t, "support redelivering", first(sup.post("/console/deliveries/"+d.ID+"/redeliver", url.Values{"confirm": {"yes"}})), http.StatusForbidden)
		resp, _ = admin.act("/console/deliveries/"+d.ID+"/redeliver", url.Values{"reason": {"receiver fixed"}})
		wantStatus(t, "redeliver", resp, http.StatusSeeOther)
		e.audited(licensing.ActionDeliveryRedelivered, d.ID, "admin@example.com", "receiver fixed")
		workerstest.WaitFor(t, "the redelivery", settled(licensing.DeliveryDelivered))
		if len(d.Log) != 2 || d.Log[0].StatusCode != 503 || d.Log[1].StatusCode != 200 || d.Log[1].Number != 2 {
			t.Fatalf("attempt log = %+v, want a 503 then a 200", d.Log)
		}
		if got := hook.Received(); len(got) != 1 || got[0].Type != licensing.ActionLicenseSuspended || hook.BadSignatures() != 0 {
			t.Fatalf("the receiver got %+v (%d bad signatures)", got, hook.BadSignatures())
		}
		_, body = admin.do("GET", "/console/deliveries/"+d.ID, nil)
		if !strings.Contains(body, "HTTP 200") || !strings.Contains(body, "delivered") {
			t.Fatalf("the delivered delivery's page: %s", body)
		}

		// Edit: an unchecked "enabled" box turns the endpoint off.
		resp, _ = admin.post("/console/webhooks/"+w.ID, url.Values{"url": {hook.URL + "/v2"}, "description": {"ops"}, "events": {"*"}})
		wantStatus(t, "edit", resp, http.StatusSeeOther)
		got, err := e.svc.Notifications.Webhook(ctx, w.ID)
		must(t, err)
		if got.Enabled || got.URL != hook.URL+"/v2" || len(got.EventTypes) != 1 || got.EventTypes[0] != "*" {
			t.Fatalf("after the edit: %+v", got)
		}
		e.audited(licensing.ActionWebhookUpdated, w.ID, "admin@example.com", "")

		resp, _ = admin.act("/console/webhooks/"+w.ID+"/delete", url.Values{})
		wantStatus(t, "delete", resp, http.StatusSeeOther)
		if _, err := e.svc.Notifications.Webhook(ctx, w.ID); licensing.ErrorCode(err) != licensing.ENotFound {
			t.Fatalf("after delete: %v", err)
		}
		e.audited(licensing.ActionWebhookDeleted, w.ID, "admin@example.com", "")
	})
}

func first(resp *http.Response, _ string) *http.Response { return resp }

func TestTokensPages(t *testing.T) {
	t.Parallel()
	storagetest.ForEach(t, func(t *testing.T, st *storage.Store) {
		e := newEnv(t, st)
		admin := e.signedIn(licensing.RoleAdmin)
		resp, _ := admin.post("/console/tokens", url.Values{"name": {""}, "role": {"support"}})
		wantStatus(t, "a token without a name", resp, http.StatusUnprocessableEntity)
		resp, body := admin.post("/console/tokens", url.Values{"name": {"ci"}, "role": {"support"}, "expires": {"2026-06-01"}})
		wantStatus(t, "create", resp, http.StatusCreated)
		secret := shownOnce(t, body)
		_, list := admin.do("GET", "/console/tokens", nil)
		if strings.Contains(list, secret) || !strings.Contains(list, "ci") || !strings.Contains(list, "2026-06-02") {
			t.Fatalf("the list shows the secret, or not the token:\n%s", list)
		}

		// The secret shown works against the API, with its role.
		api := func(method, path string) int {
			req := httptest.NewRequest(method, path, nil)
			req.Header.Set("Authorization", "Bearer "+secret)
			resp, err := e.app.Test(req, -1)
			must(t, err)
			return resp.StatusCode
		}
		if got := api("GET", "/v1/licenses"); got != http.StatusOK {
			t.Fatalf("the new token on the API: %d", got)
		}
		if got := api("GET", "/v1/tokens"); got != http.StatusForbidden {
			t.Fatalf("the support token listing tokens: %d, want 403", got)
		}
		tok := e.lastEvent(licensing.ActionTokenCreated)
		e.audited(licensing.ActionTokenCreated, tok.TargetID, "admin@example.com", "")

		for _, role := range []licensing.Role{licensing.RoleSupport, licensing.RoleReadOnly} {
			b := e.signedIn(role)
			wantStatus(t, string(role)+" listing tokens", first(b.do("GET", "/console/tokens", nil)), http.StatusForbidden)
			wantStatus(t, string(role)+" revoking", first(b.post("/console/tokens/"+tok.TargetID+"/revoke", url.Values{"confirm": {"yes"}})), http.StatusForbidden)
		}
		resp, _ = admin.act("/console/tokens/"+tok.TargetID+"/revoke", url.Values{})
		wantStatus(t, "revoke", resp, http.StatusSeeOther)
		e.audited(licensing.ActionTokenRevoked, tok.TargetID, "admin@example.com", "")
		if got := api("GET", "/v1/licenses"); got != http.StatusUnauthorized {
			t.Fatalf("the revoked token on the API: %d, want 401", got)
		}
	})
}

func TestConsoleUsersPages(t *testing.T) {
	t.Parallel()
	storagetest.ForEach(t, func(t *testing.T, st *storage.Store) {
		e := newEnv(t, st)
		ctx := context.Background()
		admin := e.signedIn(licensing.RoleAdmin)
		resp, body := admin.post("/console/users", url.Values{"email": {"new@example.com"}, "role": {"read-only"}})
		wantStatus(t, "create", resp, http.StatusCreated)
		link := shownOnce(t, body)
		if !strings.HasPrefix(link, "http://example.com/console/set-password?token=") {
			t.Fatalf("link = %q", link)
		}
		resp, _ = admin.post("/console/users", url.Values{"email": {"NEW@example.com"}, "role": {"admin"}})
		wantStatus(t, "the same email again", resp, http.StatusConflict)
		u, err := e.us.UserByEmail(ctx, "new@example.com")
		must(t, err)
		e.audited(licensing.ActionUserCreated, u.ID, "admin@example.com", "")

		// The link, as the new user opens it, sets the password.
		nb := e.browser()
		token, _ := url.ParseQuery(link[strings.Index(link, "?")+1:])
		nb.do("GET", "/console/set-password?token="+url.QueryEscape(token.Get("token")), nil)
		resp, _ = nb.do("POST", "/console/set-password", url.Values{"csrf": {nb.cookies["narcidi_console_pre"]}, "token": {token.Get("token")},
			"password": {"a long enough password"}, "confirm": {"a long enough password"}})
		wantStatus(t, "set password from the link", resp, http.StatusSeeOther)
		signIn := func(b *browser) *http.Response {
			csrf := b.csrf("/console/sign-in")
			resp, _ := b.do("POST", "/console/sign-in", url.Values{"csrf": {csrf}, "email": {"new@example.com"}, "password": {"a long enough password"}})
			return resp
		}
		wantStatus(t, "the new user signs in", signIn(nb), http.StatusSeeOther)

		// Only admins reach the users pages.
		for _, role := range []licensing.Role{licensing.RoleSupport, licensing.RoleReadOnly} {
			b := e.signedIn(role)
			wantStatus(t, string(role)+" listing users", first(b.do("GET", "/console/users", nil)), http.StatusForbidden)
			wantStatus(t, string(role)+" creating a user", first(b.post("/console/users", url.Values{"email": {"x@example.com"}, "role": {"admin"}})), http.StatusForbidden)
		}

		base := "/console/users/" + u.ID
		resp, _ = admin.act(base+"/role", url.Values{"value": {"support"}, "reason": {"joins support"}})
		wantStatus(t, "change role", resp, http.StatusSeeOther)
		if got, _ := e.us.User(ctx, u.ID); got.Role != licensing.RoleSupport {
			t.Fatalf("role after the change: %s", got.Role)
		}
		e.audited(licensing.ActionUserUpdated, u.ID, "admin@example.com", "joins support")
		if resp, _ := nb.do("GET", "/console/tokens", nil); resp.StatusCode != http.StatusForbidden {
			t.Fatal("the new role did not apply at once")
		}
		resp, _ = admin.act(base+"/totp", url.Values{"value": {"required"}})
		wantStatus(t, "require TOTP", resp, http.StatusSeeOther)
		if got, _ := e.us.User(ctx, u.ID); !got.TOTPRequired {
			t.Fatal("TOTP is not required after the action")
		}
		e.audited(licensing.ActionUserUpdated, u.ID, "admin@example.com", "")

		resp, _ = admin.act(base+"/sessions", url.Values{})
		wantStatus(t, "reset sessions", resp, http.StatusSeeOther)
		e.audited(licensing.ActionUserSignedOut, u.ID, "admin@example.com", "every session")
		if resp, _ := nb.do("GET", "/console/", nil); resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("a reset session still opens the console: %d", resp.StatusCode)
		}
		// The next sign-in owes the mandatory second factor.
		resp = signIn(nb)
		if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/console/enrol" {
			t.Fatalf("sign-in with mandatory TOTP: %d to %q, want enrolment", resp.StatusCode, resp.Header.Get("Location"))
		}

		resp, _ = admin.act(base+"/status", url.Values{"value": {"disabled"}, "reason": {"left"}})
		wantStatus(t, "disable", resp, http.StatusSeeOther)
		if got, _ := e.us.User(ctx, u.ID); got.Status != users.StatusDisabled {
			t.Fatalf("status after disable: %s", got.Status)
		}
		e.audited(licensing.ActionUserUpdated, u.ID, "admin@example.com", "left")
		wantStatus(t, "a disabled user signing in", signIn(e.browser()), http.StatusUnauthorized)

		// Nobody changes their own role or status.
		me, err := e.us.UserByEmail(ctx, "admin@example.com")
		must(t, err)
		_, body = admin.do("GET", "/console/users/"+me.ID, nil)
		if strings.Contains(body, `id="action-role"`) || strings.Contains(body, `id="action-status"`) {
			t.Error("an admin is offered to change their own role or status")
		}
		resp, _ = admin.post("/console/users/"+me.ID+"/role", url.Values{"value": {"read-only"}, "reason": {"x"}, "confirm": {"yes"}})
		wantStatus(t, "changing your own role", resp, http.StatusConflict)
	})
}

func TestAuditLogPage(t *testing.T) {
	t.Parallel()
	storagetest.ForEach(t, func(t *testing.T, st *storage.Store) {
		e := newEnv(t, st)
		ctx := context.Background()
		for i := range console.PageSize + 5 {
			_, err := e.svc.Customers.CreateCustomer(ctx, licensing.CustomerInput{Name: fmt.Sprintf("Customer %03d", i)})
			must(t, err)
		}
		ro := e.signedIn(licensing.RoleReadOnly)
		rows := regexp.MustCompile(`<td data-label="Action">customer\.created</td>`)
		_, body := ro.do("GET", "/console/audit?action=customer.created", nil)
		next := regexp.MustCompile(`href="/console/audit\?([^"]+)" rel="next"`).FindStringSubmatch(body)
		if n := len(rows.FindAllString(body, -1)); n != console.PageSize || next == nil {
			t.Fatalf("first page: %d events, next link %v; want %d and a link", n, next, console.PageSize)
		}
		_, body = ro.do("GET", "/console/audit?"+strings.ReplaceAll(next[1], "&amp;", "&"), nil)
		if n := len(rows.FindAllString(body, -1)); n != 6 || strings.Contains(body, `rel="next"`) { // Acme and 55 more
			t.Fatalf("second page (%s): %d events, want 6 and no next link", next[1], n)
		}

		// By target, by actor (label or email) and by time.
		admin := e.signedIn(licensing.RoleAdmin)
		resp, _ := admin.act("/console/licenses/"+e.license.ID+"/suspend", url.Values{"reason": {"audit me"}})
		wantStatus(t, "suspend", resp, http.StatusSeeOther)
		for _, q := range []string{"target_type=license&target_id=" + e.license.ID, "actor=admin%40example.com", "actor=admin%40example.com&since=2026-05-01&until=2026-05-01"} {
			_, body := ro.do("GET", "/console/audit?"+q, nil)
			if !strings.Contains(body, "audit me") || strings.Contains(body, `<td data-label="Action">customer.created</td>`) {
				t.Errorf("audit?%s: the suspension is missing or other events are listed", q)
			}
		}
		if _, body := ro.do("GET", "/console/audit?until=2026-04-30", nil); strings.Contains(body, "audit me") {
			t.Error("the time range lets a later event through")
		}
		resp, _ = ro.do("GET", "/console/audit?since=yesterday", nil)
		wantStatus(t, "a bad date", resp, http.StatusUnprocessableEntity)
	})
}

// TestSuspendFormSeparatesReasonAndMessage (issue 22, 11): the suspend form
// says the reason is internal and takes an optional message to the
// customer; the confirmation carries both and the message is recorded for
// the customer, the reason not.
func TestSuspendFormSeparatesReasonAndMessage(t *testing.T) {
	t.Parallel()
	storagetest.ForEach(t, func(t *testing.T, st *storage.Store) {
		e := newEnv(t, st)
		admin := e.signedIn(licensing.RoleAdmin)
		_, page := admin.do("GET", "/console/licenses/"+e.license.ID, nil)
		if !strings.Contains(page, `name="message"`) || !strings.Contains(page, "Message to the customer") || !strings.Contains(page, "internal") {
			t.Fatalf("the suspend form has no separate, labelled message to the customer:\n%s", page)
		}
		msg := "Your payment failed; please update your card."
		form := url.Values{"reason": {"chargeback, ticket 4711"}, "message": {msg}}
		resp, body := admin.post("/console/licenses/"+e.license.ID+"/suspend", form)
		wantStatus(t, "suspend", resp, http.StatusOK)
		if !strings.Contains(body, `name="message" value="`+msg+`"`) {
			t.Fatalf("the confirmation page does not carry the message:\n%s", body)
		}
		resp, _ = admin.act("/console/licenses/"+e.license.ID+"/suspend", form)
		wantStatus(t, "suspend confirmed", resp, http.StatusSeeOther)
		l, err := e.svc.Licenses.License(context.Background(), e.license.ID)
		if err != nil || l.Status != licensing.LicenseSuspended {
			t.Fatalf("license: %v %v", l, err)
		}
		got, err := e.svc.Licenses.CustomerMessage(context.Background(), l)
		if err != nil || got != msg {
			t.Fatalf("message to the customer = %q, %v; want %q", got, err, msg)
		}
	})
}

// TestSetPasswordLinksThatWorkDoNotCount (issue 22, 8): a set-password link
// used with success gives back what it spent of the client's allowance, so
// six new users behind one office IP all set their passwords (the
// allowance is five); wrong tokens still meet 429.
func TestSetPasswordLinksThatWorkDoNotCount(t *testing.T) {
	t.Parallel()
	storagetest.ForEach(t, func(t *testing.T, st *storage.Store) {
		e := newEnv(t, st)
		setPassword := func(token string) int {
			b := e.browser()
			b.do("GET", "/console/set-password?token="+url.QueryEscape(token), nil)
			resp, _ := b.do("POST", "/console/set-password", url.Values{"csrf": {b.cookies["narcidi_console_pre"]}, "token": {token},
				"password": {"a long enough password"}, "confirm": {"a long enough password"}})
			return resp.StatusCode
		}
		for i := range 6 {
			_, token, err := e.us.CreateUser(context.Background(), "new"+strconv.Itoa(i)+"@example.com", licensing.RoleSupport)
			must(t, err)
			if got := setPassword(token); got != http.StatusSeeOther {
				t.Fatalf("user %d sets the password: %d, want 303", i, got)
			}
		}
		var codes []int
		for i := range 6 {
			codes = append(codes, setPassword("wrong-token-"+strconv.Itoa(i)))
		}
		if codes[5] != http.StatusTooManyRequests {
			t.Errorf("wrong tokens: %v, want 429 after five", codes)
		}
	})
}
