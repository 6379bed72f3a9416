package verifier

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestClientStatusHandling(t *testing.T) {
	var got MachineRequest
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Content-Type") != "application/json" {
			t.Errorf("content type %q", r.Header.Get("Content-Type"))
		}
		_ = json.NewDecoder(r.Body).Decode(&got)
		switch r.URL.Path {
		case "/v1/client/activate":
			w.WriteHeader(http.StatusCreated)
			_ = json.NewEncoder(w).Encode(LeaseResponse{Lease: "tok", MachineID: "m1"})
		case "/v1/client/renew":
			w.Header().Set("Content-Type", "application/problem+json")
			w.WriteHeader(http.StatusForbidden)
			_, _ = w.Write([]byte(`{"type":"x","title":"Forbidden","status":403,"code":"license_suspended","detail":"the license is suspended"}`))
		case "/v1/client/deactivate":
			w.WriteHeader(http.StatusNoContent)
		case "/v1/client/validate":
			_ = json.NewEncoder(w).Encode(ValidateResponse{Valid: false, Code: ValidationExpired})
		case "/v1/client/heartbeat":
			w.WriteHeader(http.StatusBadGateway)
			_, _ = w.Write([]byte("<html>proxy error</html>"))
		}
	}))
	defer srv.Close()
	c := &Client{BaseURL: srv.URL + "/"}
	ctx := context.Background()
	req := MachineRequest{LicenseKey: "K", Fingerprint: "F"}

	res, err := c.Activate(ctx, req)
	if err != nil || res.Lease != "tok" || res.MachineID != "m1" || got.LicenseKey != "K" {
		t.Fatalf("activate = %+v, %v (sent %+v)", res, err, got)
	}
	_, err = c.Renew(ctx, req)
	var apiErr *APIError
	if !errors.As(err, &apiErr) || apiErr.Status != 403 || apiErr.Code() != "license_suspended" {
		t.Fatalf("renew err = %v", err)
	}
	if err := c.Deactivate(ctx, req); err != nil {
		t.Fatal(err)
	}
	v, err := c.Validate(ctx, req)
	if err != nil || v.Valid || v.Code != ValidationExpired {
		t.Fatalf("validate = %+v, %v", v, err)
	}
	_, err = c.Heartbeat(ctx, req)
	if !errors.As(err, &apiErr) || apiErr.Status != 502 || apiErr.Code() != "http_502" {
		t.Fatalf("heartbeat err = %v", err)
	}
}

func TestClientNetworkError(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	_, err := (&Client{BaseURL: url}).Activate(context.Background(), MachineRequest{})
	var apiErr *APIError
	if err == nil || errors.As(err, &apiErr) {
		t.Fatalf("err = %v, want a transport error", err)
	}
}
