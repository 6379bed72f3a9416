package main

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/nzilacode/narcidicontrole/licensing"
	"github.com/nzilacode/narcidicontrole/storage/storagetest"
	verifier "github.com/nzilacode/narcidicontrole/verifier-sdk"
)

// Servers that keep policies (NARCIDI_LEASE_CACHE_TTL) still refuse on
// every instance, within the documented bounds, what a change made on one
// of them forbids: a policy change within the cache's TTL (with Redis the
// other instance is told at once; without, the TTL alone bounds it), a
// suspension, a disabled customer and a blocked machine at once
// (licensing.UsabilityStaleness: never cached). Each check waits for its
// bound, then asserts. On SQLite (one instance) a change is seen at once.
func TestPolicyCacheAcrossInstances(t *testing.T) {
	t.Parallel()
	for _, mode := range []struct {
		name          string
		dialect       string
		redis, single bool
		ttl           time.Duration
	}{
		// The longest TTL, so that only the Redis message can explain a
		// change seen before it runs out.
		{name: "postgres-redis", dialect: "postgres", redis: true, ttl: licensing.MaxPolicyStaleness},
		{name: "postgres-ttl-only", dialect: "postgres", ttl: time.Second},
		{name: "sqlite-default", dialect: "sqlite", single: true, ttl: defaultLeaseCacheTTL},
	} {
		t.Run(mode.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			env := map[string]string{
				"NARCIDI_MASTER_KEY":      "bWFzdGVyLWtleS1zZWNyZXQtdmFsdWUtMzItYnl0ZXM=",
				"NARCIDI_LEASE_CACHE_TTL": mode.ttl.String(),
				// The Redis mode polls; the per-IP limit must not answer it.
				"NARCIDI_CLIENT_RATE": "100000/m",
			}
			if mode.dialect == "postgres" {
				usePostgres(t, env)
			}
			if mode.redis {
				env["NARCIDI_REDIS_URL"] = fmt.Sprintf("redis://%s/%d", storagetest.RedisAddr(), storagetest.RedisDB(t))
				// Pub/sub channels are shared by every Redis database.
				env["NARCIDI_REDIS_PREFIX"] = fmt.Sprintf("narcidi-test-%d:", time.Now().UnixNano())
			}
			if mode.single {
				delete(env, "NARCIDI_LEASE_CACHE_TTL") // the default
			}
			a := startAppWith(t, env)
			b := a
			if !mode.single {
				b = startAppWith(t, env)
			}
			admin, adminB := apiClient{t, a.URL(), adminToken}, apiClient{t, b.URL(), adminToken}
			var prod, pol, cus struct{ ID string }
			var lic struct{ ID, Key string }
			admin.mustCreate("/v1/products", map[string]any{"code": "studio", "name": "Studio"}, &prod)
			admin.mustCreate("/v1/policies", map[string]any{"product_id": prod.ID, "name": "Lax", "floating": true, "max_machines": 2,
				"lease_ttl_seconds": 3600, "expiry_action": "allow"}, &pol)
			admin.mustCreate("/v1/customers", map[string]any{"name": "Acme", "email": "it@acme.test"}, &cus)
			// Expired an hour ago: usable only while the policy allows it.
			admin.mustCreate("/v1/licenses", map[string]any{"policy_id": pol.ID, "customer_id": cus.ID,
				"expires_at": time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)}, &lic)

			sdkA, sdkB := &verifier.Client{BaseURL: a.URL()}, &verifier.Client{BaseURL: b.URL()}
			req := verifier.MachineRequest{LicenseKey: lic.Key, Fingerprint: verifier.FingerprintFrom("studio", "cache-1"), Hostname: "pc-1"}
			act, err := sdkA.Activate(ctx, req)
			if err != nil {
				t.Fatal(err)
			}
			// Warm both caches; filledB is before B's first read of the
			// policy, so its entry expires after filledB + TTL.
			filledB := time.Now()
			for name, c := range map[string]*verifier.Client{"A": sdkA, "B": sdkB} {
				if _, err := c.Renew(ctx, req); err != nil {
					t.Fatalf("warm-up renew on %s: %v", name, err)
				}
			}
			renewOn := func(c *verifier.Client) string {
				_, err := c.Renew(ctx, req)
				return apiCode(err)
			}
			expect := func(what, want string) {
				t.Helper()
				for name, c := range map[string]*verifier.Client{"A": sdkA, "B": sdkB} {
					if got := renewOn(c); got != want {
						t.Errorf("%s: renew on %s: %s, want %s", what, name, got, want)
					}
					if _, err := c.Heartbeat(ctx, req); apiCode(err) != want {
						t.Errorf("%s: heartbeat on %s: %v, want %s", what, name, err, want)
					}
				}
			}
			patch := func(c apiClient, path string, body any) {
				t.Helper()
				if status, out := c.call("PATCH", path, body, nil); status != http.StatusOK {
					t.Fatalf("PATCH %s = %d %s", path, status, out)
				}
			}
			post := func(c apiClient, path string, body any) {
				t.Helper()
				if status, out := c.call("POST", path, body, nil); status != http.StatusOK && status != http.StatusNoContent {
					t.Fatalf("POST %s = %d %s", path, status, out)
				}
			}

			// A policy change on A: the expired license is refused from
			// now on. A drops its cache at once.
			patch(admin, "/v1/policies/"+pol.ID, map[string]any{"expiry_action": "restrict"})
			if got := renewOn(sdkA); got != string(licensing.ELicenseExpired) {
				t.Fatalf("renew on A right after A changed the policy: %s, want %s", got, licensing.ELicenseExpired)
			}
			if mode.redis {
				// Told by Redis: seen before B's entry could have expired.
				for renewOn(sdkB) != string(licensing.ELicenseExpired) && time.Since(filledB) < mode.ttl {
					time.Sleep(50 * time.Millisecond)
				}
				if since := time.Since(filledB); since >= mode.ttl {
					t.Errorf("B saw the policy change only %v after it read the policy (TTL %v): the Redis message did not drop its cache", since, mode.ttl)
				}
			}
			time.Sleep(mode.ttl) // the bound
			expect("policy restricted on A", string(licensing.ELicenseExpired))

			patch(adminB, "/v1/policies/"+pol.ID, map[string]any{"expiry_action": "allow"})
			time.Sleep(mode.ttl)
			expect("policy allowing again (changed on B)", "<nil>")

			// Never cached: seen by the next call on every instance.
			post(admin, "/v1/licenses/"+lic.ID+"/actions/suspend", map[string]string{"reason": "unpaid"})
			time.Sleep(licensing.UsabilityStaleness)
			expect("suspended on A", string(licensing.ELicenseSuspended))
			post(adminB, "/v1/licenses/"+lic.ID+"/actions/reinstate", map[string]string{"reason": "paid"})
			time.Sleep(licensing.UsabilityStaleness)
			expect("reinstated on B", "<nil>")

			patch(admin, "/v1/customers/"+cus.ID, map[string]any{"status": "disabled"})
			time.Sleep(licensing.UsabilityStaleness)
			expect("customer disabled on A", string(licensing.EForbidden))
			patch(admin, "/v1/customers/"+cus.ID, map[string]any{"status": "active"})

			post(admin, "/v1/machines/"+act.MachineID+"/actions/block", map[string]string{"reason": "stolen"})
			time.Sleep(licensing.UsabilityStaleness)
			expect("machine blocked on A", string(licensing.EMachineBlocked))
		})
	}
}
