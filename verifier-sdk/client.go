package verifier

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// Client talks to a Narcidi server's client API (/v1/client/...). Set
// BaseURL; the other fields are optional. Safe for concurrent use.
//
// Every method POSTs a JSON MachineRequest. A non-2xx answer is returned as
// an *APIError; a transport failure is returned wrapped.
type Client struct {
	BaseURL    string       // e.g. https://licensing.nzilacode.com
	HTTPClient *http.Client // nil: a client with a 15 s timeout
	UserAgent  string
}

var defaultHTTPClient = &http.Client{Timeout: 15 * time.Second}

// maxResponse bounds what the client reads from the server.
const maxResponse = 1 << 20

// Activate binds this machine (req.Fingerprint) to the license and returns
// its first lease. The server answers 201 for a new seat, and 200 with a
// fresh lease when the fingerprint already holds one; both succeed.
//
// With req.Components set, a server that does not take them (one from
// before components, or one refusing these) is asked again without them,
// so an app that collects components keeps working against any server.
func (c *Client) Activate(ctx context.Context, req MachineRequest) (*LeaseResponse, error) {
	res, err := call[LeaseResponse](ctx, c, "/v1/client/activate", req)
	if err != nil && len(req.Components) > 0 && componentsRefused(err) {
		req.Components = nil
		return call[LeaseResponse](ctx, c, "/v1/client/activate", req)
	}
	return res, err
}

// Renew returns a new lease for an activated machine.
func (c *Client) Renew(ctx context.Context, req MachineRequest) (*LeaseResponse, error) {
	return call[LeaseResponse](ctx, c, "/v1/client/renew", req)
}

// Heartbeat tells the server the machine is alive.
func (c *Client) Heartbeat(ctx context.Context, req MachineRequest) (*HeartbeatResponse, error) {
	return call[HeartbeatResponse](ctx, c, "/v1/client/heartbeat", req)
}

// Deactivate frees this machine's seat (the server answers 204).
func (c *Client) Deactivate(ctx context.Context, req MachineRequest) error {
	return c.post(ctx, "/v1/client/deactivate", req, nil)
}

// Validate asks the server whether the license is valid now (and, with a
// fingerprint, whether this machine holds a seat). A well-formed request
// always succeeds: a refusal is Valid false with a Validation* Code, not an
// error.
func (c *Client) Validate(ctx context.Context, req MachineRequest) (*ValidateResponse, error) {
	return call[ValidateResponse](ctx, c, "/v1/client/validate", req)
}

// JWKS fetches the server's public keys. Apps should ship (pin) their keys
// rather than trust whatever the network returns; this is for tools and
// first-run set-up.
// UseMeter spends uses of a meter of the license: counted once per
// req.ID, refused with the problem code "meter_exhausted" (an *APIError)
// when the meter has too few uses left in its period.
func (c *Client) UseMeter(ctx context.Context, req UseRequest) (*UseResponse, error) {
	var out UseResponse
	return &out, c.post(ctx, "/v1/client/meters/use", req, &out)
}

func (c *Client) JWKS(ctx context.Context) (*KeySet, error) {
	r, err := http.NewRequestWithContext(ctx, http.MethodGet, c.url("/.well-known/jwks.json"), nil)
	if err != nil {
		return nil, err
	}
	body, err := c.do(r)
	if err != nil {
		return nil, err
	}
	return ParseJWKS(body)
}

// call POSTs req and decodes the answer into a new T.
func call[T any](ctx context.Context, c *Client, path string, req MachineRequest) (*T, error) {
	out := new(T)
	if err := c.post(ctx, path, req, out); err != nil {
		return nil, err
	}
	return out, nil
}

func (c *Client) url(path string) string { return strings.TrimRight(c.BaseURL, "/") + path }

func (c *Client) post(ctx context.Context, path string, in, out any) error {
	b, err := json.Marshal(in)
	if err != nil {
		return err
	}
	r, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url(path), bytes.NewReader(b))
	if err != nil {
		return err
	}
	r.Header.Set("Content-Type", "application/json")
	body, err := c.do(r)
	if err != nil || out == nil {
		return err
	}
	if err := json.Unmarshal(body, out); err != nil {
		return fmt.Errorf("narcidi: bad response from %s: %w", path, err)
	}
	return nil
}

// do sends r and returns the body of a 2xx answer, or an *APIError for any
// other status. Transport failures come back wrapped (errors.Is still sees
// context.DeadlineExceeded, *url.Error...).
func (c *Client) do(r *http.Request) ([]byte, error) {
	r.Header.Set("Accept", "application/json, application/problem+json")
	if c.UserAgent != "" {
		r.Header.Set("User-Agent", c.UserAgent)
	}
	hc := c.HTTPClient
	if hc == nil {
		hc = defaultHTTPClient
	}
	resp, err := hc.Do(r)
	if err != nil {
		return nil, fmt.Errorf("narcidi: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse+1))
	if err != nil {
		return nil, fmt.Errorf("narcidi: reading the response: %w", err)
	}
	ok := resp.StatusCode >= 200 && resp.StatusCode < 300
	if len(body) > maxResponse {
		if ok {
			return nil, fmt.Errorf("narcidi: the response to %s is larger than %d bytes", r.URL.Path, maxResponse)
		}
		body = nil // not worth decoding
	}
	if ok {
		return body, nil
	}
	e := &APIError{Status: resp.StatusCode}
	if json.Unmarshal(body, &e.Problem) != nil || e.Problem.Code == "" {
		e.Problem = synthesizedProblem(resp.StatusCode)
	} else if e.Problem.Status == 0 {
		e.Problem.Status = resp.StatusCode
	}
	return nil, e
}
