package api

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/nzilacode/narcidicontrole/keys"
	"github.com/nzilacode/narcidicontrole/keys/keystest"
	"github.com/nzilacode/narcidicontrole/licensing"
	"github.com/nzilacode/narcidicontrole/licensing/users"
	"github.com/nzilacode/narcidicontrole/storage"
	"github.com/nzilacode/narcidicontrole/storage/storagetest"
	verifier "github.com/nzilacode/narcidicontrole/verifier-sdk"
)

// testAPI is a Server on a real store of one dialect, with an admin token.
type testAPI struct {
	t     *testing.T
	srv   *Server
	svc   *licensing.Services
	admin string
}

func newTestAPI(t *testing.T, dialect string, cfg Config) *testAPI {
	t.Helper()
	st := storagetest.Open(t, dialect)
	signer, _ := keystest.Keyring(t, time.Now)
	svc := licensing.NewServices(storage.Stores(st), licensing.Deps{Signer: signer, Issuer: "https://narcidi.test"})
	secret := licensing.NewAPITokenSecret()
	if _, err := svc.Access.BootstrapAdminToken(context.Background(), secret); err != nil {
		t.Fatal(err)
	}
	cfg.Services = svc
	if cfg.Users == nil {
		box, err := keys.NewSecretBox(bytes.Repeat([]byte{7}, 32), keys.BoxConsoleTOTP)
		if err != nil {
			t.Fatal(err)
		}
		if cfg.Users, err = users.NewService(users.Config{Store: st.Users(), Box: box}); err != nil {
			t.Fatal(err)
		}
	}
	if cfg.Health == nil {
		cfg.Health = st
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return &testAPI{t: t, srv: New(cfg), svc: svc, admin: secret}
}

// do sends a request (body as JSON unless it is a string) and returns the
// answer with its body read.
func (a *testAPI) do(method, path string, body any, header ...string) (*http.Response, []byte) {
	a.t.Helper()
	var r io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		r = bytes.NewBufferString(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			a.t.Fatal(err)
		}
		r = bytes.NewReader(raw)
	}
	req := httptest.NewRequest(method, path, r)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Authorization", "Bearer "+a.admin)
	for i := 0; i+1 < len(header); i += 2 {
		if header[i+1] == "" {
			req.Header.Del(header[i])
		} else {
			req.Header.Set(header[i], header[i+1])
		}
	}
	res, err := a.srv.App().Test(req, -1)
	if err != nil {
		a.t.Fatal(err)
	}
	out, _ := io.ReadAll(res.Body)
	_ = res.Body.Close()
	return res, out
}

// must is do that fails the test unless the answer has status want, and
// decodes the answer into out (if not nil).
func (a *testAPI) must(want int, method, path string, body, out any) {
	a.t.Helper()
	res, raw := a.do(method, path, body)
	if res.StatusCode != want {
		a.t.Fatalf("%s %s: status %d, want %d: %s", method, path, res.StatusCode, want, raw)
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			a.t.Fatalf("%s %s: %v: %s", method, path, err, raw)
		}
	}
}

// problemOf decodes a problem+json answer, failing the test if it is not one.
func problemOf(t *testing.T, res *http.Response, raw []byte) verifier.Problem {
	t.Helper()
	if ct := res.Header.Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("Content-Type = %q, want application/problem+json (status %d: %s)", ct, res.StatusCode, raw)
	}
	var p verifier.Problem
	if err := json.Unmarshal(raw, &p); err != nil {
		t.Fatalf("problem: %v: %s", err, raw)
	}
	return p
}

// fixture is a product, a policy, a customer and a license.
type fixture struct {
	product  licensing.Product
	policy   licensing.Policy
	customer licensing.Customer
	license  licensing.CreatedLicense
}

func (a *testAPI) fixture(maxMachines int) fixture {
	a.t.Helper()
	var f fixture
	a.must(201, "POST", "/v1/products", licensing.ProductInput{Code: "studio", Name: "Studio"}, &f.product)
	a.must(201, "POST", "/v1/policies", licensing.PolicyInput{ProductID: f.product.ID, Name: "Pro", MaxMachines: maxMachines, Floating: maxMachines > 1, LeaseTTLSeconds: 3600}, &f.policy)
	a.must(201, "POST", "/v1/customers", licensing.CustomerInput{Name: "Acme", Email: "it@acme.test"}, &f.customer)
	a.must(201, "POST", "/v1/licenses", licensing.LicenseInput{PolicyID: f.policy.ID, CustomerID: f.customer.ID}, &f.license)
	return f
}

func discardLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func readAll(t *testing.T, res *http.Response) []byte {
	t.Helper()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	_ = res.Body.Close()
	return raw
}
