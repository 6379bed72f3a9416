package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/nzilacode/narcidicontrole/keys"
	"github.com/nzilacode/narcidicontrole/licensing"
	"github.com/nzilacode/narcidicontrole/storage"
	"github.com/nzilacode/narcidicontrole/storage/storagetest"
	verifier "github.com/nzilacode/narcidicontrole/verifier-sdk"
)

// previousLastMigration is the last migration of the previous landed
// version (commit 8d60b6e). Models have not changed since; 0006_meta only
// adds a table.
const previousLastMigration = "0005_releases"

// An installation of the previous version upgrades with `narcidi migrate`:
// its rows still read through the current API and its leases still verify.
func TestUpgradeFromPreviousVersion(t *testing.T) {
	t.Parallel()
	for _, d := range storagetest.Dialects {
		t.Run(d, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			dataDir := t.TempDir()
			if err := os.Chmod(dataDir, 0o700); err != nil {
				t.Fatal(err)
			}
			master := make([]byte, 32)
			_, _ = rand.Read(master)
			env := map[string]string{"NARCIDI_DATA_DIR": dataDir, "NARCIDI_MASTER_KEY": base64.StdEncoding.EncodeToString(master), "NARCIDI_LOG_LEVEL": "warn"}
			cfg := storage.Config{DataDir: dataDir}
			if d == "postgres" {
				cfg.DatabaseURL = storagetest.PostgresURL(t) // empty: the previous version's schema comes next
				env["NARCIDI_DATABASE_URL"] = cfg.DatabaseURL
			}

			// The previous version's schema and rows.
			st, err := storage.Open(ctx, cfg)
			if err != nil {
				t.Fatal(err)
			}
			if err := st.MigrateTo(ctx, previousLastMigration); err != nil {
				t.Fatal(err)
			}
			if st.DB().Migrator().HasTable("narcidi_meta") {
				t.Fatal("the old schema already has the meta table")
			}
			kr, err := keys.Open(filepath.Join(dataDir, "keys"), master, time.Now)
			if err != nil {
				t.Fatal(err)
			}
			if _, _, err := kr.EnsureActive(); err != nil {
				t.Fatal(err)
			}
			box, err := webhookBox(master)
			if err != nil {
				t.Fatal(err)
			}
			svc := licensing.NewServices(storage.Stores(st), licensing.Deps{Signer: kr, Clock: time.Now, Issuer: "narcidi", Box: box, AllowPrivate: true})
			sum, err := seedDemo(ctx, svc, nil, time.Now()) // the previous schema has no telemetry tables
			if err != nil {
				t.Fatal(err)
			}
			// The previous version hashed tokens and keys with plain SHA-256
			// and had no bootstrap column: write the token as it did.
			tok := struct{ Secret string }{licensing.NewAPITokenSecret()}
			if err := st.DB().Exec("INSERT INTO api_tokens (id, name, role, customer_id, hash, created_at) VALUES (?, ?, ?, ?, ?, ?)",
				licensing.NewID(), "ci", "admin", "", licensing.SecretHash(tok.Secret), time.Now().UTC()).Error; err != nil {
				t.Fatal(err)
			}
			hook, err := svc.Notifications.CreateWebhook(ctx, licensing.WebhookInput{URL: "http://127.0.0.1:9/hook", EventTypes: []string{"*"}})
			if err != nil {
				t.Fatal(err)
			}
			lic, err := svc.Licenses.CreateLicense(ctx, licensing.LicenseInput{PolicyID: mustFirstPolicy(t, svc), CustomerID: mustFirstCustomer(t, svc)})
			if err != nil {
				t.Fatal(err)
			}
			fp := "upgrade-test-machine"
			grant, err := svc.Leasing.Activate(ctx, licensing.MachineRequest{Key: lic.Key, Fingerprint: fp})
			if err != nil {
				t.Fatal(err)
			}
			// Its license keys too (they are rehashed on first use).
			if err := st.DB().Exec("UPDATE licenses SET key_hash = ? WHERE id = ?", licensing.SecretHash(lic.Key), lic.ID).Error; err != nil {
				t.Fatal(err)
			}
			_ = st.Close()

			// The current version: migrate, then serve.
			out := runOK(t, env, "migrate")
			t.Logf("%s", out)
			env["NARCIDI_ADMIN_TOKEN"] = adminToken
			app := startAppWith(t, env)
			admin := apiClient{t, app.URL(), tok.Secret} // the old token still works
			for path, want := range map[string]int{"/v1/products": sum.products, "/v1/policies": sum.plans, "/v1/customers": sum.customers,
				"/v1/licenses": sum.licenses + 1, "/v1/machines": sum.machines + 1, "/v1/webhooks": 1} {
				var page struct{ Data []map[string]any }
				if s, b := admin.call("GET", path+"?limit=200", nil, &page); s != 200 || len(page.Data) != want {
					t.Errorf("GET %s after the upgrade: %d, %d rows (want %d) %s", path, s, len(page.Data), want, b)
				}
			}
			if s, b := admin.call("GET", "/v1/webhooks/"+hook.ID, nil, nil); s != 200 {
				t.Errorf("old webhook: %d %s", s, b)
			}
			var got licensing.License
			if s, _ := admin.call("GET", "/v1/licenses/"+lic.ID, nil, &got); s != 200 || got.Status != licensing.LicenseActive {
				t.Errorf("old license: %d %+v", s, got)
			}
			// The lease signed before the upgrade verifies with the JWKS now
			// served, and the machine renews.
			sdk := &verifier.Client{BaseURL: app.URL()}
			ks, err := sdk.JWKS(ctx)
			if err != nil {
				t.Fatal(err)
			}
			v, err := verifier.New(verifier.Config{Keys: ks, Product: lic.ProductID, Fingerprint: fp})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := v.Verify(grant.Lease); err != nil {
				t.Errorf("the old lease does not verify after the upgrade: %v", err)
			}
			if r, err := sdk.Renew(ctx, verifier.MachineRequest{LicenseKey: lic.Key, Fingerprint: fp}); err != nil {
				t.Errorf("renew after the upgrade: %v", err)
			} else if _, err := v.Verify(r.Lease); err != nil {
				t.Errorf("new lease: %v", err)
			}
		})
	}
}

func mustFirstPolicy(t *testing.T, svc *licensing.Services) string {
	t.Helper()
	ps, err := svc.Catalog.Policies(context.Background(), licensing.PolicyFilter{}, licensing.Page{Limit: 10})
	if err != nil || len(ps) == 0 {
		t.Fatal(err)
	}
	return ps[1].ID // a floating plan with free seats
}

func mustFirstCustomer(t *testing.T, svc *licensing.Services) string {
	t.Helper()
	cs, err := svc.Customers.Customers(context.Background(), licensing.Page{Limit: 1})
	if err != nil || len(cs) == 0 {
		t.Fatal(err)
	}
	return cs[0].ID
}
