package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nzilacode/narcidicontrole/licensing"
	"github.com/nzilacode/narcidicontrole/storage/storagetest"
	verifier "github.com/nzilacode/narcidicontrole/verifier-sdk"
)

// world is a server with two customers, their licenses, a machine, a
// second plan, and one token of every kind.
type world struct {
	app                  *App
	admin                apiClient
	cat                  catalog // customer A's license and its catalog
	teamPolicyID         string
	entitlementID        string
	customerB, licenseB  string
	keyB                 string
	machineID            string
	fp                   string
	tokens               map[string]string // kind → secret
	throwawayTokens      []string          // ids that DELETE /v1/tokens/:id may revoke
	adminTokenID         string
	customerATokenSecret string
	hookURL              string // a loopback receiver that answers 204
	webhookID            string
	deliveryID           string
	userID               string // the first console admin, made at start
}

func newWorld(t *testing.T, dialect string, env map[string]string) *world {
	t.Helper()
	if env == nil {
		env = map[string]string{}
	}
	if dialect == "postgres" {
		usePostgres(t, env)
	}
	env["NARCIDI_WEBHOOK_ALLOW_PRIVATE"] = "true"
	app := startAppWith(t, env)
	w := &world{app: app, admin: apiClient{t, app.URL(), adminToken}, tokens: map[string]string{}}
	hook := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, _ *http.Request) { rw.WriteHeader(204) }))
	t.Cleanup(hook.Close)
	w.hookURL = hook.URL
	var wh struct{ ID string }
	w.admin.mustCreate("/v1/webhooks", map[string]any{"url": w.hookURL, "event_types": []string{"*"}}, &wh)
	w.webhookID = wh.ID
	w.cat = seedCatalog(t, w.admin, 2)
	var ent, team, cusB struct{ ID string }
	w.admin.mustCreate("/v1/entitlements", map[string]any{"code": "team", "name": "Team features"}, &ent)
	w.entitlementID = ent.ID
	w.admin.mustCreate("/v1/policies", map[string]any{"product_id": w.cat.productID, "name": "Team", "floating": true, "max_machines": 5,
		"lease_ttl_seconds": 3600, "entitlements": []string{"export", "sync", "team"}}, &team)
	w.teamPolicyID = team.ID
	w.admin.mustCreate("/v1/customers", map[string]any{"name": "Beta Corp", "email": "it@beta.test"}, &cusB)
	w.customerB = cusB.ID
	var licB struct{ ID, Key string }
	w.admin.mustCreate("/v1/licenses", map[string]any{"policy_id": w.cat.policyID, "customer_id": w.customerB}, &licB)
	w.licenseB, w.keyB = licB.ID, licB.Key
	w.fp = "fingerprint-world-0001"
	act, err := (&verifier.Client{BaseURL: app.URL()}).Activate(context.Background(), verifier.MachineRequest{LicenseKey: w.cat.key, Fingerprint: w.fp})
	if err != nil {
		t.Fatal(err)
	}
	w.machineID = act.MachineID
	var us struct{ Data []struct{ ID, Email string } }
	if status, b := w.admin.call("GET", "/v1/users", nil, &us); status != 200 || len(us.Data) != 1 {
		t.Fatalf("console users: %d %s", status, b)
	}
	w.userID = us.Data[0].ID

	mk := func(kind string, body map[string]any) string {
		var out struct {
			Token  struct{ ID string }
			Secret string
		}
		w.admin.mustCreate("/v1/tokens", body, &out)
		w.tokens[kind] = out.Secret
		return out.Token.ID
	}
	mk("support", map[string]any{"name": "support", "role": "support"})
	mk("read-only", map[string]any{"name": "ro", "role": "read-only"})
	mk("customer", map[string]any{"name": "acme", "role": "customer", "customer_id": w.cat.customerID})
	mk("other-customer", map[string]any{"name": "beta", "role": "customer", "customer_id": w.customerB})
	revoked := mk("revoked", map[string]any{"name": "gone", "role": "admin"})
	if status, b := w.admin.call("DELETE", "/v1/tokens/"+revoked, nil, nil); status != 204 {
		t.Fatalf("revoke token: %d %s", status, b)
	}
	for range 3 {
		w.throwawayTokens = append(w.throwawayTokens, mk("throwaway", map[string]any{"name": "throwaway", "role": "read-only"}))
	}
	// An expired token cannot be made through the API (expires_at must be
	// in the future), so it is written straight into the store.
	expired := "nzt_expired_" + strings.Repeat("e", 40)
	past := time.Now().Add(-time.Hour)
	if err := app.store.CreateAPIToken(context.Background(), &licensing.APIToken{Name: "old", Role: licensing.RoleAdmin,
		Hash: licensing.SecretHash(expired), ExpiresAt: &past, CreatedAt: past.Add(-time.Hour)}); err != nil {
		t.Fatal(err)
	}
	w.tokens["expired"] = expired
	// The in-process workers deliver the events above to the receiver.
	deadline := time.Now().Add(30 * time.Second)
	for w.deliveryID == "" {
		var ds struct{ Data []licensing.Delivery }
		w.admin.call("GET", "/v1/deliveries?status=delivered&limit=1", nil, &ds)
		if len(ds.Data) > 0 {
			w.deliveryID = ds.Data[0].ID
		} else if time.Now().After(deadline) {
			t.Fatal("no webhook delivered by the in-process workers")
		} else {
			time.Sleep(20 * time.Millisecond)
		}
	}
	return w
}

