package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"testing"

	"github.com/nzilacode/narcidicontrole/api/apiclient"
	"github.com/nzilacode/narcidicontrole/licensing"
	"github.com/nzilacode/narcidicontrole/licensing/i18n"
)

// TestEveryVerbFlagHasCatalogHelp: each flag of each resource verb has its
// help in the catalog (FlagText), in English the very words of the verb's
// table, so that -h never falls back to English for a Portuguese reader.
func TestEveryVerbFlagHasCatalogHelp(t *testing.T) {
	en := i18n.For(i18n.English, "")
	for resource, verbs := range cliVerbs {
		for name, v := range verbs {
			for _, f := range v.flags {
				got, ok := FlagText(en, f.flag, resource, name)
				if !ok {
					t.Errorf("%s %s -%s: no cli.flag key", resource, name, f.flag)
				} else if got != f.help {
					t.Errorf("%s %s -%s: catalog says %q, the verb %q", resource, name, f.flag, got, f.help)
				}
			}
		}
	}
	for _, f := range []string{"url", "token", "o", "idempotency-key"} {
		if _, ok := FlagText(en, f, "licenses", "create"); !ok {
			t.Errorf("-%s: no cli.flag key", f)
		}
	}
}

func TestFlagTextNarrowestScopeFirst(t *testing.T) {
	pt := i18n.For("pt-PT", "")
	for _, tc := range []struct {
		flag  string
		scope []string
		want  string
		ok    bool
	}{
		{"customer", []string{"licenses", "transfer"}, "o novo cliente", true},
		{"customer", []string{"licenses", "list"}, "só as licenças deste cliente", true},
		{"customer", []string{"machines", "list"}, "só as máquinas deste cliente", true},
		{"reason", []string{"licenses", "suspend"}, "porquê (fica registado no registo de auditoria)", true},
		{"no-such-flag", []string{"licenses", "list"}, "", false},
	} {
		got, ok := FlagText(pt, tc.flag, tc.scope...)
		if got != tc.want || ok != tc.ok {
			t.Errorf("FlagText(%s, %v) = %q, %v; want %q, %v", tc.flag, tc.scope, got, ok, tc.want, tc.ok)
		}
	}
}

func TestLocalizeKeepsNamesAndDefaults(t *testing.T) {
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.String("o", "table", "output: table or json")
	fs.String("unknown", "d", "English words")
	Localize(i18n.For("pt-PT", ""), fs, "x")
	if u := fs.Lookup("o").Usage; u != "saída: table (tabela) ou json" {
		t.Errorf("-o: %q", u)
	}
	if u := fs.Lookup("unknown").Usage; u != "English words" {
		t.Errorf("-unknown: %q", u)
	}
	if d := fs.Lookup("o").DefValue; d != "table" {
		t.Errorf("-o default: %q", d)
	}
}

// TestWordsOfWrappedMessagesAndProblems: Words writes each catalog message
// in an error, wrapped or joined, and an API problem's wording in the
// reader's language; the codes, statuses and values stay as they are, and
// Error stays English.
func TestWordsOfWrappedMessagesAndProblems(t *testing.T) {
	pt := i18n.For("pt-PT", "")
	cause := errors.New("disk full")
	problem := &apiclient.Error{Status: 404, RequestID: "r1", Problem: licensing.Errorf(licensing.ENotFound, "Não encontrado.")}
	for _, tc := range []struct {
		err     error
		english string
		words   string
	}{
		{i18n.Say("cli.flag_required", "flag", "out"), "-out is required", "-out é obrigatório"},
		{fmt.Errorf("NARCIDI_LOG_FORMAT: %w", i18n.Say("cli.config.one_of", "values", i18n.Or{"text", "json"}, "value", `"xml"`)),
			`NARCIDI_LOG_FORMAT: must be text or json, not "xml"`, `NARCIDI_LOG_FORMAT: tem de ser text ou json, não "xml"`},
		{i18n.Say("cli.config.one_of", "values", i18n.Or{"debug", "info", "warn", "error"}, "value", `"x"`),
			`must be debug, info, warn or error, not "x"`, `tem de ser debug, info, warn ou error, não "x"`},
		{errors.Join(i18n.Say("cli.override_number", "flag", "seats", "value", `"a"`), i18n.Say("cli.override_duration", "flag", "grace", "value", `"b"`)),
			"-seats: want a number or none, got \"a\"\n-grace: want a duration in whole seconds like 12h or 7d, or none, got \"b\"",
			"-seats: use um número ou none, não \"a\"\n-grace: use uma duração em segundos inteiros como 12h ou 7d, ou none, não \"b\""},
		{i18n.Say("cli.backup.copy_database", "error", cause), "copy the database: disk full", "copiar a base de dados: disk full"},
		{problem, "404 not_found: Não encontrado. (request r1)", "404 not_found: Não encontrado. (pedido r1)"},
		{fmt.Errorf("linux/amd64: upload: %w", problem), "linux/amd64: upload: 404 not_found: Não encontrado. (request r1)", "linux/amd64: upload: 404 not_found: Não encontrado. (pedido r1)"},
		{&apiclient.Error{Status: 502, Text: "Bad Gateway"}, "502: Bad Gateway", "502: Bad Gateway"},
		{i18n.Say("cli.release.finalize_failed", "target", "linux/amd64", "error", problem),
			"linux/amd64: finalize: 404 not_found: Não encontrado. (request r1)", "linux/amd64: conclusão: 404 not_found: Não encontrado. (pedido r1)"},
	} {
		if got := tc.err.Error(); got != tc.english {
			t.Errorf("Error() = %q, want %q", got, tc.english)
		}
		if got := Words(pt, tc.err); got != tc.words {
			t.Errorf("Words = %q, want %q", got, tc.words)
		}
	}
	// A message keeps its cause for errors.Is, as %w does.
	if err := i18n.Say("cli.backup.copy_database", "error", cause); !errors.Is(err, cause) {
		t.Errorf("%v does not wrap its cause", err)
	}
}
