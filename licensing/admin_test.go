package licensing_test

import (
	"context"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/nzilacode/narcidicontrole/licensing"
	"github.com/nzilacode/narcidicontrole/storage/storagetest"
	verifier "github.com/nzilacode/narcidicontrole/verifier-sdk"
)

func ptr[T any](v T) *T { return &v }

// TestUpdatePolicyStoresEveryField: every field a PATCH can change is what
// a fresh read of the policy returns (it once answered the new notice days
// and offline release while the store kept the old ones).
func TestUpdatePolicyStoresEveryField(t *testing.T) {
	t.Parallel()
	for _, d := range storagetest.Dialects {
		t.Run(d, func(t *testing.T) {
			ctx := context.Background()
			f := newFixture(t, d, licensing.PolicyInput{LeaseTTLSeconds: 3600, HeartbeatWindowSeconds: 600, OfflineReleaseSeconds: 1200})
			f.clock.Add(time.Hour)
			got, err := f.svc.Catalog.UpdatePolicy(ctx, f.policy.ID, licensing.PolicyPatch{
				Name: ptr("Team"), DurationSeconds: ptr(int64(86400)), MaxMachines: ptr(5), Floating: ptr(true),
				LeaseTTLSeconds: ptr(int64(7200)), HeartbeatWindowSeconds: ptr(int64(900)), GraceSeconds: ptr(int64(3600)),
				ExpiryAction: ptr(licensing.ExpiryAllow), Entitlements: ptr([]string{"sync", "export"}),
				Metadata: ptr(map[string]string{"tier": "team"}), ExpiryNoticeDays: ptr([]int{3, 14}),
				OfflineReleaseSeconds: ptr(int64(7200)),
			})
			if err != nil {
				t.Fatal(err)
			}
			want := licensing.Policy{ID: f.policy.ID, ProductID: f.policy.ProductID, Name: "Team", DurationSeconds: 86400,
				MaxMachines: 5, Floating: true, LeaseTTLSeconds: 7200, HeartbeatWindowSeconds: 900, GraceSeconds: 3600,
				ExpiryAction: licensing.ExpiryAllow, ExpiryNoticeDays: []int{14, 3}, OfflineReleaseSeconds: 7200,
				Entitlements: []string{"export", "sync"}, Metadata: map[string]string{"tier": "team"},
				CreatedAt: f.policy.CreatedAt, UpdatedAt: f.clock.Now()}
			if !reflect.DeepEqual(*got, want) {
				t.Errorf("UpdatePolicy answered\n%+v\nwant\n%+v", *got, want)
			}
			stored, err := f.svc.Catalog.Policy(ctx, f.policy.ID)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(*stored, want) {
				t.Errorf("the store kept\n%+v\nwant\n%+v", *stored, want)
			}
		})
	}
}

func TestUpdatePolicyRules(t *testing.T) {
	t.Parallel()
	for _, d := range storagetest.Dialects {
		t.Run(d, func(t *testing.T) {
			ctx := context.Background()
			f := newFixture(t, d, licensing.PolicyInput{LeaseTTLSeconds: 3600, HeartbeatWindowSeconds: 600})
			before, err := f.svc.Catalog.Policy(ctx, f.policy.ID)
			if err != nil {
				t.Fatal(err)
			}
			for _, tc := range []struct {
				name  string
				patch licensing.PolicyPatch
				code  licensing.Code
			}{
				{"offline release within the heartbeat window", licensing.PolicyPatch{OfflineReleaseSeconds: ptr(int64(600))}, licensing.EInvalid},
				{"negative offline release", licensing.PolicyPatch{OfflineReleaseSeconds: ptr(int64(-1))}, licensing.EInvalid},
				{"notice day out of range", licensing.PolicyPatch{ExpiryNoticeDays: ptr([]int{0})}, licensing.EInvalid},
				{"node-locked with two machines", licensing.PolicyPatch{MaxMachines: ptr(2)}, licensing.EInvalid},
				{"unknown entitlement", licensing.PolicyPatch{Entitlements: ptr([]string{"nope"})}, licensing.EInvalid},
				{"empty name", licensing.PolicyPatch{Name: ptr(" ")}, licensing.EInvalid},
				{"unknown expiry action", licensing.PolicyPatch{ExpiryAction: ptr(licensing.ExpiryAction("keep"))}, licensing.EInvalid},
			} {
				t.Run(tc.name, func(t *testing.T) {
					_, err := f.svc.Catalog.UpdatePolicy(ctx, f.policy.ID, tc.patch)
					wantCode(t, err, tc.code)
					stored, err := f.svc.Catalog.Policy(ctx, f.policy.ID)
					if err != nil {
						t.Fatal(err)
					}
					if !reflect.DeepEqual(stored, before) {
						t.Errorf("a refused patch changed the policy:\n%+v\nwas\n%+v", stored, before)
					}
				})
			}
			_, err = f.svc.Catalog.UpdatePolicy(ctx, "0190b6a0-0000-7000-8000-000000000000", licensing.PolicyPatch{Name: ptr("x")})
			wantCode(t, err, licensing.ENotFound)
		})
	}
}

