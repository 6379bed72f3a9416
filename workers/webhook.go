package workers

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"syscall"
	"time"

	"github.com/nzilacode/narcidicontrole/licensing"
)

// SignatureHeader carries the webhook signature:
//
//	Narcidi-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>
//
// A receiver recomputes the HMAC over the timestamp, a dot and the raw body
// with the endpoint's secret, compares in constant time, and refuses a
// timestamp more than a few minutes old (replays). testdata/webhook_vector.json
// is a worked example.
const SignatureHeader = "Narcidi-Signature"

// Sign returns the Narcidi-Signature value of body at t.
func Sign(secret []byte, t time.Time, body []byte) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(ts))
	mac.Write([]byte("."))
	mac.Write(body)
	return "t=" + ts + ",v1=" + hex.EncodeToString(mac.Sum(nil))
}

// WebhookPayload is the JSON body of a webhook: the event as in the audit
// log. ID is the event id, the same on every retry and redelivery, for the
// receiver to de-duplicate.
type WebhookPayload struct {
	ID        string          `json:"id"`
	Type      string          `json:"type"`
	CreatedAt time.Time       `json:"created_at"`
	Data      licensing.Event `json:"data"`
}

// NewWebhookClient returns the HTTP client that posts webhooks. Unless
// allowPrivate, it refuses to connect to loopback, private, link-local and
// other non-public addresses, checked on the address actually dialled (so a
// DNS answer that changes after registration cannot reach the intranet).
// It does not follow redirects.
func NewWebhookClient(allowPrivate bool) *http.Client {
	dialer := &net.Dialer{Timeout: 5 * time.Second}
	if !allowPrivate {
		dialer.Control = func(network, address string, _ syscall.RawConn) error {
			ap, err := netip.ParseAddrPort(address)
			if err != nil || !licensing.PublicAddress(ap.Addr()) {
				return fmt.Errorf("webhook address %s is not public: %w", address, errBlockedAddress)
			}
			return nil
		}
	}
	return &http.Client{
		Timeout: 15 * time.Second,
		Transport: &http.Transport{
			DialContext:           dialer.DialContext,
			Proxy:                 nil, // a proxy would hide the address from the guard
			TLSHandshakeTimeout:   5 * time.Second,
			ResponseHeaderTimeout: 10 * time.Second,
			MaxIdleConnsPerHost:   4,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

var errBlockedAddress = errors.New("blocked address")

// postWebhook sends one signed attempt and reports its status code.
func postWebhook(ctx context.Context, client *http.Client, url string, secret []byte, deliveryID string, e *licensing.Event, now time.Time) (sent webhookExchange, err error) {
	body, err := json.Marshal(WebhookPayload{ID: e.ID, Type: e.Action, CreatedAt: e.Time, Data: *e})
	if err != nil {
		return sent, err
	}
	sent.request = body
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return sent, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "Narcidi-Webhooks/1")
	req.Header.Set("Narcidi-Event-Id", e.ID)
	req.Header.Set("Narcidi-Event-Type", e.Action)
	req.Header.Set("Narcidi-Delivery-Id", deliveryID)
	req.Header.Set(SignatureHeader, Sign(secret, now, body))
	resp, err := client.Do(req)
	if err != nil {
		return sent, err
	}
	defer resp.Body.Close()
	sent.status = resp.StatusCode
	// Keep the start of the answer for the delivery log; drain a little
	// more so the connection can be reused.
	sent.response, _ = io.ReadAll(io.LimitReader(resp.Body, licensing.MaxAttemptBody))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return sent, fmt.Errorf("the endpoint answered %d", resp.StatusCode)
	}
	return sent, nil
}

// webhookExchange is what one webhook attempt sent and got back.
type webhookExchange struct {
	status            int
	request, response []byte
}
