package console_test

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/nzilacode/narcidicontrole/licensing"
	"github.com/nzilacode/narcidicontrole/licensing/i18n"
	"github.com/nzilacode/narcidicontrole/storage"
	"github.com/nzilacode/narcidicontrole/storage/storagetest"
)

var htmlLang = regexp.MustCompile(`<html lang="([^"]+)"`)

// userByEmail is the id of the console user of email.
func (e *env) userByEmail(email string) string {
	e.t.Helper()
	u, err := e.us.UserByEmail(context.Background(), email)
	must(e.t, err)
	return u.ID
}

// pageLang is the language a page says it is written in, and the page.
func pageLang(t *testing.T, b *browser, path, acceptLanguage string) (string, string) {
	t.Helper()
	b.lang = acceptLanguage
	_, body := b.do("GET", path, nil)
	m := htmlLang.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("%s has no <html lang>:\n%s", path, body)
	}
	return m[1], body
}

// TestConsoleLanguageChoice: the signed-in user's preference beats the
// browser's Accept-Language, which beats the server default; the words
// follow (a title of the page in each language).
func TestConsoleLanguageChoice(t *testing.T) {
	t.Cleanup(func() { _ = i18n.SetDefault(i18n.English) })
	storagetest.OnPostgres(t, func(t *testing.T, st *storage.Store) {
		e := newEnv(t, st)
		b := e.signedIn(licensing.RoleAdmin)
		me := e.userByEmail("admin@example.com")
		for _, tc := range []struct {
			name, pref, accept, def string
			want, title             string
		}{
			{"the server default", "", "", "en", "en", "<h1>Overview</h1>"},
			{"another server default", "", "", "pt-PT", "pt-PT", "<h1>Visão geral</h1>"},
			{"Accept-Language beats the default", "", "pt-BR,pt;q=0.9", "en", "pt-BR", "<h1>Visão geral</h1>"},
			{"an unknown Accept-Language falls to the default", "", "fr-FR", "pt-PT", "pt-PT", "<h1>Visão geral</h1>"},
			{"the user's preference beats Accept-Language", "pt-PT", "en-GB,en;q=0.9", "en", "pt-PT", "<h1>Visão geral</h1>"},
			{"the user's English beats a Portuguese browser and default", "en", "pt-BR", "pt-PT", "en", "<h1>Overview</h1>"},
		} {
			must(t, i18n.SetDefault(tc.def))
			if _, err := e.us.SetLocale(context.Background(), me, tc.pref, ""); err != nil {
				t.Fatal(err)
			}
			got, body := pageLang(t, b, "/console/", tc.accept)
			if got != tc.want || !strings.Contains(body, tc.title) {
				t.Errorf("%s: lang %q, want %q with %s", tc.name, got, tc.want, tc.title)
			}
		}
		must(t, i18n.SetDefault(i18n.English))
	})
}

// TestConsoleLanguageSwitchAndSettings: the signed-out pages switch
// language with ?lang= (kept in a cookie); the settings page saves the
// user's language and time zone with SetLocale, refuses a bad zone with
// the field's label in the page's language, and dates follow the zone.
func TestConsoleLanguageSwitchAndSettings(t *testing.T) {
	storagetest.OnPostgres(t, func(t *testing.T, st *storage.Store) {
		e := newEnv(t, st)
		anon := e.browser()
		if got, body := pageLang(t, anon, "/console/sign-in?lang=pt-BR", ""); got != "pt-BR" || !strings.Contains(body, "Esqueceu a senha?") {
			t.Errorf("?lang=pt-BR: lang %q", got)
		}
		if got, body := pageLang(t, anon, "/console/forgot-password", "en"); got != "pt-BR" || !strings.Contains(body, `aria-current="true">Português (Brasil)`) {
			t.Errorf("the switch's choice was not kept: lang %q", got)
		}

		b := e.signedIn(licensing.RoleAdmin)
		csrf := b.csrf("/console/settings")
		b.lang = "pt-PT" // the refusal is in the browser's language until one is saved
		resp, body := b.do("POST", "/console/settings", url.Values{"csrf": {csrf}, "language": {"pt-PT"}, "time_zone": {"Mars/Olympus"}})
		if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, "Fuso horário: este valor não é aceite.") {
			t.Errorf("a bad zone: %d, want 422 with the translated sentence:\n%s", resp.StatusCode, body)
		}
		resp, _ = b.do("POST", "/console/settings", url.Values{"csrf": {csrf}, "language": {"pt-PT"}, "time_zone": {"Africa/Luanda"}})
		if resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("save: %d", resp.StatusCode)
		}
		u, err := e.us.User(context.Background(), e.userByEmail("admin@example.com"))
		must(t, err)
		if u.Language != "pt-PT" || u.TimeZone != "Africa/Luanda" {
			t.Errorf("saved %q %q", u.Language, u.TimeZone)
		}
		if got, body := pageLang(t, b, "/console/settings?saved=1", "en"); got != "pt-PT" || !strings.Contains(body, "O seu idioma e fuso horário foram guardados.") {
			t.Errorf("after saving: lang %q", got)
		}
		// The license was created at 10:00 UTC: 11:00 in Luanda, in words.
		if _, body := pageLang(t, b, "/console/licenses/"+e.license.ID, ""); !strings.Contains(body, "1 de maio de 2026, às 11:00 WAT") {
			t.Errorf("the license page does not write dates in Portuguese in the user's zone")
		}
	})
}

// TestCustomerLanguageOnItsPage: the customer page shows and saves the
// customer's language and time zone (the API's UpdateCustomer).
func TestCustomerLanguageOnItsPage(t *testing.T) {
	storagetest.ForEach(t, func(t *testing.T, st *storage.Store) {
		e := newEnv(t, st)
		b := e.signedIn(licensing.RoleAdmin)
		id := e.license.CustomerID
		path := "/console/customers/" + id
		form := url.Values{"csrf": {b.csrf(path)}, "name": {"Acme"}, "email": {"it@acme.example"}, "status": {"active"},
			"permissions": {"licenses:read"}, "language": {"pt-BR"}, "time_zone": {"America/Sao_Paulo"}}
		if resp, body := b.do("POST", path, form); resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("save: %d\n%s", resp.StatusCode, body)
		}
		cu, err := e.svc.Customers.Customer(context.Background(), id)
		must(t, err)
		if cu.Language != "pt-BR" || cu.TimeZone != "America/Sao_Paulo" {
			t.Errorf("saved %q %q", cu.Language, cu.TimeZone)
		}
		_, body := b.do("GET", path, nil)
		if !strings.Contains(body, `id="customer-language">pt-BR`) || !strings.Contains(body, `value="pt-BR" lang="pt-BR" selected`) {
			t.Error("the page does not show the customer's language")
		}
		form.Set("time_zone", "Nowhere/Land")
		resp, body := b.do("POST", path, form)
		if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, `id="time_zone" name="time_zone" value="Nowhere/Land" autocomplete="off" maxlength="64" aria-invalid="true"`) {
			t.Errorf("a bad zone: %d, the field not marked:\n%s", resp.StatusCode, body)
		}
	})
}
