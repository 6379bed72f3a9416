package verifier

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeServer answers each route with a canned status and body, and records
// what it received.
type fakeServer struct {
	t      *testing.T
	routes map[string]fakeAnswer

	mu   sync.Mutex
	reqs []*http.Request
	body []MachineRequest
}

type fakeAnswer struct {
	status      int
	contentType string
	body        string
}

func (f *fakeServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var req MachineRequest
	if r.Method == http.MethodPost {
		if ct := r.Header.Get("Content-Type"); ct != "application/json" {
			f.t.Errorf("%s: Content-Type %q", r.URL.Path, ct)
		}
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			f.t.Errorf("%s: body: %v", r.URL.Path, err)
		}
	}
	f.mu.Lock()
	f.reqs = append(f.reqs, r)
	f.body = append(f.body, req)
	f.mu.Unlock()
	a, ok := f.routes[r.Method+" "+r.URL.Path]
	if !ok {
		http.NotFound(w, r)
		return
	}
	if a.contentType != "" {
		w.Header().Set("Content-Type", a.contentType)
	}
	w.WriteHeader(a.status)
	_, _ = io.WriteString(w, a.body)
}

func (f *fakeServer) last() (*http.Request, MachineRequest) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.reqs[len(f.reqs)-1], f.body[len(f.body)-1]
}

func newFake(t *testing.T, routes map[string]fakeAnswer) (*fakeServer, *Client) {
	f := &fakeServer{t: t, routes: routes}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return f, &Client{BaseURL: srv.URL + "/", UserAgent: "narcidi-test/1"}
}

const problemJSON = "application/problem+json"

var testReq = MachineRequest{LicenseKey: "KEY-1", Fingerprint: testFP, Name: "dev box", Hostname: "h", Platform: "linux/amd64"}

func leaseBody(machine string) string {
	return string(mustJSON(LeaseResponse{Lease: "tok-" + machine, LeaseExpiresAt: testNow, MachineID: machine, LicenseID: "l1", ProductID: testProduct, HeartbeatInterval: 600}))
}

func TestClientActivate(t *testing.T) {
	for _, status := range []int{http.StatusCreated, http.StatusOK} { // new seat, re-activation
		f, c := newFake(t, map[string]fakeAnswer{"POST /v1/client/activate": {status, "application/json", leaseBody("m1")}})
		res, err := c.Activate(context.Background(), testReq)
		if err != nil {
			t.Fatalf("%d: %v", status, err)
		}
		want := LeaseResponse{Lease: "tok-m1", LeaseExpiresAt: testNow, MachineID: "m1", LicenseID: "l1", ProductID: testProduct, HeartbeatInterval: 600}
		if *res != want {
			t.Errorf("%d: res = %+v", status, res)
		}
		r, sent := f.last()
		if !reflect.DeepEqual(sent, testReq) || r.Header.Get("User-Agent") != "narcidi-test/1" || !strings.Contains(r.Header.Get("Accept"), problemJSON) {
			t.Errorf("sent %+v with headers %v", sent, r.Header)
		}
	}
}