func (w *world) as(t *testing.T, kind string) apiClient {
	if kind == "admin" {
		return apiClient{t, w.app.URL(), adminToken}
	}
	if kind == "none" {
		return apiClient{t, w.app.URL(), ""}
	}
	return apiClient{t, w.app.URL(), w.tokens[kind]}
}

// expectedPerm is the authorization spec, written out independently of the
// server's route table: every admin route and the permission it needs.
var expectedPerm = map[string]licensing.Permission{
	"POST /v1/products": "catalog:write", "GET /v1/products": "catalog:read", "GET /v1/products/:id": "catalog:read", "PATCH /v1/products/:id": "catalog:write",
	"POST /v1/policies": "catalog:write", "GET /v1/policies": "catalog:read", "GET /v1/policies/:id": "catalog:read", "PATCH /v1/policies/:id": "catalog:write",
	"POST /v1/entitlements": "catalog:write", "GET /v1/entitlements": "catalog:read", "GET /v1/entitlements/:id": "catalog:read", "PATCH /v1/entitlements/:id": "catalog:write",
	"POST /v1/customers": "customers:write", "GET /v1/customers": "customers:read", "GET /v1/customers/:id": "customers:read", "PATCH /v1/customers/:id": "customers:write",
	"POST /v1/licenses": "licenses:write", "GET /v1/licenses": "licenses:read", "GET /v1/licenses/:id": "licenses:read", "PATCH /v1/licenses/:id": "licenses:write",
	"GET /v1/licenses/:id/machines":               "machines:read",
	"POST /v1/licenses/:id/actions/suspend":       "licenses:write",
	"POST /v1/licenses/:id/actions/reinstate":     "licenses:write",
	"POST /v1/licenses/:id/actions/revoke":        "licenses:write",
	"POST /v1/licenses/:id/actions/extend":        "licenses:write",
	"POST /v1/licenses/:id/actions/change-policy": "licenses:write",
	"POST /v1/licenses/:id/actions/transfer":      "licenses:write",
	"GET /v1/machines":                            "machines:read", "GET /v1/machines/:id": "machines:read", "DELETE /v1/machines/:id": "machines:write",
	"POST /v1/machines/:id/actions/block":           "licenses:write",
	"POST /v1/machines/:id/actions/unblock":         "licenses:write",
	"POST /v1/machines/:id/actions/reset-heartbeat": "machines:write",
	"POST /v1/tokens":                               "tokens:write", "GET /v1/tokens": "tokens:read", "DELETE /v1/tokens/:id": "tokens:write",
	// Console users are credentials like tokens: the same permissions.
	"GET /v1/users": "tokens:read", "GET /v1/users/:id": "tokens:read", "PATCH /v1/users/:id": "tokens:write",
	"GET /v1/events": "events:read", "GET /v1/dashboard": "dashboard:read", "GET /v1/dashboard/history": "dashboard:read",
	"POST /v1/webhooks": "webhooks:write", "GET /v1/webhooks": "webhooks:read", "GET /v1/webhooks/:id": "webhooks:read",
	"PATCH /v1/webhooks/:id": "webhooks:write", "DELETE /v1/webhooks/:id": "webhooks:write", "POST /v1/webhooks/:id/actions/test": "webhooks:write",
	"GET /v1/deliveries": "webhooks:read", "GET /v1/deliveries/:id": "webhooks:read",
	"POST /v1/deliveries/:id/actions/redeliver": "webhooks:write",
	"POST /v1/offline-activations":              "licenses:write",
	"POST /v1/entitlements/:id/actions/retire":  "catalog:write",
	"POST /v1/policies/:id/entitlements":        "catalog:write",
	"POST /v1/licenses/:id/entitlements":        "licenses:write",
	"GET /v1/licenses/:id/meters":               "licenses:read",
	"POST /v1/licenses/:id/meters":              "licenses:write",
	"GET /v1/meters/:id":                        "licenses:read",
	"PATCH /v1/meters/:id":                      "licenses:write",
	"POST /v1/meters/:id/actions/reset":         "licenses:write",
	"POST /v1/releases":                         "releases:write", "GET /v1/releases": "releases:read", "GET /v1/releases/:id": "releases:read",
	"POST /v1/releases/:id/artifacts":                       "releases:write",
	"POST /v1/releases/:id/artifacts/:artifact_id/finalize": "releases:write",
	"POST /v1/releases/:id/actions/publish":                 "releases:write",
	"POST /v1/releases/:id/actions/yank":                    "releases:write",
	"DELETE /v1/releases/:id":                               "releases:write",
	// The client release routes take no API token: apps authenticate with
	// their license key (or lease) in the body, and the release keys are
	// public.
	"POST /v1/client/releases/metadata": byLicenseKey,
	"POST /v1/client/releases/download": byLicenseKey,
	"GET /v1/client/releases/keys":      public,
}