// TestDisabledCustomerIsRefusedEverywhere: the one usable-license check
// refuses a license whose customer is disabled on every client route,
// Validate included (it once answered valid).
func TestDisabledCustomerIsRefusedEverywhere(t *testing.T) {
	t.Parallel()
	for _, d := range storagetest.Dialects {
		t.Run(d, func(t *testing.T) {
			ctx := context.Background()
			f := newFixture(t, d, licensing.PolicyInput{LeaseTTLSeconds: 3600})
			lic := f.license(t, licensing.LicenseInput{})
			if _, err := f.svc.Leasing.Activate(ctx, req(lic.Key, "fingerprint-a")); err != nil {
				t.Fatal(err)
			}
			if v, err := f.svc.Leasing.Validate(ctx, lic.Key, "fingerprint-a"); err != nil || !v.Valid {
				t.Fatalf("before: %+v %v", v, err)
			}
			if _, err := f.svc.Customers.UpdateCustomer(ctx, f.cust.ID, licensing.CustomerPatch{Status: ptr(licensing.CustomerDisabled)}); err != nil {
				t.Fatal(err)
			}
			for _, fp := range []string{"", "fingerprint-a"} {
				v, err := f.svc.Leasing.Validate(ctx, lic.Key, fp)
				if err != nil {
					t.Fatal(err)
				}
				if v.Valid || v.Code != verifier.ValidationSuspended || !strings.Contains(v.Detail, "customer") {
					t.Errorf("validate (fingerprint %q) = %+v, want not valid, suspended, about the customer", fp, v)
				}
			}
			_, err := f.svc.Leasing.Activate(ctx, req(lic.Key, "fingerprint-b"))
			wantCode(t, err, licensing.EForbidden)
			_, err = f.svc.Leasing.Renew(ctx, req(lic.Key, "fingerprint-a"))
			wantCode(t, err, licensing.EForbidden)
			_, _, err = f.svc.Leasing.Heartbeat(ctx, req(lic.Key, "fingerprint-a"))
			wantCode(t, err, licensing.EForbidden)
			_, _, err = f.svc.Leasing.Usable(ctx, licensing.LicenseRef{ID: lic.ID}, "fingerprint-a")
			wantCode(t, err, licensing.EForbidden)
			// Giving a seat back stays allowed.
			if err := f.svc.Leasing.Deactivate(ctx, req(lic.Key, "fingerprint-a")); err != nil {
				t.Errorf("deactivate: %v", err)
			}
		})
	}
}

func TestCheckUsable(t *testing.T) {
	t.Parallel()
	now := start
	past := now.Add(-2 * time.Hour)
	restrict := &licensing.Policy{ExpiryAction: licensing.ExpiryRestrict, GraceSeconds: 3600}
	allow := &licensing.Policy{ExpiryAction: licensing.ExpiryAllow}
	active := &licensing.Customer{Status: licensing.CustomerActive}
	disabled := &licensing.Customer{Status: licensing.CustomerDisabled}
	for _, tc := range []struct {
		name string
		lic  licensing.License
		pol  *licensing.Policy
		cus  *licensing.Customer
		code licensing.Code
	}{
		{"active", licensing.License{Status: licensing.LicenseActive}, restrict, active, ""},
		{"suspended", licensing.License{Status: licensing.LicenseSuspended}, restrict, active, licensing.ELicenseSuspended},
		{"revoked", licensing.License{Status: licensing.LicenseRevoked}, restrict, active, licensing.ELicenseRevoked},
		{"past grace", licensing.License{Status: licensing.LicenseActive, ExpiresAt: &past}, restrict, active, licensing.ELicenseExpired},
		{"past grace, allowed", licensing.License{Status: licensing.LicenseActive, ExpiresAt: &past}, allow, active, ""},
		{"customer disabled", licensing.License{Status: licensing.LicenseActive}, restrict, disabled, licensing.EForbidden},
		{"revoked and customer disabled", licensing.License{Status: licensing.LicenseRevoked}, restrict, disabled, licensing.ELicenseRevoked},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := licensing.ErrorCode(licensing.CheckUsable(&tc.lic, tc.pol, tc.cus, now)); got != tc.code {
				t.Errorf("code = %q, want %q", got, tc.code)
			}
		})
	}
}

