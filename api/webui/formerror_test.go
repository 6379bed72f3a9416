package webui_test

import (
	"errors"
	"testing"

	"github.com/nzilacode/narcidicontrole/api/webui"
	"github.com/nzilacode/narcidicontrole/licensing"
	"github.com/nzilacode/narcidicontrole/licensing/i18n"
)

// TestFormErrorSaysTheCodeWithTheFieldsLabel: a refusal is the sentence
// of its code with its field's translated label, the code's sentence
// alone without a known field, and an error page keeps the domain's
// words in English only.
func TestFormErrorSaysTheCodeWithTheFieldsLabel(t *testing.T) {
	zone := licensing.FieldErrorf("time_zone", "%q is not an IANA time zone name", "Mars/Olympus")
	for _, tc := range []struct {
		name, lang string
		err        error
		label      string
		want       string
	}{
		{"a field in English", "en", zone, webui.FieldLabel(zone), "Time zone: this value is not accepted."},
		{"a field in pt-PT", "pt-PT", zone, webui.FieldLabel(zone), "Fuso horário: este valor não é aceite."},
		{"a field in pt-BR", "pt-BR", zone, webui.FieldLabel(zone), "Fuso horário: este valor não é aceito."},
		{"a conflict about a field", "pt-PT", &licensing.Error{Code: licensing.EConflict, Field: "code", Message: "taken"}, "field.code", "Código: este valor já está a ser usado."},
		{"no field", "pt-PT", licensing.Errorf(licensing.EInvalid, "bad"), "", "O formulário não foi aceite: verifique o que escreveu."},
		{"an unknown field", "en", licensing.FieldErrorf("nope", "bad"), webui.FieldLabel(licensing.FieldErrorf("nope", "bad")), "The form is not accepted: check what you entered."},
		{"a code without a field sentence", "pt-BR", licensing.Errorf(licensing.ESeatLimit, "full"), "field.code", "A licença não tem vagas livres."},
		{"not a domain error", "en", errors.New("boom"), "", "something went wrong; the error is logged"},
	} {
		if got := webui.FormError(i18n.For(tc.lang, ""), tc.err, tc.label); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
	if got := webui.ErrorSentence(i18n.For("en", ""), zone); got != zone.Message {
		t.Errorf("an English error page says %q, want the domain's message", got)
	}
	if got := webui.ErrorSentence(i18n.For("pt-PT", ""), zone); got != "Fuso horário: este valor não é aceite." {
		t.Errorf("a Portuguese error page says %q", got)
	}
	if got := webui.ErrorSentence(i18n.For("pt-PT", ""), errors.New("db down")); got != "algo correu mal; o erro ficou registado" {
		t.Errorf("a server error says %q", got)
	}
}
