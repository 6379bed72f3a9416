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

var funcs = map[string]any{
	"date": func(t *time.Time) string {
		if t == nil {
			return ""
		}
		return licensing.DateWords(*t)
	},
	"plural": func(n int, unit string) string {
		if n == 1 {
			return "1 " + unit
		}
		return fmt.Sprintf("%d %ss", n, unit)
	},
}

var (
	texts = texttemplate.Must(texttemplate.New("").Funcs(funcs).ParseFS(files, "templates/*.txt"))
	htmls = htmltemplate.Must(htmltemplate.New("").Funcs(funcs).ParseFS(files, "templates/*.html"))
)

// Mail is a rendered mail.
type Mail struct {
	Subject, Text, HTML string
}

func file(action string) string { return strings.ReplaceAll(action, ".", "_") }

// Render draws the mail of action with d. An action without a customer
// mail is an error.
func Render(action string, d Data) (*Mail, error) {
	if !Has(action) {
		return nil, fmt.Errorf("custmail: no customer mail for %q", action)
	}
	if d.Product == "" {
		d.Product = "NzilaCode"
	}
	var subject, text, html bytes.Buffer
	if err := texts.ExecuteTemplate(&subject, "subject_"+file(action), d); err != nil {
		return nil, err
	}
	if err := texts.ExecuteTemplate(&text, file(action)+".txt", d); err != nil {
		return nil, err
	}
	if err := htmls.ExecuteTemplate(&html, file(action)+".html", d); err != nil {
		return nil, err
	}
	return &Mail{Subject: strings.TrimSpace(subject.String()), Text: text.String(), HTML: html.String()}, nil
}

// Sample is the data the console's preview renders every mail with.
func Sample(now time.Time) Data {
	exp := time.Date(now.Year()+1, 12, 14, 0, 0, 0, 0, time.UTC)
	return Data{CustomerName: "Globex Corp", Product: "Acme Pro", Plan: "Pro yearly", LicenseName: "Globex design team",
		KeyHint: "7QX4", ExpiresAt: &exp, Days: 14, Message: "Your last invoice is unpaid: please contact billing@nzilacode.example.",
		PortalURL: "https://licenses.example.com/portal/"}
}
