package licensing_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/nzilacode/narcidicontrole/licensing"
	"github.com/nzilacode/narcidicontrole/storage/storagetest"
)

// A license's own seat count (a billed quantity) is the limit activation
// holds under concurrency, a plan change keeps, and the API shows.
func TestSeatsOverride(t *testing.T) {
	t.Parallel()
	for _, d := range storagetest.Dialects {
		t.Run(d, func(t *testing.T) {
			ctx := context.Background()
			f := newFixture(t, d, licensing.PolicyInput{MaxMachines: 5, Floating: true})
			lic := f.license(t, licensing.LicenseInput{})
			seven := 7
			l, over, err := f.svc.Licenses.SetSeatsOverSeats(ctx, lic.ID, &seven, "billed 7")
			if err != nil || over != 0 || l.MaxMachines != 7 {
				t.Fatalf("set 7 seats: %+v over %d: %v", l, over, err)
			}
			var wg sync.WaitGroup
			for i := range 20 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					_, err := f.svc.Leasing.Activate(ctx, req(lic.Key, fmt.Sprintf("fingerprint-%03d", i)))
					if err != nil && licensing.ErrorCode(err) != licensing.ESeatLimit {
						t.Errorf("activate: %v", err)
					}
				}()
			}
			wg.Wait()
			if n, err := f.store.CountMachines(ctx, lic.ID); err != nil || n != 7 {
				t.Fatalf("machines %d of 7 seats: %v", n, err)
			}
			// A 2-seat plan: the license keeps its 7 seats (no seat_limit).
			small, err := f.svc.Catalog.CreatePolicy(ctx, licensing.PolicyInput{ProductID: f.policy.ProductID, Name: "Small", MaxMachines: 2, Floating: true})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := f.svc.Licenses.ChangePolicy(ctx, lic.ID, small.ID, "smaller plan"); err != nil {
				t.Fatalf("change to a 2-seat plan with 7 seats of its own: %v", err)
			}
			if got, err := f.svc.Licenses.License(ctx, lic.ID); err != nil || got.MaxMachines != 7 {
				t.Fatalf("after the plan change: %+v %v", got, err)
			}
			// Back to the plan's seats: applied, and over by 5.
			if l, over, err = f.svc.Licenses.SetSeatsOverSeats(ctx, lic.ID, nil, "billed 1"); err != nil || over != 5 || l.MaxMachines != 2 || l.SeatsOverride != nil {
				t.Fatalf("back to the plan's seats: %+v over %d: %v", l, over, err)
			}
			if _, err := f.svc.Licenses.ChangePolicy(ctx, lic.ID, f.policy.ID, "back"); licensing.ErrorCode(err) != licensing.ESeatLimit {
				t.Fatalf("change to the 5-seat plan with 7 machines: %v, want seat_limit", err)
			}
			if _, err := f.svc.Leasing.Activate(ctx, req(lic.Key, "fingerprint-new")); licensing.ErrorCode(err) != licensing.ESeatLimit {
				t.Fatalf("activate over seats: %v, want seat_limit", err)
			}
			zero := 0
			if _, _, err := f.svc.Licenses.SetSeatsOverSeats(ctx, lic.ID, &zero, ""); licensing.ErrorCode(err) != licensing.EInvalid {
				t.Fatalf("0 seats: %v, want invalid", err)
			}
		})
	}
}
