package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/golang-jwt/jwt/v5"
	"github.com/nzilacode/narcidicontrole/licensing"
	"github.com/nzilacode/narcidicontrole/licensing/insights"
	"github.com/nzilacode/narcidicontrole/storage/storagetest"
	verifier "github.com/nzilacode/narcidicontrole/verifier-sdk"
)

var pathParamRe = regexp.MustCompile(`:([a-z_]+)`)

const adminToken = "test-admin-token-0123456789abcdef"

// startApp runs the real server in-process on a free port, on a fresh
// database of the dialect.
func startApp(t *testing.T, dialect string) *App {
	t.Helper()
	env := map[string]string{}
	if dialect == "postgres" {
		usePostgres(t, env)
	}
	return startAppWith(t, env)
}

// startAppWith runs the real server with the test defaults overridden by env.
func startAppWith(t *testing.T, over map[string]string) *App {
	t.Helper()
	return startScoredApp(t, over, nil)
}

// startScoredApp is startAppWith with the engine of its scoring runs made
// by scorer (nil: the real engine).
func startScoredApp(t *testing.T, over map[string]string, scorer func() insights.Scorer) *App {
	t.Helper()
	env := map[string]string{
		"NARCIDI_ADDR":        "127.0.0.1:0",
		"NARCIDI_DATA_DIR":    t.TempDir(),
		"NARCIDI_ADMIN_TOKEN": adminToken,
		"NARCIDI_LOG_LEVEL":   "warn",
		// Tests make many tokens; TestRateLimits checks the limits themselves.
		"NARCIDI_TOKEN_RATE": "10000/m",
	}
	for k, v := range over {
		env[k] = v
	}
	if _, own := over["NARCIDI_DATA_DIR"]; !own && env["NARCIDI_DATABASE_URL"] == "" {
		// Migrating from nothing is the migrate tests' concern (and each
		// one's that brings its own data folder); the others start on a
		// copy of the migrated database.
		storagetest.CopyMigratedSQLite(t, env["NARCIDI_DATA_DIR"])
	}
	app, logs := launchScored(t, env, scorer)
	t.Cleanup(func() {
		if err := app.Close(); err != nil {
			t.Error(err)
		}
		if t.Failed() {
			t.Logf("server log:\n%s", logs.String())
		}
	})
	return app
}

// launch starts the server configured by exactly env; logs collects its log.
func launch(t *testing.T, env map[string]string) (*App, *syncBuffer) {
	t.Helper()
	return launchScored(t, env, nil)
}

// launchScored is launch with the engine of the scoring runs made by scorer
// (nil: the real engine).
func launchScored(t *testing.T, env map[string]string, scorer func() insights.Scorer) (*App, *syncBuffer) {
	t.Helper()
	cfg, _, err := loadConfig("serve", nil, func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	// The log is locked: go-redis logs through one process-wide logger
	// (wiring.routeLibraryLogs), the newest one built, so another test's
	// Redis lines may land here while this test reads it.
	var out bytes.Buffer
	var logs syncBuffer
	log, _ := cfg.Logger(&logs)
	app := &App{Config: cfg, Out: &out, Log: log, Scorer: scorer}
	if err := app.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	return app, &logs
}

type apiClient struct {
	t     *testing.T
	base  string
	token string
}

// call sends a JSON request and decodes the answer into out (if not nil),
// returning the status and the raw body.
func (c apiClient) call(method, path string, body any, out any) (int, []byte) {
	c.t.Helper()
	var r io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		r = bytes.NewReader(b)
	}
	return c.raw(method, path, "application/json", r, out)
}

func (c apiClient) raw(method, path, contentType string, body io.Reader, out any) (int, []byte) {
	c.t.Helper()
	var reqBody []byte
	if body != nil {
		reqBody, _ = io.ReadAll(body)
		body = bytes.NewReader(reqBody)
	}
	req, _ := http.NewRequest(method, c.base+path, body)
	if body != nil {
		req.Header.Set("Content-Type", contentType)
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	checkResponse(c.t, c.base, req, reqBody, resp, b)
	if resp.StatusCode >= 400 {
		if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/problem+json") {
			c.t.Errorf("%s %s: error with content type %q: %s", method, path, ct, b)
		}
		if resp.Header.Get("X-Request-ID") == "" {
			c.t.Errorf("%s %s: no X-Request-ID", method, path)
		}
	}
	if out != nil && resp.StatusCode < 300 {
		if err := json.Unmarshal(b, out); err != nil {
			c.t.Fatalf("%s %s: %v: %s", method, path, err, b)
		}
	}
	return resp.StatusCode, b
}

