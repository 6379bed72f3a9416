package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nzilacode/narcidicontrole/storage/storagetest"
)

// Issue 11 item 13: a database used with one master key refuses a start
// with another one, or with the generated master.key deleted, instead of
// running with a new signing key. The key files are deleted too, as in the
// report: nothing else would notice.
func TestStartRefusesAnotherMasterKey(t *testing.T) {
	t.Parallel()
	for _, dialect := range storagetest.Dialects {
		t.Run(dialect, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			env := map[string]string{"NARCIDI_ADDR": "127.0.0.1:0", "NARCIDI_DATA_DIR": dir, "NARCIDI_ADMIN_TOKEN": adminToken, "NARCIDI_LOG_LEVEL": "warn"}
			if dialect == "postgres" {
				env["NARCIDI_DATABASE_URL"] = storagetest.PostgresURL(t)
			}
			start := func(over map[string]string) error {
				e := map[string]string{}
				for k, v := range env {
					e[k] = v
				}
				for k, v := range over {
					e[k] = v
				}
				cfg, _, err := loadConfig("serve", nil, func(k string) string { return e[k] })
				if err != nil {
					t.Fatal(err)
				}
				log, _ := cfg.Logger(&bytes.Buffer{})
				app := &App{Config: cfg, Out: &bytes.Buffer{}, Log: log}
				if err := app.Start(context.Background()); err != nil {
					return err
				}
				return app.Close()
			}
			if dialect == "postgres" {
				// Issue 23 item 4: PostgreSQL never runs on a generated key,
				// which would live in one instance's folder only.
				err := start(nil)
				if err == nil || !strings.Contains(err.Error(), "no master key configured on PostgreSQL") {
					t.Fatalf("PostgreSQL without a master key: %v", err)
				}
				if _, statErr := os.Stat(filepath.Join(dir, "master.key")); !os.IsNotExist(statErr) {
					t.Fatalf("a master.key was generated for PostgreSQL: %v", statErr)
				}
				// From here on, as an operator does: the file as a secret.
				key := make([]byte, 32)
				_, _ = rand.Read(key)
				keyFile := filepath.Join(t.TempDir(), "master.key")
				if err := os.WriteFile(keyFile, []byte(base64.StdEncoding.EncodeToString(key)), 0o600); err != nil {
					t.Fatal(err)
				}
				env["NARCIDI_MASTER_KEY_FILE"] = keyFile
				if err := start(nil); err != nil {
					t.Fatalf("first start with a master key file: %v", err)
				}
				other := make([]byte, 32)
				_, _ = rand.Read(other)
				if err := start(map[string]string{"NARCIDI_MASTER_KEY_FILE": "", "NARCIDI_MASTER_KEY": base64.StdEncoding.EncodeToString(other)}); err == nil || !strings.Contains(err.Error(), "another master key") {
					t.Errorf("start with another master key: %v", err)
				}
				return
			}
			if err := start(nil); err != nil {
				t.Fatalf("first start: %v", err)
			}
			masterPath := filepath.Join(dir, "master.key")
			original, err := os.ReadFile(masterPath)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.RemoveAll(filepath.Join(dir, "keys")); err != nil {
				t.Fatal(err)
			}

			// (a) master.key deleted: refused, and no new key written.
			if err := os.Remove(masterPath); err != nil {
				t.Fatal(err)
			}
			err = start(nil)
			if err == nil || !strings.Contains(err.Error(), "master key file is missing") || !strings.Contains(err.Error(), "no new key was written") {
				t.Errorf("start without master.key: %v", err)
			}
			if _, statErr := os.Stat(masterPath); !os.IsNotExist(statErr) {
				t.Errorf("a master.key was written over the used database: %v", statErr)
			}
			// The keys commands refuse too, and write nothing.
			var out, errOut bytes.Buffer
			if code := run(context.Background(), []string{"keys", "generate"}, func(k string) string { return env[k] }, &out, &errOut); code == 0 || !strings.Contains(errOut.String(), "master key file is missing") {
				t.Errorf("keys generate without master.key: exit %d %s", code, errOut.String())
			}
			if _, statErr := os.Stat(masterPath); !os.IsNotExist(statErr) {
				t.Errorf("keys generate wrote a master.key: %v", statErr)
			}

			// (b) another master key: refused.
			other := make([]byte, 32)
			_, _ = rand.Read(other)
			err = start(map[string]string{"NARCIDI_MASTER_KEY": base64.StdEncoding.EncodeToString(other)})
			if err == nil || !strings.Contains(err.Error(), "another master key") {
				t.Errorf("start with another master key: %v", err)
			}

			// (c) the same key, from the environment or the restored file: starts.
			if err := start(map[string]string{"NARCIDI_MASTER_KEY": strings.TrimSpace(string(original))}); err != nil {
				t.Errorf("start with the same key: %v", err)
			}
			if err := os.WriteFile(masterPath, original, 0o600); err != nil {
				t.Fatal(err)
			}
			if err := start(nil); err != nil {
				t.Errorf("start with master.key restored: %v", err)
			}
		})
	}
}
