package api

import (
	"strings"
	"testing"

	"github.com/nzilacode/narcidicontrole/licensing"
	"github.com/nzilacode/narcidicontrole/storage/storagetest"
)

// TestBadFiltersAndCursorsAreRefused: a filter value or cursor that can
// match nothing answers 422 naming the parameter, not an empty 200; good
// values still list.
func TestBadFiltersAndCursorsAreRefused(t *testing.T) {
	for _, dialect := range storagetest.Dialects {
		t.Run(dialect, func(t *testing.T) {
			a := newTestAPI(t, dialect, Config{})
			f := a.fixture(1)
			bad := map[string]string{
				"/v1/licenses?status=bogus":                           "status",
				"/v1/licenses?status=ACTIVE":                          "status",
				"/v1/licenses?customer_id=nope":                       "customer_id",
				"/v1/licenses?cursor=garbage":                         "cursor",
				"/v1/machines?status=bogus":                           "status",
				"/v1/machines?license_id=x":                           "license_id",
				"/v1/policies?product_id=studio":                      "product_id",
				"/v1/products?cursor=not-a-cursor":                    "cursor",
				"/v1/customers?cursor=%27%20or%201=1":                 "cursor",
				"/v1/events?cursor=zzz":                               "cursor",
				"/v1/deliveries?status=sent":                          "status",
				"/v1/tokens?cursor=1":                                 "cursor",
				"/v1/licenses/" + f.license.ID + "/machines?cursor=x": "cursor",
			}
			for path, param := range bad {
				res, raw := a.do("GET", path, nil)
				if res.StatusCode != 422 {
					t.Errorf("%s: %d %s, want 422", path, res.StatusCode, raw)
					continue
				}
				if p := problemOf(t, res, raw); p.Code != "invalid" || !strings.Contains(p.Detail, `"`+param+`"`) {
					t.Errorf("%s: %+v, want invalid naming %s", path, p, param)
				}
			}
			for _, path := range []string{
				"/v1/licenses?status=active&customer_id=" + f.customer.ID,
				"/v1/licenses?status=",
				"/v1/machines?status=blocked",
				"/v1/products?limit=1",
				"/v1/deliveries?status=pending",
			} {
				a.must(200, "GET", path, nil, nil)
			}
			// A real cursor pages on.
			var page listResponse[licensing.Product]
			a.must(201, "POST", "/v1/products", licensing.ProductInput{Code: "second", Name: "Second"}, nil)
			a.must(200, "GET", "/v1/products?limit=1", nil, &page)
			if page.NextCursor == "" {
				t.Fatal("no next cursor")
			}
			a.must(200, "GET", "/v1/products?limit=1&cursor="+page.NextCursor, nil, &page)
			if len(page.Data) != 1 {
				t.Errorf("second page: %+v", page)
			}
		})
	}
}

// TestWrongMethodIs405: a known path with another method answers 405 with
// Allow, as problem+json.
func TestWrongMethodIs405(t *testing.T) {
	a := newTestAPI(t, "sqlite", Config{})
	for path, allow := range map[string]string{
		"/v1/products":        "GET",
		"/v1/client/activate": "POST",
		"/healthz":            "GET",
	} {
		res, raw := a.do("PUT", path, nil)
		p := problemOf(t, res, raw)
		if res.StatusCode != 405 || p.Code != string(licensing.EMethodNotAllowed) {
			t.Errorf("PUT %s: %d %+v, want 405", path, res.StatusCode, p)
		}
		if !strings.Contains(strings.Join(res.Header.Values("Allow"), ","), allow) {
			t.Errorf("PUT %s: Allow %q, want it to list %s", path, res.Header.Values("Allow"), allow)
		}
	}
	if res, _ := a.do("GET", "/v1/nothing-here", nil); res.StatusCode != 404 {
		t.Errorf("unknown path: %d, want 404", res.StatusCode)
	}
}
