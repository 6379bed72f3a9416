package custmail

import (
	"bytes"
	"embed"
	"fmt"
	htmltemplate "html/template"
	"strings"
	texttemplate "text/template"
	"time"

	"github.com/nzilacode/narcidicontrole/licensing"
	"github.com/nzilacode/narcidicontrole/licensing/i18n"
)

// Data is what a customer mail says.
type Data struct {
	CustomerName string
	// Product is the product's name ("Acme Pro"), Plan the policy's.
	Product, Plan string
	LicenseName   string
	KeyHint       string
	// ExpiresAt is the license's end (nil: it does not expire); Days the
	// days left for an expiry notice.
	ExpiresAt *time.Time
	Days      int
	// Message is what staff wrote to the customer (a suspension's).
	Message string
	// PortalURL is the customer portal's address ("" leaves the link out).
	PortalURL string
	// Language ("pt-PT"; "" is the server default) and TimeZone (an IANA
	// name, "" is UTC) are the customer's: the mail is written in them.
	Language, TimeZone string
}

// Kinds are the license actions that have a customer mail, in the order
// the console's preview lists them.
var Kinds = []string{
	licensing.ActionLicenseExpiring, licensing.ActionLicenseExpired, licensing.ActionLicenseSuspended,
	licensing.ActionLicenseReinstated, licensing.ActionLicenseRevoked, licensing.ActionLicenseRenewed,
}

// Has reports whether action has a customer mail.
func Has(action string) bool {
	for _, k := range Kinds {
		if k == action {
			return true
		}
	}
	return false
}

//go:embed templates
var files embed.FS

// mailFuncs are the templates' functions in pr's language and time zone.
func mailFuncs(pr *i18n.Printer) map[string]any {
	return map[string]any{
		"t":    pr.T,
		"th":   pr.HTML,
		"lang": pr.Lang,
		"date": func(t *time.Time) string {
			if t == nil {
				return ""
			}
			return pr.Date(*t)
		},
		"days":     func(n int) string { return pr.N("unit.days", n) },
		"duration": pr.Duration,
		// which names the license: "your Acme Pro license “Team” (key
		// ending in 7QX4, plan Pro)"; whichHTML with its markup.
		"which":     func(d Data) string { return string(which(pr, d, pr.T)) },
		"whichHTML": func(d Data) htmltemplate.HTML { return which(pr, d, htmlT(pr)) },
	}
}

func htmlT(pr *i18n.Printer) func(string, ...any) string {
	return func(key string, args ...any) string { return string(pr.HTML(key, args...)) }
}

func which(pr *i18n.Printer, d Data, t func(string, ...any) string) htmltemplate.HTML {
	s := t("mail.which", "product", d.Product)
	if d.LicenseName != "" {
		s += t("mail.which_name", "name", d.LicenseName)
	}
	s += " (" + t("mail.which_key", "hint", d.KeyHint)
	if d.Plan != "" {
		s += t("mail.which_plan", "plan", d.Plan)
	}
	return htmltemplate.HTML(s + ")")
}

// The templates are parsed once with English bound; each rendering binds
// a clone to the recipient's printer (a parsed template never runs, so it
// can always be cloned).
var (
	texts = texttemplate.Must(texttemplate.New("").Funcs(mailFuncs(i18n.For(i18n.English, ""))).ParseFS(files, "templates/*.txt"))
	htmls = htmltemplate.Must(htmltemplate.New("").Funcs(mailFuncs(i18n.For(i18n.English, ""))).ParseFS(files, "templates/*.html"))
)

// Mail is a rendered mail.
type Mail struct {
	Subject, Text, HTML string
}

func file(action string) string { return strings.ReplaceAll(action, ".", "_") }

// Render draws the mail of action with d, in d's language and time zone.
// An action without a customer mail is an error.
func Render(action string, d Data) (*Mail, error) {
	if !Has(action) {
		return nil, fmt.Errorf("custmail: no customer mail for %q", action)
	}
	if d.Product == "" {
		d.Product = "NzilaCode"
	}
	m, err := render(i18n.For(d.Language, d.TimeZone), file(action)+".txt", file(action)+".html", d)
	if err != nil {
		return nil, err
	}
	var subject bytes.Buffer
	t, _ := texts.Clone()
	if err := t.Funcs(mailFuncs(i18n.For(d.Language, d.TimeZone))).ExecuteTemplate(&subject, "subject_"+file(action), d); err != nil {
		return nil, err
	}
	m.Subject = strings.TrimSpace(subject.String())
	return m, nil
}

func render(pr *i18n.Printer, textName, htmlName string, data any) (*Mail, error) {
	var text, html bytes.Buffer
	t, err := texts.Clone()
	if err != nil {
		return nil, err
	}
	if err := t.Funcs(mailFuncs(pr)).ExecuteTemplate(&text, textName, data); err != nil {
		return nil, err
	}
	h, err := htmls.Clone()
	if err != nil {
		return nil, err
	}
	if err := h.Funcs(mailFuncs(pr)).ExecuteTemplate(&html, htmlName, data); err != nil {
		return nil, err
	}
	return &Mail{Text: text.String(), HTML: html.String()}, nil
}

// SignIn is what a portal sign-in mail says: one link per customer the
// email opens, how long they work, and whether staff sent it.
type SignIn struct {
	Email string
	Links []SignInLink
	TTL   time.Duration
	// Staff: sent on staff's request (the console, narcidi portal-link),
	// not asked for on the sign-in page.
	Staff bool
}

// SignInLink is one customer's sign-in link.
type SignInLink struct {
	Customer, URL string
}

// RenderSignIn draws the portal sign-in mail (text and HTML) in language
// lang ("" is the server default).
func RenderSignIn(lang string, s SignIn) (*Mail, error) {
	pr := i18n.For(lang, "")
	m, err := render(pr, "signin.txt", "signin.html", s)
	if err != nil {
		return nil, err
	}
	m.Subject = pr.T("mail.signin.subject")
	return m, nil
}

// Sample is the data the console's preview renders every mail with.
func Sample(now time.Time) Data {
	exp := time.Date(now.Year()+1, 12, 14, 0, 0, 0, 0, time.UTC)
	return Data{CustomerName: "Globex Corp", Product: "Acme Pro", Plan: "Pro yearly", LicenseName: "Globex design team",
		KeyHint: "7QX4", ExpiresAt: &exp, Days: 14, Message: "Your last invoice is unpaid: please contact billing@nzilacode.example.",
		PortalURL: "https://licenses.example.com/portal/"}
}
