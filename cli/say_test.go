package cli

import (
	"flag"
	"io"
	"testing"

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
