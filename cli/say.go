package cli

import (
	"flag"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"

	"github.com/nzilacode/narcidicontrole/api/apiclient"
	"github.com/nzilacode/narcidicontrole/licensing/i18n"
)

// The words the CLI says to people come from the catalog (licensing/i18n,
// keys "cli.*") in the reader's language (i18n.FromEnv: NARCIDI_LANGUAGE,
// LC_ALL, LC_MESSAGES, LANG, NARCIDI_DEFAULT_LANGUAGE). What scripts read
// stays as it is: -o json, ids, table headers, the API's problem codes.

// Words writes err for the reader (pr): each catalog message in it
// (i18n.Said, wrapped or not) and each API problem in pr's language, the
// rest as it is.
func Words(pr *i18n.Printer, err error) string {
	switch e := err.(type) {
	case *i18n.Said:
		// Its errors too: an API problem among them is worded here.
		args := slices.Clone(e.Args)
		for i := 1; i < len(args); i += 2 {
			if cause, ok := args[i].(error); ok {
				args[i] = Words(pr, cause)
			}
		}
		return (&i18n.Said{Key: e.Key, Args: args}).In(pr)
	case *apiclient.Error:
		if e.Problem == nil {
			return e.Error()
		}
		// The status and the problem's code stay as scripts read them;
		// the detail is already in pr's language (Accept-Language).
		return pr.T("cli.api_problem", "status", e.Status, "code", e.Problem.Code, "detail", e.Problem.Message, "request", e.RequestID)
	case interface{ Unwrap() error }:
		return inWords(pr, err, e.Unwrap())
	case interface{ Unwrap() []error }:
		return inWords(pr, err, e.Unwrap()...)
	}
	return err.Error()
}

// inWords is the text of err, a wrapper of causes, with each cause's own
// text replaced by its words.
func inWords(pr *i18n.Printer, err error, causes ...error) string {
	s := err.Error()
	for _, c := range causes {
		if c != nil {
			s = strings.Replace(s, c.Error(), Words(pr, c), 1)
		}
	}
	return s
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
