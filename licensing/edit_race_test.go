package licensing_test

import (
	"context"
	"testing"
	"time"

	"github.com/nzilacode/narcidicontrole/licensing"
	"github.com/nzilacode/narcidicontrole/storage/storagetest"
)

// TestEditsDoNotUndoConcurrentWrites: an edit of a customer, product,
// policy or entitlement that starts while another transaction has written
// the row but not committed keeps that write (the edit reads the row under
// a lock, not before it). On SQLite the edit waits for the transaction
// anyway; on PostgreSQL it would otherwise read the old row and write it
// back, re-enabling a customer just disabled.
func TestEditsDoNotUndoConcurrentWrites(t *testing.T) {
	t.Parallel()
	for _, d := range storagetest.Dialects {
		t.Run(d, func(t *testing.T) {
			ctx := context.Background()
			f := newFixture(t, d, licensing.PolicyInput{LeaseTTLSeconds: 3600, HeartbeatWindowSeconds: 600})
			ents, err := f.store.ListEntitlements(ctx, licensing.Page{Limit: 1})
			if err != nil || len(ents) == 0 {
				t.Fatal(ents, err)
			}
			for _, c := range []struct {
				name, table, id, column, value string
				edit                           func() error
				check                          func() (string, error)
			}{
				{"customer contacts vs disable", "customers", f.cust.ID, "status", "disabled",
					func() error {
						_, err := f.svc.Customers.UpdateContacts(ctx, f.cust.ID, []licensing.Contact{{Name: "Ops", Email: "o@acme.test"}})
						return err
					},
					func() (string, error) {
						c, err := f.store.GetCustomer(ctx, f.cust.ID)
						return string(c.Status), err
					}},
				{"policy name vs grace", "policies", f.policy.ID, "grace_seconds", "7",
					func() error {
						_, err := f.svc.Catalog.UpdatePolicy(ctx, f.policy.ID, licensing.PolicyPatch{Name: ptr("Renamed")})
						return err
					},
					func() (string, error) {
						p, err := f.store.GetPolicy(ctx, f.policy.ID)
						if err != nil {
							return "", err
						}
						return map[bool]string{true: "7"}[p.GraceSeconds == 7], nil
					}},
				{"product metadata vs name", "products", f.policy.ProductID, "name", "Studio X",
					func() error {
						_, err := f.svc.Catalog.UpdateProduct(ctx, f.policy.ProductID, licensing.ProductPatch{Metadata: &map[string]string{"a": "b"}})
						return err
					},
					func() (string, error) {
						p, err := f.store.GetProduct(ctx, f.policy.ProductID)
						return p.Name, err
					}},
				{"entitlement name vs description", "entitlements", ents[0].ID, "description", "concurrent",
					func() error {
						_, err := f.svc.Catalog.UpdateEntitlement(ctx, ents[0].ID, licensing.EntitlementPatch{Name: ptr("Renamed")})
						return err
					},
					func() (string, error) {
						e, err := f.store.GetEntitlement(ctx, ents[0].ID)
						return e.Description, err
					}},
			} {
				// The other writer: its row write is done, its commit comes
				// after the edit has started.
				tx := f.store.DB().Begin()
				if err := tx.Exec("UPDATE "+c.table+" SET "+c.column+" = ? WHERE id = ?", c.value, c.id).Error; err != nil {
					t.Fatal(err)
				}
				done := make(chan error, 1)
				go func() { done <- c.edit() }()
				time.Sleep(300 * time.Millisecond)
				if err := tx.Commit().Error; err != nil {
					t.Fatal(err)
				}
				if err := <-done; err != nil {
					t.Fatalf("%s: the edit: %v", c.name, err)
				}
				got, err := c.check()
				if err != nil {
					t.Fatal(err)
				}
				if got != c.value {
					t.Errorf("%s: %s = %q after the edit, want the concurrent %q", c.name, c.column, got, c.value)
				}
			}
		})
	}
}
