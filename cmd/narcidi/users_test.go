package main

import (
	"bytes"
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

// TestUsersCreatePrintsAWorkingLink: `narcidi users create` adds a console
// user and prints a set-password link that the running server honours once.
func TestUsersCreatePrintsAWorkingLink(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	env := map[string]string{"NARCIDI_DATA_DIR": dir, "NARCIDI_ADDR": "127.0.0.1:8080", "NARCIDI_LOG_LEVEL": "error"}
	getenv := func(k string) string { return env[k] }
	var out, errOut bytes.Buffer
	if code := run(context.Background(), []string{"users", "create", "-email", "ops@example.com", "-role", "support"}, getenv, &out, &errOut); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	m := regexp.MustCompile(`console user ops@example.com \(support\) created: .* at http://127\.0\.0\.1:8080(/console/set-password\?token=\S+)`).FindStringSubmatch(out.String())
	if m == nil {
		t.Fatalf("printed %q", out.String())
	}
	out.Reset()
	errOut.Reset()
	if code := run(context.Background(), []string{"users", "create", "-email", "x@example.com", "-role", "customer"}, getenv, &out, &errOut); code != 1 || !strings.Contains(errOut.String(), "role") {
		t.Fatalf("a customer console user: exit %d, %q", code, errOut.String())
	}

	// The same email again says what to do instead, not storage.InTx's
	// conflict; `users link` prints a new link (the first stays usable).
	out.Reset()
	errOut.Reset()
	if code := run(context.Background(), []string{"users", "create", "-email", "ops@example.com"}, getenv, &out, &errOut); code != 1 ||
		!strings.Contains(errOut.String(), "exists already") || !strings.Contains(errOut.String(), "narcidi users link -email ops@example.com") ||
		strings.Contains(errOut.String(), "InTx") {
		t.Fatalf("users create for an existing email: exit %d, %q", code, errOut.String())
	}
	out.Reset()
	errOut.Reset()
	if code := run(context.Background(), []string{"users", "link", "-email", "nobody@example.com"}, getenv, &out, &errOut); code != 1 ||
		!strings.Contains(errOut.String(), "no console user nobody@example.com") {
		t.Fatalf("users link for an unknown email: exit %d, %q", code, errOut.String())
	}
	out.Reset()
	errOut.Reset()
	if code := run(context.Background(), []string{"users", "link", "-email", "OPS@example.com"}, getenv, &out, &errOut); code != 0 {
		t.Fatalf("users link: exit %d: %s", code, errOut.String())
	}
	relink := regexp.MustCompile(`new set-password link for ops@example.com \(support\): it works once, within 24 hours: http://127\.0\.0\.1:8080(/console/set-password\?token=\S+)`).FindStringSubmatch(out.String())
	if relink == nil || relink[1] == m[1] {
		t.Fatalf("users link printed %q", out.String())
	}

	app := startAppWith(t, map[string]string{"NARCIDI_DATA_DIR": dir})
	u, _ := url.Parse(m[1])
	token := u.Query().Get("token")
	jar := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := jar.Get(app.URL() + "/console/set-password?token=" + url.QueryEscape(token))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	var pre string
	for _, c := range resp.Cookies() {
		if c.Name == "narcidi_console_pre" {
			pre = c.Value
		}
	}
	post := func() int {
		form := url.Values{"csrf": {pre}, "token": {token}, "password": {"support password 1"}, "confirm": {"support password 1"}}
		req, _ := http.NewRequest("POST", app.URL()+"/console/set-password", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.AddCookie(&http.Cookie{Name: "narcidi_console_pre", Value: pre})
		resp, err := jar.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if status := post(); status != http.StatusSeeOther {
		t.Fatalf("set password: %d", status)
	}
	if status := post(); status != http.StatusGone {
		t.Fatalf("the link a second time: %d, want 410 (the used link's page)", status)
	}
	// The reissued link works too (it was issued before the password was
	// set: a second reset of the same user).
	u, _ = url.Parse(relink[1])
	token = u.Query().Get("token")
	if status := post(); status != http.StatusSeeOther {
		t.Fatalf("set password with the reissued link: %d", status)
	}
}

// TestPortalLinkCommand: `narcidi portal-link` needs a customer, names an
// unknown one plainly, and without SMTP refuses -send saying what to do.
func TestPortalLinkCommand(t *testing.T) {
	t.Parallel()
	env := map[string]string{"NARCIDI_DATA_DIR": t.TempDir(), "NARCIDI_ADDR": "127.0.0.1:8080", "NARCIDI_LOG_LEVEL": "error"}
	getenv := func(k string) string { return env[k] }
	var out, errOut bytes.Buffer
	if code := run(context.Background(), []string{"portal-link"}, getenv, &out, &errOut); code != 2 || !strings.Contains(errOut.String(), "-customer is required") {
		t.Errorf("without -customer: exit %d, %q", code, errOut.String())
	}
	errOut.Reset()
	if code := run(context.Background(), []string{"portal-link", "-customer", "01a250f5-cc72-78a6-85b1-f3395171166d"}, getenv, &out, &errOut); code != 1 ||
		!strings.Contains(errOut.String(), "not found") || strings.Contains(errOut.String(), "InTx") {
		t.Errorf("an unknown customer: exit %d, %q", code, errOut.String())
	}
	errOut.Reset()
	if code := run(context.Background(), []string{"portal-link", "-customer", "01a250f5-cc72-78a6-85b1-f3395171166d", "-send"}, getenv, &out, &errOut); code != 1 ||
		!strings.Contains(errOut.String(), "leave out -send") {
		t.Errorf("-send without SMTP: exit %d, %q", code, errOut.String())
	}
}