// Not permissions: how the client release routes are reached.
const (
	byLicenseKey licensing.Permission = "(license key in the body)"
	public       licensing.Permission = "(anyone)"
)

var rolePerms = map[string][]licensing.Permission{
	"admin": {"catalog:read", "catalog:write", "customers:read", "customers:write", "licenses:read", "licenses:write",
		"machines:read", "machines:write", "tokens:read", "tokens:write", "events:read", "dashboard:read", "webhooks:read", "webhooks:write", "queues:manage",
		"releases:read", "releases:write"},
	"support":   {"catalog:read", "customers:read", "customers:write", "licenses:read", "licenses:write", "machines:read", "machines:write", "events:read", "dashboard:read", "webhooks:read", "releases:read"},
	"read-only": {"catalog:read", "customers:read", "licenses:read", "machines:read", "events:read", "dashboard:read", "webhooks:read", "releases:read"},
	"customer":  {"customers:read", "licenses:read", "machines:read", "machines:write"},
}

func allows(kind string, p licensing.Permission) bool {
	for _, q := range rolePerms[kind] {
		if q == p {
			return true
		}
	}
	return false
}

// requestFor builds a plausible request for a route of the world.
func (w *world) requestFor(route string, n int) (method, path string, body any) {
	method, path, _ = strings.Cut(route, " ")
	id := ""
	switch {
	case strings.HasPrefix(path, "/v1/products/"):
		id = w.cat.productID
	case strings.HasPrefix(path, "/v1/policies/"):
		id = w.cat.policyID
	case strings.HasPrefix(path, "/v1/entitlements/"):
		id = w.entitlementID
	case strings.HasPrefix(path, "/v1/customers/"):
		id = w.cat.customerID
	case strings.HasPrefix(path, "/v1/licenses/"):
		id = w.cat.licenseID
	case strings.HasPrefix(path, "/v1/machines/"):
		id = w.machineID
	case strings.HasPrefix(path, "/v1/users/"):
		id = w.userID
	case strings.HasPrefix(path, "/v1/tokens/"):
		id = w.throwawayTokens[n%len(w.throwawayTokens)]
	case strings.HasPrefix(path, "/v1/webhooks/"):
		id = w.webhookID
	case strings.HasPrefix(path, "/v1/deliveries/"):
		id = w.deliveryID
	case strings.HasPrefix(path, "/v1/releases/"), strings.HasPrefix(path, "/v1/subscriptions/"), strings.HasPrefix(path, "/v1/meters/"):
		id = noSuchRelease
	}
	if route == "POST /v1/entitlements/:id/actions/retire" {
		id = noSuchRelease // the world's entitlement stays for the other routes
	}
	path = strings.Replace(strings.Replace(path, ":id", id, 1), ":artifact_id", noSuchRelease, 1)
	u := fmt.Sprint(n)
	switch route {
	case "POST /v1/products":
		body = map[string]any{"code": "p-" + u, "name": "P"}
	case "POST /v1/policies":
		body = map[string]any{"product_id": w.cat.productID, "name": "P"}
	case "POST /v1/entitlements":
		body = map[string]any{"code": "e-" + u, "name": "E"}
	case "POST /v1/customers":
		body = map[string]any{"name": "C", "language": "pt-PT", "time_zone": "Africa/Luanda"}
	case "PATCH /v1/users/:id":
		body = map[string]any{"language": []string{"en", "pt-PT", "pt-BR"}[n%3], "time_zone": "Africa/Luanda"}
	case "POST /v1/licenses":
		body = map[string]any{"policy_id": w.cat.policyID, "customer_id": w.cat.customerID}
	case "POST /v1/tokens":
		body = map[string]any{"name": "t", "role": "read-only"}
	case "POST /v1/offline-activations": // of another product: answered 422 without taking a seat
		body = map[string]any{"request": verifier.NewActivationRequest("another-product", w.cat.key, "fp-"+u, "h", "linux", time.Unix(0, 0))}
	case "POST /v1/webhooks":
		body = map[string]any{"url": w.hookURL + "/" + u, "event_types": []string{"license.suspended"}}
	case "PATCH /v1/webhooks/:id":
		body = map[string]any{"description": "renamed " + u}
	case "POST /v1/licenses/:id/actions/change-policy":
		body = map[string]any{"policy_id": w.teamPolicyID}
	case "POST /v1/licenses/:id/actions/transfer":
		body = map[string]any{"customer_id": w.customerB}
	case "PATCH /v1/products/:id", "PATCH /v1/policies/:id", "PATCH /v1/customers/:id", "PATCH /v1/licenses/:id", "PATCH /v1/entitlements/:id":
		body = map[string]any{"name": "Renamed " + u}
	case "POST /v1/licenses/:id/actions/extend":
		body = map[string]any{"duration_seconds": 3600}
	case "POST /v1/releases":
		body = map[string]any{"product_id": w.cat.productID, "version": "0.0." + u}
	// License B: the admin routes of the matrix suspend and revoke license A.
	case "POST /v1/client/releases/metadata":
		body = verifier.ReleaseCheckRequest{LicenseKey: w.keyB}
	case "POST /v1/client/releases/download":
		body = verifier.ReleaseDownloadRequest{LicenseKey: w.keyB, Platform: "linux", Arch: "amd64"}
	default:
		if method == "POST" {
			body = map[string]any{"reason": "matrix"}
		}
	}
	return method, path, body
}

