package cli

import (
	"net/http"
	"strings"

	"github.com/nzilacode/narcidicontrole/api/apiclient"
	"github.com/nzilacode/narcidicontrole/licensing/i18n"
)

// The words the CLI says to people come from the catalog (licensing/i18n,
// keys "cli.*") in the reader's language (i18n.FromEnv: NARCIDI_LANGUAGE,
// LC_ALL, LC_MESSAGES, LANG, NARCIDI_DEFAULT_LANGUAGE). What scripts read
// stays as it is: -o json, ids, table headers, the API's problem codes.

// message is an error whose words are a catalog message: Error is the
// English text (for callers that only log it), words writes it in the
// reader's language.
type message struct {
	key  string
	args []any
}

// say is the error of catalog message key with its placeholders' values
// as name, value pairs.
func say(key string, args ...any) error { return &message{key: key, args: args} }

func (m *message) Error() string { return m.in(i18n.For(i18n.English, "")) }

// in writes m in pr's language.
func (m *message) in(pr *i18n.Printer) string {
	args := make([]any, len(m.args))
	for i, a := range m.args {
		if l, ok := a.(orList); ok {
			a = strings.Join(l, " "+pr.T("cli.or")+" ")
		}
		args[i] = a
	}
	return pr.T(m.key, args...)
}

// orList is a placeholder's value of alternatives: "-a or -b", "-a ou -b".
type orList []string

// words writes err for the reader: a catalog message in pr's language,
// any other error as it is.
func words(pr *i18n.Printer, err error) string {
	if m, ok := err.(*message); ok {
		return m.in(pr)
	}
	return err.Error()
}

// readerOf is the printer of the command line's reader.
func readerOf(getenv func(string) string) *i18n.Printer {
	return i18n.For(i18n.FromEnv(getenv), "")
}

// acceptLanguage asks the server for the problems' details in the
// reader's language (their codes never change); nothing for English, whose
// details are the precise ones.
func acceptLanguage(pr *i18n.Printer) []apiclient.Option {
	if pr.Lang() == i18n.English {
		return nil
	}
	return []apiclient.Option{apiclient.Header(http.Header{"Accept-Language": {pr.Lang()}})}
}
