package api

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/nzilacode/narcidicontrole/licensing"
	"github.com/nzilacode/narcidicontrole/licensing/users"
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

// TestCreateCustomerWithLocale: POST /v1/customers takes language and
// time_zone, checked as PATCH checks them (written canonically; a bad one
// is a 422 naming the field, and nothing is created).
func TestCreateCustomerWithLocale(t *testing.T) {
	for _, dialect := range []string{"sqlite", "postgres"} {
		t.Run(dialect, func(t *testing.T) {
			a := newTestAPI(t, dialect, Config{})
			var c licensing.Customer
			a.must(201, "POST", "/v1/customers", map[string]any{"name": "Kwanza Lda", "language": "PT-pt", "time_zone": "Africa/Luanda"}, &c)
			a.must(200, "GET", "/v1/customers/"+c.ID, nil, &c)
			if c.Language != "pt-PT" || c.TimeZone != "Africa/Luanda" {
				t.Fatalf("created: %q %q", c.Language, c.TimeZone)
			}
			for _, bad := range []struct {
				body  map[string]any
				field string
			}{
				{map[string]any{"name": "X", "language": "fr"}, "language"},
				{map[string]any{"name": "X", "time_zone": "Mars/Olympus"}, "time_zone"},
				{map[string]any{"name": "X", "time_zone": "Local"}, "time_zone"},
			} {
				res, raw := a.do("POST", "/v1/customers", bad.body)
				p := problemOf(t, res, raw)
				if res.StatusCode != 422 || p.Code != "invalid" || len(p.InvalidParams) != 1 || p.InvalidParams[0].Name != bad.field {
					t.Errorf("%v: %d %s", bad.body, res.StatusCode, raw)
				}
			}
			var l listResponse[licensing.Customer]
			a.must(200, "GET", "/v1/customers", nil, &l)
			if len(l.Data) != 1 {
				t.Errorf("refused creations made customers: %d", len(l.Data))
			}
		})
	}
}

// TestUserLocale: an admin lists console users and sets one's language
// and time zone by PATCH /v1/users/{id}; a field left out stays, "" clears
// it, a bad one is a 422 naming the field; the change is audited; other
// roles may not.
func TestUserLocale(t *testing.T) {
	for _, dialect := range []string{"sqlite", "postgres"} {
		t.Run(dialect, func(t *testing.T) {
			a := newTestAPI(t, dialect, Config{})
			u, _, err := a.srv.users.CreateUser(context.Background(), "ana@nzilacode.test", licensing.RoleSupport)
			if err != nil {
				t.Fatal(err)
			}
			var l listResponse[users.User]
			a.must(200, "GET", "/v1/users", nil, &l)
			if len(l.Data) != 1 || l.Data[0].Email != "ana@nzilacode.test" || strings.Contains(fmt.Sprint(l), "nzp_") {
				t.Fatalf("users: %+v", l)
			}
			path := "/v1/users/" + u.ID
			var got users.User
			a.must(200, "PATCH", path, map[string]any{"language": "pt-pt", "time_zone": "Africa/Luanda"}, &got)
			if got.Language != "pt-PT" || got.TimeZone != "Africa/Luanda" {
				t.Fatalf("after PATCH: %q %q", got.Language, got.TimeZone)
			}
			a.must(200, "PATCH", path, map[string]any{"language": "pt-BR"}, &got)
			a.must(200, "GET", path, nil, &got)
			if got.Language != "pt-BR" || got.TimeZone != "Africa/Luanda" {
				t.Fatalf("language alone changed the zone: %q %q", got.Language, got.TimeZone)
			}
			for _, bad := range []struct {
				body  map[string]any
				field string
			}{
				{map[string]any{"language": "fr"}, "language"},
				{map[string]any{"time_zone": "Mars/Olympus"}, "time_zone"},
			} {
				res, raw := a.do("PATCH", path, bad.body)
				p := problemOf(t, res, raw)
				if res.StatusCode != 422 || p.Code != "invalid" || len(p.InvalidParams) != 1 || p.InvalidParams[0].Name != bad.field {
					t.Errorf("%v: %d %s", bad.body, res.StatusCode, raw)
				}
			}
			if res, raw := a.do("PATCH", "/v1/users/01950000-0000-7000-8000-0000000009ff", map[string]any{"language": "en"}); res.StatusCode != 404 {
				t.Errorf("no such user: %d %s", res.StatusCode, raw)
			}
			var cleared users.User
			a.must(200, "PATCH", path, map[string]any{"language": "", "time_zone": ""}, &cleared)
			if cleared.ID != u.ID || cleared.Language != "" || cleared.TimeZone != "" {
				t.Errorf("cleared: %+v", cleared)
			}
			var events listResponse[licensing.Event]
			a.must(200, "GET", "/v1/events?action=user.updated&target_id="+u.ID, nil, &events)
			if len(events.Data) != 3 {
				t.Errorf("user.updated events: %d, want 3", len(events.Data))
			}
			var tok licensing.CreatedToken
			a.must(201, "POST", "/v1/tokens", map[string]any{"name": "support", "role": "support"}, &tok)
			for m, body := range map[string]any{"GET": nil, "PATCH": map[string]any{"language": "en"}} {
				res, raw := a.do(m, path, body, "Authorization", "Bearer "+tok.Secret)
				if p := problemOf(t, res, raw); res.StatusCode != 403 || p.Code != "forbidden" {
					t.Errorf("support %s: %d %s", m, res.StatusCode, raw)
				}
			}
		})
	}
}