// Every admin and release route × every kind of caller gets exactly what its
// role allows; the client release routes ignore API tokens and answer by
// the license key.
func TestAuthorizationMatrix(t *testing.T) {
	t.Parallel()
	w := newWorld(t, "sqlite", nil)
	served := map[string]bool{}
	for _, r := range w.app.server.App().GetRoutes(true) {
		admin := strings.HasPrefix(r.Path, "/v1/") && !strings.HasPrefix(r.Path, "/v1/client/") && !strings.HasPrefix(r.Path, "/v1/billing/")
		if (admin || strings.HasPrefix(r.Path, "/v1/client/releases/")) && r.Method != http.MethodHead {
			key := r.Method + " " + r.Path
			served[key] = true
			if _, ok := expectedPerm[key]; !ok {
				t.Errorf("route %s has no entry in the authorization spec of this test", key)
			}
		}
	}
	if len(served) != len(expectedPerm) {
		t.Errorf("%d admin and release routes served, %d in the spec", len(served), len(expectedPerm))
	}
	n := 0
	for _, kind := range []string{"none", "expired", "revoked", "read-only", "customer", "support", "admin"} {
		for route, perm := range expectedPerm {
			n++
			c := w.as(t, kind)
			method, path, body := w.requestFor(route, n)
			status, b := c.call(method, path, body, nil)
			var p verifier.Problem
			_ = json.Unmarshal(b, &p)
			switch {
			case perm == byLicenseKey || perm == public:
				if status == 401 || status == 403 || status >= 500 {
					t.Errorf("%s %s: %d %s %s, want answered by the license key whatever the token", kind, route, status, p.Code, p.Detail)
				}
			case kind == "none" || kind == "expired" || kind == "revoked":
				if status != 401 || p.Code != "unauthorized" {
					t.Errorf("%s %s: %d %s, want 401", kind, route, status, p.Code)
				}
			default:
				if allows(kind, perm) {
					if status == 401 || status == 403 || status >= 500 {
						t.Errorf("%s %s: %d %s %s, want allowed", kind, route, status, p.Code, p.Detail)
					}
				} else if status != 403 || p.Code != "forbidden" {
					t.Errorf("%s %s: %d %s, want 403 forbidden", kind, route, status, p.Code)
				}
			}
		}
	}
	// The license-key routes refuse a key that names no license, even with
	// an admin token.
	for route, perm := range expectedPerm {
		if perm != byLicenseKey {
			continue
		}
		method, path, body := w.requestFor(route, 0)
		var fields map[string]any
		b, _ := json.Marshal(body)
		_ = json.Unmarshal(b, &fields)
		fields["license_key"] = "NZL-AAAAAA-BBBBBB-CCCCCC-DDDDDD-EEEEEE"
		if status, b := w.admin.call(method, path, fields, nil); status < 400 || status >= 500 {
			t.Errorf("%s with an unknown license key: %d %s", route, status, b)
		}
	}
}

