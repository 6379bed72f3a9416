package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// idemPost sends an admin POST with an Idempotency-Key and returns the
// status, body and headers, without the contract checks of apiClient (a
// refused replay is a deliberate 500).
func idemPost(t *testing.T, app *App, path, key, body string) (int, []byte, http.Header) {
	t.Helper()
	req, _ := http.NewRequest("POST", app.URL()+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+adminToken)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b, resp.Header
}

// The answers replayed for Idempotency-Key retries hold secrets shown once
// (license keys, API token secrets, webhook secrets): they rest sealed, a
// retry still gets the secret, a sealed answer altered or moved in the
// database is refused without leaking, and an answer stored in clear by an
// older version is forgotten instead of replayed (issue 11, item 8).
func TestIdempotencyReplaysAreSealed(t *testing.T) {
	t.Parallel()
	for _, dialect := range []string{"sqlite", "postgres"} {
		t.Run(dialect, func(t *testing.T) {
			t.Parallel()
			hook := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, _ *http.Request) { rw.WriteHeader(204) }))
			t.Cleanup(hook.Close)
			env := map[string]string{"NARCIDI_WEBHOOK_ALLOW_PRIVATE": "true"}
			if dialect == "postgres" {
				usePostgres(t, env)
			}
			app := startAppWith(t, env)
			cat := seedCatalog(t, apiClient{t, app.URL(), adminToken}, 2)
			db := app.store.DB()
			ctx := context.Background()

			// Create, then retry: the retry replays the very same answer.
			creates := []struct {
				key, path, body string
				secret          func(b []byte) string
			}{
				{"lic-1", "/v1/licenses", `{"policy_id":"` + cat.policyID + `","customer_id":"` + cat.customerID + `"}`,
					func(b []byte) string { var v struct{ Key string }; _ = json.Unmarshal(b, &v); return v.Key }},
				{"tok-1", "/v1/tokens", `{"name":"ci","role":"read-only"}`,
					func(b []byte) string { var v struct{ Secret string }; _ = json.Unmarshal(b, &v); return v.Secret }},
				{"hook-1", "/v1/webhooks", `{"url":"` + hook.URL + `","event_types":["license.created"]}`,
					func(b []byte) string { var v struct{ Secret string }; _ = json.Unmarshal(b, &v); return v.Secret }},
			}
			var secrets []string
			for _, c := range creates {
				s1, b1, _ := idemPost(t, app, c.path, c.key, c.body)
				secret := c.secret(b1)
				if s1 != 201 || len(secret) < 16 {
					t.Fatalf("POST %s = %d %s", c.path, s1, b1)
				}
				secrets = append(secrets, secret)
				s2, b2, h2 := idemPost(t, app, c.path, c.key, c.body)
				if s2 != 201 || !bytes.Equal(b1, b2) || h2.Get("Idempotent-Replayed") != "true" {
					t.Errorf("retry of %s: %d replayed=%q same=%v", c.path, s2, h2.Get("Idempotent-Replayed"), bytes.Equal(b1, b2))
				}
			}

			// At rest: every stored answer is sealed, no secret in clear.
			bodies := map[string][]byte{}
			rows, err := db.WithContext(ctx).Raw("SELECT idem_key, body FROM idempotency_keys").Rows()
			if err != nil {
				t.Fatal(err)
			}
			for rows.Next() {
				var key string
				var body []byte
				if err := rows.Scan(&key, &body); err != nil {
					t.Fatal(err)
				}
				bodies[key] = body
			}
			if err := errors.Join(rows.Err(), rows.Close()); err != nil {
				t.Fatal(err)
			}
			for _, c := range creates {
				body, ok := bodies[c.key]
				if !ok || !bytes.HasPrefix(body, []byte("sealed-v2:")) {
					t.Errorf("stored answer of %s is not sealed: %q", c.key, body)
				}
				for _, s := range secrets {
					if bytes.Contains(body, []byte(s)) {
						t.Errorf("stored answer of %s holds a secret in clear", c.key)
					}
				}
			}
			if dialect == "sqlite" {
				files, _ := filepath.Glob(filepath.Join(app.Config.DataDir, "narcidi.db*"))
				if len(files) < 2 {
					t.Fatalf("SQLite files: %v", files)
				}
				for _, f := range files {
					raw, err := os.ReadFile(f)
					if err != nil {
						t.Fatal(err)
					}
					for _, s := range secrets {
						if bytes.Contains(raw, []byte(s)) {
							t.Errorf("%s holds a secret in clear", filepath.Base(f))
						}
					}
				}
			}

			// A sealed answer moved onto another record, or altered, is
			// refused as an internal error that shows nothing of it.
			tampered := map[string][]byte{
				"lic-1":  bodies["tok-1"], // the token's answer moved onto the license's record
				"hook-1": append(append([]byte(nil), bodies["hook-1"][:len(bodies["hook-1"])-1]...), bodies["hook-1"][len(bodies["hook-1"])-1]^1),
			}
			for _, c := range creates {
				b, ok := tampered[c.key]
				if !ok {
					continue
				}
				if err := db.WithContext(ctx).Exec("UPDATE idempotency_keys SET body = ? WHERE idem_key = ?", b, c.key).Error; err != nil {
					t.Fatal(err)
				}
				status, got, h := idemPost(t, app, c.path, c.key, c.body)
				if status != 500 || !strings.HasPrefix(h.Get("Content-Type"), "application/problem+json") || h.Get("Idempotent-Replayed") != "" {
					t.Errorf("tampered %s: %d %q %s", c.key, status, h.Get("Content-Type"), got)
				}
				for _, s := range secrets {
					if bytes.Contains(got, []byte(s)) {
						t.Errorf("tampered %s: the answer leaks a secret: %s", c.key, got)
					}
				}
			}

			// An answer stored in clear by an older version is never
			// replayed: it is forgotten (as if expired) and the request runs
			// again, its new answer stored sealed.
			legacy := `{"token":{"id":"old"},"secret":"nzt_legacy_clear_secret_0123456789"}`
			if err := db.WithContext(ctx).Exec("UPDATE idempotency_keys SET body = ? WHERE idem_key = ?", []byte(legacy), "tok-1").Error; err != nil {
				t.Fatal(err)
			}
			status, got, h := idemPost(t, app, "/v1/tokens", "tok-1", creates[1].body)
			fresh := creates[1].secret(got)
			if status != 201 || h.Get("Idempotent-Replayed") != "" || fresh == "" || fresh == secrets[1] || strings.Contains(string(got), "legacy") {
				t.Errorf("retry over a clear answer: %d replayed=%q %s", status, h.Get("Idempotent-Replayed"), got)
			}
			var body []byte
			if err := db.WithContext(ctx).Raw("SELECT body FROM idempotency_keys WHERE idem_key = ?", "tok-1").Row().Scan(&body); err != nil {
				t.Fatal(err)
			}
			if !bytes.HasPrefix(body, []byte("sealed-v2:")) || bytes.Contains(body, []byte(fresh)) {
				t.Errorf("answer stored over the clear one: %q", body)
			}
			if s, again, _ := idemPost(t, app, "/v1/tokens", "tok-1", creates[1].body); s != 201 || !bytes.Equal(again, got) {
				t.Errorf("retry after the fresh answer: %d %s", s, again)
			}
		})
	}
}
