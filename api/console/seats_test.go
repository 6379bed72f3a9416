package console_test

import (
	"context"
	"strings"
	"testing"

	"github.com/nzilacode/narcidicontrole/licensing"
	"github.com/nzilacode/narcidicontrole/storage"
	"github.com/nzilacode/narcidicontrole/storage/storagetest"
)

// The license page shows the seats in force: the license's own (a billed
// quantity) when it has them.
func TestLicensePageShowsItsSeats(t *testing.T) {
	t.Parallel()
	storagetest.ForEach(t, func(t *testing.T, st *storage.Store) {
		e := newEnv(t, st)
		seven := 7
		_, _, err := e.svc.Licenses.SetSeatsOverSeats(context.Background(), e.license.ID, &seven, "billed 7")
		must(t, err)
		b := e.signedIn(licensing.RoleAdmin)
		if _, page := b.do("GET", "/console/licenses/"+e.license.ID, nil); !strings.Contains(page, `<dd id="license-seats">7 (billed quantity`) {
			t.Errorf("the license page does not show its 7 seats:\n%s", page)
		}
	})
}