// A customer token sees only its own customer's data.
func TestCustomerTokenIsScoped(t *testing.T) {
	t.Parallel()
	w := newWorld(t, "postgres", nil)
	a, b := w.as(t, "customer"), w.as(t, "other-customer")
	for _, path := range []string{"/v1/licenses/" + w.cat.licenseID, "/v1/machines/" + w.machineID, "/v1/customers/" + w.cat.customerID,
		"/v1/licenses/" + w.cat.licenseID + "/machines"} {
		if status, _ := a.call("GET", path, nil, nil); status != 200 {
			t.Errorf("own %s = %d", path, status)
		}
		if status, body := b.call("GET", path, nil, nil); status != 404 {
			t.Errorf("other customer's %s = %d %s, want 404", path, status, body)
		}
	}
	var ls struct{ Data []licensing.License }
	b.call("GET", "/v1/licenses", nil, &ls)
	if len(ls.Data) != 1 || ls.Data[0].ID != w.licenseB {
		t.Errorf("customer B lists %+v", ls.Data)
	}
	b.call("GET", "/v1/licenses?customer_id="+w.cat.customerID, nil, &ls)
	if len(ls.Data) != 0 {
		t.Errorf("customer B can list A's licenses by filter")
	}
	var ms struct{ Data []licensing.Machine }
	b.call("GET", "/v1/machines", nil, &ms)
	if len(ms.Data) != 0 {
		t.Errorf("customer B lists machines %+v", ms.Data)
	}
	if status, _ := b.call("DELETE", "/v1/machines/"+w.machineID, nil, nil); status != 404 {
		t.Errorf("customer B deactivated A's machine: %d", status)
	}
	if status, _ := a.call("DELETE", "/v1/machines/"+w.machineID, nil, nil); status != 204 {
		t.Errorf("customer A could not deactivate its machine: %d", status)
	}
	// A disabled customer's token stops working.
	if status, body := w.admin.call("PATCH", "/v1/customers/"+w.customerB, map[string]any{"status": "disabled"}, nil); status != 200 {
		t.Fatalf("disable: %d %s", status, body)
	}
	if status, _ := b.call("GET", "/v1/licenses", nil, nil); status != 403 {
		t.Errorf("disabled customer's token: %d", status)
	}
	// And its licenses get no lease.
	_, err := (&verifier.Client{BaseURL: w.app.URL()}).Activate(context.Background(), verifier.MachineRequest{LicenseKey: w.keyB, Fingerprint: "fingerprint-b-0001"})
	if apiCode(err) != "forbidden" {
		t.Errorf("disabled customer's license activated: %v", err)
	}
}