func TestExtendLicense(t *testing.T) {
	t.Parallel()
	day := int64(86400)
	for _, d := range storagetest.Dialects {
		t.Run(d, func(t *testing.T) {
			ctx := context.Background()
			f := newFixture(t, d, licensing.PolicyInput{LeaseTTLSeconds: 3600, DurationSeconds: 30 * day})
			in30 := start.Add(30 * 24 * time.Hour)
			for _, tc := range []struct {
				name    string
				expired bool // the license expired 10 days ago
				in      licensing.ExtendInput
				want    time.Time
				code    licensing.Code
			}{
				{"by the policy's duration", false, licensing.ExtendInput{}, in30.Add(30 * 24 * time.Hour), ""},
				{"by a duration", false, licensing.ExtendInput{DurationSeconds: day}, in30.Add(24 * time.Hour), ""},
				{"to a date", false, licensing.ExtendInput{ExpiresAt: ptr(start.Add(100 * 24 * time.Hour))}, start.Add(100 * 24 * time.Hour), ""},
				{"an expired one from now", true, licensing.ExtendInput{DurationSeconds: day, Reason: "paid"}, start.Add(24 * time.Hour), ""},
				{"both a date and a duration", false, licensing.ExtendInput{DurationSeconds: day, ExpiresAt: ptr(start.Add(time.Hour))}, time.Time{}, licensing.EInvalid},
				{"a negative duration", false, licensing.ExtendInput{DurationSeconds: -1}, time.Time{}, licensing.EInvalid},
				{"a date in the past", false, licensing.ExtendInput{ExpiresAt: ptr(start.Add(-time.Hour))}, time.Time{}, licensing.EInvalid},
			} {
				t.Run(tc.name, func(t *testing.T) {
					lic := f.license(t, licensing.LicenseInput{})
					if tc.expired {
						setExpired(t, f, lic.ID, start.Add(-10*24*time.Hour))
					}
					got, err := f.svc.Licenses.ExtendLicense(ctx, lic.ID, tc.in)
					wantCode(t, err, tc.code)
					if tc.code != "" {
						return
					}
					if got.ExpiresAt == nil || !got.ExpiresAt.Equal(tc.want) || got.Status != licensing.LicenseActive {
						t.Errorf("extended to %v (%s), want %v (active)", got.ExpiresAt, got.Status, tc.want)
					}
					stored, err := f.svc.Licenses.License(ctx, lic.ID)
					if err != nil {
						t.Fatal(err)
					}
					if !reflect.DeepEqual(stored, got) {
						t.Errorf("stored\n%+v\nanswered\n%+v", stored, got)
					}
				})
			}
			lic := f.license(t, licensing.LicenseInput{})
			if _, err := f.svc.Licenses.RevokeLicense(ctx, lic.ID, "fraud"); err != nil {
				t.Fatal(err)
			}
			_, err := f.svc.Licenses.ExtendLicense(ctx, lic.ID, licensing.ExtendInput{})
			wantCode(t, err, licensing.EConflict)

			perpetual := newFixture(t, d, licensing.PolicyInput{LeaseTTLSeconds: 3600})
			pl := perpetual.license(t, licensing.LicenseInput{})
			_, err = perpetual.svc.Licenses.ExtendLicense(ctx, pl.ID, licensing.ExtendInput{})
			wantCode(t, err, licensing.EInvalid)
		})
	}
}

