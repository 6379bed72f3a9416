package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestCommandsSayTheirWordsInPortuguese: under LANG=pt_PT.UTF-8 each
// command outside the admin verbs (insights, backup, restore,
// verify-backup, release keygen, keys, users, portal-link, the
// configuration's checks) says its messages and errors in Portuguese, and
// none of the English sentences it said before; the variables' names,
// values, ids and the figures' lines stay as they are.
func TestCommandsSayTheirWordsInPortuguese(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	data, backup, restored := filepath.Join(dir, "data"), filepath.Join(dir, "backup"), filepath.Join(dir, "restored")
	history, labels := filepath.Join(dir, "history.jsonl"), filepath.Join(dir, "labels.jsonl")
	pt := map[string]string{"LANG": "pt_PT.UTF-8", "NARCIDI_DATA_DIR": data, "NARCIDI_MASTER_KEY": testMasterKey, "NARCIDI_LOG_LEVEL": "error"}
	with := func(kv ...string) map[string]string { // pt and these variables
		env := map[string]string{}
		for key, val := range pt {
			env[key] = val
		}
		for i := 0; i+1 < len(kv); i += 2 {
			env[kv[i]] = kv[i+1]
		}
		return env
	}
	// In order: later steps use what earlier ones wrote.
	for _, tc := range []struct {
		name    string
		env     map[string]string
		args    []string
		code    int
		want    []string
		notWant []string
	}{
		{"insights without a verb", pt, []string{"insights"}, 1,
			[]string{"falta um subcomando: simulate, evaluate ou import", "escrever um histórico simulado"}, []string{"want a subcommand", "write a simulated history"}},
		{"insights simulate without files", pt, []string{"insights", "simulate"}, 2,
			[]string{"-out e -labels são obrigatórios", "semente aleatória"}, []string{"are required", "random seed"}},
		{"insights simulate -mix", pt, []string{"insights", "simulate", "-out", history, "-labels", labels, "-mix", "odd"}, 2,
			[]string{`-mix tem de ser classic, wide ou traps, não "odd"`}, []string{"want classic"}},
		{"insights simulate", pt, []string{"insights", "simulate", "-out", history, "-labels", labels, "-licenses", "40", "-days", "120"}, 0,
			[]string{"escritas 40 licenças ao longo de 120 dias em " + history}, []string{"wrote"}},
		{"insights evaluate -alert", pt, []string{"insights", "evaluate", "-history", history, "-labels", labels, "-churn-alert", "2"}, 2,
			[]string{"use uma pontuação em (0, 1]", "o limiar de alerta da tarefa para churn_risk"}, []string{"want a score", "alert threshold"}},
		{"insights evaluate", pt, []string{"insights", "evaluate", "-history", history, "-labels", labels}, 0,
			[]string{"treinado em ", "backtest contínuo: ", "metas\n", "AUC de abandono"},
			[]string{"trained on", "rolling backtest", "targets\n", "churn AUC", "flagged by the job", "read and snapshots"}},
		{"insights import without a file", pt, []string{"insights", "import"}, 2,
			[]string{"-history é obrigatório", "Carrega um histórico"}, []string{"is required", "Loads a history"}},
		{"insights import", pt, []string{"insights", "import", "-history", history}, 0,
			[]string{"importados ", " registos de 40 licenças de " + history}, []string{"imported", "roll-up rows"}},
		{"backup without a folder", pt, []string{"backup"}, 1,
			[]string{"indique primeiro a pasta: narcidi backup DIR [flags]"}, []string{"want the folder"}},
		{"backup on PostgreSQL", with("NARCIDI_DATABASE_URL", "postgres://db.invalid/narcidi"), []string{"backup", backup}, 1,
			[]string{"o narcidi backup copia a base de dados SQLite embutida; no PostgreSQL, faça a cópia com pg_dump", `pg_dump --format=custom`}, []string{"copies the embedded", "back up with"}},
		{"keys generate", pt, []string{"keys", "generate"}, 0,
			[]string{"gerada a chave de assinatura "}, []string{"generated signing key"}},
		{"backup", pt, []string{"backup", backup}, 0,
			[]string{"cópia de segurança escrita em " + backup + ": esquema ", "linhas: ", "LEMBRETE: a cópia de segurança não contém a chave mestra (NARCIDI_MASTER_KEY)"},
			[]string{"backup written", "REMINDER", "rows: "}},
		{"backup into a full folder", pt, []string{"backup", backup}, 1,
			[]string{backup + " não está vazia: indique uma pasta nova ou vazia"}, []string{"is not empty"}},
		{"verify-backup", pt, []string{"verify-backup", backup}, 0,
			[]string{"verificada: esquema ", "a chave mestra corresponde, ", " chave de assinatura abre (ativa "}, []string{"verified", "master key matches"}},
		{"restore", with("NARCIDI_DATA_DIR", restored), []string{"restore", backup}, 0,
			[]string{backup + " restaurada em " + restored + " (ficheiros de versões: 0)", "verificada: esquema "}, []string{"restored " + backup, "release files", "verified"}},
		{"restore into a full folder", with("NARCIDI_DATA_DIR", restored), []string{"restore", backup}, 1,
			[]string{"a pasta de dados " + restored + " já contém narcidi.db: restaure para uma pasta de dados vazia"}, []string{"already holds"}},
		{"verify-backup of no backup", pt, []string{"verify-backup", dir}, 1,
			[]string{"a base de dados não tem esquema"}, []string{"has no schema"}},
		{"release keygen", pt, []string{"release", "keygen", "-out", filepath.Join(dir, "release")}, 0,
			[]string{"chave de versões ", "(mantenha-a fora do servidor)", "dê ao servidor NARCIDI_RELEASE_PUBLIC_KEYS="}, []string{"keep it off the server", "give the server"}},
		{"release publish of a bad target", with("NARCIDI_URL", "http://127.0.0.1:1", "NARCIDI_TOKEN", "nzt_test"),
			[]string{"release", "publish", "-product", "p", "-version", "1.0.0", "-key", filepath.Join(dir, "release", "release.key"), "linux-amd64"}, 1,
			[]string{`narcidi release: "linux-amd64": use PLATFORM/ARCH=FILE, por exemplo linux/amd64=dist/app`}, []string{"want PLATFORM"}},
		{"keys root generate", pt, []string{"keys", "root", "generate", "-out", filepath.Join(dir, "root")}, 0,
			[]string{"gerada a chave raiz ", "mantenha root.key.json offline"}, []string{"generated root key", "keep root.key.json"}},
		{"keys root generate without -out", pt, []string{"keys", "root", "generate"}, 1,
			[]string{"-out é obrigatório"}, []string{"is required"}},
		{"keys certify without flags", pt, []string{"keys", "certify"}, 1,
			[]string{"-root e -jwks são obrigatórios"}, []string{"are required"}},
		{"users without a verb", pt, []string{"users"}, 1,
			[]string{"falta um subcomando: create ou link"}, []string{"want a subcommand"}},
		{"portal-link without a customer", pt, []string{"portal-link"}, 2,
			[]string{"-customer é obrigatório", "o id do cliente (obrigatório)"}, []string{"is required", "the customer's id"}},
		// The configuration's checks: the sentence translated, the
		// variable and its value as they are.
		{"a bad NARCIDI_LOG_FORMAT", with("NARCIDI_LOG_FORMAT", "xml"), []string{"migrate"}, 1,
			[]string{`NARCIDI_LOG_FORMAT: tem de ser text ou json, não "xml"`}, []string{"must be"}},
		{"a bad NARCIDI_LOG_LEVEL", with("NARCIDI_LOG_LEVEL", "loud"), []string{"migrate"}, 1,
			[]string{`NARCIDI_LOG_LEVEL: tem de ser debug, info, warn ou error, não "loud"`}, []string{"must be"}},
		{"a bad NARCIDI_CLIENT_RATE", with("NARCIDI_CLIENT_RATE", "120/d"), []string{"serve"}, 1,
			[]string{`NARCIDI_CLIENT_RATE: tem de ter a forma 120/m (contagem por s, m ou h), não "120/d"`}, []string{"must look like"}},
		{"a bad NARCIDI_SMTP_URL", with("NARCIDI_SMTP_URL", "http://mail.example"), []string{"serve"}, 1,
			[]string{`NARCIDI_SMTP_URL: tem de ser um URL smtp://, não "http://mail.example"`}, []string{"must be a"}},
		{"a bad NARCIDI_TELEMETRY_RETENTION", with("NARCIDI_TELEMETRY_RETENTION", "12h"), []string{"serve"}, 1,
			[]string{"NARCIDI_TELEMETRY_RETENTION: tem de ser um número de dias como 180d"}, []string{"must be"}},
		{"NARCIDI_PROXY_HEADER without proxies", with("NARCIDI_PROXY_HEADER", "X-Forwarded-For"), []string{"serve"}, 1,
			[]string{"NARCIDI_PROXY_HEADER está definido mas NARCIDI_TRUSTED_PROXIES está vazio"}, []string{"is set but"}},
		{"NARCIDI_REQUIRE_POSTGRES without a URL", with("NARCIDI_REQUIRE_POSTGRES", "true"), []string{"migrate"}, 1,
			[]string{"NARCIDI_REQUIRE_POSTGRES é true mas NARCIDI_DATABASE_URL está vazio"}, []string{"is true but"}},
		{"worker without Redis", pt, []string{"worker"}, 1,
			[]string{"NARCIDI_REDIS_URL é obrigatório"}, []string{"is required"}},
		{"another master key", with("NARCIDI_MASTER_KEY", "YWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWE="), []string{"keys", "list"}, 1,
			[]string{"a base de dados sqlite foi usada pela primeira vez com outra chave mestra", "Defina NARCIDI_MASTER_KEY ou NARCIDI_MASTER_KEY_FILE"},
			[]string{"was first used", "Set NARCIDI_MASTER_KEY"}},
	} {
		var out, errOut syncBuffer
		code := run(context.Background(), tc.args, func(k string) string { return tc.env[k] }, &out, &errOut)
		said := out.String() + errOut.String()
		if code != tc.code {
			t.Errorf("%s: exit %d, want %d:\n%s", tc.name, code, tc.code, said)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(said, w) {
				t.Errorf("%s: no %q in:\n%s", tc.name, w, said)
			}
		}
		for _, w := range append(tc.notWant, "[cli.") {
			if strings.Contains(said, w) {
				t.Errorf("%s: %q in:\n%s", tc.name, w, said)
			}
		}
	}
}

