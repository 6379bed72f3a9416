package cli

import (
	"flag"
	"fmt"
	"io"
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

// Words writes err for the reader (pr): a catalog message of this package
// in pr's language, any other error as it is.
func Words(pr *i18n.Printer, err error) string {
	if m, ok := err.(*message); ok {
		return m.in(pr)
	}
	return err.Error()
}

// Reader is the printer of the command line's reader (also for the
// commands outside this package: cmd/narcidi, wiring).
func Reader(getenv func(string) string) *i18n.Printer {
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

// FlagText is the catalog text of a flag's help: the first of the keys
// cli.flag.<scope...>.<flag>, narrowest scope first, down to cli.flag.<flag>
// (one key for a flag that means the same everywhere).
func FlagText(pr *i18n.Printer, flagName string, scope ...string) (string, bool) {
	for n := len(scope); n >= 0; n-- {
		key := "cli.flag." + strings.Join(append(scope[:n:n], flagName), ".")
		if i18n.Has(key) {
			return pr.T(key), true
		}
	}
	return "", false
}

// Localize rewrites the help of fs's flags from the catalog (FlagText) in
// pr's language and makes fs's usage say head (the command line's shape)
// and the flags in that language. The flag names and defaults stay as they
// are; a flag without a key keeps its English help.
func Localize(pr *i18n.Printer, fs *flag.FlagSet, head string, scope ...string) {
	fs.VisitAll(func(f *flag.Flag) {
		if text, ok := FlagText(pr, f.Name, scope...); ok {
			f.Usage = text
		}
	})
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "%s %s\n\n", pr.T("cli.usage"), head)
		PrintFlags(pr, fs)
	}
}

// PrintFlags is flag.PrintDefaults with "(default …)" in pr's language.
func PrintFlags(pr *i18n.Printer, fs *flag.FlagSet) {
	w := fs.Output()
	fs.VisitAll(func(f *flag.Flag) {
		name, usage := flag.UnquoteUsage(f)
		line := "  -" + f.Name
		if name != "" {
			line += " " + name
		}
		if len(line) <= 4 { // a one-letter flag without a value: usage on the same line
			line += "\t"
		} else {
			line += "\n    \t"
		}
		line += strings.ReplaceAll(usage, "\n", "\n    \t")
		if !zeroDefault(f) {
			def := f.DefValue
			if name == "string" {
				def = fmt.Sprintf("%q", def)
			}
			line += " (" + pr.T("cli.flag_default", "value", def) + ")"
		}
		fmt.Fprint(w, line, "\n")
	})
}

// zeroDefault reports whether f's default is its type's zero value, which
// flag.PrintDefaults leaves unsaid too.
func zeroDefault(f *flag.Flag) bool {
	switch f.DefValue {
	case "", "0", "false", "0s", "[]":
		return true
	}
	return false
}

// Usage writes the usage text of a command, catalog key key, to w.
func Usage(pr *i18n.Printer, w io.Writer, key string, args ...any) {
	fmt.Fprint(w, pr.T(key, args...))
}
