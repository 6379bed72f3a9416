package api

import (
	"bytes"
	"go/ast"
	"go/parser"
	"go/token"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/gofiber/fiber/v2"
	"github.com/nzilacode/narcidicontrole/licensing"
	"github.com/nzilacode/narcidicontrole/storage/storagetest"
	verifier "github.com/nzilacode/narcidicontrole/verifier-sdk"
)

// codeConstants reads every E* constant of type Code from the source of
// licensing/errors.go, so a code added there without being added to
// licensing.Codes fails TestCodesListsEveryConstant.
func codeConstants(t *testing.T) map[string]licensing.Code {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), "../licensing/errors.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]licensing.Code{}
	for _, d := range f.Decls {
		g, ok := d.(*ast.GenDecl)
		if !ok || g.Tok != token.CONST {
			continue
		}
		for _, spec := range g.Specs {
			vs := spec.(*ast.ValueSpec)
			if id, ok := vs.Type.(*ast.Ident); !ok || id.Name != "Code" {
				continue
			}
			for i, name := range vs.Names {
				lit, ok := vs.Values[i].(*ast.BasicLit)
				if !ok || lit.Kind != token.STRING {
					t.Fatalf("%s: not a string literal", name.Name)
				}
				v, _ := strconv.Unquote(lit.Value)
				out[name.Name] = licensing.Code(v)
			}
		}
	}
	if len(out) == 0 {
		t.Fatal("no Code constants found in licensing/errors.go")
	}
	return out
}

func TestCodesListsEveryConstant(t *testing.T) {
	consts := codeConstants(t)
	for name, c := range consts {
		if !slices.Contains(licensing.Codes, c) {
			t.Errorf("%s (%q) is missing from licensing.Codes", name, c)
		}
	}
	seen := map[licensing.Code]bool{}
	for _, c := range licensing.Codes {
		if seen[c] {
			t.Errorf("%q is twice in licensing.Codes", c)
		}
		seen[c] = true
	}
	if len(licensing.Codes) != len(consts) {
		t.Errorf("licensing.Codes has %d codes, errors.go declares %d", len(licensing.Codes), len(consts))
	}
}

// TestStatusTableCoversVocabulary walks the whole vocabulary through the
// error handler: each code answers its deliberate status as problem+json,
// only EInternal answers 500, and every "come back later" says when.
func TestStatusTableCoversVocabulary(t *testing.T) {
	app := fiber.New(fiber.Config{ErrorHandler: errorHandler(discardLogger())})
	app.Get("/:code", func(c *fiber.Ctx) error {
		return licensing.Errorf(licensing.Code(c.Params("code")), "test")
	})
	for _, code := range licensing.Codes {
		t.Run(string(code), func(t *testing.T) {
			want, ok := statusOf[code]
			if !ok {
				t.Fatalf("%q has no entry in statusOf", code)
			}
			if want < 400 || want > 599 || http.StatusText(want) == "" {
				t.Fatalf("%q maps to %d, not an error status", code, want)
			}
			if (want == http.StatusInternalServerError) != (code == licensing.EInternal) {
				t.Fatalf("%q maps to %d: only internal may answer 500", code, want)
			}
			res, err := app.Test(httptest.NewRequest("GET", "/"+string(code), nil), -1)
			if err != nil {
				t.Fatal(err)
			}
			raw := readAll(t, res)
			if res.StatusCode != want {
				t.Fatalf("status %d, want %d", res.StatusCode, want)
			}
			p := problemOf(t, res, raw)
			if p.Code != string(code) || p.Status != want {
				t.Errorf("problem = %+v", p)
			}
			if (want == 503 || want == 429) && res.Header.Get("Retry-After") == "" {
				t.Errorf("%d without Retry-After", want)
			}
		})
	}
}

// TestBlockedMachineIsForbidden: every client call of a blocked machine
// answers 403 machine_blocked (it answered 500).
func TestBlockedMachineIsForbidden(t *testing.T) {
	for _, dialect := range storagetest.Dialects {
		t.Run(dialect, func(t *testing.T) {
			a := newTestAPI(t, dialect, Config{})
			f := a.fixture(2)
			req := verifier.MachineRequest{LicenseKey: f.license.Key, Fingerprint: "fingerprint-0001"}
			var lease verifier.LeaseResponse
			a.must(201, "POST", "/v1/client/activate", req, &lease)
			a.must(200, "POST", "/v1/machines/"+lease.MachineID+"/actions/block", licensing.ReasonInput{Reason: "stolen"}, nil)
			for _, op := range []string{"activate", "renew", "heartbeat", "deactivate"} {
				res, raw := a.do("POST", "/v1/client/"+op, req)
				p := problemOf(t, res, raw)
				if res.StatusCode != http.StatusForbidden || p.Code != string(licensing.EMachineBlocked) {
					t.Errorf("%s: %d %s, want 403 machine_blocked", op, res.StatusCode, p.Code)
				}
			}
		})
	}
}