// setExpired makes a license expired at at, as the expiry scan would.
func setExpired(t *testing.T, f *fixture, id string, at time.Time) {
	t.Helper()
	ctx := context.Background()
	l, err := f.store.GetLicense(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	l.ExpiresAt, l.Status = &at, licensing.LicenseExpired
	if err := f.store.UpdateLicense(ctx, l); err != nil {
		t.Fatal(err)
	}
}

func TestChangePolicy(t *testing.T) {
	t.Parallel()
	for _, d := range storagetest.Dialects {
		t.Run(d, func(t *testing.T) {
			ctx := context.Background()
			f := newFixture(t, d, licensing.PolicyInput{LeaseTTLSeconds: 3600, MaxMachines: 3, Floating: true})
			single, err := f.svc.Catalog.CreatePolicy(ctx, licensing.PolicyInput{ProductID: f.policy.ProductID, Name: "Single", Entitlements: []string{"beta"}})
			if err != nil {
				t.Fatal(err)
			}
			other, err := f.svc.Catalog.CreateProduct(ctx, licensing.ProductInput{Code: "other", Name: "Other"})
			if err != nil {
				t.Fatal(err)
			}
			foreign, err := f.svc.Catalog.CreatePolicy(ctx, licensing.PolicyInput{ProductID: other.ID, Name: "Foreign"})
			if err != nil {
				t.Fatal(err)
			}
			lic := f.license(t, licensing.LicenseInput{})
			for _, fp := range []string{"fingerprint-a", "fingerprint-b"} {
				if _, err := f.svc.Leasing.Activate(ctx, req(lic.Key, fp)); err != nil {
					t.Fatal(err)
				}
			}
			_, err = f.svc.Licenses.ChangePolicy(ctx, lic.ID, foreign.ID, "")
			wantCode(t, err, licensing.EInvalid)
			_, err = f.svc.Licenses.ChangePolicy(ctx, lic.ID, "0190b6a0-0000-7000-8000-000000000000", "")
			wantCode(t, err, licensing.EInvalid)
			_, err = f.svc.Licenses.ChangePolicy(ctx, lic.ID, single.ID, "downgrade")
			wantCode(t, err, licensing.ESeatLimit)

			if err := f.svc.Leasing.Deactivate(ctx, req(lic.Key, "fingerprint-b")); err != nil {
				t.Fatal(err)
			}
			got, err := f.svc.Licenses.ChangePolicy(ctx, lic.ID, single.ID, "downgrade")
			if err != nil {
				t.Fatal(err)
			}
			if got.PolicyID != single.ID {
				t.Errorf("policy = %s, want %s", got.PolicyID, single.ID)
			}
			// The next lease follows the new policy.
			g, err := f.svc.Leasing.Renew(ctx, req(lic.Key, "fingerprint-a"))
			if err != nil {
				t.Fatal(err)
			}
			if c := claimsOf(t, g, f.pub); c.Policy != single.ID || !reflect.DeepEqual(c.Entitlements, []string{"beta"}) {
				t.Errorf("lease after the change: policy %s, entitlements %v", c.Policy, c.Entitlements)
			}
			_, err = f.svc.Leasing.Activate(ctx, req(lic.Key, "fingerprint-b"))
			wantCode(t, err, licensing.ESeatLimit)
			events, err := f.svc.Notifications.Events(ctx, licensing.EventFilter{TargetID: lic.ID, Action: licensing.ActionLicensePolicyChange}, licensing.Page{})
			if err != nil || len(events) != 1 || events[0].Reason != "downgrade" {
				t.Errorf("events = %+v, %v; want one policy change with its reason", events, err)
			}
		})
	}
}

func TestTransferLicense(t *testing.T) {
	t.Parallel()
	for _, d := range storagetest.Dialects {
		t.Run(d, func(t *testing.T) {
			ctx := context.Background()
			f := newFixture(t, d, licensing.PolicyInput{LeaseTTLSeconds: 3600})
			lic := f.license(t, licensing.LicenseInput{})
			if _, err := f.svc.Leasing.Activate(ctx, req(lic.Key, "fingerprint-a")); err != nil {
				t.Fatal(err)
			}
			beta, err := f.svc.Customers.CreateCustomer(ctx, licensing.CustomerInput{Name: "Beta", Email: "it@beta.test"})
			if err != nil {
				t.Fatal(err)
			}
			_, err = f.svc.Licenses.TransferLicense(ctx, lic.ID, f.cust.ID, "")
			wantCode(t, err, licensing.EConflict)
			_, err = f.svc.Licenses.TransferLicense(ctx, lic.ID, "0190b6a0-0000-7000-8000-000000000000", "")
			wantCode(t, err, licensing.EInvalid)

			// A customer token cannot move a license it cannot see.
			asBeta := licensing.WithActor(ctx, &licensing.Actor{Name: "beta", Role: licensing.RoleCustomer, CustomerID: beta.ID})
			_, err = f.svc.Licenses.TransferLicense(asBeta, lic.ID, beta.ID, "")
			wantCode(t, err, licensing.ENotFound)

			got, err := f.svc.Licenses.TransferLicense(ctx, lic.ID, beta.ID, "sold")
			if err != nil {
				t.Fatal(err)
			}
			if got.CustomerID != beta.ID {
				t.Errorf("customer = %s, want %s", got.CustomerID, beta.ID)
			}
			// Its machines stay, and the new customer sees it; the old one no longer does.
			ms, err := f.svc.Licenses.Machines(asBeta, licensing.MachineFilter{LicenseID: lic.ID}, licensing.Page{})
			if err != nil || len(ms) != 1 {
				t.Errorf("machines seen by the new customer = %v, %v; want the one machine", ms, err)
			}
			asAcme := licensing.WithActor(ctx, &licensing.Actor{Name: "acme", Role: licensing.RoleCustomer, CustomerID: f.cust.ID})
			_, err = f.svc.Licenses.License(asAcme, lic.ID)
			wantCode(t, err, licensing.ENotFound)
			if _, err := f.svc.Licenses.License(asBeta, lic.ID); err != nil {
				t.Errorf("the new customer cannot see its license: %v", err)
			}
		})
	}
}

// An expired license still in use (expiry action allow) can be suspended,
// which stops it, and reinstated; the expiry scan then marks it expired
// again. Before, suspending needed an active license, so the only way to
// stop such a license was to revoke it, and an expiry scan racing an
// admin's suspension turned it into a conflict.
func TestSuspendExpiredLicense(t *testing.T) {
	t.Parallel()
	for _, d := range storagetest.Dialects {
		t.Run(d, func(t *testing.T) {
			ctx := context.Background()
			f := newFixture(t, d, licensing.PolicyInput{DurationSeconds: 86400, LeaseTTLSeconds: 3600, MaxMachines: 1, ExpiryAction: licensing.ExpiryAllow})
			lic := f.license(t, licensing.LicenseInput{})
			if _, err := f.svc.Leasing.Activate(ctx, req(lic.Key, "fingerprint-1")); err != nil {
				t.Fatal(err)
			}
			f.clock.Add(48 * time.Hour)
			if res, err := f.svc.Automation.ScanExpiry(ctx); err != nil || res.Expired != 1 {
				t.Fatalf("scan = %+v, %v; want 1 expired", res, err)
			}
			if _, err := f.svc.Leasing.Renew(ctx, req(lic.Key, "fingerprint-1")); err != nil {
				t.Fatalf("renew of an expired license under allow: %v", err)
			}
			l, err := f.svc.Licenses.SuspendLicense(ctx, lic.ID, "unpaid")
			if err != nil || l.Status != licensing.LicenseSuspended {
				t.Fatalf("suspend expired = %+v, %v", l, err)
			}
			_, err = f.svc.Leasing.Renew(ctx, req(lic.Key, "fingerprint-1"))
			wantCode(t, err, licensing.ELicenseSuspended)
			_, err = f.svc.Licenses.SuspendLicense(ctx, lic.ID, "twice")
			wantCode(t, err, licensing.EConflict)

			if l, err = f.svc.Licenses.ReinstateLicense(ctx, lic.ID, "paid"); err != nil || l.Status != licensing.LicenseActive {
				t.Fatalf("reinstate = %+v, %v", l, err)
			}
			if _, err := f.svc.Leasing.Renew(ctx, req(lic.Key, "fingerprint-1")); err != nil {
				t.Fatalf("renew after reinstating: %v", err)
			}
			if res, err := f.svc.Automation.ScanExpiry(ctx); err != nil || res.Expired != 1 {
				t.Fatalf("scan after reinstating = %+v, %v; want it expired again", res, err)
			}
			if l, _ = f.svc.Licenses.License(ctx, lic.ID); l.Status != licensing.LicenseExpired {
				t.Errorf("status after the scan = %s, want expired", l.Status)
			}
		})
	}
}
