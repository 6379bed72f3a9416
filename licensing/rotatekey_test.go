package licensing_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/nzilacode/narcidicontrole/licensing"
	"github.com/nzilacode/narcidicontrole/storage/storagetest"
)

// TestRotateKey: the new key works at once and the old one not at all, the
// machine keeps its seat, the audit event holds the hint and never the key,
// a revoked license keeps its key, and a customer reaches only its own.
func TestRotateKey(t *testing.T) {
	t.Parallel()
	for _, d := range storagetest.Dialects {
		t.Run(d, func(t *testing.T) {
			ctx := context.Background()
			f := newFixture(t, d, licensing.PolicyInput{LeaseTTLSeconds: 3600, MaxMachines: 1})
			lic := f.license(t, licensing.LicenseInput{})
			old := licensing.MachineRequest{Key: lic.Key, Fingerprint: "machine-fingerprint-1"}
			if _, err := f.svc.Leasing.Activate(ctx, old); err != nil {
				t.Fatal(err)
			}
			got, err := f.svc.Licenses.RotateKey(ctx, lic.ID, "")
			if err != nil {
				t.Fatal(err)
			}
			if got.Key == "" || got.Key == lic.Key || got.ID != lic.ID || got.KeyHint != got.Key[len(got.Key)-4:] {
				t.Fatalf("rotated: %+v", got)
			}
			if _, err := f.svc.Leasing.Renew(ctx, old); err == nil {
				t.Fatal("the old key still renews")
			}
			// The same machine renews with the new key: its seat is kept
			// (the policy has one seat).
			if _, err := f.svc.Leasing.Renew(ctx, licensing.MachineRequest{Key: got.Key, Fingerprint: old.Fingerprint}); err != nil {
				t.Fatalf("renew with the new key: %v", err)
			}
			stored, err := f.svc.Licenses.License(ctx, lic.ID)
			if err != nil || stored.KeyHint != got.KeyHint {
				t.Fatalf("stored hint %v %v", stored, err)
			}
			evs, err := f.svc.Notifications.Events(ctx, licensing.EventFilter{TargetID: lic.ID, Action: licensing.ActionLicenseKeyRotated}, licensing.Page{})
			if err != nil || len(evs) != 1 {
				t.Fatalf("events %v %v", evs, err)
			}
			raw, _ := json.Marshal(evs[0])
			if strings.Contains(string(raw), got.Key) || strings.Contains(string(raw), lic.Key) || !strings.Contains(string(raw), got.KeyHint) {
				t.Fatalf("the event must hold the hint and no key: %s", raw)
			}

			// Another customer's token does not see the license.
			other, err := f.svc.Customers.CreateCustomer(ctx, licensing.CustomerInput{Name: "Other"})
			if err != nil {
				t.Fatal(err)
			}
			asOther := licensing.WithActor(ctx, &licensing.Actor{Name: "other", Role: licensing.RoleCustomer, CustomerID: other.ID})
			_, err = f.svc.Licenses.RotateKey(asOther, lic.ID, "")
			wantCode(t, err, licensing.ENotFound)
			asOwner := licensing.WithActor(ctx, &licensing.Actor{Name: "acme", Role: licensing.RoleCustomer, CustomerID: f.cust.ID})
			mine, err := f.svc.Licenses.RotateKey(asOwner, lic.ID, "lost it")
			if err != nil || mine.Key == got.Key {
				t.Fatalf("the owner's rotation: %v %v", mine, err)
			}

			_, err = f.svc.Licenses.RotateKey(ctx, "00000000-0000-0000-0000-000000000000", "")
			wantCode(t, err, licensing.ENotFound)
			if _, err := f.svc.Licenses.RevokeLicense(ctx, lic.ID, "gone"); err != nil {
				t.Fatal(err)
			}
			_, err = f.svc.Licenses.RotateKey(ctx, lic.ID, "")
			wantCode(t, err, licensing.EConflict)
		})
	}
}

// New customers' tokens may not rotate keys unless granted; the grant is
// within what a customer may be given.
func TestRotateKeyIsOptInForCustomers(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "sqlite", licensing.PolicyInput{LeaseTTLSeconds: 3600})
	for _, p := range f.cust.Permissions {
		if p == licensing.RotateLicenseKeys {
			t.Fatalf("a new customer's default permissions include %s: %v", p, f.cust.Permissions)
		}
	}
	perms := append([]licensing.Permission{licensing.RotateLicenseKeys}, f.cust.Permissions...)
	if _, err := f.svc.Customers.UpdateCustomer(context.Background(), f.cust.ID, licensing.CustomerPatch{Permissions: &perms}); err != nil {
		t.Fatalf("granting %s: %v", licensing.RotateLicenseKeys, err)
	}
}
