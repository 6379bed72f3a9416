package api

import (
	"context"
	"strings"
	"testing"

	"github.com/nzilacode/narcidicontrole/licensing"
	"github.com/nzilacode/narcidicontrole/storage/storagetest"
)

// TestSuspendTakesAMessageToTheCustomer (issue 22, 11): the admin API's
// suspend keeps the reason internal and records an optional message to the
// customer beside it, which the portal and the customer's mail read; the
// OpenAPI document names both.
func TestSuspendTakesAMessageToTheCustomer(t *testing.T) {
	for _, dialect := range storagetest.Dialects {
		t.Run(dialect, func(t *testing.T) {
			a := newTestAPI(t, dialect, Config{})
			f := a.fixture(2)
			id := f.license.License.ID
			res, raw := a.do("POST", "/v1/licenses/"+id+"/actions/suspend", licensing.SuspendInput{Reason: "x", Message: strings.Repeat("m", 501)})
			if p := problemOf(t, res, raw); res.StatusCode != 422 || p.Code != string(licensing.EInvalid) {
				t.Fatalf("a 501-character message: %d %s, want 422 invalid", res.StatusCode, p.Code)
			}
			var l licensing.License
			a.must(200, "POST", "/v1/licenses/"+id+"/actions/suspend",
				licensing.SuspendInput{Reason: "chargeback, ticket 4711", Message: "Your card was declined; write to billing@nzilacode.example."}, &l)
			if l.Status != licensing.LicenseSuspended || l.StatusReason != "chargeback, ticket 4711" {
				t.Fatalf("license after suspend: %s %q", l.Status, l.StatusReason)
			}
			customer := licensing.WithActor(context.Background(), &licensing.Actor{Role: licensing.RoleCustomer, CustomerID: l.CustomerID})
			msg, err := a.svc.Licenses.CustomerMessage(customer, &l)
			if err != nil || msg != "Your card was declined; write to billing@nzilacode.example." {
				t.Fatalf("message to the customer = %q, %v", msg, err)
			}
			a.must(200, "POST", "/v1/licenses/"+id+"/actions/reinstate", licensing.ReasonInput{Reason: "paid"}, &l)
			a.must(200, "POST", "/v1/licenses/"+id+"/actions/suspend", licensing.ReasonInput{Reason: "again"}, &l)
			if msg, err := a.svc.Licenses.CustomerMessage(customer, &l); err != nil || msg != "" {
				t.Fatalf("a suspension without a message shows %q, %v (the earlier one's)", msg, err)
			}
			doc := string(buildOpenAPI())
			if !strings.Contains(doc, "optional message to the customer") || !strings.Contains(doc, "the customer never sees it") {
				t.Error("the OpenAPI document does not describe the suspend request's reason and message")
			}
		})
	}
}
