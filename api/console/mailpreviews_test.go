package console_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/nzilacode/narcidicontrole/licensing"
	"github.com/nzilacode/narcidicontrole/storage"
	"github.com/nzilacode/narcidicontrole/storage/storagetest"
)

// TestMailPreviews: staff see every customer mail drawn with sample data,
// text and HTML, as customers will read them.
func TestMailPreviews(t *testing.T) {
	t.Parallel()
	storagetest.OnPostgres(t, func(t *testing.T, st *storage.Store) {
		e := newEnv(t, st)
		b := e.signedIn(licensing.RoleReadOnly)
		resp, page := b.do("GET", "/console/mail-previews", nil)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("previews: %d\n%s", resp.StatusCode, page)
		}
		for _, want := range []string{"Your Acme Pro license expires on 14 December", "Your Acme Pro license is suspended", "key ending in 7QX4",
			`href="/console/mail-previews/license.reinstated?lang=en"`} {
			if !strings.Contains(page, want) {
				t.Errorf("the previews page lacks %q", want)
			}
		}
		resp, page = b.do("GET", "/console/mail-previews/license.expiring", nil)
		if resp.StatusCode != http.StatusOK || !strings.Contains(page, "<strong>Acme Pro</strong>") || !strings.Contains(page, "Open the customer portal") {
			t.Errorf("the HTML preview: %d\n%s", resp.StatusCode, page)
		}
		// Each language's previews.
		resp, page = b.do("GET", "/console/mail-previews?lang=pt-BR", nil)
		for _, want := range []string{"Sua licença Acme Pro expira em 14 de dezembro de", "Sua licença Acme Pro está suspensa", "chave terminada em 7QX4",
			`href="/console/mail-previews/license.reinstated?lang=pt-BR"`, `lang="pt-PT"`} {
			if resp.StatusCode != http.StatusOK || !strings.Contains(page, want) {
				t.Errorf("the pt-BR previews page (%d) lacks %q", resp.StatusCode, want)
			}
		}
		resp, page = b.do("GET", "/console/mail-previews/license.expiring?lang=pt-PT", nil)
		if resp.StatusCode != http.StatusOK || !strings.Contains(page, `<html lang="pt-PT">`) || !strings.Contains(page, "Abrir o portal de clientes") {
			t.Errorf("the pt-PT HTML preview: %d\n%s", resp.StatusCode, page)
		}
		if resp, _ := b.do("GET", "/console/mail-previews?lang=fr", nil); resp.StatusCode != http.StatusUnprocessableEntity {
			t.Errorf("previews in a language the server lacks: %d, want 422", resp.StatusCode)
		}
		if resp, _ := b.do("GET", "/console/mail-previews/machine.offline", nil); resp.StatusCode != http.StatusNotFound {
			t.Errorf("a preview of no mail: %d, want 404", resp.StatusCode)
		}
	})
}
