package apiclient

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode"

	"github.com/nzilacode/narcidicontrole/licensing"
	verifier "github.com/nzilacode/narcidicontrole/verifier-sdk"
)

// Client calls one server's admin API with one API token. Safe for
// concurrent use once built.
type Client struct {
	baseURL, token string
	// HTTP sends the requests (default: a client with a one-minute timeout).
	HTTP *http.Client
	// UserAgent is sent with every request (default "narcidi-apiclient").
	UserAgent string
}

// New checks the base URL (http or https, with a host) and the token, and
// returns a client. Its errors never quote the token.
func New(baseURL, token string) (*Client, error) {
	baseURL = strings.TrimRight(baseURL, "/")
	if baseURL == "" {
		return nil, errors.New("no base URL: want the server's address, e.g. http://127.0.0.1:8080")
	}
	if u, err := url.Parse(baseURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("%q is not an http(s) URL like http://127.0.0.1:8080", baseURL)
	}
	if token == "" {
		return nil, errors.New("no API token")
	}
	return &Client{baseURL: baseURL, token: token}, nil
}

// BaseURL is the server's base URL, without a trailing slash.
func (c *Client) BaseURL() string { return c.baseURL }

// Error is an answer other than 2xx. Its cause (errors.As, or
// licensing.ErrorCode) is the *licensing.Error of the problem's code; an
// answer that is not a Narcidi problem (a proxy's page, say) has no cause.
type Error struct {
	Status    int
	RequestID string
	Problem   *licensing.Error // nil when the answer is not a problem+json of this API
	Text      string           // the start of the body, when it is not a problem
}

func (e *Error) Error() string {
	if e.Problem == nil {
		return fmt.Sprintf("%d: %s", e.Status, e.Text)
	}
	return fmt.Sprintf("%d %s: %s (request %s)", e.Status, e.Problem.Code, e.Problem.Message, e.RequestID)
}

func (e *Error) Unwrap() error {
	if e.Problem == nil {
		return nil
	}
	return e.Problem
}

// Answer is the raw answer of a call, for callers that print the API's
// own JSON.
type Answer struct {
	Status int
	Body   []byte
}

// Option changes one call.
type Option func(*call)

type call struct {
	header http.Header
	answer *Answer
	http   *http.Client
}

// IdempotencyKey sends key as the Idempotency-Key: a retry with the same
// key replays the first answer instead of creating twice. Creating methods
// send a random key when none is given.
func IdempotencyKey(key string) Option {
	return func(c *call) { c.header.Set("Idempotency-Key", key) }
}

// Capture stores the raw answer of the call in a.
func Capture(a *Answer) Option { return func(c *call) { c.answer = a } }

// Header adds request headers.
func Header(h http.Header) Option {
	return func(c *call) {
		for k, vs := range h {
			c.header[k] = vs
		}
	}
}

// Timeout bounds this call instead of the client's default (a long
// operation such as a release artifact's finalize).
func Timeout(d time.Duration) Option {
	return func(c *call) { c.http = &http.Client{Timeout: d} }
}

// maxAnswer bounds what is read of an answer.
const maxAnswer = 64 << 20