func (c apiClient) mustCreate(path string, body any, out any) {
	c.t.Helper()
	if status, b := c.call("POST", path, body, out); status != http.StatusCreated {
		c.t.Fatalf("POST %s = %d %s", path, status, b)
	}
}

type catalog struct {
	productID, policyID, customerID, licenseID, key string
}

func seedCatalog(t *testing.T, admin apiClient, seats int) catalog {
	t.Helper()
	var prod, pol, cus struct{ ID string }
	var lic struct{ ID, Key string }
	admin.mustCreate("/v1/products", map[string]any{"code": "studio", "name": "Studio"}, &prod)
	for _, code := range []string{"export", "sync"} {
		admin.mustCreate("/v1/entitlements", map[string]any{"code": code, "name": code}, nil)
	}
	admin.mustCreate("/v1/policies", map[string]any{"product_id": prod.ID, "name": "Pro", "floating": true, "max_machines": seats,
		"lease_ttl_seconds": 3600, "duration_seconds": 365 * 86400, "entitlements": []string{"export", "sync"}}, &pol)
	admin.mustCreate("/v1/customers", map[string]any{"name": "Acme", "email": "it@acme.test"}, &cus)
	admin.mustCreate("/v1/licenses", map[string]any{"policy_id": pol.ID, "customer_id": cus.ID}, &lic)
	if !strings.HasPrefix(lic.Key, "NZL-") {
		t.Fatalf("license key %q", lic.Key)
	}
	return catalog{prod.ID, pol.ID, cus.ID, lic.ID, lic.Key}
}

func apiCode(err error) string {
	var e *verifier.APIError
	if errors.As(err, &e) {
		return e.Code()
	}
	return fmt.Sprint(err)
}

// The whole journey of a license through the real server and the SDK.
func TestEndToEnd(t *testing.T) {
	t.Parallel()
	for _, d := range storagetest.Dialects {
		t.Run(d, func(t *testing.T) {
			t.Parallel()
			app := startApp(t, d)
			ctx := context.Background()
			admin := apiClient{t, app.URL(), adminToken}
			cat := seedCatalog(t, admin, 2)

			sdk := &verifier.Client{BaseURL: app.URL()}
			fp := verifier.FingerprintFrom("studio", "machine-1")
			req := verifier.MachineRequest{LicenseKey: cat.key, Fingerprint: fp, Hostname: "pc-1", Platform: "linux/amd64"}
			act, err := sdk.Activate(ctx, req)
			if err != nil {
				t.Fatal(err)
			}
			jwks, err := sdk.JWKS(ctx)
			if err != nil {
				t.Fatal(err)
			}
			v, err := verifier.New(verifier.Config{Keys: jwks, Product: cat.productID, Fingerprint: fp})
			if err != nil {
				t.Fatal(err)
			}
			lease, err := v.Verify(act.Lease) // offline from here
			if err != nil {
				t.Fatal(err)
			}
			if lease.Claims.License != cat.licenseID || lease.Claims.Machine != act.MachineID || !lease.HasEntitlement("sync") {
				t.Errorf("lease claims %+v", lease.Claims)
			}
			if ttl := lease.ExpiresAt().Sub(lease.IssuedAt()); ttl != time.Hour {
				t.Errorf("lease TTL %v, want the policy's 1h", ttl)
			}
			// Another machine of the same app must not accept this lease.
			v2, _ := verifier.New(verifier.Config{Keys: jwks, Product: cat.productID, Fingerprint: verifier.FingerprintFrom("studio", "machine-2")})
			if _, err := v2.Verify(act.Lease); !errors.Is(err, verifier.ErrFingerprintMismatch) {
				t.Errorf("other machine: %v", err)
			}

			ren, err := sdk.Renew(ctx, req)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := v.Verify(ren.Lease); err != nil {
				t.Fatal(err)
			}
			if _, err := sdk.Heartbeat(ctx, req); err != nil {
				t.Fatal(err)
			}

			// Suspend: no renewal, but the lease already issued verifies until it ends.
			if status, b := admin.call("POST", "/v1/licenses/"+cat.licenseID+"/actions/suspend", map[string]string{"reason": "unpaid"}, nil); status != 200 {
				t.Fatalf("suspend = %d %s", status, b)
			}
			if _, err := sdk.Renew(ctx, req); apiCode(err) != "license_suspended" {
				t.Fatalf("renew while suspended: %v", err)
			}
			if _, err := v.Verify(ren.Lease); err != nil {
				t.Errorf("issued lease stopped verifying before its end: %v", err)
			}
			late, _ := verifier.New(verifier.Config{Keys: jwks, Product: cat.productID, Fingerprint: fp,
				Clock: func() time.Time { return ren.LeaseExpiresAt.Add(time.Minute) }})
			if _, err := late.Verify(ren.Lease); !errors.Is(err, verifier.ErrExpired) {
				t.Errorf("after its end: %v", err)
			}
			val, err := sdk.Validate(ctx, req)
			if err != nil || val.Valid || val.Code != verifier.ValidationSuspended {
				t.Errorf("validate = %+v, %v", val, err)
			}

			if status, b := admin.call("POST", "/v1/licenses/"+cat.licenseID+"/actions/reinstate", map[string]string{"reason": "paid"}, nil); status != 200 {
				t.Fatalf("reinstate = %d %s", status, b)
			}
			if _, err := sdk.Renew(ctx, req); err != nil {
				t.Fatal(err)
			}

			// Deactivate frees the seat.
			if err := sdk.Deactivate(ctx, req); err != nil {
				t.Fatal(err)
			}
			if _, err := sdk.Renew(ctx, req); apiCode(err) != "machine_not_activated" {
				t.Fatalf("renew after deactivate: %v", err)
			}
			var machines struct{ Data []any }
			admin.call("GET", "/v1/licenses/"+cat.licenseID+"/machines", nil, &machines)
			if len(machines.Data) != 0 {
				t.Errorf("%d machines left", len(machines.Data))
			}
		})
	}
}

