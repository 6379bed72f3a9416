package main

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/nzilacode/narcidicontrole/licensing"
	"github.com/nzilacode/narcidicontrole/storage/storagetest"
	verifier "github.com/nzilacode/narcidicontrole/verifier-sdk"
)

func init() {
	// rotate-key in the authorization spec of admin_test.go: admin and
	// support; customers only when their record grants it (the matrix's
	// customer has the default permissions, without it).
	expectedPerm["POST /v1/licenses/:id/actions/rotate-key"] = "licenses:rotate-key"
	rolePerms["admin"] = append(rolePerms["admin"], "licenses:rotate-key")
	rolePerms["support"] = append(rolePerms["support"], "licenses:rotate-key")
}

// TestRotateKeyThroughTheAPI: the new key is in the answer (no-store) and
// works, the old one stops; a retry with the same Idempotency-Key replays
// the same key rather than rotating again; a customer token rotates its own
// license's key only once its record grants licenses:rotate-key, and never
// another customer's; no key is anywhere in the audit log.
func TestRotateKeyThroughTheAPI(t *testing.T) {
	t.Parallel()
	for _, d := range storagetest.Dialects {
		t.Run(d, func(t *testing.T) {
			t.Parallel()
			w := newWorld(t, d, nil)
			ctx := context.Background()
			path := "/v1/licenses/" + w.cat.licenseID + "/actions/rotate-key"
			rotate := func(c apiClient, idem string) (int, licensing.CreatedLicense, http.Header) {
				t.Helper()
				req, _ := http.NewRequest("POST", c.base+path, strings.NewReader(`{"reason":"lost the key"}`))
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("Authorization", "Bearer "+c.token)
				if idem != "" {
					req.Header.Set("Idempotency-Key", idem)
				}
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				defer resp.Body.Close()
				var out licensing.CreatedLicense
				_ = json.NewDecoder(resp.Body).Decode(&out)
				return resp.StatusCode, out, resp.Header
			}
			status, first, h := rotate(w.admin, "rotate-1")
			if status != 200 || first.Key == "" || first.Key == w.cat.key || first.ID != w.cat.licenseID || h.Get("Cache-Control") != "no-store" {
				t.Fatalf("rotate: %d %+v %v", status, first, h)
			}
			if status, again, h := rotate(w.admin, "rotate-1"); status != 200 || again.Key != first.Key || h.Get("Idempotent-Replayed") != "true" {
				t.Fatalf("replay: %d %q, want the same key", status, again.Key)
			}
			sdk := &verifier.Client{BaseURL: w.app.URL()}
			if _, err := sdk.Renew(ctx, verifier.MachineRequest{LicenseKey: w.cat.key, Fingerprint: w.fp}); err == nil {
				t.Fatal("the old key still renews")
			}
			if _, err := sdk.Renew(ctx, verifier.MachineRequest{LicenseKey: first.Key, Fingerprint: w.fp}); err != nil {
				t.Fatalf("the machine renews with the new key: %v", err)
			}

			// Customers: not by default; once granted, their own license only.
			cust, other := w.as(t, "customer"), w.as(t, "other-customer")
			if status, _, _ := rotate(cust, ""); status != 403 {
				t.Fatalf("customer without the permission: %d", status)
			}
			for _, id := range []string{w.cat.customerID, w.customerB} {
				if s, b := w.admin.call("PATCH", "/v1/customers/"+id, map[string]any{"permissions": []string{"licenses:read", "licenses:rotate-key"}}, nil); s != 200 {
					t.Fatalf("grant: %d %s", s, b)
				}
			}
			status, mine, _ := rotate(cust, "")
			if status != 200 || mine.Key == "" || mine.Key == first.Key {
				t.Fatalf("customer with the permission: %d %+v", status, mine)
			}
			if status, _, _ := rotate(other, ""); status != 404 {
				t.Fatalf("another customer's license: %d", status)
			}

			// No key at rest in clear: not in the events (the outbox holds
			// only their ids; webhooks and emails are made from them).
			var events []string
			if err := w.app.store.DB().Raw("SELECT COALESCE(CAST(before AS TEXT), '') || ' ' || COALESCE(CAST(after AS TEXT), '') || ' ' || COALESCE(reason, '') FROM events WHERE target_id = ?", w.cat.licenseID).Scan(&events).Error; err != nil {
				t.Fatal(err)
			}
			all := strings.Join(events, "\n")
			rotations := strings.Count(all, `"key_hint":"`+mine.KeyHint+`"`)
			for _, k := range []string{w.cat.key, first.Key, mine.Key} {
				if strings.Contains(all, k) || strings.Contains(all, strings.ReplaceAll(k, "-", "")) {
					t.Fatalf("a license key is stored in clear in the events or the outbox")
				}
			}
			if rotations == 0 {
				t.Fatalf("no event records the rotation with the new hint:\n%s", all)
			}
			var n struct{ Data []licensing.Event }
			w.admin.call("GET", "/v1/events?action=license.key_rotated&target_id="+w.cat.licenseID, nil, &n)
			if len(n.Data) != 2 {
				t.Fatalf("%d license.key_rotated events, want 2 (the replay rotates nothing)", len(n.Data))
			}
		})
	}
}
