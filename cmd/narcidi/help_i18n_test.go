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
		{"insights -h pt-PT", []string{"insights", "-h"}, map[string]string{"LANG": "pt_PT.UTF-8"},
			[]string{"Utilização:", "escrever um histórico simulado", "carregar um histórico na base de dados"},
			[]string{"write a simulated history", "load a history"}},
		{"insights simulate -h pt-PT", []string{"insights", "simulate", "-h"}, map[string]string{"LANG": "pt_PT.UTF-8"},
			[]string{"Utilização: narcidi insights simulate", "-seed uint\n    \tsemente aleatória", "-days int\n    \tdias de histórico (pelo menos 120) (predefinição 180)"},
			[]string{"random seed", "days of history"}},
		{"insights evaluate -h pt-BR", []string{"insights", "evaluate", "-h"}, map[string]string{"LANG": "pt_BR.UTF-8"},
			[]string{"Uso: narcidi insights evaluate", "arquivo de rótulos", "o limiar de alerta da tarefa para block_risk no backtest (padrão 0.70, como NARCIDI_INSIGHTS_BLOCK_THRESHOLD)"},
			[]string{"labels file", "alert threshold", "ficheiro"}},
		{"insights import -h pt-PT", []string{"insights", "import", "-h"}, map[string]string{"LANG": "pt_PT.UTF-8"},
			[]string{"Utilização: narcidi insights import", "Carrega um histórico", "-history string\n    \to ficheiro do histórico (linhas JSON)"},
			[]string{"Loads a history", "the history file"}},
		{"backup -h pt-PT", []string{"backup", "-h"}, map[string]string{"LANG": "pt_PT.UTF-8"},
			[]string{"Utilização: narcidi backup DIR", "A chave mestra não é copiada"}, []string{"Writes an online", "The master key is not copied"}},
		{"restore -h pt-BR", []string{"restore", "-h"}, map[string]string{"LANG": "pt_BR.UTF-8"},
			[]string{"Uso: narcidi restore BACKUP_DIR", "Copia um backup feito por"}, []string{"Copies a backup", "ficheiros"}},
		{"verify-backup -h pt-PT", []string{"verify-backup", "-h"}, map[string]string{"LANG": "pt_PT.UTF-8"},
			[]string{"Utilização: narcidi verify-backup", "Sai com um código diferente de zero"}, []string{"Exits non-zero"}},
		{"users -h pt-PT", []string{"users", "-h"}, map[string]string{"LANG": "pt_PT.UTF-8"},
			[]string{"Utilização: narcidi users create", "adicionar um utilizador da consola"}, []string{"add a console user"}},
		{"users create -h pt-PT", []string{"users", "create", "-h"}, map[string]string{"LANG": "pt_PT.UTF-8"},
			[]string{"Utilização: narcidi users create -email EMAIL", "-email string\n    \to email do utilizador (obrigatório)", "-role string\n    \tadmin, support ou read-only (predefinição \"read-only\")", "o URL base público da consola"},
			[]string{"the user's email", "admin, support or read-only", "public base URL"}},
		{"users link -h pt-BR", []string{"users", "link", "-h"}, map[string]string{"LANG": "pt_BR.UTF-8"},
			[]string{"Uso: narcidi users link -email EMAIL", "o e-mail do usuário (obrigatório)"}, []string{"the user's email", "-role"}},
		{"keys root generate -h pt-PT", []string{"keys", "root", "generate", "-h"}, map[string]string{"LANG": "pt_PT.UTF-8"},
			[]string{"Utilização: narcidi keys root generate -out DIR", "pasta para root.key.json (privada, 0600)"}, []string{"folder for"}},
		{"keys certify -h pt-PT", []string{"keys", "certify", "-h"}, map[string]string{"LANG": "pt_PT.UTF-8"},
			[]string{"Utilização: narcidi keys certify", "o ficheiro da chave privada raiz", "duração da janela", "(predefinição 2160h0m0s)"},
			[]string{"the root private key file", "length of the window", "default"}},
		{"portal-link -h pt-PT", []string{"portal-link", "-h"}, map[string]string{"LANG": "pt_PT.UTF-8"},
			[]string{"Utilização: narcidi portal-link -customer ID", "o id do cliente (obrigatório)", "enviar a ligação por email"},
			[]string{"the customer's id", "mail the link"}},
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
