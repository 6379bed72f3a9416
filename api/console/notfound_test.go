package console_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/nzilacode/narcidicontrole/licensing"
	"github.com/nzilacode/narcidicontrole/storage"
	"github.com/nzilacode/narcidicontrole/storage/storagetest"
)

// TestUnknownPagesAreHTML (issue 24, 6): a browser asking for a console
// path that has no page gets the console's HTML 404 page (signed in: with
// the menu and a search); an API client still gets problem JSON.
func TestUnknownPagesAreHTML(t *testing.T) {
	t.Parallel()
	storagetest.OnPostgres(t, func(t *testing.T, st *storage.Store) {
		e := newEnv(t, st)
		get := func(path, accept string, b *browser) (*http.Response, string) {
			req := httptest.NewRequest("GET", path, nil)
			req.Header.Set("Accept", accept)
			if b != nil {
				for k, v := range b.cookies {
					req.AddCookie(&http.Cookie{Name: k, Value: v})
				}
			}
			resp, err := e.app.Test(req, -1)
			must(t, err)
			body, _ := io.ReadAll(resp.Body)
			return resp, string(body)
		}
		const html = "text/html,application/xhtml+xml,*/*;q=0.8"
		admin := e.signedIn(licensing.RoleAdmin)
		for _, tc := range []struct {
			path   string
			b      *browser
			accept string
			ct     string
			has    string
		}{
			{"/console/no-such-page", nil, html, "text/html", `id="not-found"`},
			{"/console/licenses/x/y/z", admin, html, "text/html", `action="/console/search"`},
			{"/console/no-such-page", admin, html, "text/html", `class="menu"`},
			{"/console/no-such-page", nil, "application/json", "application/problem+json", `"status":404`},
		} {
			resp, body := get(tc.path, tc.accept, tc.b)
			wantStatus(t, tc.path, resp, http.StatusNotFound)
			if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, tc.ct) || !strings.Contains(body, tc.has) {
				t.Errorf("%s (Accept %s): %s, want %s with %s\n%s", tc.path, tc.accept, ct, tc.ct, tc.has, body)
			}
		}
	})
}
