package apiclient_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/nzilacode/narcidicontrole/api/apiclient"
	"github.com/nzilacode/narcidicontrole/licensing"
)

// request is what the test server saw.
type request struct {
	method, uri, body string
	header            http.Header
}

// recorder answers every request with status and body and records it.
func recorder(t *testing.T, status int, contentType, body string) (*apiclient.Client, *[]request) {
	t.Helper()
	var seen []request
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		seen = append(seen, request{r.Method, r.URL.RequestURI(), string(b), r.Header.Clone()})
		w.Header().Set("Content-Type", contentType)
		w.Header().Set("X-Request-ID", "rid-header")
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	}))
	t.Cleanup(srv.Close)
	c, err := apiclient.New(srv.URL+"/", "tok")
	if err != nil {
		t.Fatal(err)
	}
	return c, &seen
}

// Each method sends the route, query and body the API documents.
func TestRequests(t *testing.T) {
	ctx := context.Background()
	until := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	cases := []struct {
		name           string
		call           func(c *apiclient.Client) error
		method, uri    string
		body           string // JSON, compared as a value; "" for none
		idempotencyKey bool
	}{
		{"list licenses", func(c *apiclient.Client) error {
			_, err := c.ListLicenses(ctx, licensing.LicenseFilter{CustomerID: "c 1", Status: licensing.LicenseStatus("active"), ExpiresBefore: &until}, licensing.Page{After: "x", Limit: 5})
			return err
		}, "GET", "/v1/licenses?cursor=x&customer_id=c+1&expires_before=2030-01-02T03%3A04%3A05Z&limit=5&status=active", "", false},
		{"get license", func(c *apiclient.Client) error { _, err := c.GetLicense(ctx, "a/b"); return err }, "GET", "/v1/licenses/a%2Fb", "", false},
		{"create license", func(c *apiclient.Client) error {
			_, err := c.CreateLicense(ctx, licensing.LicenseInput{PolicyID: "p", CustomerID: "c", ExpiresAt: &until})
			return err
		}, "POST", "/v1/licenses", `{"policy_id":"p","customer_id":"c","expires_at":"2030-01-02T03:04:05Z"}`, true},
		{"extend", func(c *apiclient.Client) error {
			_, err := c.ExtendLicense(ctx, "l1", licensing.ExtendInput{DurationSeconds: 60, Reason: "r"})
			return err
		}, "POST", "/v1/licenses/l1/actions/extend", `{"duration_seconds":60,"reason":"r"}`, false},
		{"suspend", func(c *apiclient.Client) error { _, err := c.SuspendLicense(ctx, "l1", ""); return err }, "POST", "/v1/licenses/l1/actions/suspend", `{}`, false},
		{"transfer", func(c *apiclient.Client) error { _, err := c.TransferLicense(ctx, "l1", "c2", "why"); return err },
			"POST", "/v1/licenses/l1/actions/transfer", `{"customer_id":"c2","reason":"why"}`, false},
		{"change policy", func(c *apiclient.Client) error { _, err := c.ChangePolicy(ctx, "l1", "p2", ""); return err },
			"POST", "/v1/licenses/l1/actions/change-policy", `{"policy_id":"p2"}`, false},
		{"list machines", func(c *apiclient.Client) error {
			_, err := c.ListMachines(ctx, licensing.MachineFilter{LicenseID: "l1"}, licensing.Page{})
			return err
		}, "GET", "/v1/machines?license_id=l1", "", false},
		{"deactivate", func(c *apiclient.Client) error { return c.DeactivateMachine(ctx, "m1") }, "DELETE", "/v1/machines/m1", "", false},
		{"unblock", func(c *apiclient.Client) error { return c.UnblockMachine(ctx, "m1", "ok") }, "POST", "/v1/machines/m1/actions/unblock", `{"reason":"ok"}`, false},
		{"create customer", func(c *apiclient.Client) error {
			_, err := c.CreateCustomer(ctx, licensing.CustomerInput{Name: "Acme", Email: "a@b.c"}, apiclient.IdempotencyKey("k1"))
			return err
		}, "POST", "/v1/customers", `{"name":"Acme","email":"a@b.c"}`, true},
		{"create token", func(c *apiclient.Client) error {
			_, err := c.CreateToken(ctx, licensing.TokenInput{Name: "ci", Role: licensing.Role("admin")})
			return err
		}, "POST", "/v1/tokens", `{"name":"ci","role":"admin"}`, true},
		{"revoke token", func(c *apiclient.Client) error { return c.RevokeToken(ctx, "t1") }, "DELETE", "/v1/tokens/t1", "", false},
		{"list policies", func(c *apiclient.Client) error {
			_, err := c.ListPolicies(ctx, licensing.PolicyFilter{ProductID: "p"}, licensing.Page{Limit: 2})
			return err
		}, "GET", "/v1/policies?limit=2&product_id=p", "", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, seen := recorder(t, 200, "application/json", `{}`)
			if err := tc.call(c); err != nil {
				t.Fatal(err)
			}
			r := (*seen)[0]
			if r.method != tc.method || r.uri != tc.uri {
				t.Errorf("sent %s %s, want %s %s", r.method, r.uri, tc.method, tc.uri)
			}
			if tc.body == "" && r.body != "" || tc.body != "" && !sameJSON(r.body, tc.body) {
				t.Errorf("body %s, want %s", r.body, tc.body)
			}
			if got := r.header.Get("Idempotency-Key"); (got != "") != tc.idempotencyKey {
				t.Errorf("Idempotency-Key %q", got)
			}
			if r.header.Get("Authorization") != "Bearer tok" {
				t.Errorf("Authorization %q", r.header.Get("Authorization"))
			}
			if ct := r.header.Get("Content-Type"); (ct == "application/json") != (tc.body != "") {
				t.Errorf("Content-Type %q", ct)
			}
		})
	}
}

