package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// TestHelpInReadersLanguage: -h speaks the reader's language (LANG,
// NARCIDI_LANGUAGE), keeps the flag names, variables and defaults, and
// stays English without a language.
func TestHelpInReadersLanguage(t *testing.T) {
	for _, tc := range []struct {
		name    string
		args    []string
		env     map[string]string
		want    []string
		notWant []string
	}{
		{"narcidi -h pt-PT", []string{"-h"}, map[string]string{"LANG": "pt_PT.UTF-8"},
			[]string{"Utilização:", "iniciar o servidor", "utilizador da consola", "narcidi licenses  <verbo>"},
			[]string{"Usage:", "start the server"}},
		{"narcidi -h pt-BR", []string{"help"}, map[string]string{"LANG": "pt_BR.UTF-8"},
			[]string{"Uso:", "usuário do console", "controle de licenças"},
			[]string{"utilizador", "controlo"}},
		{"narcidi -h English", []string{"-h"}, map[string]string{},
			[]string{"Usage:", "start the server (the default)"},
			[]string{"Utilização"}},
		{"licenses -h pt-PT", []string{"licenses", "-h"}, map[string]string{"LANG": "pt_PT.UTF-8"},
			[]string{"Utilização:", "narcidi licenses create -policy ID", "Os comandos de administração", `"narcidi licenses <verbo> -h"`},
			[]string{"Admin commands call"}},
		{"licenses create -h pt-PT", []string{"licenses", "create", "-h"}, map[string]string{"LC_ALL": "pt_PT.UTF-8"},
			[]string{"Utilização: narcidi licenses create", "-policy string\n    \ta política (plano) (obrigatório)",
				"-o string\n    \tsaída: table (tabela) ou json (predefinição \"table\")", "-url string", "o token da API"},
			[]string{"(required)", "the policy", "default"}},
		{"licenses create -h English", []string{"licenses", "create", "-h"}, map[string]string{},
			[]string{"Usage: narcidi licenses create", "-policy string\n    \tthe policy (plan) (required)", `output: table or json (default "table")`},
			[]string{"obrigatório"}},
		{"subscriptions list -h NARCIDI_LANGUAGE", []string{"subscriptions", "list", "-h"}, map[string]string{"NARCIDI_LANGUAGE": "pt-BR", "LANG": "en_US.UTF-8"},
			[]string{"Uso:", "só as assinaturas deste cliente", "tamanho da página, 1-200"},
			[]string{"only this customer"}},
		{"migrate -h pt-PT", []string{"migrate", "-h"}, map[string]string{"LANG": "pt_PT.UTF-8"},
			[]string{"Utilização: narcidi migrate [flags]", "Cada flag pode ser definida", "-data-dir dir", "[NARCIDI_DATA_DIR] (predefinição \"data\")", "(secreto, não definido)"},
			[]string{"Each flag", "folder of the embedded"}},
		{"release publish -h pt-PT", []string{"release", "publish", "-h"}, map[string]string{"LANG": "pt_PT.UTF-8"},
			[]string{"Utilização: narcidi release publish", "-channel string\n    \tstable, beta, alpha ou dev (predefinição \"stable\")", "-entitlement string\n    \tcódigo do direito"},
			[]string{"upload and finalize", "the meter counts"}},
		{"activate-offline -h pt-BR", []string{"activate-offline", "-h"}, map[string]string{"LANG": "pt_BR.UTF-8"},
			[]string{"Uso: narcidi activate-offline", "gravar aqui o arquivo da concessão", "(padrão: o limite da política"},
			[]string{"write the lease"}},
		{"serve -h English", []string{"serve", "-h"}, map[string]string{},
			[]string{"Usage: narcidi serve [flags]", "-default-language language", "mails for a reader without a preference nor a matching Accept-Language: en, pt-BR, pt-PT [NARCIDI_DEFAULT_LANGUAGE]"},
			[]string{"predefinição", "[cli."}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			code := run(context.Background(), tc.args, func(k string) string { return tc.env[k] }, &out, &errOut)
			said := out.String() + errOut.String()
			if code != 0 {
				t.Fatalf("exit %d: %s", code, said)
			}
			for _, w := range tc.want {
				if !strings.Contains(said, w) {
					t.Errorf("no %q in:\n%s", w, said)
				}
			}
			for _, w := range append(tc.notWant, "[cli.") {
				if strings.Contains(said, w) {
					t.Errorf("%q in:\n%s", w, said)
				}
			}
		})
	}
}
