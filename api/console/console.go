package console

import (
	"embed"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/nzilacode/narcidicontrole/api"
	"github.com/nzilacode/narcidicontrole/api/webui"
	"github.com/nzilacode/narcidicontrole/licensing"
	"github.com/nzilacode/narcidicontrole/licensing/i18n"
	"github.com/nzilacode/narcidicontrole/licensing/insights"
	"github.com/nzilacode/narcidicontrole/licensing/portal"
	"github.com/nzilacode/narcidicontrole/licensing/release"
	"github.com/nzilacode/narcidicontrole/licensing/subscription"
	"github.com/nzilacode/narcidicontrole/licensing/users"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Config is what the console needs.
//
// Alike api/portal/portal.go (Config, New, Mount, the route guards, page
// and render): kept apart because each audience has its own session type,
// services, routes and page data; the mechanics they share (assets,
// cookies, sessions, CSRF, rate limits, refusals, rendering) are webui's.
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
	// SignInIPRate bounds them per client IP, whatever the email (default:
	// 20, then one every 30 seconds).
	SignInIPRate api.RateRule
	// BaseURL is the server's public URL (NARCIDI_PUBLIC_URL), which the
	// set-password links shown to admins start with: never the request's
	// Host or X-Forwarded-Host, which a client chooses. Nil: the links are
	// shown as paths.
	BaseURL func() string
	// SecureCookies marks cookies Secure even on plain HTTP requests (the
	// public URL is https behind a TLS-terminating proxy).
	SecureCookies bool
	Logger        *slog.Logger
	// Queues reports the background job queues on the overview (nil: not
	// shown).
	Queues QueueReporter
	// Insights reads the insights scores (nil: the insights page answers
	// 503 and the other pages leave them out); Thresholds are the
	// installation's, for the overview's strongest scores above them.
	Insights   *insights.Scores
	Thresholds insights.Thresholds
	// Subscriptions serves a customer's subscriptions page (nil: it says
	// they are not configured); set with WithSubscriptions.
	Subscriptions *subscription.Service
	// PortalLinks makes customers' portal sign-in links for staff (nil:
	// the customer's portal-link page answers 503); set with
	// WithPortalLinks.
	PortalLinks *portal.Service
	// Clock is the time of the pages' windows ("the last 30 days";
	// default time.Now).
	Clock func() time.Time
}

// DefaultSignInRate lets 5 attempts through at once, then one every 3
// minutes (per IP and email).
var DefaultSignInRate = api.RateRule{Name: "console-signin", Rate: 5, Period: 15 * time.Minute, Burst: 5}

// DefaultSignInIPRate lets 20 attempts of one IP through at once, then one
// every 30 seconds, whatever the emails.
var DefaultSignInIPRate = api.RateRule{Name: "console-signin-ip", Rate: 30, Period: 15 * time.Minute, Burst: 20}