func sameJSON(a, b string) bool {
	var x, y any
	if json.Unmarshal([]byte(a), &x) != nil || json.Unmarshal([]byte(b), &y) != nil {
		return false
	}
	xa, _ := json.Marshal(x)
	ya, _ := json.Marshal(y)
	return string(xa) == string(ya)
}

// Error answers come back as the domain's codes.
func TestErrors(t *testing.T) {
	cases := []struct {
		name, contentType, body string
		status                  int
		code                    licensing.Code
		text                    string
	}{
		{"problem", "application/problem+json", `{"status":404,"title":"Not Found","detail":"license not found","code":"not_found","request_id":"r1"}`,
			404, licensing.ENotFound, "404 not_found: license not found (request r1)"},
		{"problem without id or detail", "application/problem+json", `{"status":409,"title":"Conflict","code":"conflict"}`,
			409, licensing.EConflict, "409 conflict: Conflict (request rid-header)"},
		{"control characters", "application/problem+json", `{"status":422,"detail":"bad\u001b[31m","code":"invalid","request_id":"r"}`,
			422, licensing.EInvalid, "422 invalid: bad [31m (request r)"},
		{"not a problem", "text/plain", "bad gateway\n", 502, "", "502: bad gateway"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, _ := recorder(t, tc.status, tc.contentType, tc.body)
			_, err := c.GetLicense(context.Background(), "x")
			var ae *apiclient.Error
			if !errors.As(err, &ae) || ae.Status != tc.status || err.Error() != tc.text {
				t.Fatalf("got %v, want %q", err, tc.text)
			}
			var le *licensing.Error
			if tc.code == "" {
				if errors.As(err, &le) {
					t.Errorf("a non-problem answer has a domain error: %v", le)
				}
				return
			}
			if !errors.As(err, &le) || le.Code != tc.code {
				t.Errorf("domain error %v, want code %s", le, tc.code)
			}
		})
	}
}

func TestNewChecks(t *testing.T) {
	for _, tc := range []struct{ url, token, want string }{
		{"", "t", "no base URL"},
		{"127.0.0.1:8080", "t", "not an http(s) URL"},
		{"http://h", "", "no API token"},
	} {
		if _, err := apiclient.New(tc.url, tc.token); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("New(%q, %q) = %v, want %q", tc.url, tc.token, err, tc.want)
		}
	}
	if _, err := apiclient.New("http://h", "t"); err != nil {
		t.Error(err)
	}
	// An empty id never reaches the server.
	c, seen := recorder(t, 200, "application/json", "{}")
	if _, err := c.GetLicense(context.Background(), ""); licensing.ErrorCode(err) != licensing.EInvalid || len(*seen) != 0 {
		t.Errorf("empty id: %v, %d requests", err, len(*seen))
	}
}
