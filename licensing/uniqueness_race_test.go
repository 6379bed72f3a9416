package licensing_test

import (
	"context"
	"sync"
	"testing"

	"github.com/nzilacode/narcidicontrole/licensing"
	"github.com/nzilacode/narcidicontrole/storage/storagetest"
)

// Uniqueness across licenses is exact under concurrency: 100 concurrent
// activations of one fingerprint spread over 20 licenses of one product
// (two policies, product scope) leave it on exactly one license; every
// activation elsewhere is refused with fingerprint_taken. On PostgreSQL the
// activations really overlap (one connection each); SQLite's one writer
// serializes them.
func TestUniquenessUnderConcurrency(t *testing.T) {
	t.Parallel()
	for _, d := range storagetest.Dialects {
		t.Run(d, func(t *testing.T) {
			ctx := context.Background()
			scope := licensing.PolicyRules{Uniqueness: licensing.UniquePerProduct}
			f, first := rulesFixture(t, d, scope, 5)
			other, err := f.svc.Catalog.CreatePolicy(ctx, licensing.PolicyInput{ProductID: f.policy.ProductID, Name: "Other", MaxMachines: 5,
				Floating: true, LeaseTTLSeconds: 3600, Rules: &scope})
			if err != nil {
				t.Fatal(err)
			}
			keys := map[string]string{first.Key: first.ID}
			for i := range 19 {
				in := licensing.LicenseInput{}
				if i%2 == 0 {
					in = licensing.LicenseInput{PolicyID: other.ID, CustomerID: f.cust.ID}
				}
				var l *licensing.CreatedLicense
				if in.PolicyID == "" {
					l = f.license(t, in)
				} else if l, err = f.svc.Licenses.CreateLicense(ctx, in); err != nil {
					t.Fatal(err)
				}
				keys[l.Key] = l.ID
			}
			list := make([]string, 0, len(keys))
			for k := range keys {
				list = append(list, k)
			}
			var (
				mu      sync.Mutex
				granted = map[string]int{} // license id -> activations granted
				refused int
				wg      sync.WaitGroup
			)
			for i := range 100 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					key := list[i%len(list)]
					_, err := f.svc.Leasing.Activate(ctx, req(key, "fingerprint-shared"))
					mu.Lock()
					defer mu.Unlock()
					switch licensing.ErrorCode(err) {
					case "":
						granted[keys[key]]++
					case licensing.EFingerprintTaken:
						refused++
					default:
						t.Errorf("activation on %s: %v", keys[key], err)
					}
				}()
			}
			wg.Wait()
			if len(granted) != 1 {
				t.Fatalf("the fingerprint was granted on %d licenses (%v), want exactly 1", len(granted), granted)
			}
			held := 0
			for _, id := range keys {
				ms, err := f.svc.Licenses.Machines(ctx, licensing.MachineFilter{LicenseID: id}, licensing.Page{Limit: 10})
				if err != nil {
					t.Fatal(err)
				}
				held += len(ms)
			}
			for id, n := range granted {
				if n != 5 || refused != 95 || held != 1 {
					t.Fatalf("license %s granted %d times, %d refused, %d seats held: want 5, 95, 1", id, n, refused, held)
				}
			}
		})
	}
}
