package workerstest

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	"net/http"
	"net/http/httptest"
	"net/mail"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/nzilacode/narcidicontrole/workers"
)

// Mailbox is a real SMTP server (go-smtp) on loopback that keeps what it
// receives.
type Mailbox struct {
	// Addr is host:port of the server.
	Addr string
	mu   sync.Mutex
	msgs []MailMsg
	// refuse counts the messages still to refuse (RefuseNext); refused
	// counts those refused.
	refuse, refused int
}

// RefuseNext makes the server answer the next n messages' DATA with a
// temporary failure (451), as a mail server does when it is busy or
// restarting.
func (m *Mailbox) RefuseNext(n int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.refuse = n
}

// Refused counts the messages refused so far.
func (m *Mailbox) Refused() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.refused
}

type MailMsg struct {
	From string
	To   []string
	Data string
}

func (m *Mailbox) NewSession(*smtp.Conn) (smtp.Session, error) { return &mailSession{box: m}, nil }

type mailSession struct {
	box *Mailbox
	msg MailMsg
}

func (s *mailSession) Mail(from string, _ *smtp.MailOptions) error { s.msg.From = from; return nil }
func (s *mailSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.msg.To = append(s.msg.To, to)
	return nil
}
func (s *mailSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.msg.Data = string(b)
	s.box.mu.Lock()
	if s.box.refuse > 0 {
		s.box.refuse--
		s.box.refused++
		s.box.mu.Unlock()
		s.msg = MailMsg{}
		return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "busy, try again later"}
	}
	s.box.msgs = append(s.box.msgs, s.msg)
	s.box.mu.Unlock()
	s.msg = MailMsg{}
	return nil
}
func (s *mailSession) Reset()        { s.msg = MailMsg{} }
func (s *mailSession) Logout() error { return nil }

func StartMailbox(t testing.TB) *Mailbox {
	t.Helper()
	box := &Mailbox{}
	srv := smtp.NewServer(box)
	srv.Domain = "localhost"
	srv.AllowInsecureAuth = true
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	box.Addr = ln.Addr().String()
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return box
}

// Subjects returns the subjects of the messages received, in order.
func (m *Mailbox) Subjects() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []string
	for _, msg := range m.msgs {
		parsed, err := mail.ReadMessage(strings.NewReader(msg.Data))
		if err != nil {
			out = append(out, "unreadable: "+err.Error())
			continue
		}
		subject, err := new(mime.WordDecoder).DecodeHeader(parsed.Header.Get("Subject"))
		if err != nil {
			subject = "undecodable: " + err.Error()
		}
		out = append(out, subject)
	}
	return out
}

// Bodies returns the decoded text bodies of the messages received, in
// order (quoted-printable undone, so links read as sent).
func (m *Mailbox) Bodies() []string {
	var out []string
	for _, msg := range m.Messages() {
		parsed, err := mail.ReadMessage(strings.NewReader(msg.Data))
		if err != nil {
			out = append(out, "unreadable: "+err.Error())
			continue
		}
		b, err := textPart(parsed.Header.Get("Content-Type"), parsed.Header.Get("Content-Transfer-Encoding"), parsed.Body)
		if err != nil {
			b = []byte("undecodable: " + err.Error())
		}
		out = append(out, string(b))
	}
	return out
}

// textPart reads the text/plain part of a body: the body itself, or the
// first text/plain part of a multipart one (a mail with an HTML
// alternative), transfer encoding undone.
func textPart(contentType, encoding string, body io.Reader) ([]byte, error) {
	mt, params, _ := mime.ParseMediaType(contentType)
	if strings.HasPrefix(mt, "multipart/") {
		mr := multipart.NewReader(body, params["boundary"])
		for {
			p, err := mr.NextPart()
			if err != nil {
				return nil, err
			}
			if pt, _, _ := mime.ParseMediaType(p.Header.Get("Content-Type")); pt == "text/plain" || strings.HasPrefix(pt, "multipart/") {
				return textPart(p.Header.Get("Content-Type"), p.Header.Get("Content-Transfer-Encoding"), p)
			}
		}
	}
	if strings.EqualFold(encoding, "quoted-printable") {
		body = quotedprintable.NewReader(body)
	}
	return io.ReadAll(body)
}