// TestServeSaysItsFirstLinesInPortuguese: the first admin's link and the
// bootstrap token, printed once for the person who starts the server, are
// in the reader's language; the "listening on" line, which scripts read,
// stays as it is.
func TestServeSaysItsFirstLinesInPortuguese(t *testing.T) {
	t.Parallel()
	env := map[string]string{"LANG": "pt_PT.UTF-8", "NARCIDI_ADDR": "127.0.0.1:0", "NARCIDI_DATA_DIR": t.TempDir(), "NARCIDI_LOG_LEVEL": "error"}
	ctx, cancel := context.WithCancel(context.Background())
	var out, logs syncBuffer
	done := make(chan int, 1)
	go func() { done <- run(ctx, []string{"serve"}, func(k string) string { return env[k] }, &out, &logs) }()
	deadline := time.Now().Add(time.Minute)
	for !strings.Contains(out.String(), "token de administração inicial") {
		if time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	cancel()
	if code := <-done; code != 0 {
		t.Errorf("serve: exit %d: %s", code, logs.String())
	}
	said := out.String()
	for _, w := range []string{"narcidi listening on http://127.0.0.1:", "consola: primeiro administrador admin@localhost, defina uma palavra-passe dentro de 24 h",
		"token de administração inicial (mostrado uma só vez, guardado em hash): "} {
		if !strings.Contains(said, w) {
			t.Errorf("no %q in:\n%s", w, said)
		}
	}
	for _, w := range []string{"first admin", "bootstrap admin token", "[cli."} {
		if strings.Contains(said, w) {
			t.Errorf("%q in:\n%s", w, said)
		}
	}
	if _, err := os.Stat(filepath.Join(env["NARCIDI_DATA_DIR"], "narcidi.db")); err != nil {
		t.Error(err)
	}
}
