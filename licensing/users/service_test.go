package users_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"

	"github.com/nzilacode/narcidicontrole/licensing"
	"github.com/nzilacode/narcidicontrole/licensing/licensingtest"
	"github.com/nzilacode/narcidicontrole/licensing/users"
	"github.com/nzilacode/narcidicontrole/storage"
	"github.com/nzilacode/narcidicontrole/storage/storagetest"
)

func newService(t *testing.T, st *storage.Store, clock *licensingtest.Clock, require bool) *users.Service {
	t.Helper()
	svc, err := users.NewService(users.Config{Store: st.Users(), Box: newBox(t), Clock: clock.Now, RequireTOTP: require,
		IdleTimeout: 30 * time.Minute, AbsoluteTimeout: 12 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	return svc
}

func code(t *testing.T, want licensing.Code, err error) {
	t.Helper()
	if licensing.ErrorCode(err) != want {
		t.Fatalf("error = %v, want code %q", err, want)
	}
}

// TestSignInLifecycle walks a user from the set-password link through
// TOTP enrolment, a second sign-in with a code and with a recovery code, to
// the timeouts and sign-out everywhere, on both databases.
func TestSignInLifecycle(t *testing.T) {
	storagetest.ForEach(t, func(t *testing.T, st *storage.Store) {
		ctx := context.Background()
		clock := licensingtest.NewClock(time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC))
		svc := newService(t, st, clock, false)

		link, err := svc.BootstrapAdmin(ctx, "admin@example.com")
		if err != nil || link == "" {
			t.Fatalf("BootstrapAdmin = %q, %v", link, err)
		}
		if again, err := svc.BootstrapAdmin(ctx, "other@example.com"); err != nil || again != "" {
			t.Fatalf("a second BootstrapAdmin = %q, %v; want nothing", again, err)
		}
		_, err = svc.SignIn(ctx, "admin@example.com", "", "192.0.2.1", "t")
		code(t, licensing.EUnauthorized, err) // no password yet
		_, err = svc.SetPassword(ctx, link, "short")
		code(t, licensing.EInvalid, err)
		if _, err := svc.SetPassword(ctx, link, "correct horse battery"); err != nil {
			t.Fatal(err)
		}
		_, err = svc.SetPassword(ctx, link, "correct horse battery 2")
		code(t, licensing.EUnauthorized, err) // the link works once

		_, err = svc.SignIn(ctx, "ADMIN@example.com", "wrong password!", "192.0.2.1", "t")
		code(t, licensing.EUnauthorized, err)
		in, err := svc.SignIn(ctx, " Admin@Example.com", "correct horse battery", "192.0.2.1", "t")
		if err != nil {
			t.Fatal(err)
		}
		if in.Session.Stage != users.StageFull {
			t.Fatalf("stage = %s without TOTP, want full", in.Session.Stage)
		}
		cur, err := svc.Authenticate(ctx, in.Secret)
		if err != nil {
			t.Fatal(err)
		}
		if !cur.Actor.Allows(licensing.WriteLicenses) || cur.Actor.Label() != "user:"+cur.User.ID {
			t.Fatalf("actor = %+v, label %s", cur.Actor, cur.Actor.Label())
		}

		enr, err := svc.BeginTOTP(ctx, cur.User.ID)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(enr.QRCode, "data:image/png;base64,") || !strings.HasPrefix(enr.URL, "otpauth://totp/") {
			t.Fatalf("enrolment = %+v", enr)
		}
		_, err = svc.ConfirmTOTP(ctx, cur, "correct horse battery", "000000")
		code(t, licensing.EInvalid, err)
		now, _ := totp.GenerateCode(enr.Secret, clock.Now())
		recovery, err := svc.ConfirmTOTP(ctx, cur, "correct horse battery", now)
		if err != nil || len(recovery) != users.RecoveryCodeCount {
			t.Fatalf("ConfirmTOTP = %v, %v", recovery, err)
		}

		// A new sign-in now owes a code; a pending session opens nothing.
		in2, err := svc.SignIn(ctx, "admin@example.com", "correct horse battery", "192.0.2.1", "t")
		if err != nil || in2.Session.Stage != users.StagePending {
			t.Fatalf("SignIn with TOTP = %+v, %v; want pending", in2, err)
		}
		cur2, err := svc.Authenticate(ctx, in2.Secret)
		if err != nil {
			t.Fatal(err)
		}
		code(t, licensing.EInvalid, svc.VerifySecondFactor(ctx, cur2, "123456"))
		pendingCSRF := cur2.Session.CSRFToken
		if err := svc.VerifySecondFactor(ctx, cur2, recovery[0]); err != nil {
			t.Fatal(err)
		}
		if cur2.Session.Stage != users.StageFull || cur2.Session.CSRFToken == pendingCSRF {
			t.Fatalf("after the second factor: stage %s, CSRF token renewed %v", cur2.Session.Stage, cur2.Session.CSRFToken != pendingCSRF)
		}
		in3, _ := svc.SignIn(ctx, "admin@example.com", "correct horse battery", "192.0.2.1", "t")
		cur3, _ := svc.Authenticate(ctx, in3.Secret)
		code(t, licensing.EInvalid, svc.VerifySecondFactor(ctx, cur3, recovery[0])) // spent

		// Idle timeout: 29 minutes keep the session, 31 more end it.
		clock.Add(29 * time.Minute)
		if _, err := svc.Authenticate(ctx, in.Secret); err != nil {
			t.Fatalf("after 29 idle minutes: %v", err)
		}
		clock.Add(31 * time.Minute)
		_, err = svc.Authenticate(ctx, in.Secret)
		code(t, licensing.EUnauthorized, err)

		// Absolute timeout: kept busy, the session still ends after 12 h.
		in4, _ := svc.SignIn(ctx, "admin@example.com", "correct horse battery", "192.0.2.1", "t")
		cur4, _ := svc.Authenticate(ctx, in4.Secret)
		now, _ = totp.GenerateCode(enr.Secret, clock.Now())
		if err := svc.VerifySecondFactor(ctx, cur4, now); err != nil {
			t.Fatal(err)
		}
		for range 12 * 3 {
			clock.Add(20 * time.Minute)
			if _, err := svc.Authenticate(ctx, in4.Secret); err != nil {
				code(t, licensing.EUnauthorized, err)
				break
			}
		}
		_, err = svc.Authenticate(ctx, in4.Secret)
		code(t, licensing.EUnauthorized, err)

		// Sign-out everywhere ends every session.
		in5, _ := svc.SignIn(ctx, "admin@example.com", "correct horse battery", "192.0.2.1", "t")
		if err := svc.SignOutEverywhere(ctx, in5.User.ID); err != nil {
			t.Fatal(err)
		}
		_, err = svc.Authenticate(ctx, in5.Secret)
		code(t, licensing.EUnauthorized, err)

		// The failed sign-ins are in the audit log.
		evs, err := st.ListEvents(ctx, licensing.EventFilter{Action: licensing.ActionUserSignInFailed}, licensing.Page{Limit: 50})
		if err != nil {
			t.Fatal(err)
		}
		if len(evs) != 4 {
			t.Errorf("%d failed sign-ins audited, want 4 (no password, wrong password, two wrong codes)", len(evs))
		}
	})
}

func TestMandatoryTOTPAndRoles(t *testing.T) {
	storagetest.ForEach(t, func(t *testing.T, st *storage.Store) {
		ctx := context.Background()
		clock := licensingtest.NewClock(time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC))
		svc := newService(t, st, clock, false)
		_, _, err := svc.CreateUser(ctx, "cust@example.com", licensing.RoleCustomer)
		code(t, licensing.EInvalid, err)
		_, _, err = svc.CreateUser(ctx, "not an email", licensing.RoleAdmin)
		code(t, licensing.EInvalid, err)
		u, link, err := svc.CreateUser(ctx, "ro@example.com", licensing.RoleReadOnly)
		if err != nil {
			t.Fatal(err)
		}
		_, _, err = svc.CreateUser(ctx, "RO@example.com", licensing.RoleAdmin)
		code(t, licensing.EConflict, err)
		if _, err := svc.SetPassword(ctx, link, "read only password"); err != nil {
			t.Fatal(err)
		}
		if _, err := svc.SetTOTPRequired(ctx, u.ID, true); err != nil {
			t.Fatal(err)
		}
		in, err := svc.SignIn(ctx, "ro@example.com", "read only password", "", "")
		if err != nil || in.Session.Stage != users.StagePending || !svc.NeedsEnrolment(in.User) {
			t.Fatalf("mandatory TOTP: %+v, %v; want a pending session sent to enrolment", in, err)
		}
		cur, _ := svc.Authenticate(ctx, in.Secret)
		if cur.Actor.Allows(licensing.WriteLicenses) || !cur.Actor.Allows(licensing.ReadLicenses) {
			t.Fatal("a read-only user's actor does not follow the read-only row of the permission table")
		}
	})
}
