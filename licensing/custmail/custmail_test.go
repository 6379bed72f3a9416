package custmail_test

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/nzilacode/narcidicontrole/licensing/custmail"
)

var uuid = regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-`)

// TestEveryMailReadsAsWords: each customer mail has a subject a customer
// understands, the product, key hint and portal link in both parts, dates
// in words, and no event name or id.
func TestEveryMailReadsAsWords(t *testing.T) {
	t.Parallel()
	d := custmail.Sample(time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC))
	subjects := map[string]string{
		"license.expiring":   "Your Acme Pro license expires on 14 December 2027",
		"license.expired":    "Your Acme Pro license has expired",
		"license.suspended":  "Your Acme Pro license is suspended",
		"license.reinstated": "Your Acme Pro license works again",
		"license.revoked":    "Your Acme Pro license has been ended",
		"license.renewed":    "Your Acme Pro license now runs until 14 December 2027",
	}
	for _, kind := range custmail.Kinds {
		m, err := custmail.Render(kind, d)
		if err != nil {
			t.Fatalf("%s: %v", kind, err)
		}
		if m.Subject != subjects[kind] {
			t.Errorf("%s: subject %q, want %q", kind, m.Subject, subjects[kind])
		}
		for part, body := range map[string]string{"text": m.Text, "html": m.HTML} {
			for _, want := range []string{"Acme Pro", "7QX4", d.PortalURL, "Globex Corp"} {
				if !strings.Contains(body, want) {
					t.Errorf("%s %s part lacks %q:\n%s", kind, part, want, body)
				}
			}
			if strings.Contains(body, "license.") || uuid.MatchString(body) || strings.Contains(body, "2027-12-14") {
				t.Errorf("%s %s part has an event name, an id or a machine date:\n%s", kind, part, body)
			}
		}
	}
	m, _ := custmail.Render("license.expiring", d)
	if !strings.Contains(m.Text, "in 14 days") || !strings.Contains(m.HTML, "<strong>14 December 2027</strong>") {
		t.Errorf("expiring:\n%s\n%s", m.Text, m.HTML)
	}
	m, _ = custmail.Render("license.suspended", d)
	if !strings.Contains(m.Text, d.Message) {
		t.Errorf("the suspension mail lacks staff's message:\n%s", m.Text)
	}
	// HTML escapes what customers and staff typed.
	d.CustomerName = `<script>x</script>`
	m, _ = custmail.Render("license.revoked", d)
	if strings.Contains(m.HTML, "<script>") {
		t.Errorf("the HTML part does not escape the customer's name:\n%s", m.HTML)
	}
	if _, err := custmail.Render("machine.offline", d); err == nil {
		t.Error("a mail for an action without a customer mail")
	}
}
