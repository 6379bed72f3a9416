package storage_test

import (
	"context"
	"testing"

	"github.com/nzilacode/narcidicontrole/licensing"
	"github.com/nzilacode/narcidicontrole/storage"
	"github.com/nzilacode/narcidicontrole/storage/storagetest"
)

// BenchmarkReadLease compares the renewal's read with its policy (one
// statement, as without a cache) and without it (what a PolicyCache hit
// leaves to the database), on PostgreSQL.
func BenchmarkReadLease(b *testing.B) {
	s := storagetest.Open(b, "postgres")
	ctx := context.Background()
	p := &licensing.Product{Code: "studio", Name: "Studio", CreatedAt: t0, UpdatedAt: t0}
	mustB(b, s.CreateProduct(ctx, p))
	pol := &licensing.Policy{ProductID: p.ID, Name: "Pro", MaxMachines: 3, LeaseTTLSeconds: 3600, ExpiryAction: licensing.ExpiryRestrict,
		Entitlements: []string{"export", "sync"}, Metadata: map[string]string{"tier": "pro"}, ExpiryNoticeDays: []int{30, 7, 1}, CreatedAt: t0, UpdatedAt: t0}
	mustB(b, s.CreatePolicy(ctx, pol))
	c := &licensing.Customer{Name: "Acme", Email: "ops@acme.test", Status: licensing.CustomerActive, CreatedAt: t0, UpdatedAt: t0}
	mustB(b, s.CreateCustomer(ctx, c))
	l := &licensing.License{KeyHash: "bench-hash", KeyHint: "abcd", ProductID: p.ID, PolicyID: pol.ID, CustomerID: c.ID,
		Status: licensing.LicenseActive, Entitlements: []string{"beta"}, CreatedAt: t0, UpdatedAt: t0}
	mustB(b, s.CreateLicense(ctx, l))
	m := &licensing.Machine{LicenseID: l.ID, Fingerprint: "fp-bench-1", Status: licensing.MachineActive, CreatedAt: t0, UpdatedAt: t0}
	mustB(b, s.CreateMachine(ctx, m))
	for _, bc := range []struct {
		name string
		read func(context.Context, string, string) (*licensing.LeaseView, error)
	}{{"with-policy", s.ReadLease}, {"without-policy", s.ReadLeaseWithoutPolicy}} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := bc.read(ctx, "bench-hash", "fp-bench-1"); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	_ = storage.Config{}
}

func mustB(b *testing.B, err error) {
	b.Helper()
	if err != nil {
		b.Fatal(err)
	}
}