// A lease verifies with a second, independent JOSE implementation given
// only the JWKS document.
func TestLeaseVerifiesWithGolangJWT(t *testing.T) {
	t.Parallel()
	app := startApp(t, "sqlite")
	admin := apiClient{t, app.URL(), adminToken}
	cat := seedCatalog(t, admin, 1)
	res, err := (&verifier.Client{BaseURL: app.URL()}).Activate(context.Background(),
		verifier.MachineRequest{LicenseKey: cat.key, Fingerprint: "fingerprint-0001"})
	if err != nil {
		t.Fatal(err)
	}
	_, jwksBody := apiClient{t, app.URL(), ""}.raw("GET", "/.well-known/jwks.json", "", nil, nil)
	var set jose.JSONWebKeySet // only to read the JWKS; verification below is golang-jwt's
	if err := json.Unmarshal(jwksBody, &set); err != nil || len(set.Keys) != 1 {
		t.Fatalf("jwks %s: %v", jwksBody, err)
	}
	pub := set.Keys[0].Key.(ed25519.PublicKey)
	var claims jwt.MapClaims
	tok, err := jwt.ParseWithClaims(res.Lease, &claims, func(tok *jwt.Token) (any, error) {
		if tok.Header["kid"] != set.Keys[0].KeyID || tok.Header["typ"] != verifier.LeaseType {
			return nil, fmt.Errorf("header %v", tok.Header)
		}
		return pub, nil
	}, jwt.WithValidMethods([]string{"EdDSA"}), jwt.WithAudience(cat.productID), jwt.WithExpirationRequired(), jwt.WithIssuer("narcidi"))
	if err != nil || !tok.Valid {
		t.Fatalf("golang-jwt: %v", err)
	}
	if claims["fingerprint"] != "fingerprint-0001" || claims["license"] != cat.licenseID {
		t.Errorf("claims %v", claims)
	}
}

