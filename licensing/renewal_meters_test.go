package licensing_test

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/nzilacode/narcidicontrole/licensing"
	"github.com/nzilacode/narcidicontrole/storage/storagetest"
	"gorm.io/gorm"
)

// A renewal reads the license's meters with the license (ReadLease's one
// statement): a license with meters still gets them in its lease, and no
// renewal, with meters or without, issues a statement on the meters table.
func TestRenewalReadsMetersWithTheLease(t *testing.T) {
	t.Parallel()
	for _, d := range storagetest.Dialects {
		t.Run(d, func(t *testing.T) {
			ctx := context.Background()
			f := newFixture(t, d, licensing.PolicyInput{Entitlements: []string{"export", "sync"}, LeaseTTLSeconds: 3600})
			metered := f.license(t, licensing.LicenseInput{})
			plain := f.license(t, licensing.LicenseInput{})
			for _, in := range []licensing.MeterInput{{Entitlement: "sync", MaxUses: 0}, {Entitlement: "export", MaxUses: 10}} {
				if _, err := f.svc.Metering.CreateMeter(ctx, metered.ID, in); err != nil {
					t.Fatal(err)
				}
			}
			for _, l := range []*licensing.CreatedLicense{metered, plain} {
				if _, err := f.svc.Leasing.Activate(ctx, req(l.Key, "fingerprint-1")); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := f.svc.Metering.Use(ctx, use(metered.Key, "export", "u1", 3)); err != nil {
				t.Fatal(err)
			}

			// Every statement gorm runs on the meters table is counted;
			// ReadLease's is not gorm's, so only a separate read would be.
			var meterQueries atomic.Int64
			count := func(db *gorm.DB) {
				if db.Statement.Table == "meters" {
					meterQueries.Add(1)
				}
			}
			db := f.store.DB()
			if err := db.Callback().Query().After("gorm:query").Register("test:count_meters", count); err != nil {
				t.Fatal(err)
			}
			if err := db.Callback().Raw().After("gorm:raw").Register("test:count_meters_raw", count); err != nil {
				t.Fatal(err)
			}
			// The counter counts: listing the meters is a meter query.
			if _, err := f.svc.Metering.Meters(ctx, metered.ID); err != nil {
				t.Fatal(err)
			}
			if meterQueries.Load() == 0 {
				t.Fatal("the counter saw no meter query while the meters were listed")
			}
			meterQueries.Store(0)

			g, err := f.svc.Leasing.Renew(ctx, req(metered.Key, "fingerprint-1"))
			if err != nil {
				t.Fatal(err)
			}
			ms := claimsOf(t, g, f.pub).Meters
			if len(ms) != 2 || ms[0].Meter != "export" || ms[0].Remaining != 7 || ms[0].Counter != 3 ||
				ms[1].Meter != "sync" || ms[1].Remaining != -1 || ms[1].Counter != 0 {
				t.Fatalf("renewal lease meters: %+v", ms)
			}
			g, err = f.svc.Leasing.Renew(ctx, req(plain.Key, "fingerprint-1"))
			if err != nil {
				t.Fatal(err)
			}
			if ms := claimsOf(t, g, f.pub).Meters; len(ms) != 0 {
				t.Fatalf("a license without meters: lease meters %+v", ms)
			}
			if n := meterQueries.Load(); n != 0 {
				t.Fatalf("renewals ran %d queries on the meters table, want 0", n)
			}
		})
	}
}