// Each action's effect is visible end to end.
func TestLicenseAndMachineActions(t *testing.T) {
	t.Parallel()
	for _, d := range storagetest.Dialects {
		t.Run(d, func(t *testing.T) {
			t.Parallel()
			w := newWorld(t, d, nil)
			ctx := context.Background()
			sdk := &verifier.Client{BaseURL: w.app.URL()}
			jwks, err := sdk.JWKS(ctx)
			if err != nil {
				t.Fatal(err)
			}
			req := func(fp string) verifier.MachineRequest {
				return verifier.MachineRequest{LicenseKey: w.cat.key, Fingerprint: fp}
			}
			lic := "/v1/licenses/" + w.cat.licenseID

			// Block: the machine loses its seat and cannot come back; unblock lifts it.
			if status, b := w.admin.call("POST", "/v1/machines/"+w.machineID+"/actions/block", map[string]string{"reason": "shared key"}, nil); status != 200 {
				t.Fatalf("block: %d %s", status, b)
			}
			if _, err := sdk.Activate(ctx, req(w.fp)); apiCode(err) != "machine_blocked" {
				t.Errorf("blocked machine activated: %v", err)
			}
			if _, err := sdk.Renew(ctx, req(w.fp)); apiCode(err) != "machine_blocked" {
				t.Errorf("blocked machine renewed: %v", err)
			}
			for _, fp := range []string{"fingerprint-2-0000", "fingerprint-3-0000"} { // both seats are free
				if _, err := sdk.Activate(ctx, req(fp)); err != nil {
					t.Fatalf("activate %s: %v", fp, err)
				}
			}
			if status, _ := w.admin.call("POST", "/v1/machines/"+w.machineID+"/actions/unblock", nil, nil); status != 204 {
				t.Errorf("unblock: %d", status)
			}
			if _, err := sdk.Activate(ctx, req(w.fp)); apiCode(err) != "seat_limit" {
				t.Errorf("after unblock on a full license: %v, want seat_limit", err)
			}

			// Upgrade: more seats and the plan's entitlements in the next lease.
			var l licensing.License
			if status, b := w.admin.call("POST", lic+"/actions/change-policy", map[string]string{"policy_id": w.teamPolicyID, "reason": "upgrade"}, &l); status != 200 || l.PolicyID != w.teamPolicyID {
				t.Fatalf("change policy: %d %s", status, b)
			}
			g, err := sdk.Activate(ctx, req(w.fp))
			if err != nil {
				t.Fatalf("activate after upgrade: %v", err)
			}
			v, _ := verifier.New(verifier.Config{Keys: jwks, Product: w.cat.productID, Fingerprint: w.fp})
			lease, err := v.Verify(g.Lease)
			if err != nil || !lease.HasEntitlement("team") {
				t.Errorf("lease after upgrade: %v %+v", err, lease)
			}
			// Downgrade below the machines in use is refused.
			if status, b := w.admin.call("POST", lic+"/actions/change-policy", map[string]string{"policy_id": w.cat.policyID}, nil); status != 409 || !strings.Contains(string(b), "seat_limit") {
				t.Errorf("downgrade with 3 machines onto 2 seats: %d %s", status, b)
			}

			// Transfer moves the license between customers.
			if status, b := w.admin.call("POST", lic+"/actions/transfer", map[string]string{"customer_id": w.customerB, "reason": "acquired"}, &l); status != 200 || l.CustomerID != w.customerB {
				t.Fatalf("transfer: %d %s", status, b)
			}
			if status, _ := w.as(t, "other-customer").call("GET", lic, nil, nil); status != 200 {
				t.Errorf("new owner cannot see the license: %d", status)
			}
			if status, _ := w.as(t, "customer").call("GET", lic, nil, nil); status != 404 {
				t.Errorf("old owner still sees the license: %d", status)
			}

			// Extend from the current expiry.
			before := *mustLicense(t, w.admin, lic).ExpiresAt
			w.admin.call("POST", lic+"/actions/extend", map[string]any{"duration_seconds": 86400}, &l)
			if l.ExpiresAt == nil || !l.ExpiresAt.Equal(before.Add(24*time.Hour)) {
				t.Errorf("extend: %v → %v", before, l.ExpiresAt)
			}

			// Revoke is final.
			if status, _ := w.admin.call("POST", lic+"/actions/revoke", map[string]string{"reason": "fraud"}, nil); status != 200 {
				t.Fatal("revoke")
			}
			if _, err := sdk.Renew(ctx, req(w.fp)); apiCode(err) != "license_revoked" {
				t.Errorf("renew of a revoked license: %v", err)
			}
			if status, _ := w.admin.call("POST", lic+"/actions/reinstate", nil, nil); status != 409 {
				t.Errorf("reinstate of a revoked license: %d", status)
			}

			// Every action is in the audit log, with who, why, before/after and the request id.
			var evs struct{ Data []licensing.Event }
			w.admin.call("GET", "/v1/events?target_type=license&target_id="+w.cat.licenseID, nil, &evs)
			var actions []string
			for _, e := range evs.Data {
				actions = append(actions, e.Action)
			}
			// license.seat_limit_reached: the activation refused on the full
			// license above (issue 27: refusals are events too).
			want := "license.created license.seat_limit_reached license.policy_changed license.transferred license.renewed license.revoked"
			if strings.Join(actions, " ") != want {
				t.Errorf("license events: %v, want %s", actions, want)
			}
			tr := evs.Data[3]
			if tr.Actor == "" || !strings.HasPrefix(tr.Actor, "token:") || tr.Reason != "acquired" || tr.RequestID == "" ||
				!strings.Contains(string(tr.Before), w.cat.customerID) || !strings.Contains(string(tr.After), w.customerB) {
				t.Errorf("transfer event: %+v", tr)
			}
			w.admin.call("GET", "/v1/events?action=machine.blocked", nil, &evs)
			if len(evs.Data) != 1 || evs.Data[0].Reason != "shared key" {
				t.Errorf("block events: %+v", evs.Data)
			}

			// Dashboard figures.
			var st licensing.Stats
			w.admin.call("GET", "/v1/dashboard", nil, &st)
			today := time.Now().UTC().Format("2006-01-02")
			last := st.ActivationsPerDay[len(st.ActivationsPerDay)-1]
			if st.LicensesByStatus["revoked"] != 1 || st.LicensesByStatus["active"] != 1 || st.MachinesByStatus["active"] != 3 ||
				len(st.ActivationsPerDay) != 30 || last.Day != today || last.Count != 4 || st.ExpiringIn30Days != 0 {
				t.Errorf("dashboard: %+v (last day %+v)", st, last)
			}
		})
	}
}

func mustLicense(t *testing.T, c apiClient, path string) *licensing.License {
	var l licensing.License
	if status, b := c.call("GET", path, nil, &l); status != 200 {
		t.Fatalf("GET %s: %d %s", path, status, b)
	}
	return &l
}

