package webui

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/filesystem"

	"github.com/nzilacode/narcidicontrole/api"
	"github.com/nzilacode/narcidicontrole/licensing"
)

// CSP allows the server's own scripts, styles and images (and data: images,
// the console's QR code) and nothing inline, framed or posted elsewhere.
const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// Assets puts the pages' Headers on r and serves the static folder of
// files (a site's embedded assets) under /static, cacheable for an hour:
// the first routes of the console's and the portal's Mount.
func Assets(r fiber.Router, prefix string, files fs.FS) {
	static, err := fs.Sub(files, "static")
	if err != nil {
		panic("webui.Assets: " + err.Error()) // a build mistake: the embed has no static folder
	}
	r.Use(Headers(prefix + "/static/"))
	r.Use("/static", filesystem.New(filesystem.Config{Root: http.FS(static), MaxAge: 3600}))
}

// Headers sets the strict Content-Security-Policy and keeps pages out of
// caches and frames, and their URLs (a set-password or sign-in link) out
// of Referer headers. Paths under staticPrefix (the assets) may be cached.
func Headers(staticPrefix string) fiber.Handler {
	return func(c *fiber.Ctx) error {
		c.Set("Content-Security-Policy", CSP)
		c.Set("X-Content-Type-Options", "nosniff")
		c.Set("Referrer-Policy", "no-referrer")
		c.Set("X-Frame-Options", "DENY")
		if !strings.HasPrefix(c.Path(), staticPrefix) {
			c.Set(fiber.HeaderCacheControl, "no-store")
		}
		return c.Next()
	}
}

// Cookies writes an area's cookies: HttpOnly, SameSite=Strict, limited to
// Path, and Secure on HTTPS requests or always when ForceSecure (the public
// URL is https behind a TLS-terminating proxy).
type Cookies struct {
	Path        string
	ForceSecure bool
}

func (k Cookies) secure(c *fiber.Ctx) bool { return k.ForceSecure || c.Protocol() == "https" }

// Set writes a cookie; a zero expires makes it a browser-session cookie.
func (k Cookies) Set(c *fiber.Ctx, name, value string, expires time.Time) {
	c.Cookie(&fiber.Cookie{Name: name, Value: value, Path: k.Path, Expires: expires, HTTPOnly: true,
		SameSite: fiber.CookieSameSiteStrictMode, Secure: k.secure(c)})
}

// Clear removes a cookie.
func (k Cookies) Clear(c *fiber.Ctx, name string) {
	c.Cookie(&fiber.Cookie{Name: name, Value: "", Path: k.Path, Expires: time.Unix(0, 0), MaxAge: -1, HTTPOnly: true,
		SameSite: fiber.CookieSameSiteStrictMode, Secure: k.secure(c)})
}

// PreSessionToken is the CSRF token of the forms shown before a session
// exists (sign-in): the value of the cookie name, made when missing. A form
// posted back must carry it (CheckPreSession): another site can neither
// read the cookie nor, with SameSite=Strict, send it.
func (k Cookies) PreSessionToken(c *fiber.Ctx, name string) string {
	pre := c.Cookies(name)
	if pre == "" {
		b := make([]byte, 24)
		_, _ = rand.Read(b)
		pre = base64.RawURLEncoding.EncodeToString(b)
		k.Set(c, name, pre, time.Time{})
	}
	return pre
}

// CheckPreSession compares a form's csrf field with the pre-session
// cookie name. EForbidden when either is missing or they differ; what
// names the area in the message.
func CheckPreSession(c *fiber.Ctx, name, got, what string) error {
	// The same check as a session's token: an empty cookie matches
	// nothing, since an empty form field never passes.
	return licensing.CheckCSRF(c.Cookies(name), got, what)
}

// ParsePages parses templates/layout.html with each other
// templates/*.html of fsys: one set per page, named by its file's base
// name. It panics on a template that does not parse (a build mistake, caught
// by every test).
func ParsePages(fsys fs.FS, funcs template.FuncMap) map[string]*template.Template {
	names, err := fs.Glob(fsys, "templates/*.html")
	if err != nil {
		panic(err)
	}
	pages := map[string]*template.Template{}
	for _, n := range names {
		base := strings.TrimSuffix(strings.TrimPrefix(n, "templates/"), ".html")
		if base == "layout" {
			continue
		}
		pages[base] = template.Must(template.New("layout.html").Funcs(funcs).ParseFS(fsys, "templates/layout.html", n))
	}
	return pages
}

// Render draws page t with data as an HTML answer of status. A template
// that fails is logged and answered with a short 500.
func Render(c *fiber.Ctx, log *slog.Logger, t *template.Template, status int, data any) error {
	var b strings.Builder
	if err := t.Execute(&b, data); err != nil {
		log.Error("render", "path", c.Path(), "err", err)
		return c.Status(fiber.StatusInternalServerError).SendString("the page could not be drawn")
	}
	c.Set(fiber.HeaderContentType, fiber.MIMETextHTMLCharsetUTF8)
	return c.Status(status).SendString(b.String())
}

