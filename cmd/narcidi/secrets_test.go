package main

import (
	"context"
	"strings"
	"testing"

	"github.com/nzilacode/narcidicontrole/licensing"
	"github.com/nzilacode/narcidicontrole/storage/storagetest"
	verifier "github.com/nzilacode/narcidicontrole/verifier-sdk"
)

// Issue 11 item 15: changing NARCIDI_ADMIN_TOKEN and restarting replaces
// the bootstrap token (the old one answers 401), both changes are in the
// audit log, and a restart with the same token changes nothing. The
// license keys hashed under the master-key-derived secret still work after
// the restarts.
func TestAdminTokenReplacedOnRestart(t *testing.T) {
	t.Parallel()
	const tokenA, tokenB = "admin-token-A-0123456789abcdef", "admin-token-B-0123456789abcdef"
	for _, d := range storagetest.Dialects {
		t.Run(d, func(t *testing.T) {
			t.Parallel()
			env := map[string]string{"NARCIDI_ADDR": "127.0.0.1:0", "NARCIDI_DATA_DIR": t.TempDir(), "NARCIDI_LOG_LEVEL": "warn"}
			if d == "postgres" {
				usePostgres(t, env)
			}
			run := func(token string, fn func(app *App)) {
				t.Helper()
				env["NARCIDI_ADMIN_TOKEN"] = token
				app, logs := launch(t, env)
				defer func() {
					if err := app.Close(); err != nil {
						t.Error(err)
					}
					if t.Failed() {
						t.Logf("server log:\n%s", logs)
					}
				}()
				fn(app)
			}
			type events struct{ Data []licensing.Event }
			audit := func(app *App, token string) (created, revoked []licensing.Event) {
				var c, r events
				admin := apiClient{t, app.URL(), token}
				admin.call("GET", "/v1/events?action=token.created", nil, &c)
				admin.call("GET", "/v1/events?action=token.revoked", nil, &r)
				return c.Data, r.Data
			}
			var cat catalog
			run(tokenA, func(app *App) { cat = seedCatalog(t, apiClient{t, app.URL(), tokenA}, 2) })
			run(tokenB, func(app *App) {
				if status, b := (apiClient{t, app.URL(), tokenA}).call("GET", "/v1/products", nil, nil); status != 401 {
					t.Errorf("old token A: %d %s", status, b)
				}
				if status, b := (apiClient{t, app.URL(), tokenB}).call("GET", "/v1/products", nil, nil); status != 200 {
					t.Errorf("new token B: %d %s", status, b)
				}
				created, revoked := audit(app, tokenB)
				if len(created) != 2 || len(revoked) != 1 || revoked[0].TargetID != created[0].TargetID ||
					!strings.Contains(revoked[0].Reason, "NARCIDI_ADMIN_TOKEN") {
					t.Errorf("audit: created %+v, revoked %+v", created, revoked)
				}
				sdk := &verifier.Client{BaseURL: app.URL()}
				if _, err := sdk.Activate(context.Background(), verifier.MachineRequest{LicenseKey: cat.key, Fingerprint: "fingerprint-restart"}); err != nil {
					t.Errorf("license key after restart: %v", err)
				}
			})
			run(tokenB, func(app *App) {
				created, revoked := audit(app, tokenB)
				var toks struct{ Data []licensing.APIToken }
				(apiClient{t, app.URL(), tokenB}).call("GET", "/v1/tokens", nil, &toks)
				if len(created) != 2 || len(revoked) != 1 || len(toks.Data) != 2 {
					t.Errorf("a restart with the same token changed things: %d created, %d revoked, %d tokens", len(created), len(revoked), len(toks.Data))
				}
				if status, _ := (apiClient{t, app.URL(), tokenA}).call("GET", "/v1/products", nil, nil); status != 401 {
					t.Errorf("old token A after a second restart: %d", status)
				}
			})
		})
	}
}

// Issue 11 items 16 and 20 through the client API: a key pasted from an
// email works on every client route; a key stored before keyed hashing
// (bare SHA-256, as older versions wrote it) works and is rehashed; a weak
// supplied key answers 422 naming key.
func TestLicenseKeysThroughClientAPI(t *testing.T) {
	t.Parallel()
	for _, d := range storagetest.Dialects {
		t.Run(d, func(t *testing.T) {
			t.Parallel()
			app := startApp(t, d)
			ctx := context.Background()
			admin := apiClient{t, app.URL(), adminToken}
			cat := seedCatalog(t, admin, 2)
			sdk := &verifier.Client{BaseURL: app.URL()}
			pasted := " " + strings.ToLower(strings.ReplaceAll(cat.key, "-", " ")) + "\n"
			r := verifier.MachineRequest{LicenseKey: pasted, Fingerprint: "fingerprint-pasted"}
			if _, err := sdk.Activate(ctx, r); err != nil {
				t.Fatalf("activate: %v", err)
			}
			if _, err := sdk.Renew(ctx, r); err != nil {
				t.Errorf("renew: %v", err)
			}
			if _, err := sdk.Heartbeat(ctx, r); err != nil {
				t.Errorf("heartbeat: %v", err)
			}
			if v, err := sdk.Validate(ctx, r); err != nil || !v.Valid {
				t.Errorf("validate: %+v %v", v, err)
			}
			if err := sdk.Deactivate(ctx, r); err != nil {
				t.Errorf("deactivate: %v", err)
			}

			// A row from an older version.
			var before string
			db := app.store.DB()
			if err := db.Raw("SELECT key_hash FROM licenses WHERE id = ?", cat.licenseID).Scan(&before).Error; err != nil {
				t.Fatal(err)
			}
			if err := db.Exec("UPDATE licenses SET key_hash = ? WHERE id = ?", licensing.SecretHash(cat.key), cat.licenseID).Error; err != nil {
				t.Fatal(err)
			}
			if _, err := sdk.Activate(ctx, verifier.MachineRequest{LicenseKey: cat.key, Fingerprint: "fingerprint-legacy"}); err != nil {
				t.Fatalf("activate with a legacy row: %v", err)
			}
			var after string
			if err := db.Raw("SELECT key_hash FROM licenses WHERE id = ?", cat.licenseID).Scan(&after).Error; err != nil {
				t.Fatal(err)
			}
			if after != before {
				t.Errorf("the legacy row was not rehashed: %q, want %q", after, before)
			}

			for _, weak := range []string{strings.Repeat("a", 16), "abababababababababab"} {
				status, b := admin.call("POST", "/v1/licenses", map[string]any{"policy_id": cat.policyID, "customer_id": cat.customerID, "key": weak}, nil)
				if status != 422 || !strings.Contains(string(b), "key: ") {
					t.Errorf("weak key %q: %d %s", weak, status, b)
				}
			}
		})
	}
}
