package portal_test

import (
	"context"
	"strings"
	"testing"

	"github.com/nzilacode/narcidicontrole/licensing"
	"github.com/nzilacode/narcidicontrole/storage"
	"github.com/nzilacode/narcidicontrole/storage/storagetest"
)

// The seats shown are the license's own (a billed quantity) when it has
// them, not its policy's.
func TestSeatsShownAreTheLicensesOwn(t *testing.T) {
	t.Parallel()
	storagetest.ForEach(t, func(t *testing.T, st *storage.Store) {
		e := newEnv(t, st)
		seven := 7
		if _, _, err := e.svc.Licenses.SetSeatsOverSeats(context.Background(), e.acme.license.License.ID, &seven, "billed 7"); err != nil {
			t.Fatal(err)
		}
		b := e.signedIn("it@acme.example", 1)
		_, page := b.do("GET", "/portal/licenses/"+e.acme.license.License.ID, nil)
		if !strings.Contains(page, `<dd id="seats">1 / 7</dd>`) {
			t.Errorf("the license page does not show 1 / 7 seats:\n%s", page)
		}
	})
}

// A license with overage shows its machines beyond the seats and how far
// the overage goes ("3 of 2 seats, overage allowed to 3"), on its page and
// in the list, and its page shows its meters (uses / max).
func TestSeatsWithOverageAndMeters(t *testing.T) {
	t.Parallel()
	storagetest.ForEach(t, func(t *testing.T, st *storage.Store) {
		e := newEnv(t, st)
		ctx := context.Background()
		pol, err := e.svc.Catalog.CreatePolicy(ctx, licensing.PolicyInput{ProductID: e.acme.license.License.ProductID, Name: "Flex", MaxMachines: 2,
			Floating: true, LeaseTTLSeconds: 3600, Rules: &licensing.PolicyRules{OverageSeats: 1}})
		must(t, err)
		l, err := e.svc.Licenses.CreateLicense(ctx, licensing.LicenseInput{PolicyID: pol.ID, CustomerID: e.acme.customer.ID})
		must(t, err)
		for _, fp := range []string{"fingerprint-1", "fingerprint-2", "fingerprint-3"} {
			_, err := e.svc.Leasing.Activate(ctx, licensing.MachineRequest{Key: l.Key, Fingerprint: fp})
			must(t, err)
		}
		_, err = e.svc.Metering.CreateMeter(ctx, l.ID, licensing.MeterInput{MaxUses: 10})
		must(t, err)
		_, err = e.svc.Metering.Use(ctx, licensing.UseRequest{LicenseKey: l.Key, Fingerprint: "fingerprint-1", ID: "use-1", Uses: 4})
		must(t, err)
		b := e.signedIn("it@acme.example", 1)
		_, page := b.do("GET", "/portal/licenses/"+l.License.ID, nil)
		if !strings.Contains(page, `<dd id="seats">3 of 2 seats, overage allowed to 3</dd>`) {
			t.Errorf("the license page does not show the overage:\n%s", page)
		}
		if !strings.Contains(page, `<td>the license</td><td class="uses">4 / 10</td><td>4</td>`) {
			t.Errorf("the license page does not show the meter at 4 / 10:\n%s", page)
		}
		_, list := b.do("GET", "/portal/", nil)
		if !strings.Contains(list, `<td class="seats">3 of 2 seats, overage allowed to 3</td>`) || !strings.Contains(list, `<td class="seats">1 / 2</td>`) {
			t.Errorf("the list does not show both licenses' seats:\n%s", list)
		}
		// A license without meters has no usage table.
		_, page = b.do("GET", "/portal/licenses/"+e.acme.license.License.ID, nil)
		if strings.Contains(page, `id="meters"`) {
			t.Errorf("a license without meters shows a usage table")
		}
	})
}