// Console serves the web console.
type Console struct {
	cfg      Config
	pages    map[string]*template.Template
	cookies  webui.Cookies
	sessions *webui.Sessions[*users.Current]
	targets  *webui.Targets // where a redirect may go
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
	if cfg.SignInIPRate.Rate == 0 {
		cfg.SignInIPRate = DefaultSignInIPRate
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	cn := &Console{cfg: cfg, pages: webui.ParsePages(templateFS, funcs), cookies: webui.Cookies{Path: Prefix, ForceSecure: cfg.SecureCookies}}
	cn.sessions = &webui.Sessions[*users.Current]{Cookies: cn.cookies, Cookie: CookieName, Pre: preCookieName, Area: "console",
		Authenticate: cfg.Users.Authenticate, Fail: cn.fail,
		Actor: func(cur *users.Current) *licensing.Actor { return cur.Actor },
		Token: func(cur *users.Current) string { return cur.Session.CSRFToken }}
	pages := []string{"/sign-in", "/set-password", "/forgot-password", "/two-factor", "/enrol", "/settings"}
	for _, rt := range Routes() {
		if rt.Method == fiber.MethodGet {
			pages = append(pages, rt.Path)
		}
	}
	cn.targets = webui.NewTargets(Prefix, Prefix+"/", pages...)
	return cn
}

// funcs are the templates' functions: the fixed ones and, bound at parse
// time to English, the reader's (localFuncs), which render binds again to
// each request's printer.
var funcs = withLocal(template.FuncMap{
	"statuses": func() []string { return []string{"active", "suspended", "expired", "revoked"} },
	"list":     func(s ...string) []string { return s },
	// actionForms is the argument of the "action-forms" template: the
	// record's path, the page's CSRF token and its actions.
	"actionForms": func(path, csrf string, actions []string) actionForms {
		return actionForms{Path: path, CSRF: csrf, Actions: actions}
	},
	"danger": func(action string) bool { return dangerous[action] },
	"safeURL": func(s string) template.URL {
		// Only the QR code's own data URL goes through here.
		if strings.HasPrefix(s, "data:image/png;base64,") {
			return template.URL(s)
		}
		return ""
	},
}, i18n.For(i18n.English, ""))

// dateIn writes a time (or *time.Time, "never" when nil) in pr's time
// zone: in English as the console always has ("2026-05-01 10:00 UTC",
// sortable, what staff and the tests compare), in another language as
// its readers write dates ("1 de maio de 2026, 10:00 UTC").
func dateIn(pr *i18n.Printer, t any) string {
	var at time.Time
	switch v := t.(type) {
	case time.Time:
		at = v
	case *time.Time:
		if v == nil {
			return pr.T("common.never")
		}
		at = *v
	default:
		return ""
	}
	if pr.Lang() == i18n.English {
		return at.In(pr.Location()).Format("2006-01-02 15:04 MST")
	}
	return pr.DateTime(at)
}

// withLocal adds localFuncs(pr) to fixed.
func withLocal(fixed template.FuncMap, pr *i18n.Printer) template.FuncMap {
	for k, v := range localFuncs(pr) {
		fixed[k] = v
	}
	return fixed
}

// localFuncs writes the words (t: text, th: HTML with markup, tn: a
// count's), dates and numbers of a page in pr's language and time zone.
func localFuncs(pr *i18n.Printer) template.FuncMap {
	return template.FuncMap{
		"t":         pr.T,
		"th":        pr.HTML,
		"tn":        pr.N,
		"date":      func(t any) string { return dateIn(pr, t) },
		"num":       pr.Int,
		"duration":  pr.Duration,
		"lang":      pr.Lang,
		"languages": i18n.Languages,
		// status names a state in words: the console's own
		// ("console.status.customer.active"), the shared one
		// ("status.license.active"), else the state itself.
		"status": func(kind string, s any) string {
			for _, key := range []string{"console.status." + kind + "." + fmt.Sprint(s), "status." + kind + "." + fmt.Sprint(s)} {
				if i18n.Has(key) {
					return pr.T(key)
				}
			}
			return fmt.Sprint(s)
		},
		"verb":  func(action string) string { return word(pr, "console.verb.", action) },
		"done":  func(action string) string { return word(pr, "console.done.", action) },
		"event": func(action string) string { return eventLabel(pr, action) },
		// reason says an insight's reason in the reader's words (its
		// stored English Text when it has no message).
		"reason": func(r insights.Reason) string { return r.In(pr) },
	}
}

// actionForms is what the shared "action-forms" template (layout.html)
// draws: one form per action, each posting a reason to Path/<action>.
type actionForms struct {
	Path, CSRF string
	Actions    []string
}

// Mount adds the console's routes to r (the app's /console group).
func (cn *Console) Mount(r fiber.Router) {
	webui.Assets(r, Prefix, staticFS)
	r.Use(cn.sessions.Resolve, cn.sessions.CSRF, cn.language)

	r.Get("/sign-in", cn.signInPage)
	r.Post("/sign-in", cn.signIn)
	r.Get("/set-password", cn.setPasswordPage)
	r.Post("/set-password", cn.setPassword)
	r.Get("/forgot-password", cn.forgotPage)
	r.Post("/forgot-password", cn.forgot)
	r.Get("/two-factor", cn.pending, cn.twoFactorPage)
	r.Post("/two-factor", cn.pending, cn.twoFactor)
	r.Get("/enrol", cn.signedInAny, cn.enrolPage)
	r.Post("/enrol", cn.signedInAny, cn.enrol)
	r.Post("/sign-out", cn.signedInAny, cn.signOut)
	r.Post("/sign-out-everywhere", cn.signedIn, cn.signOutEverywhere)
	r.Get("/settings", cn.signedIn, cn.settingsPage)
	r.Post("/settings", cn.signedIn, cn.saveSettings)

	for _, rt := range Routes() {
		h := rt.Handler
		r.Add(rt.Method, rt.Path, cn.signedIn, cn.require(rt.Perm), func(c *fiber.Ctx) error { return h(cn, c) })
	}
	r.Use(webui.NotFound(cn.fail))
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
// and licenses); a new area adds its slice here. The area files open
// alike (imports, a routes slice, page data types): by shape only, each
// serves its own pages through the shared Console methods.
var routeGroups = [][]Route{
	overviewRoutes,
	searchRoutes,
	licenseFormRoutes, // before licenseRoutes: /licenses/new is no :id (licenseforms.go)
	licenseRoutes,
	catalogRoutes,
	customerRoutes,
	portalLinkRoutes,
	mailPreviewRoutes,
	subscriptionRoutes,
	machineRoutes,
	releaseUploadRoutes, // before releaseRoutes: /releases/new is no :release
	releaseRoutes,
	webhookRoutes,
	deliveryRoutes,
	auditRoutes,
	exportRoutes,
	tokenRoutes,
	userRoutes,
	insightRoutes,
}

// Routes lists every signed-in page and action.
func Routes() []Route {
	var all []Route
	for _, g := range routeGroups {
		all = append(all, g...)
	}
	return all
}

func current(c *fiber.Ctx) *users.Current {
	cur, _ := webui.Current[*users.Current](c)
	return cur
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

func (cn *Console) setCookie(c *fiber.Ctx, name, value string, expires time.Time) {
	cn.cookies.Set(c, name, value, expires)
}

func (cn *Console) clearCookie(c *fiber.Ctx, name string) { cn.cookies.Clear(c, name) }

// redirect goes to a page of the console's allowlist (webui.Targets), the
// console's home otherwise.
func (cn *Console) redirect(c *fiber.Ctx, to string) error {
	return c.Redirect(cn.targets.Safe(to), fiber.StatusSeeOther)
}

// page is what every template gets.
type page struct {
	Title string
	CSRF  string
	User  *users.User
	Nav   string
	Error string
	// Detail is the domain's English message under a translated form
	// error, on English pages only (it may name values the sentence
	// leaves out).
	Detail string
	Data   any
	// Can takes a permission's name ("machines:write"): templates pass
	// string constants, which call does not convert to Permission.
	Can func(string) bool
}

// render draws page name with data; title is a catalog key (with its
// titleArgs). The page's templates are a clone of the parsed ones bound
// to the reader's printer.
func (cn *Console) render(c *fiber.Ctx, status int, name, title string, data any, titleArgs ...any) error {
	parsed, ok := cn.pages[name]
	if !ok {
		return errors.New("console: no template " + name)
	}
	pr := printer(c)
	t, err := parsed.Clone()
	if err != nil {
		return err
	}
	t.Funcs(localFuncs(pr))
	// insights.go (another change's) still passes an English title.
	if i18n.Has(title) {
		title = pr.T(title, titleArgs...)
	}
	p := page{Title: title, CSRF: cn.sessions.CSRFToken(c), Data: data, Nav: name, Can: func(string) bool { return false }}
	if cur := current(c); cur != nil && cur.Session.Stage == users.StageFull {
		p.User, p.Can = cur.User, func(perm string) bool { return cur.Actor.Allows(licensing.Permission(perm)) }
	}
	// The page data may be a formError or embed one (setPasswordData...).
	if e, ok := data.(interface{ refusalOf() (error, string) }); ok {
		if err, msg := e.refusalOf(); err != nil {
			p.Error, p.Detail = webui.Refusal(pr, err)
		} else {
			p.Error = msg
		}
	}
	return webui.Render(c, cn.cfg.Logger, t, status, p)
}

// formError is a form's refusal: the domain's error (shown translated
// with its field's label, webui.FormError) or a sentence already in the
// reader's words.
type formError struct {
	err error
	msg string
}

func (e formError) refusalOf() (error, string) { return e.err, e.msg }

// refusal is the formError of a domain error.
func refusal(err error) formError { return formError{err: err} }

// said is the formError of a sentence of the catalog in the request's
// language.
func said(c *fiber.Ctx, key string, args ...any) formError {
	return formError{msg: printer(c).T(key, args...)}
}

// fail renders a domain error as an HTML page with the API's status for
// its code (the same table, api.Status).
func (cn *Console) fail(c *fiber.Ctx, err error) error {
	status, _ := webui.Problem(c, cn.cfg.Logger, err)
	msg := webui.ErrorSentence(printer(c), err)
	return cn.render(c, status, "error", "common.error", errorData{Status: status, Message: msg})
}

type errorData struct {
	Status  int
	Message string
}

// language notes the reader's printer for the pages (webui.UseLanguage):
// the signed-in user's preference (and time zone) first. Only the
// signed-out pages switch: a signed-in page's ?lang= is its own (the mail
// previews' language).
func (cn *Console) language(c *fiber.Ctx) error {
	var pref, zone string
	cur := current(c)
	if cur != nil {
		pref, zone = cur.User.Language, cur.User.TimeZone
	}
	webui.UseLanguage(c, cn.cookies, cur == nil, pref, zone)
	return c.Next()
}

// printer is the request's reader's printer.
func printer(c *fiber.Ctx) *i18n.Printer { return webui.Printer(c) }

// allow spends one sign-in attempt of the client and of what it tries:
// ERateLimited when none is left.
func (cn *Console) allow(c *fiber.Ctx, what string) error {
	return webui.Allow(c, cn.cfg.Limiter, cn.cfg.SignInIPRate, cn.cfg.SignInRate, what)
}

// try is allow for an attempt at a secret (webui.Try): limited per secret
// too, and given back when it succeeds.
func (cn *Console) try(c *fiber.Ctx, what string, secrets ...string) (*webui.Attempt, error) {
	return webui.Try(c, cn.cfg.Limiter, cn.cfg.SignInIPRate, cn.cfg.SignInRate, what, secrets...)
}
