package portal_test

import (
	"context"
	"testing"
	"time"

	"github.com/nzilacode/narcidicontrole/licensing"
	"github.com/nzilacode/narcidicontrole/licensing/licensingtest"
	"github.com/nzilacode/narcidicontrole/licensing/portal"
	"github.com/nzilacode/narcidicontrole/storage"
	"github.com/nzilacode/narcidicontrole/storage/storagetest"
)

// TestPortalPasswordService drives the service on a real store: the rule
// of a new password, one answer for every refusal, and an email of two
// customers getting one-time choices that Redeem spends once.
func TestPortalPasswordService(t *testing.T) {
	storagetest.ForEach(t, func(t *testing.T, st *storage.Store) {
		ctx := context.Background()
		clock := licensingtest.NewClock(time.Now().UTC().Truncate(time.Second))
		svc, err := portal.NewService(portal.Config{Store: st.Portal(), Clock: clock.Now})
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, name := range []string{"Acme", "Globex"} {
			c := &licensing.Customer{Name: name, Email: "it@" + name + ".test", Status: licensing.CustomerActive,
				Contacts: []licensing.Contact{{Name: "Bo", Email: "bo@shared.test"}}, CreatedAt: clock.Now(), UpdatedAt: clock.Now()}
			if err := st.CreateCustomer(ctx, c); err != nil {
				t.Fatal(err)
			}
			ids = append(ids, c.ID)
		}
		c, err := st.GetCustomer(ctx, ids[0])
		if err != nil {
			t.Fatal(err)
		}
		cur := &portal.Current{Session: &portal.Session{BrowserSession: licensing.BrowserSession{ID: "none", CreatedAt: clock.Now()}, Email: "bo@shared.test"}, Customer: c}
		for _, pw := range [][2]string{{"long enough password", "long enough passwort"}, {"short", "short"}} {
			if err := svc.SetPassword(ctx, cur, "", pw[0], pw[1]); licensing.ErrorCode(err) != licensing.EInvalid {
				t.Errorf("SetPassword(%q, %q): %v, want EInvalid", pw[0], pw[1], err)
			}
		}
		if err := svc.SetPassword(ctx, cur, "", "long enough password", "long enough password"); err != nil {
			t.Fatal(err)
		}
		var msgs []string
		for _, try := range [][2]string{{"bo@shared.test", "wrong password here"}, {"nobody@shared.test", "long enough password"}, {"not an email", "x"}, {"it@acme.test", "long enough password"}} {
			out, err := svc.SignInWithPassword(ctx, try[0], try[1], "192.0.2.1", "test")
			if licensing.ErrorCode(err) != licensing.EUnauthorized || out != nil {
				t.Fatalf("%v: %+v %v, want EUnauthorized", try, out, err)
			}
			msgs = append(msgs, licensing.ErrorMessage(err))
		}
		for _, m := range msgs[1:] {
			if m != msgs[0] {
				t.Errorf("refusals differ: %q", msgs)
			}
		}
		out, err := svc.SignInWithPassword(ctx, "Bo@Shared.test", "long enough password", "192.0.2.1", "test")
		if err != nil || out.SignedIn != nil || len(out.Choices) != 2 {
			t.Fatalf("two customers: %+v %v", out, err)
		}
		in, err := svc.Redeem(ctx, out.Choices[1].Secret, "192.0.2.1", "test")
		if err != nil || in.Customer.Name != out.Choices[1].Customer || in.Session.Email != "bo@shared.test" {
			t.Fatalf("redeeming a choice: %+v %v", in, err)
		}
		if _, err := svc.Redeem(ctx, out.Choices[1].Secret, "192.0.2.1", "test"); licensing.ErrorCode(err) != licensing.EUnauthorized {
			t.Errorf("a choice twice: %v", err)
		}
	})
}
