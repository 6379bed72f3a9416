package main

import (
	"context"
	"strings"
	"testing"

	"github.com/nzilacode/narcidicontrole/storage/storagetest"
	verifier "github.com/nzilacode/narcidicontrole/verifier-sdk"
)

// TestCLISubscriptions drives every subscription verb against the real
// server, on both databases: a trial whose key is shown once, a paid
// subscription over an existing license (no key), the filters, a trial
// converted by change-plan, cancel at period end, resume, cancel at once,
// and the refusals (exit 1 for the API's, exit 2 for the command line's).
func TestCLISubscriptions(t *testing.T) {
	t.Parallel()
	for _, d := range storagetest.Dialects {
		t.Run(d, func(t *testing.T) {
			t.Parallel()
			app := startApp(t, d)
			admin := apiClient{t, app.URL(), adminToken}
			cat := seedCatalog(t, admin, 2)
			var trial struct{ ID string }
			admin.mustCreate("/v1/policies", map[string]any{"product_id": cat.productID, "name": "Trial", "max_machines": 1,
				"lease_ttl_seconds": 3600, "metadata": map[string]string{"trial_seconds": "1209600"}}, &trial)
			c := newCLI(t, app)

			if out := c.ok("subscriptions", "help"); !strings.Contains(out, "narcidi subscriptions change-plan ID -policy ID") ||
				!strings.Contains(out, "narcidi subscriptions cancel ID -at period-end|now") {
				t.Errorf("help:\n%s", out)
			}

			// A trial creates its license: the key is shown once and works.
			out := c.ok("subscriptions", "create", "-customer", cat.customerID, "-policy", trial.ID)
			tr := oneRow(t, out)
			key := shownOnce(t, out)
			if tr["STATUS"] != "trialing" || tr["CUSTOMER"] != cat.customerID || tr["POLICY"] != trial.ID || tr["PROVIDER"] != "manual" {
				t.Fatalf("create trial:\n%s", out)
			}
			sdk := &verifier.Client{BaseURL: app.URL()}
			req := verifier.MachineRequest{LicenseKey: key, Fingerprint: "fingerprint-cli-sub-1"}
			if _, err := sdk.Activate(context.Background(), req); err != nil {
				t.Fatal(err)
			}
			// Over an existing license: no key to show.
			out = c.ok("subscriptions", "create", "-customer", cat.customerID, "-policy", cat.policyID, "-interval", "year", "-licenses", cat.licenseID)
			paid := oneRow(t, out)
			if paid["STATUS"] != "active" || paid["LICENSES"] != cat.licenseID || strings.Contains(out, "shown only this once") || paid["PAID_THROUGH"] == "-" {
				t.Fatalf("create over a license:\n%s", out)
			}

			if rows := table(t, c.ok("subscriptions", "list")); len(rows) != 2 {
				t.Errorf("list: %v", rows)
			}
			if rows := table(t, c.ok("subscriptions", "list", "-status", "trialing", "-customer", cat.customerID, "-provider", "manual")); len(rows) != 1 || rows[0]["ID"] != tr["ID"] {
				t.Errorf("list -status trialing: %v", rows)
			}
			if rows := table(t, c.ok("subscriptions", "list", "-status", "past_due")); len(rows) != 0 {
				t.Errorf("list -status past_due: %v", rows)
			}
			var got struct {
				ID         string   `json:"id"`
				Status     string   `json:"status"`
				LicenseIDs []string `json:"license_ids"`
			}
			c.json(&got, "subscriptions", "get", paid["ID"])
			if got.ID != paid["ID"] || got.Status != "active" || len(got.LicenseIDs) != 1 {
				t.Errorf("get -o json: %+v", got)
			}

			// change-plan converts the trial; the machine stays.
			conv := oneRow(t, c.ok("subscriptions", "change-plan", tr["ID"], "-policy", cat.policyID, "-reason", "bought"))
			if conv["STATUS"] != "active" || conv["POLICY"] != cat.policyID || conv["PAID_THROUGH"] == "-" {
				t.Fatalf("change-plan: %v", conv)
			}
			if _, err := sdk.Renew(context.Background(), req); err != nil {
				t.Fatalf("renew after conversion: %v", err)
			}

			// cancel needs -at; at period end, resume, then at once.
			if errOut := c.fails(2, "subscriptions", "cancel", tr["ID"]); !strings.Contains(errOut, "-at is required") {
				t.Errorf("cancel without -at: %s", errOut)
			}
			if errOut := c.fails(2, "subscriptions", "cancel", tr["ID"], "-at", "tomorrow"); !strings.Contains(errOut, "-at must be period-end or now") {
				t.Errorf("cancel -at tomorrow: %s", errOut)
			}
			if row := oneRow(t, c.ok("subscriptions", "cancel", tr["ID"], "-at", "period-end")); row["CANCEL_AT_END"] != "true" || row["STATUS"] != "active" {
				t.Errorf("cancel at period end: %v", row)
			}
			if row := oneRow(t, c.ok("subscriptions", "resume", tr["ID"], "-reason", "changed mind")); row["CANCEL_AT_END"] != "false" {
				t.Errorf("resume: %v", row)
			}
			if errOut := c.fails(1, "subscriptions", "resume", tr["ID"]); !strings.Contains(errOut, "409 conflict") {
				t.Errorf("resume twice: %s", errOut)
			}
			if row := oneRow(t, c.ok("subscriptions", "cancel", tr["ID"], "-at", "now", "-reason", "refund")); row["STATUS"] != "canceled" {
				t.Errorf("cancel now: %v", row)
			}
			if _, err := sdk.Renew(context.Background(), req); apiCode(err) != "license_expired" {
				t.Errorf("renew after cancel: %v", err)
			}
			if errOut := c.fails(1, "subscriptions", "get", "00000000-0000-0000-0000-000000000000"); !strings.Contains(errOut, "404 not_found") {
				t.Errorf("get unknown: %s", errOut)
			}
			if errOut := c.fails(1, "subscriptions", "create", "-customer", cat.customerID, "-policy", cat.policyID, "-interval", "week"); !strings.Contains(errOut, "422 invalid") {
				t.Errorf("create -interval week: %s", errOut)
			}
			if errOut := c.fails(2, "subscriptions", "create", "-customer", cat.customerID); !strings.Contains(errOut, "-policy is required") {
				t.Errorf("create without -policy: %s", errOut)
			}

			// licenses rotate-key: a new key once, the old one refused.
			out = c.ok("licenses", "rotate-key", cat.licenseID, "-reason", "lost")
			newKey := shownOnce(t, out)
			if row := oneRow(t, out); row["ID"] != cat.licenseID || !strings.HasSuffix(newKey, row["KEY"]) || newKey == cat.key {
				t.Fatalf("rotate-key:\n%s", out)
			}
			old := verifier.MachineRequest{LicenseKey: cat.key, Fingerprint: "fingerprint-cli-sub-2"}
			if _, err := sdk.Activate(context.Background(), old); err == nil {
				t.Fatal("the old key still activates")
			}
			old.LicenseKey = newKey
			if _, err := sdk.Activate(context.Background(), old); err != nil {
				t.Fatalf("the new key: %v", err)
			}
		})
	}
}
