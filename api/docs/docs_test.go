package docs_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/gofiber/fiber/v2"

	"github.com/nzilacode/narcidicontrole/api/docs"
)

func get(t *testing.T, app *fiber.App, path string) (*http.Response, string) {
	t.Helper()
	resp, err := app.Test(httptest.NewRequest("GET", path, nil), -1)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// The page loads Swagger UI and its initializer from this server, under a
// CSP that allows nothing else; no inline script, no outside URL.
func TestPageAndAssets(t *testing.T) {
	app := fiber.New()
	docs.New().Mount(app.Group(docs.Prefix))
	resp, page := get(t, app, "/docs")
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("/docs: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	csp := resp.Header.Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'none'", "script-src 'self';", "connect-src 'self'", "frame-ancestors 'none'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("CSP %q lacks %q", csp, want)
		}
	}
	if strings.Contains(csp, "unsafe") || strings.Contains(csp, "http") {
		t.Errorf("CSP %q allows inline code or another host", csp)
	}
	scripts := regexp.MustCompile(`<script([^>]*)>`).FindAllStringSubmatch(page, -1)
	if len(scripts) != 2 {
		t.Fatalf("%d scripts on the page, want the bundle and the initializer", len(scripts))
	}
	for _, s := range scripts {
		if !strings.Contains(s[1], `src="/docs/assets/`) {
			t.Errorf("inline script %q: the CSP would block it", s[0])
		}
	}
	if strings.Contains(page, "http://") || strings.Contains(page, "https://") || strings.Contains(page, "style=") {
		t.Error("the page names an outside URL or has a style attribute")
	}
	for _, ref := range regexp.MustCompile(`(?:src|href)="(/docs/assets/[^"]+)"`).FindAllStringSubmatch(page, -1) {
		resp, body := get(t, app, ref[1])
		if resp.StatusCode != 200 || len(body) == 0 || resp.Header.Get("Content-Security-Policy") != csp {
			t.Errorf("%s: %d, %d bytes, CSP %q", ref[1], resp.StatusCode, len(body), resp.Header.Get("Content-Security-Policy"))
		}
		switch {
		case strings.HasSuffix(ref[1], ".js") && !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/javascript"),
			strings.HasSuffix(ref[1], ".css") && !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/css"):
			t.Errorf("%s: Content-Type %q", ref[1], resp.Header.Get("Content-Type"))
		}
	}
	_, init := get(t, app, "/docs/assets/init.js")
	for _, want := range []string{`url: "/openapi.json"`, `validatorUrl: "none"`} {
		if !strings.Contains(init, want) {
			t.Errorf("init.js lacks %s", want)
		}
	}
	if strings.Contains(init, "petstore") {
		t.Error("init.js is Swagger UI's sample initializer")
	}
	_, css := get(t, app, "/docs/assets/swagger-ui.css")
	if strings.Contains(css, "@import") || strings.Contains(css, "url(http") || strings.Contains(css, "url(\"http") {
		t.Error("swagger-ui.css loads something from another host")
	}
	for _, path := range []string{"/docs/assets/index.html", "/docs/assets/swagger-initializer.js", "/docs/assets/..%2Fdocs.go"} {
		if resp, _ := get(t, app, path); resp.StatusCode != http.StatusNotFound {
			t.Errorf("%s: %d, want 404 (only the listed files are served)", path, resp.StatusCode)
		}
	}
}
