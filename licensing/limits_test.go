package licensing_test

import (
	"context"
	"encoding/json"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/nzilacode/narcidicontrole/licensing"
	"github.com/nzilacode/narcidicontrole/storage/storagetest"
)

// wantInvalid checks err is EInvalid with a message naming field.
func wantInvalid(t *testing.T, err error, field string) {
	t.Helper()
	if licensing.ErrorCode(err) != licensing.EInvalid || !strings.Contains(licensing.ErrorMessage(err), field) {
		t.Fatalf("error = %v, want %q naming %q", err, licensing.EInvalid, field)
	}
}

// usable checks that a license with this expiry still works for
// everyone: it reads back alone and in lists, validates, answers as JSON
// (which holds years up to 9999 only, grace included), the expiry scan
// runs, and it can be revoked.
func usable(t *testing.T, f *fixture, lic *licensing.CreatedLicense) {
	t.Helper()
	ctx := context.Background()
	l, err := f.svc.Licenses.License(ctx, lic.ID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := json.Marshal(l); err != nil {
		t.Fatalf("the license does not encode: %v", err)
	}
	if l.ExpiresAt != nil {
		if end := l.ExpiresAt.Add(licensing.MaxDuration); end.After(licensing.LatestTime) {
			t.Fatalf("expiry %v plus the longest grace passes year 9999", l.ExpiresAt)
		}
	}
	if _, err := f.svc.Licenses.Licenses(ctx, licensing.LicenseFilter{}, licensing.Page{}); err != nil {
		t.Fatal(err)
	}
	if v, err := f.svc.Leasing.Validate(ctx, lic.Key, ""); err != nil || !v.Valid {
		t.Fatalf("validate: %+v, %v", v, err)
	}
	if _, err := f.svc.Automation.ScanExpiry(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Licenses.RevokeLicense(ctx, lic.ID, "test"); err != nil {
		t.Fatal(err)
	}
}

// Every duration and date the domain takes, at its limit, just past it,
// and at values that overflow int64 nanoseconds (issue 11, item 3).
func TestDurationAndDateLimits(t *testing.T) {
	t.Parallel()
	const maxS = licensing.MaxDurationSeconds
	over := []int64{maxS + 1, 9223372037, 1e11, math.MaxInt64, -1}
	latest := licensing.LatestExpiry
	ptr := func(t time.Time) *time.Time { return &t }
	for _, d := range storagetest.Dialects {
		t.Run(d, func(t *testing.T) {
			ctx := context.Background()
			f := newFixture(t, d, licensing.PolicyInput{DurationSeconds: 30 * 86400})

			t.Run("policy durations", func(t *testing.T) {
				fields := []struct {
					name string
					set  func(in *licensing.PolicyInput, p *licensing.PolicyPatch, v int64)
				}{
					{"duration_seconds", func(in *licensing.PolicyInput, p *licensing.PolicyPatch, v int64) {
						in.DurationSeconds, p.DurationSeconds = v, &v
					}},
					{"grace_seconds", func(in *licensing.PolicyInput, p *licensing.PolicyPatch, v int64) {
						in.GraceSeconds, p.GraceSeconds = v, &v
					}},
					{"heartbeat_window_seconds", func(in *licensing.PolicyInput, p *licensing.PolicyPatch, v int64) {
						in.HeartbeatWindowSeconds, p.HeartbeatWindowSeconds = v, &v
					}},
					{"offline_release_seconds", func(in *licensing.PolicyInput, p *licensing.PolicyPatch, v int64) {
						w := int64(60)
						in.HeartbeatWindowSeconds, p.HeartbeatWindowSeconds = w, &w
						in.OfflineReleaseSeconds, p.OfflineReleaseSeconds = v, &v
					}},
				}
				for _, fl := range fields {
					for _, v := range append([]int64{maxS}, over...) {
						in := licensing.PolicyInput{ProductID: f.policy.ProductID, Name: "limits"}
						var patch licensing.PolicyPatch
						fl.set(&in, &patch, v)
						_, errCreate := f.svc.Catalog.CreatePolicy(ctx, in)
						_, errUpdate := f.svc.Catalog.UpdatePolicy(ctx, f.policy.ID, patch)
						if v == maxS {
							if errCreate != nil || errUpdate != nil {
								t.Fatalf("%s at the limit: create %v, update %v", fl.name, errCreate, errUpdate)
							}
							continue
						}
						wantInvalid(t, errCreate, fl.name)
						wantInvalid(t, errUpdate, fl.name)
					}
				}
				// Put the fixture's policy back as the other cases expect it.
				zero, month := int64(0), int64(30*86400)
				if _, err := f.svc.Catalog.UpdatePolicy(ctx, f.policy.ID, licensing.PolicyPatch{DurationSeconds: &month,
					GraceSeconds: &zero, HeartbeatWindowSeconds: &zero, OfflineReleaseSeconds: &zero}); err != nil {
					t.Fatal(err)
				}
			})

			t.Run("license expires_at", func(t *testing.T) {
				for _, c := range []struct {
					at time.Time
					ok bool
				}{
					{latest, true},
					{licensing.EarliestTime, true},
					{latest.Add(time.Second), false},
					{licensing.LatestTime, false},
					{time.Date(10000, 12, 30, 0, 0, 0, 0, time.UTC), false},
					{licensing.EarliestTime.Add(-time.Second), false},
					{time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC), false},
				} {
					in := licensing.LicenseInput{PolicyID: f.policy.ID, CustomerID: f.cust.ID, ExpiresAt: ptr(c.at)}
					l, err := f.svc.Licenses.CreateLicense(ctx, in)
					if !c.ok {
						wantInvalid(t, err, "expires_at")
						continue
					}
					if err != nil {
						t.Fatalf("%v: %v", c.at, err)
					}
					if c.at.After(start) {
						usable(t, f, l)
					}
				}
			})

			t.Run("license from a policy of the longest duration", func(t *testing.T) {
				long := maxS
				if _, err := f.svc.Catalog.UpdatePolicy(ctx, f.policy.ID, licensing.PolicyPatch{DurationSeconds: &long, GraceSeconds: &long}); err != nil {
					t.Fatal(err)
				}
				l := f.license(t, licensing.LicenseInput{})
				usable(t, f, l)
				month := int64(30 * 86400)
				zero := int64(0)
				if _, err := f.svc.Catalog.UpdatePolicy(ctx, f.policy.ID, licensing.PolicyPatch{DurationSeconds: &month, GraceSeconds: &zero}); err != nil {
					t.Fatal(err)
				}
			})

			t.Run("extend", func(t *testing.T) {
				// The steps: to the last second of 9999, then by a year.
				l := f.license(t, licensing.LicenseInput{})
				_, err := f.svc.Licenses.ExtendLicense(ctx, l.ID, licensing.ExtendInput{ExpiresAt: ptr(licensing.LatestTime)})
				wantInvalid(t, err, "expires_at")
				for _, v := range over {
					_, err := f.svc.Licenses.ExtendLicense(ctx, l.ID, licensing.ExtendInput{DurationSeconds: v})
					wantInvalid(t, err, "duration_seconds")
				}
				if _, err := f.svc.Licenses.ExtendLicense(ctx, l.ID, licensing.ExtendInput{DurationSeconds: maxS}); err != nil {
					t.Fatalf("extend by the longest duration: %v", err)
				}
				usable(t, f, l)

				// At the latest expiry, to the second.
				near := f.license(t, licensing.LicenseInput{ExpiresAt: ptr(latest.Add(-10 * time.Second))})
				_, err = f.svc.Licenses.ExtendLicense(ctx, near.ID, licensing.ExtendInput{DurationSeconds: 11})
				wantInvalid(t, err, "duration_seconds")
				// The policy's duration (30 days) would pass the limit too.
				_, err = f.svc.Licenses.ExtendLicense(ctx, near.ID, licensing.ExtendInput{})
				wantInvalid(t, err, "the policy's duration_seconds")
				before, err := f.svc.Licenses.License(ctx, near.ID)
				if err != nil {
					t.Fatal(err)
				}
				if !before.UpdatedAt.Equal(before.CreatedAt) {
					t.Fatalf("a refused extension changed the license: %+v", before)
				}
				if _, err := f.svc.Licenses.ExtendLicense(ctx, near.ID, licensing.ExtendInput{DurationSeconds: 10}); err != nil {
					t.Fatalf("extend to the latest expiry: %v", err)
				}
				if _, err := f.svc.Licenses.ExtendLicense(ctx, near.ID, licensing.ExtendInput{ExpiresAt: ptr(latest)}); err != nil {
					t.Fatalf("extend to the latest expiry by date: %v", err)
				}
				usable(t, f, near)
			})

			t.Run("expires_before filter", func(t *testing.T) {
				for _, c := range []struct {
					at time.Time
					ok bool
				}{
					{licensing.LatestTime, true},
					{licensing.EarliestTime, true},
					{licensing.LatestTime.Add(time.Second), false},
					{time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC), false},
				} {
					_, err := f.svc.Licenses.Licenses(ctx, licensing.LicenseFilter{ExpiresBefore: ptr(c.at)}, licensing.Page{})
					if !c.ok {
						wantInvalid(t, err, "expires_before")
					} else if err != nil {
						t.Fatalf("%v: %v", c.at, err)
					}
				}
			})

			t.Run("offline ttl", func(t *testing.T) {
				// A cap in the policy metadata that overflows time.Duration
				// is past MaxLeaseTTL: the lease gets MaxLeaseTTL.
				p, err := f.svc.Catalog.CreatePolicy(ctx, licensing.PolicyInput{ProductID: f.policy.ProductID, Name: "air-gapped",
					LeaseTTLSeconds: 3600, Metadata: map[string]string{licensing.OfflineTTLMetadata: "9223372037"}})
				if err != nil {
					t.Fatal(err)
				}
				l, err := f.svc.Licenses.CreateLicense(ctx, licensing.LicenseInput{PolicyID: p.ID, CustomerID: f.cust.ID})
				if err != nil {
					t.Fatal(err)
				}
				for i, ttl := range []time.Duration{0, math.MaxInt64} {
					g, err := f.svc.Leasing.ActivateOffline(ctx, licensing.OfflineActivation{
						Request: req(l.Key, "offline-machine"), Product: p.ProductID, TTL: ttl})
					if err != nil {
						t.Fatal(err)
					}
					if want := f.clock.Now().Add(licensing.MaxLeaseTTL); !g.ExpiresAt.Equal(want) {
						t.Fatalf("case %d: lease ends %v, want %v", i, g.ExpiresAt, want)
					}
				}
			})
		})
	}
}

