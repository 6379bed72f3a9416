package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nzilacode/narcidicontrole/storage"
	"github.com/nzilacode/narcidicontrole/storage/storagetest"
)

// Issue 23 item 2: a database migrated to HEAD refuses a binary built with
// an older compatibility range, with the documented message, and is left
// as it was.
func TestOlderBinaryRefusesNewerDatabase(t *testing.T) {
	for _, d := range storagetest.Dialects {
		t.Run(d, func(t *testing.T) {
			env := withTestDefaults(map[string]string{"NARCIDI_DATA_DIR": t.TempDir()})
			if d == "postgres" {
				usePostgres(t, env)
			}
			runOK(t, env, "migrate")
			head := binarySchema
			binarySchema = storage.SchemaRange{Version: head.OldestBinary - 1, OldestBinary: 6}
			defer func() { binarySchema = head }()
			for _, cmd := range []string{"serve", "migrate"} {
				var out, errOut bytes.Buffer
				code := run(context.Background(), []string{cmd}, func(k string) string { return env[k] }, &out, &errOut)
				msg := errOut.String()
				if code != 1 || !strings.Contains(msg, "the database is newer than this narcidi binary understands") ||
					!strings.Contains(msg, "Rolling back") || !strings.Contains(msg, "Nothing was changed") {
					t.Fatalf("narcidi %s on a newer database: exit %d %s%s", cmd, code, out.String(), msg)
				}
			}
			binarySchema = head
			runOK(t, env, "migrate") // the current binary still runs
		})
	}
}

// Issue 23 item 4: a misspelt variable stops the program, naming the
// closest known one; NARCIDI_REQUIRE_POSTGRES refuses the SQLite fallback.
func TestUnknownVariableAndSQLiteFallbackRefused(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	code, out, errOut := runBinary(t, map[string]string{"NARCIDI_DATA_DIR": dir, "NARCIDI_DATABSE_URL": "postgres://db/narcidi"}, "migrate")
	if code != 2 || !strings.Contains(errOut, "NARCIDI_DATABSE_URL (did you mean NARCIDI_DATABASE_URL?)") {
		t.Fatalf("a misspelt variable: exit %d %s%s", code, out, errOut)
	}
	if _, err := os.Stat(filepath.Join(dir, "narcidi.db")); !os.IsNotExist(err) {
		t.Fatalf("a database was created: %v", err)
	}
	code, out, errOut = runBinary(t, map[string]string{"NARCIDI_DATA_DIR": dir, "NARCIDI_REQUIRE_POSTGRES": "true"}, "migrate")
	if code != 1 || !strings.Contains(errOut, "NARCIDI_REQUIRE_POSTGRES is true but NARCIDI_DATABASE_URL is empty") {
		t.Fatalf("SQLite forbidden: exit %d %s%s", code, out, errOut)
	}
	if _, err := os.Stat(filepath.Join(dir, "narcidi.db")); !os.IsNotExist(err) {
		t.Fatalf("a database was created: %v", err)
	}
	if code, out, errOut := runBinary(t, map[string]string{"NARCIDI_TEST_ANYTHING": "1", "NARCIDI_URL": "http://x"}, "version"); code != 0 || !strings.Contains(out, "schema ") {
		t.Fatalf("known names refused: exit %d %s%s", code, out, errOut)
	}
}

func TestClosestVariable(t *testing.T) {
	t.Parallel()
	known := knownVariables()
	for typo, want := range map[string]string{"NARCIDI_DATABSE_URL": "NARCIDI_DATABASE_URL", "NARCIDI_MASTERKEY_FILE": "NARCIDI_MASTER_KEY_FILE", "NARCIDI_REDIS": "NARCIDI_REDIS_URL"} {
		if got := closest(typo, known); got != want {
			t.Errorf("closest(%s) = %s, want %s", typo, got, want)
		}
	}
}

// Issue 23 item 5: bad S3 settings stop the start, naming the variables.
func TestServeRefusesUnreachableS3(t *testing.T) {
	t.Parallel()
	for endpoint, want := range map[string]string{"http://127.0.0.1:1": "unreachable", "s3:7070": "http(s)://host"} {
		env := withTestDefaults(map[string]string{"NARCIDI_DATA_DIR": t.TempDir(), "NARCIDI_BLOB_BACKEND": "s3", "NARCIDI_S3_BUCKET": "releases",
			"NARCIDI_S3_ENDPOINT": endpoint, "NARCIDI_S3_PATH_STYLE": "true", "NARCIDI_S3_ACCESS_KEY": "a", "NARCIDI_S3_SECRET_KEY": "s"})
		var out, errOut bytes.Buffer
		code := run(context.Background(), []string{"serve"}, func(k string) string { return env[k] }, &out, &errOut)
		if code != 1 || !strings.Contains(errOut.String(), "NARCIDI_S3_*") || !strings.Contains(errOut.String(), want) {
			t.Errorf("S3 at %s: exit %d %s", endpoint, code, errOut.String())
		}
	}
}
