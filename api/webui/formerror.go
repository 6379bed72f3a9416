package webui

import (
	"errors"

	"github.com/nzilacode/narcidicontrole/api"
	"github.com/nzilacode/narcidicontrole/licensing"
	"github.com/nzilacode/narcidicontrole/licensing/i18n"
)

// FormError is a form's refusal err in pr's words, the one way the
// console's and the portal's forms say it: the sentence of its code with
// the field's label ("error.<code>.field" with {field} the text of the
// catalog key label), or the code's sentence alone ("error.<code>") when
// label is "" or the code has no sentence about a field. The code, not
// the domain's English message, decides the words, so every language
// says every refusal.
func FormError(pr *i18n.Printer, err error, label string) string {
	code := string(licensing.ErrorCode(err))
	if label != "" && i18n.Has(label) && i18n.Has("error."+code+".field") {
		return pr.T("error."+code+".field", "field", pr.T(label))
	}
	if i18n.Has("error." + code) {
		return pr.T("error." + code)
	}
	return pr.T("error.invalid")
}

// Refusal is a form's refusal of err as both sites show it: FormError
// with its field's label, and under it, on English pages only, the
// domain's message when it says more (it may name values the sentence
// leaves out).
func Refusal(pr *i18n.Printer, err error) (msg, detail string) {
	msg = FormError(pr, err, FieldLabel(err))
	if pr.Lang() == i18n.English && licensing.ErrorMessage(err) != msg {
		detail = licensing.ErrorMessage(err)
	}
	return msg, detail
}

// FieldLabel is the catalog key of the label of the field err is about
// (licensing.Error.Field: "field.<name>"), "" when it names none the
// catalog has.
func FieldLabel(err error) string {
	if f := licensing.ErrorField(err); f != "" && i18n.Has("field."+f) {
		return "field." + f
	}
	return ""
}

// ErrorSentence is what an error page says of err: the domain's message
// on English pages (it names what is missing or refused), the code's
// sentence in other languages, and for an error of the server (status
// 500 and more, logged by Problem) the generic sentence in any.
func ErrorSentence(pr *i18n.Printer, err error) string {
	var le *licensing.Error
	if !errors.As(err, &le) || api.Status(err) >= 500 {
		return pr.T("error.internal")
	}
	if pr.Lang() == i18n.English {
		return le.Message
	}
	return FormError(pr, err, FieldLabel(err))
}