// Bad input gets a 4xx problem with a stable code, and changes nothing.
func TestBadInput(t *testing.T) {
	t.Parallel()
	app := startApp(t, "sqlite")
	admin := apiClient{t, app.URL(), adminToken}
	cat := seedCatalog(t, admin, 1)
	anon := apiClient{t, app.URL(), ""}
	big := `{"name":"` + strings.Repeat("x", 100<<10) + `"}`
	cases := []struct {
		name        string
		c           apiClient
		method      string
		path        string
		contentType string
		body        string
		status      int
		code        string
	}{
		{"malformed json", admin, "POST", "/v1/products", "application/json", `{"code":`, 400, "malformed"},
		{"two json values", admin, "POST", "/v1/products", "application/json", `{"code":"a","name":"b"} {}`, 400, "malformed"},
		{"empty body", admin, "POST", "/v1/customers", "application/json", ``, 400, "malformed"},
		{"unknown field", admin, "POST", "/v1/customers", "application/json", `{"name":"x","admin":true}`, 422, "invalid"},
		{"wrong type", admin, "POST", "/v1/policies", "application/json", `{"product_id":"` + cat.productID + `","name":"x","max_machines":"5"}`, 422, "invalid"},
		{"wrong content type", admin, "POST", "/v1/products", "text/plain", `{"code":"a","name":"b"}`, 415, "unsupported_media_type"},
		{"oversized body", admin, "POST", "/v1/customers", "application/json", big, 413, "too_large"},
		{"invalid value", admin, "POST", "/v1/policies", "application/json", `{"product_id":"` + cat.productID + `","name":"x","lease_ttl_seconds":1}`, 422, "invalid"},
		{"unknown route", admin, "GET", "/v1/nothing", "", "", 404, "not_found"},
		{"unknown id", admin, "GET", "/v1/licenses/0190a8e8-0000-7000-8000-000000000000", "", "", 404, "not_found"},
		{"bad limit", admin, "GET", "/v1/licenses?limit=5000", "", "", 422, "invalid"},
		{"no token", anon, "GET", "/v1/licenses", "", "", 401, "unauthorized"},
		{"wrong token", apiClient{t, app.URL(), "nzt_forged"}, "GET", "/v1/licenses", "", "", 401, "unauthorized"},
		{"suspend twice? reinstate active", admin, "POST", "/v1/licenses/" + cat.licenseID + "/actions/reinstate", "application/json", `{}`, 409, "conflict"},
		{"unknown license key", anon, "POST", "/v1/client/activate", "application/json", `{"license_key":"NZL-AAAAAA-BBBBBB-CCCCCC","fingerprint":"fingerprint-1"}`, 404, "not_found"},
		{"activate malformed", anon, "POST", "/v1/client/activate", "application/json", `{"license_key":`, 400, "malformed"},
		{"activate unknown field", anon, "POST", "/v1/client/activate", "application/json", `{"license_key":"` + cat.key + `","fingerprint":"fingerprint-1","seats":99}`, 422, "invalid"},
		{"activate no fingerprint", anon, "POST", "/v1/client/activate", "application/json", `{"license_key":"` + cat.key + `"}`, 422, "invalid"},
		{"activate wrong content type", anon, "POST", "/v1/client/activate", "application/x-www-form-urlencoded", `license_key=x`, 415, "unsupported_media_type"},
		{"activate oversized", anon, "POST", "/v1/client/activate", "application/json", big, 413, "too_large"},
		{"renew not activated", anon, "POST", "/v1/client/renew", "application/json", `{"license_key":"` + cat.key + `","fingerprint":"fingerprint-1"}`, 404, "machine_not_activated"},
	}
	countRows := func() string {
		var out []string
		for _, p := range []string{"/v1/products", "/v1/policies", "/v1/customers", "/v1/licenses", "/v1/licenses/" + cat.licenseID + "/machines"} {
			var l struct{ Data []json.RawMessage }
			admin.call("GET", p, nil, &l)
			out = append(out, fmt.Sprint(len(l.Data)))
		}
		return strings.Join(out, ",")
	}
	before := countRows()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.c.t = t
			var body io.Reader
			if tc.method == "POST" {
				body = strings.NewReader(tc.body)
			}
			status, b := tc.c.raw(tc.method, tc.path, tc.contentType, body, nil)
			var p verifier.Problem
			_ = json.Unmarshal(b, &p)
			if status != tc.status || p.Code != tc.code || p.Status != tc.status || p.RequestID == "" {
				t.Errorf("got %d %s, want %d %s", status, b, tc.status, tc.code)
			}
		})
	}
	if after := countRows(); after != before {
		t.Errorf("refused requests changed state: rows %s → %s", before, after)
	}
}