// The OpenAPI document lists the whole vocabulary as the problem's codes.
func TestOpenAPIListsEveryCode(t *testing.T) {
	sch := problemSchema()
	enum := sch["properties"].(map[string]any)["code"].(map[string]any)["enum"]
	if got, ok := enum.([]licensing.Code); !ok || !slices.Equal(got, licensing.Codes) {
		t.Errorf("problem code enum = %v", enum)
	}
	if !bytes.Contains(buildOpenAPI(), []byte(`"machine_blocked"`)) {
		t.Error("the document does not list machine_blocked")
	}
}

// An error about one field names it in invalid_params (RFC 9457 section 3),
// so clients need not read the message; errors about no field, and server
// faults, carry none.
func TestProblemNamesTheField(t *testing.T) {
	app := fiber.New(fiber.Config{ErrorHandler: errorHandler(discardLogger())})
	app.Get("/field", func(c *fiber.Ctx) error {
		return licensing.FieldErrorf("seats", "seats must be at least 1")
	})
	app.Get("/plain", func(c *fiber.Ctx) error { return licensing.Errorf(licensing.EInvalid, "bad") })
	app.Get("/internal", func(c *fiber.Ctx) error {
		return &licensing.Error{Code: licensing.EInternal, Message: "x", Field: "seats"}
	})
	for path, want := range map[string][]verifier.InvalidParam{
		"/field":    {{Name: "seats", Reason: "seats must be at least 1"}},
		"/plain":    nil,
		"/internal": nil,
	} {
		res, err := app.Test(httptest.NewRequest("GET", path, nil), -1)
		if err != nil {
			t.Fatal(err)
		}
		raw := readAll(t, res)
		p := problemOf(t, res, raw)
		if !slices.Equal(p.InvalidParams, want) {
			t.Errorf("%s: invalid_params = %+v, want %+v (%s)", path, p.InvalidParams, want, raw)
		}
		if want == nil && bytes.Contains(raw, []byte("invalid_params")) {
			t.Errorf("%s: empty invalid_params sent: %s", path, raw)
		}
	}
}

// TestRefusalsNameTheField: the service's refusals about one input carry
// it in invalid_params, in the request's JSON names, whatever the code
// (a missing reference is not_found, a duplicate key a conflict).
func TestRefusalsNameTheField(t *testing.T) {
	a := newTestAPI(t, storagetest.Dialects[0], Config{})
	f := a.fixture(1)
	key := "Kx7-Qw9-Zr2-Pm4-Ld8-Vn3"
	a.must(201, "POST", "/v1/licenses", map[string]any{"policy_id": f.policy.ID, "customer_id": f.customer.ID, "key": key}, nil)
	for _, tc := range []struct {
		name, path string
		body       any
		status     int
		field      string
	}{
		{"policy without product", "/v1/policies", map[string]any{"name": "P"}, 422, "product_id"},
		{"policy of no product", "/v1/policies", map[string]any{"product_id": "nope", "name": "P"}, 404, "product_id"},
		{"policy lease", "/v1/policies", map[string]any{"product_id": f.product.ID, "name": "P", "lease_ttl_seconds": 10}, 422, "lease_ttl_seconds"},
		{"policy notice days", "/v1/policies", map[string]any{"product_id": f.product.ID, "name": "P", "expiry_notice_days": []int{0}}, 422, "expiry_notice_days"},
		{"policy dunning", "/v1/policies", map[string]any{"product_id": f.product.ID, "name": "P", "metadata": map[string]string{licensing.MetaDunningDays: "999"}}, 422, "metadata." + licensing.MetaDunningDays},
		{"product name", "/v1/products", map[string]any{"code": "x"}, 422, "name"},
		{"license of no policy", "/v1/licenses", map[string]any{"policy_id": "nope", "customer_id": f.customer.ID}, 404, "policy_id"},
		{"license of no customer", "/v1/licenses", map[string]any{"policy_id": f.policy.ID, "customer_id": "nope"}, 404, "customer_id"},
		{"license key taken", "/v1/licenses", map[string]any{"policy_id": f.policy.ID, "customer_id": f.customer.ID, "key": key}, 409, "key"},
		{"license entitlement", "/v1/licenses", map[string]any{"policy_id": f.policy.ID, "customer_id": f.customer.ID, "entitlements": []string{"unknown"}}, 422, "entitlements"},
		{"contact email", "/v1/customers", map[string]any{"name": "C", "contacts": []map[string]string{{"email": "x@y.test"}, {"email": "nope"}}}, 422, "contacts.1.email"},
		{"customer permission", "/v1/customers", map[string]any{"name": "C", "permissions": []string{"nope"}}, 422, "permissions"},
		{"transfer to the owner", "/v1/licenses/" + f.license.ID + "/actions/transfer", map[string]any{"customer_id": f.customer.ID, "reason": "r"}, 409, "customer_id"},
	} {
		res, raw := a.do("POST", tc.path, tc.body)
		p := problemOf(t, res, raw)
		if res.StatusCode != tc.status || len(p.InvalidParams) != 1 || p.InvalidParams[0].Name != tc.field {
			t.Errorf("%s: %d %+v, want %d naming %s (%s)", tc.name, res.StatusCode, p.InvalidParams, tc.status, tc.field, raw)
		}
	}
}