// Do sends one request: in (if not nil) as the JSON body, and decodes a
// 2xx answer into out (if not nil and the answer has a body). It is the
// building block of the typed methods, for routes they do not cover.
func (c *Client) Do(ctx context.Context, method, path string, in, out any, opts ...Option) error {
	cl := call{header: http.Header{}}
	for _, o := range opts {
		o(&cl)
	}
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.baseURL+path, body)
	if err != nil {
		return err
	}
	for k, vs := range cl.header {
		req.Header[k] = vs
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Accept", "application/json")
	ua := c.UserAgent
	if ua == "" {
		ua = "narcidi-apiclient"
	}
	req.Header.Set("User-Agent", ua)
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	hc := cl.http
	if hc == nil {
		hc = c.HTTP
	}
	if hc == nil {
		hc = &http.Client{Timeout: time.Minute}
	}
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if err != nil {
		return fmt.Errorf("%s %s: reading the answer: %w", method, path, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode >= 300 {
		return problemError(resp, answer)
	}
	if cl.answer != nil {
		*cl.answer = Answer{Status: resp.StatusCode, Body: answer}
	}
	if out != nil && len(bytes.TrimSpace(answer)) > 0 {
		if err := json.Unmarshal(answer, out); err != nil {
			return fmt.Errorf("%s %s: the answer is not the expected JSON: %w", method, path, err)
		}
	}
	return nil
}

// problemError turns an error answer into an *Error.
func problemError(resp *http.Response, answer []byte) error {
	var p verifier.Problem
	if json.Unmarshal(answer, &p) != nil || p.Code == "" {
		// Not a problem of this API (a proxy in between, a wrong URL).
		text := strings.TrimSpace(string(answer))
		if len(text) > 200 {
			text = text[:200] + "..."
		}
		if text == "" {
			text = http.StatusText(resp.StatusCode)
		}
		return &Error{Status: resp.StatusCode, Text: Clean(text)}
	}
	detail := p.Detail
	if detail == "" {
		detail = p.Title
	}
	id := p.RequestID
	if id == "" {
		id = resp.Header.Get("X-Request-ID")
	}
	return &Error{Status: resp.StatusCode, RequestID: Clean(id),
		Problem: licensing.Errorf(licensing.Code(Clean(p.Code)), "%s", Clean(detail))}
}

// Clean keeps server-supplied text from breaking a terminal or a table:
// control characters (tabs, escapes, newlines) become spaces.
func Clean(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s)
}

// RandomKey is a fresh Idempotency-Key.
func RandomKey() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	return hex.EncodeToString(b)
}

// create sends a creating request with an Idempotency-Key (random unless
// one of opts gives one).
func (c *Client) create(ctx context.Context, path string, in, out any, opts []Option) error {
	return c.Do(ctx, http.MethodPost, path, in, out, append([]Option{IdempotencyKey(RandomKey())}, opts...)...)
}

// created runs a creating call and decodes an answer of type T.
func created[T any](ctx context.Context, c *Client, path string, in any, opts []Option) (*T, error) {
	var out T
	if err := c.create(ctx, path, in, &out, opts); err != nil {
		return nil, err
	}
	return &out, nil
}

// List is one page of a listing; NextCursor, when not empty, is the
// Page.After of the next page.
type List[T any] struct {
	Data       []T    `json:"data"`
	NextCursor string `json:"next_cursor"`
}

// query builds a listing's query string from its filter and page.
func query(page licensing.Page, kv ...string) string {
	q := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] != "" {
			q.Set(kv[i], kv[i+1])
		}
	}
	if page.After != "" {
		q.Set("cursor", page.After)
	}
	if page.Limit > 0 {
		q.Set("limit", fmt.Sprint(page.Limit))
	}
	if len(q) == 0 {
		return ""
	}
	return "?" + q.Encode()
}

// idPath is a path with one escaped id: idPath("/v1/licenses/%s", id).
func idPath(format, id string) (string, error) {
	if id == "" {
		return "", licensing.Errorf(licensing.EInvalid, "the id is empty")
	}
	return fmt.Sprintf(format, url.PathEscape(id)), nil
}

func list[T any](ctx context.Context, c *Client, path string, opts []Option) (*List[T], error) {
	var out List[T]
	if err := c.Do(ctx, http.MethodGet, path, nil, &out, opts...); err != nil {
		return nil, err
	}
	return &out, nil
}

// one runs a call on the object id and decodes an answer of type T.
func one[T any](ctx context.Context, c *Client, method, format, id string, in any, opts []Option) (*T, error) {
	path, err := idPath(format, id)
	if err != nil {
		return nil, err
	}
	var out T
	if err := c.Do(ctx, method, path, in, &out, opts...); err != nil {
		return nil, err
	}
	return &out, nil
}

// none runs a call on the object id whose answer has no body.
func none(ctx context.Context, c *Client, method, format, id string, in any, opts []Option) error {
	path, err := idPath(format, id)
	if err != nil {
		return err
	}
	return c.Do(ctx, method, path, in, nil, opts...)
}