func TestReadOnlyCannotWrite(t *testing.T) {
	t.Parallel()
	app := startApp(t, "sqlite")
	// A read-only token, made directly in the store as the full admin API
	// that issues tokens is not here yet.
	ctx := context.Background()
	secret := "nzt_readonly_" + strings.Repeat("r", 32)
	if err := app.store.CreateAPIToken(ctx, readOnlyToken(secret)); err != nil {
		t.Fatal(err)
	}
	ro := apiClient{t, app.URL(), secret}
	if status, _ := ro.call("GET", "/v1/products", nil, nil); status != 200 {
		t.Errorf("read-only GET = %d", status)
	}
	if status, b := ro.call("POST", "/v1/products", map[string]string{"code": "x", "name": "x"}, nil); status != 403 || !strings.Contains(string(b), `"forbidden"`) {
		t.Errorf("read-only POST = %d %s", status, b)
	}
}

// A database that goes away: the server answers 503 problem+json with
// Retry-After, never a 500, and recovers when it is back.
func TestDatabaseGoesAway(t *testing.T) {
	t.Parallel()
	dbURL := storagetest.PostgresURL(t)
	proxy := storagetest.NewProxy(t, "127.0.0.1:5432")
	app := startAppWith(t, map[string]string{"NARCIDI_DATABASE_URL": proxy.URL(dbURL), "NARCIDI_MASTER_KEY": testMasterKey})
	admin := apiClient{t, app.URL(), adminToken}
	cat := seedCatalog(t, admin, 1)
	anon := apiClient{t, app.URL(), ""}
	if status, _ := anon.call("GET", "/readyz", nil, nil); status != 200 {
		t.Fatalf("readyz = %d", status)
	}
	proxy.Cut()
	activate := verifier.MachineRequest{LicenseKey: cat.key, Fingerprint: "fingerprint-1"}
	for _, tc := range []struct {
		method, path string
		body         any
	}{{"GET", "/readyz", nil}, {"POST", "/v1/client/activate", activate}, {"GET", "/v1/licenses", nil}, {"POST", "/v1/client/renew", activate}} {
		c := anon
		if tc.path == "/v1/licenses" {
			c = admin
		}
		// The first call on a cut pooled connection and later calls on new ones.
		for range 2 {
			status, b := c.call(tc.method, tc.path, tc.body, nil)
			if status != 503 || !strings.Contains(string(b), `"unavailable"`) {
				t.Errorf("%s %s with the database down = %d %s", tc.method, tc.path, status, b)
			}
		}
	}
	proxy.Restore()
	if status, b := anon.call("POST", "/v1/client/activate", activate, nil); status != 201 {
		t.Errorf("activate after recovery = %d %s", status, b)
	}
}

func TestBootstrapTokenPrintedOnce(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	env := map[string]string{"NARCIDI_ADDR": "127.0.0.1:0", "NARCIDI_DATA_DIR": dir, "NARCIDI_LOG_LEVEL": "error"}
	start := func() string {
		cfg, _, err := loadConfig("serve", nil, func(k string) string { return env[k] })
		if err != nil {
			t.Fatal(err)
		}
		var out bytes.Buffer
		log, _ := cfg.Logger(io.Discard)
		app := &App{Config: cfg, Out: &out, Log: log}
		if err := app.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		if err := app.Close(); err != nil {
			t.Fatal(err)
		}
		return out.String()
	}
	first := start()
	i := strings.Index(first, "bootstrap admin token")
	if !strings.Contains(first, "narcidi listening on http://127.0.0.1:") || i < 0 {
		t.Fatalf("first start printed:\n%s", first)
	}
	token := strings.TrimSpace(first[strings.LastIndex(first, ": ")+2:])
	if second := start(); strings.Contains(second, "token") {
		t.Errorf("second start printed a token again:\n%s", second)
	}
	// The printed token works.
	app := startAppWith(t, map[string]string{"NARCIDI_DATA_DIR": dir, "NARCIDI_ADMIN_TOKEN": ""})
	if status, b := (apiClient{t, app.URL(), token}).call("GET", "/v1/products", nil, nil); status != 200 {
		t.Errorf("printed token: %d %s", status, b)
	}
}

func readOnlyToken(secret string) *licensing.APIToken {
	return &licensing.APIToken{Name: "ro", Role: licensing.RoleReadOnly, Hash: licensing.SecretHash(secret), CreatedAt: time.Now()}
}