// A required reference left empty is the caller's mistake (422 naming the
// field), never "not found" (issue 11, item 21). A reference to nothing
// keeps its answer: ENotFound when creating (TestInvalidInput), EInvalid
// naming the field on a change of an existing license.
func TestRequiredFields(t *testing.T) {
	t.Parallel()
	for _, d := range storagetest.Dialects {
		t.Run(d, func(t *testing.T) {
			ctx := context.Background()
			f := newFixture(t, d, licensing.PolicyInput{})
			lic := f.license(t, licensing.LicenseInput{})
			missing := "0190d6a0-0000-7000-8000-000000000000"
			ok := req(lic.Key, "offline-machine")
			for _, c := range []struct {
				name, field string
				call        func() error
			}{
				{"license without policy", "policy_id", func() error {
					_, err := f.svc.Licenses.CreateLicense(ctx, licensing.LicenseInput{CustomerID: f.cust.ID})
					return err
				}},
				{"license without customer", "customer_id", func() error {
					_, err := f.svc.Licenses.CreateLicense(ctx, licensing.LicenseInput{PolicyID: f.policy.ID})
					return err
				}},
				{"policy without product", "product_id", func() error {
					_, err := f.svc.Catalog.CreatePolicy(ctx, licensing.PolicyInput{Name: "p"})
					return err
				}},
				{"change to no policy", "policy_id", func() error {
					_, err := f.svc.Licenses.ChangePolicy(ctx, lic.ID, "", "")
					return err
				}},
				{"change to a missing policy", "policy_id", func() error {
					_, err := f.svc.Licenses.ChangePolicy(ctx, lic.ID, missing, "")
					return err
				}},
				{"transfer to no customer", "customer_id", func() error {
					_, err := f.svc.Licenses.TransferLicense(ctx, lic.ID, "", "")
					return err
				}},
				{"transfer to a missing customer", "customer_id", func() error {
					_, err := f.svc.Licenses.TransferLicense(ctx, lic.ID, missing, "")
					return err
				}},
				{"offline without product", "product", func() error {
					_, err := f.svc.Leasing.ActivateOffline(ctx, licensing.OfflineActivation{Request: ok})
					return err
				}},
				{"offline without key", "license_key", func() error {
					r := ok
					r.Key = ""
					_, err := f.svc.Leasing.ActivateOffline(ctx, licensing.OfflineActivation{Request: r, Product: f.policy.ProductID})
					return err
				}},
				{"offline without fingerprint", "fingerprint", func() error {
					r := ok
					r.Fingerprint = ""
					_, err := f.svc.Leasing.ActivateOffline(ctx, licensing.OfflineActivation{Request: r, Product: f.policy.ProductID})
					return err
				}},
			} {
				t.Run(c.name, func(t *testing.T) { wantInvalid(t, c.call(), c.field) })
			}
			// Nothing refused above took a seat or changed the license.
			l, err := f.svc.Licenses.License(ctx, lic.ID)
			if err != nil {
				t.Fatal(err)
			}
			if l.PolicyID != f.policy.ID || l.CustomerID != f.cust.ID || !l.UpdatedAt.Equal(l.CreatedAt) {
				t.Fatalf("a refused change touched the license: %+v", l)
			}
			ms, err := f.svc.Licenses.Machines(ctx, licensing.MachineFilter{LicenseID: lic.ID}, licensing.Page{})
			if err != nil || len(ms) != 0 {
				t.Fatalf("machines = %v, %v; want none", ms, err)
			}
		})
	}
}
