package main

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestConsoleInPortugueseInBrowser (issue 25) signs in to the console,
// chooses pt-PT and then pt-BR on its settings page, and walks the main
// pages in each: overview, customers, a customer, licenses, a license,
// policies, a policy form refused with the field's label in the
// language, and settings. Every page is in the chosen language (<html
// lang>, its title) and at 390 px none scrolls sideways with the longer
// Portuguese words. A few screenshots at 1280 and 390 px. (SQLite: the
// console's HTTP tests cover both databases.)
func TestConsoleInPortugueseInBrowser(t *testing.T) {
	t.Parallel()
	app := startApp(t, "sqlite")
	admin := apiClient{t, app.URL(), adminToken}
	cat := seedCatalog(t, admin, 2)
	ctx := newBrowser(t, app.URL())
	dir := screenshotDir(t)
	run, text := browserRun(t, ctx), browserText(t, ctx)
	signInFirstAdmin(t, app, run, "a long console password")

	type page struct{ name, path, wait, title string }
	for _, lang := range []struct {
		code, saved, refused string
		pages                []page
		shots                map[string]bool // the pages shot in this language
	}{
		{"pt-PT", "O seu idioma e fuso horário foram guardados.", "Duração da concessão (minutos): este valor não é aceite.", []page{
			{"overview", "/console/", "#licenses-by-status", "Visão geral"},
			{"customers", "/console/customers", "#new-customer", "Clientes"},
			{"customer", "/console/customers/" + cat.customerID, "#customer-form", "Cliente "},
			{"licenses", "/console/licenses", "#licenses", "Licenças"},
			{"license", "/console/licenses/" + cat.licenseID, "#timeline", "Licença "},
			{"policies", "/console/policies", "main table", "Políticas"},
			{"settings", "/console/settings", "#settings-form", "Idioma e fuso horário"},
		}, map[string]bool{"overview": true, "license": true, "policy-error": true}},
		{"pt-BR", "Seu idioma e fuso horário foram salvos.", "Duração da concessão (minutos): este valor não é aceito.", []page{
			{"overview", "/console/", "#licenses-by-status", "Visão geral"},
			{"customers", "/console/customers", "#new-customer", "Clientes"},
			{"customer", "/console/customers/" + cat.customerID, "#customer-form", "Cliente "},
			{"licenses", "/console/licenses", "#licenses", "Licenças"},
			{"license", "/console/licenses/" + cat.licenseID, "#timeline", "Licença "},
			{"policies", "/console/policies", "main table", "Políticas"},
			{"settings", "/console/settings", "#settings-form", "Idioma e fuso horário"},
		}, map[string]bool{"customer": true, "settings": true}},
	} {
		t.Run(lang.code, func(t *testing.T) {
			check := func(name string) {
				t.Helper()
				if got, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.documentElement.lang`)); got != lang.code {
					t.Errorf("%s: <html lang=%q>, want %q", name, got, lang.code)
				}
				run("phone width", chromedp.EmulateViewport(390, 900))
				bad, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](sidewaysOverflow))
				if err != nil {
					t.Fatal(err)
				}
				if len(bad) > 0 {
					t.Errorf("%s at 390 px in %s scrolls sideways: %v", name, lang.code, bad)
				}
				if lang.shots[name] {
					shoot(t, ctx, dir, "page-"+lang.code+"-"+name+"-1280.png", 1280)
					shoot(t, ctx, dir, "page-"+lang.code+"-"+name+"-390.png", 390)
				}
				run("desktop width", chromedp.EmulateViewport(1280, 900))
				if bad, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](sidewaysOverflow)); err != nil || len(bad) > 0 {
					t.Errorf("%s at 1280 px in %s scrolls sideways: %v %v", name, lang.code, bad, err)
				}
			}

			run("choose "+lang.code+" on the settings page",
				chromedp.Navigate(app.URL()+"/console/settings"),
				chromedp.WaitVisible(chromedp.CSS(`#settings-form`)),
				chromedp.SetValue(chromedp.CSS(`#language`), lang.code),
				chromedp.Click(chromedp.CSS(`#save-settings`)),
				chromedp.WaitVisible(chromedp.CSS(`#settings-saved`)))
			if n := text(`#settings-saved`); n != lang.saved {
				t.Errorf("settings notice %q, want %q", n, lang.saved)
			}
			for _, p := range lang.pages {
				run("the "+p.name+" page", chromedp.Navigate(app.URL()+p.path), chromedp.WaitVisible(chromedp.CSS(p.wait)))
				if h := text(`main h1`); !strings.HasPrefix(h, p.title) {
					t.Errorf("%s: title %q, want it to start with %q", p.name, h, p.title)
				}
				check(p.name)
			}

			run("a refused policy form",
				chromedp.Navigate(app.URL()+"/console/policies/"+cat.policyID),
				chromedp.WaitVisible(chromedp.CSS(`#policy-form`)),
				chromedp.SetValue(chromedp.CSS(`#lease_ttl_minutes`), "1"),
				chromedp.Click(chromedp.CSS(`#policy-form button[type=submit]`)),
				chromedp.WaitVisible(chromedp.CSS(`#form-error`)))
			if e := text(`#form-error`); e != lang.refused {
				t.Errorf("the refusal says %q, want %q", e, lang.refused)
			}
			if inv, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector("#lease_ttl_minutes").getAttribute("aria-invalid") || ""`)); inv != "true" {
				t.Error("the refused field is not marked")
			}
			check("policy-error")
		})
	}
}