// TestInvalidParamsNameEveryInput: the strict reader names every unknown
// member of a body in invalid_params (dotted, reason "unknown field"),
// whether encoding/json or the strict walk saw it first, and the refusals
// of one input among several (a duplicate member, a machine's field, a
// query parameter) name that input.
func TestInvalidParamsNameEveryInput(t *testing.T) {
	a := newTestAPI(t, storagetest.Dialects[0], Config{})
	f := a.fixture(1)
	unknown := func(names ...string) []verifier.InvalidParam {
		var out []verifier.InvalidParam
		for _, n := range names {
			out = append(out, verifier.InvalidParam{Name: n, Reason: "unknown field"})
		}
		return out
	}
	machine := verifier.MachineRequest{LicenseKey: f.license.Key, Fingerprint: "fingerprint-0001"}
	tooLong := func(set func(*verifier.MachineRequest)) verifier.MachineRequest {
		m := machine
		set(&m)
		return m
	}
	for _, tc := range []struct {
		name, method, path string
		body               any
		want               []verifier.InvalidParam // nil: one param, named field
		field              string
	}{
		{"one unknown member", "POST", "/v1/products", `{"name":"P","code":"p","cod":"p"}`, unknown("cod"), ""},
		{"every unknown member", "POST", "/v1/products", `{"nme":"P","code":"p","colour":1}`, unknown("nme", "colour"), ""},
		{"nested unknown member", "POST", "/v1/customers", `{"name":"C","contacts":[{"email":"a@b.test"},{"mail":"x"}]}`, unknown("contacts.1.mail"), ""},
		{"case variant", "POST", "/v1/products", `{"Name":"P","code":"p"}`, unknown("Name"), ""},
		{"case variant and unknown", "POST", "/v1/products", `{"Name":"P","code":"p","x":{"y":1}}`, unknown("Name", "x"), ""},
		{"duplicate member", "POST", "/v1/products", `{"name":"P","code":"p","code":"q"}`, nil, "code"},
		{"NUL in a member", "POST", "/v1/customers", `{"name":"C","contacts":[{"email":"a\u0000"}]}`, nil, "contacts.0.email"},
		{"machine name", "POST", "/v1/client/activate", tooLong(func(m *verifier.MachineRequest) { m.Name = strings.Repeat("n", 201) }), nil, "name"},
		{"machine hostname", "POST", "/v1/client/activate", tooLong(func(m *verifier.MachineRequest) { m.Hostname = strings.Repeat("h", 256) }), nil, "hostname"},
		{"machine platform", "POST", "/v1/client/activate", tooLong(func(m *verifier.MachineRequest) { m.Platform = strings.Repeat("p", 101) }), nil, "platform"},
		{"machine app version", "POST", "/v1/client/activate", tooLong(func(m *verifier.MachineRequest) { m.AppVersion = strings.Repeat("v", 65) }), nil, "app_version"},
		{"page limit", "GET", "/v1/licenses?limit=0", nil, nil, "limit"},
		{"events since", "GET", "/v1/events?since=yesterday", nil, nil, "since"},
		{"delivery status", "GET", "/v1/deliveries?status=lost", nil, nil, "status"},
		{"history days", "GET", "/v1/dashboard/history?days=many", nil, nil, "days"},
	} {
		res, raw := a.do(tc.method, tc.path, tc.body)
		p := problemOf(t, res, raw)
		if res.StatusCode != 422 || p.Code != string(licensing.EInvalid) {
			t.Errorf("%s: %d %s, want 422 invalid", tc.name, res.StatusCode, raw)
			continue
		}
		if tc.want != nil {
			if !slices.Equal(p.InvalidParams, tc.want) {
				t.Errorf("%s: invalid_params %+v, want %+v", tc.name, p.InvalidParams, tc.want)
			}
			continue
		}
		if len(p.InvalidParams) != 1 || p.InvalidParams[0].Name != tc.field {
			t.Errorf("%s: invalid_params %+v, want %s", tc.name, p.InvalidParams, tc.field)
		}
	}
}
