package console

import (
	"context"
	"crypto/rand"
	"embed"
	"encoding/base64"
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
	"github.com/nzilacode/narcidicontrole/licensing/release"
	"github.com/nzilacode/narcidicontrole/licensing/users"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Config is what the console needs.
type Config struct {
	Users    *users.Service
	Services *licensing.Services
	// Releases serves the releases pages (nil: they answer 503, as the
	// API's release routes do).
	Releases *release.Service
	// Limiter counts sign-in attempts (the API's limiter, so a Redis-backed
	// one is shared by every instance).
	Limiter api.RateLimiter
	// SignInRate bounds password and second-factor attempts per client IP
	// and email (default: 5, then one every 3 minutes).
	SignInRate api.RateRule
	// SecureCookies marks cookies Secure even on plain HTTP requests (the
	// public URL is https behind a TLS-terminating proxy).
	SecureCookies bool
	Logger        *slog.Logger
	// Queues reports the background job queues on the overview (nil: not
	// shown).
	Queues QueueReporter
}

// DefaultSignInRate lets 5 attempts through at once, then one every 3
// minutes (per IP and email).
var DefaultSignInRate = api.RateRule{Name: "console-signin", Rate: 5, Period: 15 * time.Minute, Burst: 5}

// Console serves the web console.
type Console struct {
	cfg   Config
	pages map[string]*template.Template
}

// Prefix is where the console is mounted.
const Prefix = "/console"

// CookieName is the session cookie; preCookieName carries the CSRF token of
// the forms shown before a session exists (sign-in, set-password).
const (
	CookieName    = "narcidi_console"
	preCookieName = "narcidi_console_pre"
)

// New builds the console; it panics on a template that does not parse (a
// build mistake, caught by every test).
func New(cfg Config) *Console {
	if cfg.Users == nil || cfg.Services == nil || cfg.Limiter == nil {
		panic("console.New: Users, Services and Limiter are required")
	}
	if cfg.SignInRate.Rate == 0 {
		cfg.SignInRate = DefaultSignInRate
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Console{cfg: cfg, pages: parsePages()}
}

var funcs = template.FuncMap{
	"statuses": func() []string { return []string{"active", "suspended", "expired", "revoked"} },
	"list":     func(s ...string) []string { return s },
	"date": func(t any) string {
		switch v := t.(type) {
		case time.Time:
			return v.UTC().Format("2006-01-02 15:04 UTC")
		case *time.Time:
			if v == nil {
				return "never"
			}
			return v.UTC().Format("2006-01-02 15:04 UTC")
		}
		return ""
	},
	"safeURL": func(s string) template.URL {
		// Only the QR code's own data URL goes through here.
		if strings.HasPrefix(s, "data:image/png;base64,") {
			return template.URL(s)
		}
		return ""
	},
}

func parsePages() map[string]*template.Template {
	names, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		panic(err)
	}
	pages := map[string]*template.Template{}
	for _, n := range names {
		base := strings.TrimSuffix(strings.TrimPrefix(n, "templates/"), ".html")
		if base == "layout" {
			continue
		}
		pages[base] = template.Must(template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html", n))
	}
	return pages
}

// Mount adds the console's routes to r (the app's /console group).
func (cn *Console) Mount(r fiber.Router) {
	static, _ := fs.Sub(staticFS, "static")
	r.Use(cn.headers)
	r.Use("/static", filesystem.New(filesystem.Config{Root: http.FS(static), MaxAge: 3600}))
	r.Use(cn.session, cn.csrf)

	r.Get("/sign-in", cn.signInPage)
	r.Post("/sign-in", cn.signIn)
	r.Get("/set-password", cn.setPasswordPage)
	r.Post("/set-password", cn.setPassword)
	r.Get("/two-factor", cn.pending, cn.twoFactorPage)
	r.Post("/two-factor", cn.pending, cn.twoFactor)
	r.Get("/enrol", cn.signedInAny, cn.enrolPage)
	r.Post("/enrol", cn.signedInAny, cn.enrol)
	r.Post("/sign-out", cn.signedInAny, cn.signOut)
	r.Post("/sign-out-everywhere", cn.signedIn, cn.signOutEverywhere)

	for _, rt := range Routes() {
		h := rt.Handler
		r.Add(rt.Method, rt.Path, cn.signedIn, cn.require(rt.Perm), func(c *fiber.Ctx) error { return h(cn, c) })
	}
}

// Route is one page or action of the console behind sign-in, the
// permission of licensing's table it needs and its handler: the console's
// routes × roles matrix is tested against Routes().
type Route struct {
	Name, Method, Path string
	Perm               licensing.Permission
	Handler            func(*Console, *fiber.Ctx) error
}

// routeGroups are the console's areas, one file each (pages.go: overview
// and licenses); a new area adds its slice here.
var routeGroups = [][]Route{
	overviewRoutes,
	licenseFormRoutes, // before licenseRoutes: /licenses/new is no :id (licenseforms.go)
	licenseRoutes,
	catalogRoutes,
	customerRoutes,
	machineRoutes,
	releaseRoutes,
	webhookRoutes,
	auditRoutes,
	tokenRoutes,
	userRoutes,
}

// Routes lists every signed-in page and action.
func Routes() []Route {
	var all []Route
	for _, g := range routeGroups {
		all = append(all, g...)
	}
	return all
}

// headers sets the strict Content-Security-Policy (own scripts and styles
// only, no inline code, images from the server or the QR code's data URL)
// and keeps pages out of caches and frames, and their URLs (a set-password
// link) out of Referer headers.
func (cn *Console) headers(c *fiber.Ctx) error {
	c.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "+
		"form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	c.Set("X-Content-Type-Options", "nosniff")
	c.Set("Referrer-Policy", "no-referrer")
	c.Set("X-Frame-Options", "DENY")
	if !strings.HasPrefix(c.Path(), Prefix+"/static/") {
		c.Set(fiber.HeaderCacheControl, "no-store")
	}
	return c.Next()
}

type currentKey struct{}

func current(c *fiber.Ctx) *users.Current {
	cur, _ := c.Locals(currentKey{}).(*users.Current)
	return cur
}

// session resolves the cookie into the signed-in user, if any. A cookie
// that no longer works (expired, revoked) is cleared.
func (cn *Console) session(c *fiber.Ctx) error {
	secret := c.Cookies(CookieName)
	if secret == "" {
		return c.Next()
	}
	cur, err := cn.cfg.Users.Authenticate(c.UserContext(), secret)
	switch {
	case licensing.ErrorCode(err) == licensing.EUnauthorized:
		cn.clearCookie(c, CookieName)
		return c.Next()
	case err != nil:
		return cn.fail(c, err)
	}
	cur.Actor.RequestID, _ = c.Locals("requestid").(string)
	c.Locals(currentKey{}, cur)
	c.SetUserContext(licensing.WithActor(c.UserContext(), cur.Actor))
	return c.Next()
}

// csrf is the one check of every state-changing request: the form's csrf
// field must be the session's synchronizer token, or, before a session
// exists, the token of the pre-session cookie it was rendered with.
func (cn *Console) csrf(c *fiber.Ctx) error {
	if c.Method() == fiber.MethodGet || c.Method() == fiber.MethodHead {
		return c.Next()
	}
	got := c.FormValue("csrf")
	if cur := current(c); cur != nil {
		if err := users.CheckCSRF(cur.Session, got); err != nil {
			return cn.fail(c, err)
		}
		return c.Next()
	}
	pre := c.Cookies(preCookieName)
	if pre == "" || got == "" || pre != got {
		return cn.fail(c, licensing.Errorf(licensing.EForbidden, "the form has expired or did not come from this console: reload it"))
	}
	return c.Next()
}

// csrfToken is the token the forms of this response carry.
func (cn *Console) csrfToken(c *fiber.Ctx) string {
	if cur := current(c); cur != nil {
		return cur.Session.CSRFToken
	}
	pre := c.Cookies(preCookieName)
	if pre == "" {
		b := make([]byte, 24)
		_, _ = rand.Read(b)
		pre = base64.RawURLEncoding.EncodeToString(b)
		cn.setCookie(c, preCookieName, pre, time.Time{})
	}
	return pre
}

// signedIn lets a fully signed-in session through; sends others to sign
// in (or to their second factor).
func (cn *Console) signedIn(c *fiber.Ctx) error {
	cur := current(c)
	if cur == nil {
		return cn.toSignIn(c)
	}
	if cur.Session.Stage != users.StageFull {
		return cn.redirect(c, cn.secondStep(cur))
	}
	return c.Next()
}

// signedInAny lets any session through, pending ones included (enrolment,
// sign-out).
func (cn *Console) signedInAny(c *fiber.Ctx) error {
	if current(c) == nil {
		return cn.toSignIn(c)
	}
	return c.Next()
}

// pending lets through a session that owes its TOTP code.
func (cn *Console) pending(c *fiber.Ctx) error {
	cur := current(c)
	switch {
	case cur == nil:
		return cn.toSignIn(c)
	case cur.Session.Stage == users.StageFull:
		return cn.redirect(c, Prefix+"/")
	case cn.cfg.Users.NeedsEnrolment(cur.User):
		return cn.redirect(c, Prefix+"/enrol")
	}
	return c.Next()
}

func (cn *Console) secondStep(cur *users.Current) string {
	if cn.cfg.Users.NeedsEnrolment(cur.User) {
		return Prefix + "/enrol"
	}
	return Prefix + "/two-factor"
}

func (cn *Console) toSignIn(c *fiber.Ctx) error {
	if c.Method() != fiber.MethodGet {
		return cn.fail(c, licensing.Errorf(licensing.EUnauthorized, "sign in first"))
	}
	return cn.redirect(c, Prefix+"/sign-in")
}

// require refuses (403) a user whose role lacks p: the same table and
// the same check (Actor.Allows) as the API's tokens.
func (cn *Console) require(p licensing.Permission) fiber.Handler {
	return func(c *fiber.Ctx) error {
		if !current(c).Actor.Allows(p) {
			return cn.fail(c, licensing.Errorf(licensing.EForbidden, "your role may not do this (needs %s)", p))
		}
		return c.Next()
	}
}

func (cn *Console) secure(c *fiber.Ctx) bool { return cn.cfg.SecureCookies || c.Protocol() == "https" }

func (cn *Console) setCookie(c *fiber.Ctx, name, value string, expires time.Time) {
	c.Cookie(&fiber.Cookie{Name: name, Value: value, Path: Prefix, Expires: expires, HTTPOnly: true,
		SameSite: fiber.CookieSameSiteStrictMode, Secure: cn.secure(c)})
}

func (cn *Console) clearCookie(c *fiber.Ctx, name string) {
	c.Cookie(&fiber.Cookie{Name: name, Value: "", Path: Prefix, Expires: time.Unix(0, 0), MaxAge: -1, HTTPOnly: true,
		SameSite: fiber.CookieSameSiteStrictMode, Secure: cn.secure(c)})
}

func (cn *Console) redirect(c *fiber.Ctx, to string) error {
	return c.Redirect(to, fiber.StatusSeeOther)
}

// page is what every template gets.
type page struct {
	Title string
	CSRF  string
	User  *users.User
	Nav   string
	Error string
	Data  any
	// Can takes a permission's name ("machines:write"): templates pass
	// string constants, which call does not convert to Permission.
	Can func(string) bool
}

func (cn *Console) render(c *fiber.Ctx, status int, name, title string, data any) error {
	t, ok := cn.pages[name]
	if !ok {
		return errors.New("console: no template " + name)
	}
	p := page{Title: title, CSRF: cn.csrfToken(c), Data: data, Nav: name, Can: func(string) bool { return false }}
	if cur := current(c); cur != nil && cur.Session.Stage == users.StageFull {
		p.User, p.Can = cur.User, func(perm string) bool { return cur.Actor.Allows(licensing.Permission(perm)) }
	}
	// The page data may be a formError or embed one (setPasswordData...).
	if e, ok := data.(interface{ formMessage() string }); ok {
		p.Error = e.formMessage()
	}
	var b strings.Builder
	if err := t.Execute(&b, p); err != nil {
		cn.cfg.Logger.Error("console: render", "page", name, "err", err)
		return c.Status(fiber.StatusInternalServerError).SendString("the page could not be drawn")
	}
	c.Set(fiber.HeaderContentType, fiber.MIMETextHTMLCharsetUTF8)
	return c.Status(status).SendString(b.String())
}

type formError struct{ msg string }

func (e formError) formMessage() string { return e.msg }

// fail renders a domain error as an HTML page with the API's status for
// its code (the same table, api.Status).
func (cn *Console) fail(c *fiber.Ctx, err error) error {
	status := api.Status(err)
	msg := "something went wrong; the error is logged"
	var le *licensing.Error
	if errors.As(err, &le) && status < 500 {
		msg = le.Message
	} else {
		cn.cfg.Logger.Error("console", "path", c.Path(), "err", err)
	}
	return cn.render(c, status, "error", "Error", errorData{Status: status, Message: msg})
}

type errorData struct {
	Status  int
	Message string
}

// clientKey is what sign-in attempts are counted by.
func clientKey(c *fiber.Ctx, email string) string {
	return c.IP() + "|" + strings.ToLower(strings.TrimSpace(email))
}

// allow spends one sign-in attempt of key: ERateLimited when none is left.
func (cn *Console) allow(ctx context.Context, key string) error {
	d, err := cn.cfg.Limiter.Allow(ctx, key, cn.cfg.SignInRate)
	if err != nil {
		return err
	}
	if !d.Allowed {
		return licensing.Errorf(licensing.ERateLimited, "too many attempts: try again in %s", d.RetryAfter.Round(time.Second))
	}
	return nil
}
