package portal_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/nzilacode/narcidicontrole/storage"
	"github.com/nzilacode/narcidicontrole/storage/storagetest"
)

// TestUnknownPortalPagesAreHTML (issue 24, 6): a browser gets the portal's
// HTML 404 page, an API client problem JSON.
func TestUnknownPortalPagesAreHTML(t *testing.T) {
	t.Parallel()
	storagetest.OnPostgres(t, func(t *testing.T, st *storage.Store) {
		e := newEnv(t, st)
		for _, tc := range []struct{ accept, ct, has string }{
			{"text/html,*/*;q=0.8", "text/html", `id="not-found"`},
			{"application/json", "application/problem+json", `"status":404`},
		} {
			req := httptest.NewRequest("GET", "/portal/no-such-page", nil)
			req.Header.Set("Accept", tc.accept)
			resp, err := e.app.Test(req, -1)
			must(t, err)
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != http.StatusNotFound || !strings.HasPrefix(resp.Header.Get("Content-Type"), tc.ct) || !strings.Contains(string(body), tc.has) {
				t.Errorf("Accept %s: %d %s\n%s", tc.accept, resp.StatusCode, resp.Header.Get("Content-Type"), body)
			}
		}
	})
}
