package workers

import (
	"bytes"
	"context"
	"embed"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"text/template"
	"time"

	"github.com/nzilacode/narcidicontrole/licensing"
	"github.com/nzilacode/narcidicontrole/licensing/i18n"
	"github.com/wneessen/go-mail"
)

// Mailer sends the email alerts over SMTP with go-mail.
type Mailer struct {
	host string
	from string
	opts []mail.Option
}

// NewMailer reads an SMTP URL:
//
//	smtp://[user:password@]host[:port][?tls=mandatory|opportunistic|none]   STARTTLS (mandatory by default), port 587
//	smtps://[user:password@]host[:port]                                       TLS from the start, port 465
//
// from is the sender address of every alert.
func NewMailer(rawURL, from string) (*Mailer, error) {
	u, err := url.Parse(rawURL)
	if err != nil || u.Hostname() == "" {
		return nil, fmt.Errorf("NARCIDI_SMTP_URL: want smtp://[user:password@]host[:port] or smtps://...")
	}
	if from == "" || !strings.Contains(from, "@") {
		return nil, fmt.Errorf("NARCIDI_SMTP_FROM: an email address is required with NARCIDI_SMTP_URL")
	}
	opts := []mail.Option{mail.WithTimeout(15 * time.Second)}
	port := 587
	switch u.Scheme {
	case "smtps":
		port = 465
		opts = append(opts, mail.WithSSL())
	case "smtp":
		policy := mail.TLSMandatory
		switch u.Query().Get("tls") {
		case "", "mandatory":
		case "opportunistic":
			policy = mail.TLSOpportunistic
		case "none":
			policy = mail.NoTLS
		default:
			return nil, fmt.Errorf("NARCIDI_SMTP_URL: tls must be mandatory, opportunistic or none")
		}
		opts = append(opts, mail.WithTLSPolicy(policy))
	default:
		return nil, fmt.Errorf("NARCIDI_SMTP_URL: scheme must be smtp or smtps")
	}
	if p := u.Port(); p != "" {
		if port, err = strconv.Atoi(p); err != nil {
			return nil, fmt.Errorf("NARCIDI_SMTP_URL: bad port")
		}
	}
	opts = append(opts, mail.WithPort(port))
	if u.User != nil {
		pw, _ := u.User.Password()
		opts = append(opts, mail.WithSMTPAuth(mail.SMTPAuthAutoDiscover), mail.WithUsername(u.User.Username()), mail.WithPassword(pw))
	}
	return &Mailer{host: u.Hostname(), from: from, opts: opts}, nil
}

// Send sends one plain-text message to the recipients (SendMail without
// an HTML part).
func (m *Mailer) Send(ctx context.Context, messageID string, to []string, subject, body string) error {
	return m.SendMail(ctx, messageID, to, subject, body, "")
}

// SendMail sends one message with a text part and, when html is not
// empty, an HTML alternative (mail clients show the one they can).
func (m *Mailer) SendMail(ctx context.Context, messageID string, to []string, subject, text, html string) error {
	msg := mail.NewMsg()
	if err := msg.From(m.from); err != nil {
		return err
	}
	if err := msg.To(to...); err != nil {
		return err
	}
	msg.Subject(subject)
	// go-mail adds the angle brackets: callers may pass an id with them.
	msg.SetMessageIDWithValue(strings.TrimSuffix(strings.TrimPrefix(messageID, "<"), ">"))
	msg.SetDate()
	msg.SetBodyString(mail.TypeTextPlain, text)
	if html != "" {
		msg.AddAlternativeString(mail.TypeTextHTML, html)
	}
	c, err := mail.NewClient(m.host, m.opts...)
	if err != nil {
		return err
	}
	return c.DialAndSendWithContext(ctx, msg)
}

// emailed lists the actions that send an email alert.
var emailed = []string{
	licensing.ActionLicenseExpiring, licensing.ActionLicenseExpired, licensing.ActionLicenseSuspended,
	licensing.ActionLicenseReinstated, licensing.ActionLicenseRevoked, licensing.ActionLicenseRenewed,
	licensing.ActionMachineOffline, licensing.ActionMachineBlocked, licensing.ActionWebhookDisabled,
}

// Emailed reports whether action sends an email alert.
func Emailed(action string) bool { return slices.Contains(emailed, action) }

