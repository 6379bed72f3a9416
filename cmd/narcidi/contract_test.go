package main

import (
	"bytes"
	"crypto/sha256"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/pb33f/libopenapi"
	validator "github.com/pb33f/libopenapi-validator"
)

// Every answer the tests receive is checked against the server's own
// OpenAPI document (libopenapi-validator), so the document cannot lie.

// A validator is built once per distinct document (the servers of most
// tests publish the same one), not once per server: building and checking
// one is the costly part of the check.
var (
	contracts    sync.Map // base URL → *contract
	contractDocs sync.Map // sha256 of the document → *contract
)

type contract struct {
	mu sync.Mutex
	v  validator.Validator
}

func contractFor(t *testing.T, base string) *contract {
	if c, ok := contracts.Load(base); ok {
		return c.(*contract)
	}
	resp, err := http.Get(base + "/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	spec, _ := io.ReadAll(resp.Body)
	sum := sha256.Sum256(spec)
	if c, ok := contractDocs.Load(sum); ok {
		c, _ = contracts.LoadOrStore(base, c)
		return c.(*contract)
	}
	doc, err := libopenapi.NewDocument(spec)
	if err != nil {
		t.Fatalf("openapi document: %v", err)
	}
	v, errs := validator.NewValidator(doc)
	if len(errs) > 0 {
		t.Fatalf("openapi validator: %v", errs)
	}
	if ok, verrs := v.ValidateDocument(); !ok {
		for _, e := range verrs {
			t.Errorf("openapi document invalid: %s", e.Error())
		}
		t.FailNow()
	}
	c, _ := contractDocs.LoadOrStore(sum, &contract{v: v})
	c, _ = contracts.LoadOrStore(base, c)
	return c.(*contract)
}

// checkResponse validates one exchange's response against the document.
func checkResponse(t *testing.T, base string, req *http.Request, reqBody []byte, resp *http.Response, body []byte) {
	t.Helper()
	if strings.HasPrefix(req.URL.Path, "/openapi.json") || strings.HasPrefix(req.URL.Path, "/docs") {
		return
	}
	c := contractFor(t, base)
	r := req.Clone(req.Context())
	r.Body = io.NopCloser(bytes.NewReader(reqBody))
	rs := *resp
	rs.Body = io.NopCloser(bytes.NewReader(body))
	c.mu.Lock()
	ok, errs := c.v.ValidateHttpResponse(r, &rs)
	c.mu.Unlock()
	if !ok {
		for _, e := range errs {
			if e.ValidationType == "path" && resp.StatusCode == http.StatusNotFound {
				continue // a route that does not exist answers a documented problem
			}
			msg := e.Error()
			for _, se := range e.SchemaValidationErrors {
				msg += "; " + se.Reason + " at " + se.FieldPath
			}
			t.Errorf("%s %s → %d does not match the OpenAPI document: %s\nbody: %s", req.Method, req.URL.Path, resp.StatusCode, msg, body)
		}
	}
}

// Every route the server answers is in the document, and every operation
// of the document is a route.
func TestOpenAPICoversEveryRoute(t *testing.T) {
	t.Parallel()
	app := startApp(t, "sqlite")
	c := contractFor(t, app.URL())
	_ = c
	resp, err := http.Get(app.URL() + "/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	spec, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	doc, _ := libopenapi.NewDocument(spec)
	model, err := doc.BuildV3Model()
	if err != nil {
		t.Fatal(err)
	}
	inDoc := map[string]bool{}
	for path, item := range model.Model.Paths.PathItems.FromOldest() {
		for method := range item.GetOperations().FromOldest() {
			inDoc[strings.ToUpper(method)+" "+path] = true
		}
	}
	served := map[string]bool{}
	for _, r := range app.server.App().GetRoutes(true) {
		// The console's and the portal's HTML pages are not the JSON API.
		if r.Method == http.MethodHead || r.Path == "/openapi.json" || strings.HasPrefix(r.Path, "/docs") || strings.HasPrefix(r.Path, "/console") || strings.HasPrefix(r.Path, "/portal") {
			continue
		}
		key := r.Method + " " + pathParamRe.ReplaceAllString(r.Path, "{$1}")
		served[key] = true
		if !inDoc[key] {
			t.Errorf("route %s is not in the OpenAPI document", key)
		}
	}
	for op := range inDoc {
		if !served[op] {
			t.Errorf("the document has %s, which no route serves", op)
		}
	}
	if len(served) < 40 {
		t.Errorf("only %d routes seen", len(served))
	}
	// The reference renders this document (docs_browser_test.go sees it
	// in a browser).
	page, err := http.Get(app.URL() + "/docs")
	if err != nil {
		t.Fatal(err)
	}
	html, _ := io.ReadAll(page.Body)
	page.Body.Close()
	if !strings.Contains(string(html), `src="/docs/assets/init.js"`) || !strings.Contains(page.Header.Get("Content-Type"), "text/html") {
		t.Errorf("docs page: %s", html[:min(200, len(html))])
	}
}
