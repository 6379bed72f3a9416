package api

import (
	"strings"
	"testing"

	"github.com/nzilacode/narcidicontrole/licensing"
)

// TestCustomerLocale: PATCH /v1/customers/{id} sets and clears a
// customer's language and time zone, checked and written canonically; a
// bad one is a 422 naming the field, whose detail follows Accept-Language
// while the code stays the same.
func TestCustomerLocale(t *testing.T) {
	for _, dialect := range []string{"sqlite", "postgres"} {
		t.Run(dialect, func(t *testing.T) {
			a := newTestAPI(t, dialect, Config{})
			f := a.fixture(1)
			path := "/v1/customers/" + f.customer.ID
			var c licensing.Customer
			a.must(200, "PATCH", path, map[string]any{"language": "PT-br", "time_zone": "America/Sao_Paulo"}, &c)
			if c.Language != "pt-BR" || c.TimeZone != "America/Sao_Paulo" {
				t.Fatalf("after PATCH: %q %q", c.Language, c.TimeZone)
			}
			a.must(200, "GET", path, nil, &c)
			if c.Language != "pt-BR" || c.TimeZone != "America/Sao_Paulo" {
				t.Fatalf("GET: %q %q", c.Language, c.TimeZone)
			}
			for _, bad := range []struct {
				body          map[string]any
				field, detail string
			}{
				{map[string]any{"language": "fr"}, "language", `"fr" is not a language of this server (en, pt-BR, pt-PT)`},
				{map[string]any{"time_zone": "Mars/Olympus"}, "time_zone", "is not an IANA time zone name"},
			} {
				res, raw := a.do("PATCH", path, bad.body)
				p := problemOf(t, res, raw)
				if res.StatusCode != 422 || p.Code != "invalid" || len(p.InvalidParams) != 1 || p.InvalidParams[0].Name != bad.field || !strings.Contains(p.Detail, bad.detail) {
					t.Errorf("%v: %d %s", bad.body, res.StatusCode, raw)
				}
				res, raw = a.do("PATCH", path, bad.body, "Accept-Language", "pt-PT,pt;q=0.9")
				p = problemOf(t, res, raw)
				if res.StatusCode != 422 || p.Code != "invalid" || p.Detail != "O campo "+bad.field+" não é válido." {
					t.Errorf("%v in Portuguese: %d %s", bad.body, res.StatusCode, raw)
				}
			}
			res, raw := a.do("GET", "/v1/customers/01950000-0000-7000-8000-0000000009ff", nil, "Accept-Language", "pt-BR")
			if p := problemOf(t, res, raw); res.StatusCode != 404 || p.Code != "not_found" || p.Detail != "Não encontrado." {
				t.Errorf("not found in Portuguese: %d %s", res.StatusCode, raw)
			}
			res, raw = a.do("PATCH", path, map[string]any{"language": "", "time_zone": ""})
			if res.StatusCode != 200 || strings.Contains(string(raw), "language") {
				t.Fatalf("cleared: %d %s", res.StatusCode, raw)
			}
		})
	}
}
