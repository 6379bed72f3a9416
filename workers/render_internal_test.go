package workers

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/nzilacode/narcidicontrole/licensing"
	"github.com/nzilacode/narcidicontrole/licensing/i18n"
)

// TestCustomerMailsLeaveTheReasonOut: a mail that goes to a customer does
// not carry the reason typed by staff (it is for the audit log); a mail to
// the admins alone does.
func TestCustomerMailsLeaveTheReasonOut(t *testing.T) {
	e := &licensing.Event{ID: "e1", Action: licensing.ActionLicenseSuspended, TargetType: "license", TargetID: "l1",
		Reason: "chargeback fraud suspected, ticket 4711", Time: time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC),
		After: json.RawMessage(`{"id":"l1","status":"suspended","customer_message":"Your payment bounced."}`)}
	_, body, err := render(alert{Event: e, Customer: &licensing.Customer{Name: "Acme"}}, i18n.For("", ""))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(body, "ticket 4711") || !strings.Contains(body, "Your payment bounced.") {
		t.Errorf("the customer's mail carries the internal reason or lacks the message to the customer:\n%s", body)
	}
	_, body, err = render(alert{Event: e}, i18n.For("", ""))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(body, "ticket 4711") {
		t.Errorf("the admins' mail lost the reason:\n%s", body)
	}
}

// TestStaffMailsInTheDefaultLanguage: the admins' alert mails are written
// in the server's default language (NARCIDI_DEFAULT_LANGUAGE).
func TestStaffMailsInTheDefaultLanguage(t *testing.T) {
	t.Cleanup(func() { _ = i18n.SetDefault(i18n.English) })
	e := &licensing.Event{ID: "e1", Action: licensing.ActionMachineOffline, TargetType: "machine", TargetID: "m1", Reason: "no heartbeat for 2h",
		Time: time.Date(2026, 12, 7, 13, 5, 0, 0, time.UTC)}
	for lang, want := range map[string][2]string{
		"en":    {"[Narcidi] Machine m1 is offline", "The machine m1 stopped sending heartbeats (no heartbeat for 2h)."},
		"pt-PT": {"[Narcidi] A máquina m1 está sem ligação", "A máquina m1 deixou de enviar sinais (no heartbeat for 2h)."},
		"pt-BR": {"[Narcidi] A máquina m1 está desconectada", "-- Narcidi, para a NzilaCode"},
	} {
		if err := i18n.SetDefault(lang); err != nil {
			t.Fatal(err)
		}
		subject, body, err := render(alert{Event: e}, i18n.For("", ""))
		if err != nil {
			t.Fatal(err)
		}
		if subject != want[0] || !strings.Contains(body, want[1]) {
			t.Errorf("%s: %q\n%s", lang, subject, body)
		}
	}
	if err := i18n.SetDefault("pt-PT"); err != nil {
		t.Fatal(err)
	}
	e.Action = licensing.ActionWebhookDisabled
	if _, body, _ := render(alert{Event: e}, i18n.For("", "")); !strings.Contains(body, "Hora: 7 de dezembro de 2026, às 13:05 UTC") || !strings.Contains(body, "Olá,") {
		t.Errorf("the default alert in pt-PT:\n%s", body)
	}
}