func TestClientRoutes(t *testing.T) {
	hb := string(mustJSON(HeartbeatResponse{MachineID: "m1", LastHeartbeat: testNow, NextHeartbeat: testNow.Add(time.Hour)}))
	invalid := string(mustJSON(ValidateResponse{Valid: false, Code: ValidationSuspended, Detail: "suspended"}))
	f, c := newFake(t, map[string]fakeAnswer{
		"POST /v1/client/renew":      {200, "application/json", leaseBody("m2")},
		"POST /v1/client/heartbeat":  {200, "application/json", hb},
		"POST /v1/client/deactivate": {204, "", ""},
		"POST /v1/client/validate":   {200, "application/json", invalid},
		"GET /.well-known/jwks.json": {200, "application/json", `{"keys":[{"kty":"OKP","crv":"Ed25519","x":"` + b64.EncodeToString(testPub) + `","kid":"` + testKid + `","use":"sig","alg":"EdDSA"}]}`},
	})
	ctx := context.Background()

	if res, err := c.Renew(ctx, testReq); err != nil || res.MachineID != "m2" {
		t.Errorf("renew = %+v, %v", res, err)
	}
	if res, err := c.Heartbeat(ctx, testReq); err != nil || res.MachineID != "m1" || !res.NextHeartbeat.Equal(testNow.Add(time.Hour)) {
		t.Errorf("heartbeat = %+v, %v", res, err)
	}
	if err := c.Deactivate(ctx, testReq); err != nil {
		t.Errorf("deactivate: %v", err)
	}
	if res, err := c.Validate(ctx, testReq); err != nil || res.Valid || res.Code != ValidationSuspended {
		t.Errorf("validate = %+v, %v", res, err)
	}
	ks, err := c.JWKS(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if k, ok := ks.Lookup(testKid); !ok || !k.Equal(testPub) {
		t.Errorf("jwks kids = %v", ks.Kids())
	}
	var paths []string
	for _, r := range f.reqs {
		paths = append(paths, r.Method+" "+r.URL.Path)
	}
	want := "POST /v1/client/renew,POST /v1/client/heartbeat,POST /v1/client/deactivate,POST /v1/client/validate,GET /.well-known/jwks.json"
	if strings.Join(paths, ",") != want {
		t.Errorf("requests = %v", paths)
	}
}

func TestClientErrors(t *testing.T) {
	_, c := newFake(t, map[string]fakeAnswer{
		"POST /v1/client/activate":   {409, problemJSON, `{"type":"https://narcidi.nzilacode.com/problems/seat_limit","title":"Conflict","status":409,"code":"seat_limit","detail":"all 3 seats are taken","request_id":"r1"}`},
		"POST /v1/client/renew":      {403, problemJSON, `{"title":"Forbidden","code":"license_suspended"}`},
		"POST /v1/client/heartbeat":  {502, "text/html", "<html>proxy error</html>"},
		"POST /v1/client/deactivate": {500, "application/json", `{"message":"not a problem"}`},
		"POST /v1/client/validate":   {200, "application/json", `{"valid":`},
		"GET /.well-known/jwks.json": {200, "application/json", `{"keys":[]}`},
	})
	ctx := context.Background()
	_, err := c.Activate(ctx, testReq)
	wantAPIError(t, err, 409, Problem{Type: "https://narcidi.nzilacode.com/problems/seat_limit", Title: "Conflict", Status: 409, Code: "seat_limit", Detail: "all 3 seats are taken", RequestID: "r1"})
	if !strings.Contains(err.Error(), "all 3 seats are taken") {
		t.Errorf("message %q", err)
	}
	_, err = c.Renew(ctx, testReq)
	wantAPIError(t, err, 403, Problem{Title: "Forbidden", Status: 403, Code: "license_suspended"})
	_, err = c.Heartbeat(ctx, testReq)
	wantAPIError(t, err, 502, Problem{Type: "about:blank", Title: "Bad Gateway", Status: 502, Code: "http_502"})
	err = c.Deactivate(ctx, testReq)
	wantAPIError(t, err, 500, Problem{Type: "about:blank", Title: "Internal Server Error", Status: 500, Code: "http_500"})
	_, err = c.Validate(ctx, testReq)
	var apiErr *APIError
	if err == nil || errors.As(err, &apiErr) {
		t.Errorf("bad 2xx body: err = %v", err)
	}
	if _, err = c.JWKS(ctx); err == nil {
		t.Error("empty JWKS accepted")
	}
}

func wantAPIError(t *testing.T, err error, status int, p Problem) {
	t.Helper()
	var apiErr *APIError
	if !errors.As(err, &apiErr) {
		t.Fatalf("err = %T %v, want *APIError", err, err)
	}
	if apiErr.Status != status || !reflect.DeepEqual(apiErr.Problem, p) || apiErr.Code() != p.Code {
		t.Errorf("APIError = %+v, want %d %+v", apiErr, status, p)
	}
}

func TestClientBoundsResponses(t *testing.T) {
	huge := `{"lease":"` + strings.Repeat("x", maxResponse) + `"}`
	_, c := newFake(t, map[string]fakeAnswer{
		"POST /v1/client/renew":    {200, "application/json", huge},
		"POST /v1/client/activate": {400, problemJSON, huge},
	})
	if _, err := c.Renew(context.Background(), testReq); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Errorf("huge 200: err = %v", err)
	}
	_, err := c.Activate(context.Background(), testReq)
	wantAPIError(t, err, 400, synthesizedProblem(400))
}

func TestClientTransportErrors(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	_, err := (&Client{BaseURL: url}).Activate(context.Background(), testReq)
	var apiErr *APIError
	if err == nil || errors.As(err, &apiErr) {
		t.Fatalf("err = %v, want a transport error", err)
	}

	block := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-block }))
	defer slow.Close()
	defer close(block)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err = (&Client{BaseURL: slow.URL}).Heartbeat(ctx, testReq)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want the context's deadline", err)
	}
}