// HTMLBodies returns the decoded HTML parts of the messages received, in
// order ("" for a message without one).
func (m *Mailbox) HTMLBodies() []string {
	var out []string
	for _, msg := range m.Messages() {
		parsed, err := mail.ReadMessage(strings.NewReader(msg.Data))
		if err != nil {
			out = append(out, "")
			continue
		}
		out = append(out, htmlPart(parsed.Header.Get("Content-Type"), parsed.Body))
	}
	return out
}

func htmlPart(contentType string, body io.Reader) string {
	mt, params, _ := mime.ParseMediaType(contentType)
	if !strings.HasPrefix(mt, "multipart/") {
		return ""
	}
	mr := multipart.NewReader(body, params["boundary"])
	for {
		p, err := mr.NextPart()
		if err != nil {
			return ""
		}
		pt, _, _ := mime.ParseMediaType(p.Header.Get("Content-Type"))
		if strings.HasPrefix(pt, "multipart/") {
			if h := htmlPart(p.Header.Get("Content-Type"), p); h != "" {
				return h
			}
			continue
		}
		if pt == "text/html" {
			// multipart.Part undoes quoted-printable itself.
			b, _ := io.ReadAll(p)
			return string(b)
		}
	}
}

func (m *Mailbox) Messages() []MailMsg {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.msgs)
}

// Receiver is a webhook endpoint that checks signatures and records what it
// gets. fail says what status to answer to the n-th request (0-based).
type Receiver struct {
	// URL is the receiver's base URL.
	URL    string
	srv    *httptest.Server
	secret atomic.Value // string
	mu     sync.Mutex
	got    []workers.WebhookPayload
	codes  []int
	bad    int // requests with a wrong signature
	fail   func(n int) int
}

func StartReceiver(t testing.TB, fail func(n int) int) *Receiver {
	t.Helper()
	r := &Receiver{fail: fail}
	r.secret.Store("")
	r.srv = httptest.NewServer(http.HandlerFunc(r.serve))
	r.URL = r.srv.URL
	t.Cleanup(r.srv.Close)
	return r
}

func (r *Receiver) serve(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	defer r.mu.Unlock()
	n := len(r.codes)
	code := 200
	if r.fail != nil {
		code = r.fail(n)
	}
	if !VerifySignature(r.secret.Load().(string), req.Header.Get(workers.SignatureHeader), body) {
		r.bad++
		code = 400
	}
	r.codes = append(r.codes, code)
	if code == 200 {
		var p workers.WebhookPayload
		if err := json.Unmarshal(body, &p); err == nil {
			r.got = append(r.got, p)
		}
	}
	w.WriteHeader(code)
	// A body to keep in the delivery log: a short JSON answer, or an error
	// page longer than what is kept (licensing.MaxAttemptBody).
	if code == 200 {
		fmt.Fprintf(w, `{"ok":true,"n":%d}`, n)
	} else {
		_, _ = io.WriteString(w, strings.Repeat("endpoint down. ", 500))
	}
}

// VerifySignature is what a receiver does, written from the documentation
// (not with workers.Sign): HMAC-SHA256 over "<t>.<body>".
func VerifySignature(secret, header string, body []byte) bool {
	var ts, v1 string
	for _, part := range strings.Split(header, ",") {
		k, v, _ := strings.Cut(part, "=")
		switch k {
		case "t":
			ts = v
		case "v1":
			v1 = v
		}
	}
	return ts != "" && v1 != "" && hmacHex(secret, ts+"."+string(body)) == v1
}

// Received returns the payloads accepted (duplicates included), in order.
func (r *Receiver) Received() []workers.WebhookPayload {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.got)
}

func (r *Receiver) StatusCodes() []int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.codes)
}

// SetSecret is the endpoint's signing secret the receiver checks with.
func (r *Receiver) SetSecret(s string) { r.secret.Store(s) }

// BadSignatures counts requests whose signature did not verify.
func (r *Receiver) BadSignatures() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.bad
}

func hmacHex(secret, msg string) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(msg))
	return hex.EncodeToString(m.Sum(nil))
}

// WaitFor polls cond until it holds, failing the test after a generous
// minute. It waits for background work; it asserts nothing about its speed.
func WaitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