// Problem is the status and the message an error page shows for err: the
// API's status for its code (api.Status, the one table), and the domain
// message below 500. Errors of 500 and more are logged here, once, and
// shown as a generic sentence.
func Problem(c *fiber.Ctx, log *slog.Logger, err error) (int, string) {
	status := api.Status(err)
	var le *licensing.Error
	if errors.As(err, &le) && status < 500 {
		return status, le.Message
	}
	log.Error("page", "path", c.Path(), "err", err)
	return status, "something went wrong; the error is logged"
}

// ClientKey is what sign-in attempts are counted by: the client's IP and
// what it tried (an email, lower-cased), hashed: a typed email can be 64
// KiB, a key is 97 bytes at most.
func ClientKey(c *fiber.Ctx, what string) string {
	sum := sha256.Sum256([]byte(strings.ToLower(strings.TrimSpace(what))))
	return clientIP(c) + "|" + hex.EncodeToString(sum[:16])
}

// clientIP is the client's address, at most 64 bytes (an IPv6 address
// with a zone fits).
func clientIP(c *fiber.Ctx) string {
	ip := c.IP()
	if len(ip) > 64 {
		ip = ip[:64]
	}
	return ip
}

// Allow spends one attempt of the client under perIP, then one of what it
// tries (ClientKey) under perKey: ERateLimited when either has none left.
// The per-IP budget stops one client from trying many emails (and from
// filling the limiter with keys); an attempt it refuses reaches neither the
// per-email budget nor the audit log.
func Allow(c *fiber.Ctx, limiter api.RateLimiter, perIP, perKey api.RateRule, what string) error {
	if err := spend(c.UserContext(), limiter, perIP, clientIP(c)); err != nil {
		return err
	}
	return spend(c.UserContext(), limiter, perKey, ClientKey(c, what))
}

// Attempt is what Try spent: Succeeded gives it back.
type Attempt struct {
	ctx     context.Context
	limiter api.RateLimiter
	spent   []spent
}

type spent struct {
	rule api.RateRule
	key  string
}

// Try is Allow for attempts with a secret or an account of their own (a
// sign-in link's token, a set-password token, an email's password): one of
// the client under perIP, one under perKey of (IP, what), and one under
// perKey of each of secrets whatever the IP (hashed: the limiter never
// keeps a secret), so that many IPs cannot guess at one token or account
// either. A success calls Succeeded and does not count against any of them.
func Try(c *fiber.Ctx, limiter api.RateLimiter, perIP, perKey api.RateRule, what string, secrets ...string) (*Attempt, error) {
	a := &Attempt{ctx: c.UserContext(), limiter: limiter}
	try := func(rule api.RateRule, key string) error {
		if err := spend(a.ctx, limiter, rule, key); err != nil {
			return err // what it spent before stays spent, as with Allow
		}
		a.spent = append(a.spent, spent{rule, key})
		return nil
	}
	if err := try(perIP, clientIP(c)); err != nil {
		return nil, err
	}
	if err := try(perKey, ClientKey(c, what)); err != nil {
		return nil, err
	}
	for _, s := range secrets {
		sum := sha256.Sum256([]byte(what + "\x00" + s))
		if err := try(perKey, what+":"+hex.EncodeToString(sum[:16])); err != nil {
			return nil, err
		}
	}
	return a, nil
}

// Succeeded gives back what the attempt spent.
func (a *Attempt) Succeeded() {
	for _, s := range a.spent {
		_ = a.limiter.Refund(a.ctx, s.key, s.rule) // at worst the success counted
	}
	a.spent = nil
}

func spend(ctx context.Context, limiter api.RateLimiter, rule api.RateRule, key string) error {
	d, err := limiter.Allow(ctx, key, rule)
	if err != nil {
		return err
	}
	if !d.Allowed {
		return licensing.Errorf(licensing.ERateLimited, "too many attempts: try again in %s", d.RetryAfter.Round(time.Second))
	}
	return nil
}

// NotFound answers a browser's request for a path of the area that has no
// page with the area's HTML error page (fail), not the API's problem JSON;
// other clients get the JSON (Next). Mounted after the area's routes.
func NotFound(fail func(*fiber.Ctx, error) error) fiber.Handler {
	return func(c *fiber.Ctx) error {
		if !strings.Contains(c.Get(fiber.HeaderAccept), "text/html") {
			return c.Next()
		}
		return fail(c, licensing.Errorf(licensing.ENotFound, "there is no page at %s", c.Path()))
	}
}
