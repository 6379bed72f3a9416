package console_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/nzilacode/narcidicontrole/licensing"
	"github.com/nzilacode/narcidicontrole/storage"
	"github.com/nzilacode/narcidicontrole/storage/storagetest"
)

// TestGlobalSearch (issue 24, 3): the header's box finds a license by its
// key's last 4 characters, customers by name or email and machines by a
// fingerprint prefix.
func TestGlobalSearch(t *testing.T) {
	t.Parallel()
	storagetest.ForEach(t, func(t *testing.T, st *storage.Store) {
		e := newEnv(t, st)
		m := e.activate("build-01")
		b := e.signedIn(licensing.RoleAdmin)
		if _, body := b.do("GET", "/console/", nil); !strings.Contains(body, `action="/console/search"`) {
			t.Fatal("no search box in the header")
		}
		resp, _ := b.do("GET", "/console/search?q="+strings.ToLower(e.license.KeyHint), nil)
		wantStatus(t, "by key hint", resp, http.StatusSeeOther)
		if got := resp.Header.Get("Location"); got != "/console/licenses/"+e.license.ID {
			t.Errorf("a key hint goes to %q", got)
		}
		for _, tc := range []struct{ q, want, not string }{
			{"ACME.EXAMPLE", `<a href="/console/customers/` + e.license.CustomerID + `">Acme</a>`, "found-machines"},
			{"acm", `>Acme</a>`, "found-licenses"},
			{m.Fingerprint[:10], `<a href="/console/machines/` + m.ID + `">`, "found-customers"},
			{"nothing-like-it", `id="no-result"`, "found-"},
		} {
			resp, body := b.do("GET", "/console/search?q="+tc.q, nil)
			wantStatus(t, tc.q, resp, http.StatusOK)
			if !strings.Contains(body, tc.want) || strings.Contains(body, tc.not) {
				t.Errorf("search %q: want %s, not %s", tc.q, tc.want, tc.not)
			}
		}
	})
}