func TestTokens(t *testing.T) {
	t.Parallel()
	w := newWorld(t, "sqlite", nil)
	var created struct {
		Token  licensing.APIToken
		Secret string
	}
	w.admin.mustCreate("/v1/tokens", map[string]any{"name": "ci", "role": "support", "expires_at": time.Now().Add(time.Hour)}, &created)
	sup := apiClient{t, w.app.URL(), created.Secret}
	if status, _ := sup.call("GET", "/v1/licenses", nil, nil); status != 200 {
		t.Errorf("new token: %d", status)
	}
	_, body := w.admin.call("GET", "/v1/tokens", nil, nil)
	if strings.Contains(string(body), created.Secret) || strings.Contains(string(body), licensing.SecretHash(created.Secret)) || strings.Contains(string(body), `"secret"`) {
		t.Error("token listing shows secrets or hashes")
	}
	for _, bad := range []map[string]any{
		{"name": "x", "role": "root"},
		{"name": "x", "role": "customer"},
		{"name": "x", "role": "admin", "customer_id": w.cat.customerID},
		{"name": "x", "role": "admin", "expires_at": time.Now().Add(-time.Minute)},
	} {
		if status, b := w.admin.call("POST", "/v1/tokens", bad, nil); status != 422 {
			t.Errorf("token %v: %d %s", bad, status, b)
		}
	}
	w.admin.call("DELETE", "/v1/tokens/"+created.Token.ID, nil, nil)
	if status, _ := sup.call("GET", "/v1/licenses", nil, nil); status != 401 {
		t.Errorf("revoked token: %d", status)
	}
	if status, _ := w.admin.call("DELETE", "/v1/tokens/"+created.Token.ID, nil, nil); status != 409 {
		t.Errorf("revoke twice: %d", status)
	}
}

func TestIdempotencyKey(t *testing.T) {
	t.Parallel()
	w := newWorld(t, "postgres", nil)
	post := func(key string, body string) (int, string, http.Header) {
		req, _ := http.NewRequest("POST", w.app.URL()+"/v1/customers", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+adminToken)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Idempotency-Key", key)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b), resp.Header
	}
	count := func() int {
		var l struct{ Data []any }
		w.admin.call("GET", "/v1/customers?limit=200", nil, &l)
		return len(l.Data)
	}
	n0 := count()
	s1, b1, _ := post("key-1", `{"name":"Gamma"}`)
	s2, b2, h2 := post("key-1", `{"name":"Gamma"}`)
	if s1 != 201 || s2 != 201 || b1 != b2 || h2.Get("Idempotent-Replayed") != "true" || count() != n0+1 {
		t.Errorf("replay: %d %d same=%v replayed=%q count %d→%d", s1, s2, b1 == b2, h2.Get("Idempotent-Replayed"), n0, count())
	}
	if s, b, _ := post("key-1", `{"name":"Delta"}`); s != 422 {
		t.Errorf("same key, other body: %d %s", s, b)
	}
	// A refused request's answer is replayed too (4xx are final).
	s3, b3, _ := post("key-2", `{"name":""}`)
	s4, b4, _ := post("key-2", `{"name":""}`)
	if s3 != 422 || s4 != 422 || b3 != b4 {
		t.Errorf("refusal replay: %d %d", s3, s4)
	}
	// Many concurrent retries with one key create one customer.
	var wg sync.WaitGroup
	statuses := make(chan int, 10)
	for range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, _, _ := post("key-3", `{"name":"Epsilon"}`)
			statuses <- s
		}()
	}
	wg.Wait()
	close(statuses)
	for s := range statuses {
		if s != 201 && s != 409 {
			t.Errorf("concurrent retry: %d", s)
		}
	}
	if got := count(); got != n0+2 {
		t.Errorf("customers %d, want %d", got, n0+2)
	}
}

func randomPrefix() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return "narcidi-test-" + hex.EncodeToString(b) + ":"
}

