package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/nzilacode/narcidicontrole/storage/storagetest"
)

// jwksKids lists the kids of a server's JWKS, in its order.
func jwksKids(t *testing.T, app *App) []string {
	t.Helper()
	var set struct{ Keys []struct{ Kid string } }
	if err := json.Unmarshal(fetchJWKS(t, app, filepath.Join(t.TempDir(), "jwks.json")), &set); err != nil {
		t.Fatal(err)
	}
	var kids []string
	for _, k := range set.Keys {
		kids = append(kids, k.Kid)
	}
	return kids
}

// Issue 23 item 1: instances are stateless. Two instances on one fresh
// PostgreSQL, each with its own data folder, serve the same signing key;
// the database with an empty data folder (a restore on a new host) serves
// the old keys, and does not mint a new one.
func TestInstancesShareSigningKeysThroughTheDatabase(t *testing.T) {
	t.Parallel()
	master := make([]byte, 32)
	_, _ = rand.Read(master)
	pg := storagetest.PostgresURL(t)
	env := func() map[string]string {
		return map[string]string{"NARCIDI_DATABASE_URL": pg, "NARCIDI_MASTER_KEY": base64.StdEncoding.EncodeToString(master), "NARCIDI_DATA_DIR": t.TempDir()}
	}
	a, stopA := startStop(t, withTestDefaults(env()))
	b, stopB := startStop(t, withTestDefaults(env()))
	ka, kb := jwksKids(t, a), jwksKids(t, b)
	if len(ka) != 1 || strings.Join(ka, ",") != strings.Join(kb, ",") {
		t.Fatalf("two instances on one database serve different keys: %v and %v", ka, kb)
	}
	// A rotation on one shows on the other after its restart.
	runOK(t, env(), "keys", "generate")
	stopB()
	b, stopB = startStop(t, withTestDefaults(env()))
	defer stopB()
	if kids := jwksKids(t, b); len(kids) != 2 || kids[1] != ka[0] {
		t.Fatalf("after keys generate: %v (old key %s)", kids, ka[0])
	}
	stopA()
	// The database on a new host: an empty data folder.
	c, stopC := startStop(t, withTestDefaults(env()))
	defer stopC()
	if got, want := jwksKids(t, c), jwksKids(t, b); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("a new data folder serves %v, the database holds %v", got, want)
	}
}

// The SQLite file copied alone to a new folder, with the master key, serves
// the old keys; a used database whose keys are gone gets no new one.
func TestRestoredDatabaseServesItsKeys(t *testing.T) {
	t.Parallel()
	master := base64.StdEncoding.EncodeToString(func() []byte { b := make([]byte, 32); _, _ = rand.Read(b); return b }())
	dir := t.TempDir()
	a, stop := startStop(t, withTestDefaults(map[string]string{"NARCIDI_DATA_DIR": dir, "NARCIDI_MASTER_KEY": master}))
	before := jwksKids(t, a)
	stop()
	restored := t.TempDir()
	if err := os.Chmod(restored, 0o700); err != nil {
		t.Fatal(err)
	}
	copyFile(t, filepath.Join(dir, "narcidi.db"), filepath.Join(restored, "narcidi.db"))
	b, stop := startStop(t, withTestDefaults(map[string]string{"NARCIDI_DATA_DIR": restored, "NARCIDI_MASTER_KEY": master}))
	defer stop()
	if after := jwksKids(t, b); strings.Join(after, ",") != strings.Join(before, ",") {
		t.Fatalf("restored database serves %v, before %v", after, before)
	}
}

// A used database without signing keys (an old version's database whose
// keys folder is lost) is refused: no key is minted silently.
func TestUsedDatabaseWithoutKeysIsRefused(t *testing.T) {
	t.Parallel()
	for _, d := range storagetest.Dialects {
		t.Run(d, func(t *testing.T) {
			t.Parallel()
			env := map[string]string{"NARCIDI_DATA_DIR": t.TempDir()}
			if d == "postgres" {
				usePostgres(t, env)
			}
			a, stop := startStop(t, withTestDefaults(env))
			st := a.store
			if err := st.DB().Exec("DELETE FROM signing_keys").Error; err != nil {
				t.Fatal(err)
			}
			stop()
			cfg, _, err := loadConfig("serve", nil, func(k string) string { return withTestDefaults(env)[k] })
			if err != nil {
				t.Fatal(err)
			}
			app := &App{Config: cfg, Out: &strings.Builder{}, Log: discardLog()}
			err = app.Start(context.Background())
			if err == nil {
				_ = app.Close()
			}
			if err == nil || !strings.Contains(err.Error(), errNoSigningKey.Error()) || !strings.Contains(err.Error(), "narcidi keys generate") {
				t.Fatalf("start on a used database without keys: %v", err)
			}
		})
	}
}

// withTestDefaults is env over startAppWith's test defaults.
func withTestDefaults(env map[string]string) map[string]string {
	out := map[string]string{
		"NARCIDI_ADDR": "127.0.0.1:0", "NARCIDI_ADMIN_TOKEN": adminToken, "NARCIDI_LOG_LEVEL": "warn", "NARCIDI_TOKEN_RATE": "10000/m",
	}
	for k, v := range env {
		out[k] = v
	}
	return out
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

func discardLog() *slog.Logger { return slog.New(slog.DiscardHandler) }

// testMasterKey is the master key of tests on PostgreSQL, which refuses to
// run without a configured one (issue 23 item 4).
const testMasterKey = "pUpKKnTD5xPMfeCcQLLdhIQKpmS1q060j1YmHztNpYU="

// usePostgres points env at a fresh PostgreSQL database that holds the
// current schema (migrating from nothing is the migrate tests' concern),
// with the test master key unless env names one.
func usePostgres(t *testing.T, env map[string]string) {
	t.Helper()
	env["NARCIDI_DATABASE_URL"] = storagetest.MigratedPostgresURL(t)
	if env["NARCIDI_MASTER_KEY"] == "" && env["NARCIDI_MASTER_KEY_FILE"] == "" {
		env["NARCIDI_MASTER_KEY"] = testMasterKey
	}
}

// Two instances starting at the same moment on a fresh database end with
// one signing key between them: the loser of the first key loads the
// winner's.
func TestConcurrentFirstStartsShareOneKey(t *testing.T) {
	t.Parallel()
	pg := storagetest.PostgresURL(t)
	runOK(t, map[string]string{"NARCIDI_DATABASE_URL": pg, "NARCIDI_DATA_DIR": t.TempDir()}, "migrate")
	apps := make([]*App, 4)
	var wg sync.WaitGroup
	for i := range apps {
		env := withTestDefaults(map[string]string{"NARCIDI_DATABASE_URL": pg, "NARCIDI_MASTER_KEY": testMasterKey, "NARCIDI_DATA_DIR": t.TempDir()})
		wg.Go(func() {
			cfg, _, err := loadConfig("serve", nil, func(k string) string { return env[k] })
			if err != nil {
				t.Error(err)
				return
			}
			app := &App{Config: cfg, Out: &strings.Builder{}, Log: discardLog()}
			if err := app.Start(context.Background()); err != nil {
				t.Errorf("start %d: %v", i, err)
				return
			}
			apps[i] = app
		})
	}
	wg.Wait()
	var first []string
	for i, a := range apps {
		if a == nil {
			continue
		}
		defer a.Close()
		kids := jwksKids(t, a)
		if i == 0 || first == nil {
			first = kids
		}
		if len(kids) != 1 || kids[0] != first[0] {
			t.Errorf("instance %d serves %v, another %v", i, kids, first)
		}
	}
}
