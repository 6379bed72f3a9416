package portal_test

import (
	"context"
	"strings"
	"testing"

	"github.com/nzilacode/narcidicontrole/storage"
	"github.com/nzilacode/narcidicontrole/storage/storagetest"
)

// The seats shown are the license's own (a billed quantity) when it has
// them, not its policy's.
func TestSeatsShownAreTheLicensesOwn(t *testing.T) {
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
