package portal

import (
	"embed"
	"fmt"
	"html/template"
	"log/slog"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/nzilacode/narcidicontrole/api"
	"github.com/nzilacode/narcidicontrole/api/webui"
	"github.com/nzilacode/narcidicontrole/licensing"
	"github.com/nzilacode/narcidicontrole/licensing/i18n"
	"github.com/nzilacode/narcidicontrole/licensing/portal"
	"github.com/nzilacode/narcidicontrole/licensing/release"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Config is what the portal needs.
type Config struct {
	SignIn   *portal.Service
	Services *licensing.Services
	// Releases serves downloads (nil: the downloads page says there are
	// none to offer).
	Releases *release.Service
	// Limiter counts sign-in attempts (the API's limiter).
	Limiter api.RateLimiter
	// SignInRate bounds link requests and redemptions per client IP and
	// email (default: 5, then one every 3 minutes).
	SignInRate api.RateRule
	// SignInIPRate bounds them per client IP, whatever the email (default:
	// 20, then one every 30 seconds).
	SignInIPRate api.RateRule
	// BaseURL is the server's public URL, which mailed links start with.
	BaseURL func() string
	// SecureCookies marks cookies Secure even on plain HTTP requests.
	SecureCookies bool
	Logger        *slog.Logger
}

// DefaultSignInRate lets 5 attempts through at once, then one every 3
// minutes (per IP and email).
var DefaultSignInRate = api.RateRule{Name: "portal-signin", Rate: 5, Period: 15 * time.Minute, Burst: 5}

// DefaultSignInIPRate lets 20 attempts of one IP through at once, then one
// every 30 seconds, whatever the emails.
var DefaultSignInIPRate = api.RateRule{Name: "portal-signin-ip", Rate: 30, Period: 15 * time.Minute, Burst: 20}

// Portal serves the customer portal.
type Portal struct {
	cfg      Config
	pages    map[string]*template.Template
	cookies  webui.Cookies
	sessions *webui.Sessions[*portal.Current]
	targets  *webui.Targets // where a redirect may go
}

// Prefix is where the portal is mounted.
const Prefix = "/portal"

// CookieName is the session cookie; preCookieName carries the CSRF token of
// the forms shown before a session exists.
const (
	CookieName    = "narcidi_portal"
	preCookieName = "narcidi_portal_pre"
)

// New builds the portal; it panics on a template that does not parse.
func New(cfg Config) *Portal {
	if cfg.SignIn == nil || cfg.Services == nil || cfg.Limiter == nil || cfg.BaseURL == nil {
		panic("portal.New: SignIn, Services, Limiter and BaseURL are required")
	}
	if cfg.SignInRate.Rate == 0 {
		cfg.SignInRate = DefaultSignInRate
	}
	if cfg.SignInIPRate.Rate == 0 {
		cfg.SignInIPRate = DefaultSignInIPRate
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	p := &Portal{cfg: cfg, pages: webui.ParsePages(templateFS, funcs), cookies: webui.Cookies{Path: Prefix, ForceSecure: cfg.SecureCookies}}
	p.sessions = &webui.Sessions[*portal.Current]{Cookies: p.cookies, Cookie: CookieName, Pre: preCookieName, Area: "portal",
		Authenticate: cfg.SignIn.Authenticate, Fail: p.fail,
		Actor: func(cur *portal.Current) *licensing.Actor { return cur.Actor },
		Token: func(cur *portal.Current) string { return cur.Session.CSRFToken }}
	pages := []string{"/sign-in", "/link", "/password", "/settings"}
	for _, rt := range Routes() {
		if rt.Method == fiber.MethodGet {
			pages = append(pages, rt.Path)
		}
	}
	p.targets = webui.NewTargets(Prefix, Prefix+"/", pages...)
	return p
}

// funcs are the templates' functions, bound at parse time to English
// and for each request to the reader's printer (localFuncs).
var funcs = localFuncs(i18n.For(i18n.English, ""), 15*time.Minute)

// localFuncs writes the words (t: text, th: HTML with markup), dates and
// counts of a page in pr's language and time zone.
func localFuncs(pr *i18n.Printer, linkTTL time.Duration) template.FuncMap {
	return template.FuncMap{
		"t":  pr.T,
		"th": pr.HTML,
		"date": func(t any) string {
			switch v := t.(type) {
			case time.Time:
				return pr.DateTime(v)
			case *time.Time:
				if v != nil {
					return pr.DateTime(*v)
				}
			}
			return pr.T("common.never")
		},
		"seats": func(max int) string {
			if max <= 0 {
				return pr.T("common.unlimited")
			}
			return pr.Int(max)
		},
		// status names a license's or a machine's state in words.
		"status": func(kind string, s any) string {
			key := "status." + kind + "." + fmt.Sprint(s)
			if !i18n.Has(key) {
				return fmt.Sprint(s)
			}
			return pr.T(key)
		},
		"bytes":     func(n int64) string { return pr.N("unit.bytes", int(n)) },
		"duration":  pr.Duration,
		"linkTTL":   func() time.Duration { return linkTTL },
		"lang":      pr.Lang,
		"languages": i18n.Languages,
	}
}

// language notes the reader's printer for the pages and the mails the
// request sends (webui.UseLanguage): the signed-in customer's preference
// first; every page has the switch.
func (p *Portal) language(c *fiber.Ctx) error {
	var pref, zone string
	if cur := current(c); cur != nil {
		pref, zone = cur.Customer.Language, cur.Customer.TimeZone
	}
	webui.UseLanguage(c, p.cookies, true, pref, zone)
	return c.Next()
}

// printer is the request's reader's printer.
func (p *Portal) printer(c *fiber.Ctx) *i18n.Printer { return webui.Printer(c) }

// Route is one page or action behind sign-in and the permission of the
// customer record it needs.
type Route struct {
	Name, Method, Path string
	Perm               licensing.Permission
	Handler            func(*Portal, *fiber.Ctx) error
}

// Routes lists every signed-in page and action.
func Routes() []Route {
	return []Route{
		{"licenses", "GET", "/", licensing.ReadLicenses, (*Portal).licenses},
		{"license", "GET", "/licenses/:id", licensing.ReadLicenses, (*Portal).license},
		{"machines", "GET", "/machines", licensing.ReadMachines, (*Portal).machines},
		{"freeSeat", "POST", "/machines/:id/deactivate", licensing.WriteMachines, (*Portal).freeSeat},
		{"downloads", "GET", "/downloads", licensing.ReadLicenses, (*Portal).downloads},
		{"download", "GET", "/downloads/:license/:version/:platform/:arch", licensing.ReadLicenses, (*Portal).download},
		{"offline", "GET", "/offline", licensing.WriteMachines, (*Portal).offlinePage},
		{"offlineExchange", "POST", "/offline", licensing.WriteMachines, (*Portal).offlineExchange},
		{"contacts", "GET", "/contacts", licensing.ReadCustomers, (*Portal).contacts},
		{"saveContacts", "POST", "/contacts", licensing.WriteContacts, (*Portal).saveContacts},
	}
}

// Mount adds the portal's routes to r (the app's /portal group).
func (p *Portal) Mount(r fiber.Router) {
	webui.Assets(r, Prefix, staticFS)
	r.Use(p.sessions.Resolve, p.sessions.CSRF, p.language)

	r.Get("/sign-in", p.signInPage)
	r.Post("/sign-in", p.requestLink)
	r.Get("/link", p.linkPage)
	r.Post("/link", p.redeem)
	r.Post("/sign-in/password", p.signInWithPassword)
	r.Post("/sign-out", p.signedIn, p.signOut)
	r.Get("/password", p.signedIn, p.passwordPage)
	r.Post("/password", p.signedIn, p.setPassword)
	r.Get("/settings", p.signedIn, p.settingsPage)
	r.Post("/settings", p.signedIn, p.saveSettings)
	for _, rt := range Routes() {
		h := rt.Handler
		r.Add(rt.Method, rt.Path, p.signedIn, p.require(rt.Perm), func(c *fiber.Ctx) error { return h(p, c) })
	}
	r.Use(webui.NotFound(p.fail))
}

func current(c *fiber.Ctx) *portal.Current {
	cur, _ := webui.Current[*portal.Current](c)
	return cur
}

func (p *Portal) signedIn(c *fiber.Ctx) error {
	if current(c) != nil {
		return c.Next()
	}
	if c.Method() != fiber.MethodGet {
		return p.fail(c, licensing.Errorf(licensing.EUnauthorized, "sign in first"))
	}
	return p.redirect(c, Prefix+"/sign-in")
}

// require refuses (403) what the customer record does not permit: the
// same check (Actor.Allows) as the customer's API tokens.
func (p *Portal) require(perm licensing.Permission) fiber.Handler {
	return func(c *fiber.Ctx) error {
		if !current(c).Actor.Allows(perm) {
			return p.fail(c, licensing.Errorf(licensing.EForbidden, "your account may not do this (ask NzilaCode for %s)", perm))
		}
		return c.Next()
	}
}

// redirect goes to a page of the portal's allowlist (webui.Targets), the
// portal's home otherwise.
func (p *Portal) redirect(c *fiber.Ctx, to string) error {
	return c.Redirect(p.targets.Safe(to), fiber.StatusSeeOther)
}

// page is what every template gets.
type page struct {
	Title    string
	CSRF     string
	Customer *licensing.Customer
	Email    string
	Nav      string
	Error    string
	Detail   string // the domain's message under Error, on English pages
	Notice   string
	Data     any
	// Can says whether the customer record grants a permission (by name,
	// as templates write it).
	Can func(string) bool
}

// render draws page name with data; title is a catalog key (with its
// titleArgs). The page's templates are a clone of the parsed ones bound to
// the reader's printer.
func (p *Portal) render(c *fiber.Ctx, status int, name, title string, data any, titleArgs ...any) error {
	pr := p.printer(c)
	t, err := p.pages[name].Clone()
	if err != nil {
		return err
	}
	t.Funcs(localFuncs(pr, p.cfg.SignIn.LinkTTL()))
	pg := page{Title: pr.T(title, titleArgs...), CSRF: p.sessions.CSRFToken(c), Data: data, Nav: name, Notice: c.Query("done"), Can: func(string) bool { return false }}
	if cur := current(c); cur != nil {
		pg.Customer, pg.Email = cur.Customer, cur.Session.Email
		pg.Can = func(p string) bool { return cur.Actor.Allows(licensing.Permission(p)) }
	}
	// Page data may embed formError to show a form's refusal.
	if e, ok := data.(interface{ formMessage() (string, string) }); ok {
		pg.Error, pg.Detail = e.formMessage()
	}
	return webui.Render(c, p.cfg.Logger, t, status, pg)
}

// formError is a form's refusal in the reader's words, and the domain's
// English message as a detail on English pages (refusal).
type formError struct{ msg, detail string }

func (e formError) formMessage() (string, string) { return e.msg, e.detail }

// refusal is the formError of a domain error: the sentence of its code
// with its field's label (webui.FormError, shared with the console).
func (p *Portal) refusal(c *fiber.Ctx, err error) formError {
	msg, detail := webui.Refusal(p.printer(c), err)
	return formError{msg: msg, detail: detail}
}

type errorData struct {
	Status  int
	Message string
}

// fail renders a domain error with the API's status for its code: another
// customer's id is ENotFound, so 404.
func (p *Portal) fail(c *fiber.Ctx, err error) error {
	status, msg := webui.Problem(c, p.cfg.Logger, err)
	return p.render(c, status, "error", "portal.page.error", errorData{Status: status, Message: msg})
}

// allow spends one sign-in attempt of key: ERateLimited when none is left.
func (p *Portal) allow(c *fiber.Ctx, what string) error {
	return webui.Allow(c, p.cfg.Limiter, p.cfg.SignInIPRate, p.cfg.SignInRate, what)
}

// try is allow for an attempt at a secret or an account (webui.Try):
// limited per secret too, and given back when it succeeds.
func (p *Portal) try(c *fiber.Ctx, what string, secrets ...string) (*webui.Attempt, error) {
	return webui.Try(c, p.cfg.Limiter, p.cfg.SignInIPRate, p.cfg.SignInRate, what, secrets...)
}
