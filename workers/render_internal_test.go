package workers

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/nzilacode/narcidicontrole/licensing"
)

// TestCustomerMailsLeaveTheReasonOut: a mail that goes to a customer does
// not carry the reason typed by staff (it is for the audit log); a mail to
// the admins alone does.
func TestCustomerMailsLeaveTheReasonOut(t *testing.T) {
	e := &licensing.Event{ID: "e1", Action: licensing.ActionLicenseSuspended, TargetType: "license", TargetID: "l1",
		Reason: "chargeback fraud suspected, ticket 4711", Time: time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC),
		After: json.RawMessage(`{"id":"l1","status":"suspended","customer_message":"Your payment bounced."}`)}
	_, body, err := render(alert{Event: e, Customer: &licensing.Customer{Name: "Acme"}})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(body, "ticket 4711") || !strings.Contains(body, "Your payment bounced.") {
		t.Errorf("the customer's mail carries the internal reason or lacks the message to the customer:\n%s", body)
	}
	_, body, err = render(alert{Event: e})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(body, "ticket 4711") {
		t.Errorf("the admins' mail lost the reason:\n%s", body)
	}
}