// Rate limits answer 429 with Retry-After and RateLimit headers, and are
// shared by every instance using the same Redis.
func TestRateLimits(t *testing.T) {
	t.Parallel()
	activate := func(c apiClient) (int, http.Header) {
		req, _ := http.NewRequest("POST", c.base+"/v1/client/activate", strings.NewReader(`{"license_key":"NZL-GUESS-GUESS-GUESS","fingerprint":"fingerprint-1"}`))
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode, resp.Header
	}
	t.Run("per instance", func(t *testing.T) {
		t.Parallel()
		app := startAppWith(t, map[string]string{"NARCIDI_CLIENT_RATE": "4/m"})
		c := apiClient{t, app.URL(), ""}
		for i := range 2 { // burst = half the rate
			if s, h := activate(c); s != 404 || h.Get("RateLimit-Limit") != "2" || h.Get("RateLimit-Remaining") != fmt.Sprint(1-i) {
				t.Errorf("request %d: %d %v", i, s, h)
			}
		}
		s, h := activate(c)
		if s != 429 || h.Get("Retry-After") == "" || h.Get("RateLimit-Remaining") != "0" {
			t.Errorf("over the limit: %d %v", s, h)
		}
	})
	t.Run("shared through Redis", func(t *testing.T) {
		t.Parallel()
		if c, err := net.DialTimeout("tcp", "127.0.0.1:6379", 2*time.Second); err != nil {
			t.Fatalf("Redis is needed on 127.0.0.1:6379 (%v); start it with: redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save \"\" --appendonly no --dir /var/lib/redis --logfile /var/log/redis/ci.log", err)
		} else {
			c.Close()
		}
		env := map[string]string{"NARCIDI_CLIENT_RATE": "6/m", "NARCIDI_REDIS_URL": "redis://127.0.0.1:6379/0", "NARCIDI_REDIS_PREFIX": randomPrefix()}
		a, b := startAppWith(t, env), startAppWith(t, env)
		ca, cb := apiClient{t, a.URL(), ""}, apiClient{t, b.URL(), ""}
		got := []int{}
		for _, c := range []apiClient{ca, cb, ca, cb} { // burst 3 across both
			s, _ := activate(c)
			got = append(got, s)
		}
		if fmt.Sprint(got) != "[404 404 404 429]" {
			t.Errorf("statuses across two instances: %v", got)
		}
	})
	t.Run("token creation", func(t *testing.T) {
		t.Parallel()
		app := startAppWith(t, map[string]string{"NARCIDI_TOKEN_RATE": "2/m"})
		admin := apiClient{t, app.URL(), adminToken}
		if s, _ := admin.call("POST", "/v1/tokens", map[string]any{"name": "a", "role": "read-only"}, nil); s != 201 {
			t.Errorf("first token: %d", s)
		}
		if s, _ := admin.call("POST", "/v1/tokens", map[string]any{"name": "b", "role": "read-only"}, nil); s != 429 {
			t.Errorf("second token within the limit window: %d", s)
		}
	})
}

// Malformed, oversized, unknown-field and wrong-type bodies on every write
// route are refused with a 4xx problem, and nothing changes.
func TestBadInputOnEveryWriteRoute(t *testing.T) {
	t.Parallel()
	w := newWorld(t, "sqlite", nil)
	snapshot := func() string {
		var parts []string
		for _, p := range []string{"/v1/products", "/v1/policies", "/v1/entitlements", "/v1/customers", "/v1/licenses", "/v1/machines", "/v1/tokens", "/v1/events"} {
			_, b := w.admin.call("GET", p+"?limit=200", nil, nil)
			parts = append(parts, string(b))
		}
		return strings.Join(parts, "\n")
	}
	before := snapshot()
	bodies := []struct {
		name, ct, body string
		status         int
	}{
		{"malformed", "application/json", `{"name":`, 400},
		{"not an object", "application/json", `"hello"`, 422},
		{"unknown field", "application/json", `{"definitely_not_a_field":1}`, 422},
		{"oversized", "application/json", `{"reason":"` + strings.Repeat("x", 70<<10) + `"}`, 413},
		{"wrong content type", "text/plain", `{}`, 415},
	}
	n := 0
	for route := range expectedPerm {
		method, _, _ := strings.Cut(route, " ")
		if method != "POST" && method != "PATCH" {
			continue
		}
		for _, b := range bodies {
			n++
			_, path, _ := w.requestFor(route, n)
			status, resp := w.admin.raw(method, path, b.ct, strings.NewReader(b.body), nil)
			if status != b.status {
				t.Errorf("%s with %s body: %d %s, want %d", route, b.name, status, resp, b.status)
			}
		}
	}
	if after := snapshot(); after != before {
		t.Error("refused requests changed state")
	}
}

// A customer record's permissions bound what its tokens may do.
func TestCustomerPermissionsBoundTheirTokens(t *testing.T) {
	t.Parallel()
	w := newWorld(t, "sqlite", nil)
	a := w.as(t, "customer")
	if status, b := w.admin.call("PATCH", "/v1/customers/"+w.cat.customerID, map[string]any{"permissions": []string{"licenses:read", "machines:read"}}, nil); status != 200 {
		t.Fatalf("patch permissions: %d %s", status, b)
	}
	if status, _ := a.call("GET", "/v1/licenses", nil, nil); status != 200 {
		t.Errorf("read licenses: %d", status)
	}
	if status, _ := a.call("DELETE", "/v1/machines/"+w.machineID, nil, nil); status != 403 {
		t.Errorf("deactivate without machines:write: %d", status)
	}
	if status, _ := w.admin.call("PATCH", "/v1/customers/"+w.cat.customerID, map[string]any{"permissions": []string{"tokens:write"}}, nil); status != 422 {
		t.Errorf("a customer was given an admin permission: %d", status)
	}
}