//go:embed templates/*.tmpl
var templateFiles embed.FS

// templates are the staff's alert mails, parsed with English bound;
// render binds a clone to the server's default language.
var templates = template.Must(template.New("").Funcs(staffFuncs(i18n.For(i18n.English, ""))).ParseFS(templateFiles, "templates/*.tmpl"))

// staffFuncs write the alert mails' words (licensing/i18n, "staff.*")
// and times in pr's language.
func staffFuncs(pr *i18n.Printer) template.FuncMap {
	return template.FuncMap{
		"t":    pr.T,
		"days": func(n int) string { return pr.N("unit.days", n) },
		"when": pr.DateTime,
	}
}

// alert is what the templates see.
type alert struct {
	Event    *licensing.Event
	Customer *licensing.Customer
	Days     int // for license.expiring
	// Message is what staff wrote to the customer when suspending (kept in
	// the event, unlike the internal reason it goes to the customer).
	Message string
}

// render builds the subject (first line) and body of the alert of e in
// the reader's language and time zone.
func render(a alert, pr *i18n.Printer) (string, string, error) {
	name := strings.ReplaceAll(a.Event.Action, ".", "_") + ".tmpl"
	a.Message = licensing.SuspensionMessage(a.Event)
	if templates.Lookup(name) == nil {
		name = "default.tmpl"
	}
	var buf bytes.Buffer
	t, err := templates.Clone()
	if err != nil {
		return "", "", err
	}
	if err := t.Funcs(staffFuncs(pr)).ExecuteTemplate(&buf, name, a); err != nil {
		return "", "", err
	}
	subject, body, _ := strings.Cut(buf.String(), "\n")
	return strings.TrimSpace(subject), strings.TrimLeft(body, "\n"), nil
}

// readers are the recipients of one alert mail that read it alike: one
// language and time zone.
type readers struct {
	lang, zone string
	to         []string
}

// alertReaders groups an alert's recipients by how they read: the
// customer's addresses in the customer's language and time zone, each
// staff address in its console user's (StaffLocale), others in the
// server default. An address in both lists is the customer's. Groups
// come in a stable order, so a retry sends the same mails.
func (h *handlers) alertReaders(ctx context.Context, customerTo []string, customer *licensing.Customer) ([]readers, error) {
	byKey := map[string]*readers{}
	add := func(addr, lang, zone string) {
		lang = i18n.Choose(lang)
		if zone, _ = i18n.NormalizeZone(zone); zone == "" {
			zone = "UTC"
		}
		k := lang + " " + zone
		if byKey[k] == nil {
			byKey[k] = &readers{lang: lang, zone: zone}
		}
		byKey[k].to = append(byKey[k].to, addr)
	}
	seen := map[string]bool{}
	for _, addr := range customerTo {
		seen[strings.ToLower(addr)] = true
		add(addr, customer.Language, customer.TimeZone)
	}
	for _, addr := range h.cfg.AdminEmails {
		if seen[strings.ToLower(addr)] {
			continue
		}
		seen[strings.ToLower(addr)] = true
		var lang, zone string
		if h.cfg.StaffLocale != nil {
			var err error
			if lang, zone, err = h.cfg.StaffLocale(ctx, addr); err != nil {
				return nil, err
			}
		}
		add(addr, lang, zone)
	}
	out := make([]readers, 0, len(byKey))
	for _, k := range slices.Sorted(maps.Keys(byKey)) {
		out = append(out, *byKey[k])
	}
	return out, nil
}

// sendAlert sends the staff alert a, one mail per group of readers. A
// mail's Message-ID is the delivery's (the group's position after it
// when there are several), the same on every try.
func (h *handlers) sendAlert(ctx context.Context, deliveryID string, a alert, groups []readers) error {
	for i, g := range groups {
		subject, body, err := render(a, i18n.For(g.lang, g.zone))
		if err != nil {
			return err
		}
		id := "<" + deliveryID + "@narcidi>"
		if i > 0 {
			id = fmt.Sprintf("<%s.%d@narcidi>", deliveryID, i)
		}
		if err := h.cfg.Mailer.Send(ctx, id, g.to, subject, body); err != nil {
			return err
		}
	}
	return nil
}
