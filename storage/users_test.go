package storage_test

import (
	"context"
	"testing"

	"github.com/nzilacode/narcidicontrole/licensing"
	"github.com/nzilacode/narcidicontrole/licensing/portal"
	"github.com/nzilacode/narcidicontrole/licensing/users"
	"github.com/nzilacode/narcidicontrole/storage"
	"github.com/nzilacode/narcidicontrole/storage/storagetest"
)

func wantWriteCode(t *testing.T, what string, err error, want licensing.Code) {
	t.Helper()
	if licensing.ErrorCode(err) != want {
		t.Errorf("%s: %v, want code %q", what, err, want)
	}
}

// TestUserWritesAreConditional: each write of a console user sets its own
// columns only, on the state it depends on; a second request acting on
// what it read before the first one's write loses instead of undoing it.
func TestUserWritesAreConditional(t *testing.T) {
	t.Parallel()
	storagetest.ForEach(t, func(t *testing.T, s *storage.Store) {
		ctx := context.Background()
		r := s.Users()
		u := &users.User{Email: "ops@example.com", Role: licensing.RoleSupport, Status: users.StatusActive, PasswordHash: "p",
			TOTPSecret: []byte("pending"), RecoveryCodes: []string{}, CreatedAt: rtTime(1), UpdatedAt: rtTime(1)}
		must(t, r.CreateUser(ctx, u))

		// Enrolment: the pending secret the code was checked against.
		stale, _ := r.GetUser(ctx, u.ID)
		must(t, r.SetPendingTOTP(ctx, u.ID, []byte("newer"), rtTime(2)))
		wantWriteCode(t, "EnableTOTP of a replaced secret", r.EnableTOTP(ctx, u.ID, stale.TOTPSecret, 10, []string{"a", "b", "c"}, rtTime(3)), licensing.EConflict)
		must(t, r.EnableTOTP(ctx, u.ID, []byte("newer"), 10, []string{"a", "b", "c"}, rtTime(3)))
		wantWriteCode(t, "SetPendingTOTP once enabled", r.SetPendingTOTP(ctx, u.ID, []byte("x"), rtTime(4)), licensing.EConflict)

		// TOTP steps: each once, never back.
		wantWriteCode(t, "the enrolment's step again", r.AcceptTOTPStep(ctx, u.ID, 10, rtTime(4)), licensing.EConflict)
		must(t, r.AcceptTOTPStep(ctx, u.ID, 11, rtTime(4)))
		wantWriteCode(t, "step 11 twice", r.AcceptTOTPStep(ctx, u.ID, 11, rtTime(4)), licensing.EConflict)
		wantWriteCode(t, "an earlier step", r.AcceptTOTPStep(ctx, u.ID, 9, rtTime(4)), licensing.EConflict)

		// Recovery codes: two requests read [a b c]; the first spends b,
		// the second's spending of b (or of c) from that read loses.
		read, _ := r.GetUser(ctx, u.ID)
		must(t, r.SpendRecoveryCodes(ctx, u.ID, read.RecoveryCodes, []string{"a", "c"}, rtTime(5)))
		wantWriteCode(t, "a second spending from the same read", r.SpendRecoveryCodes(ctx, u.ID, read.RecoveryCodes, []string{"a", "c"}, rtTime(5)), licensing.EConflict)
		wantWriteCode(t, "another code from the same read", r.SpendRecoveryCodes(ctx, u.ID, read.RecoveryCodes, []string{"a", "b"}, rtTime(5)), licensing.EConflict)

		// An admin's change against a stale read loses; other columns keep.
		was, _ := r.GetUser(ctx, u.ID)
		disabled := *was
		disabled.Status, disabled.UpdatedAt = users.StatusDisabled, rtTime(6)
		must(t, r.ChangeUser(ctx, was, &disabled))
		promoted := *was
		promoted.Role = licensing.RoleAdmin
		wantWriteCode(t, "ChangeUser from a stale read", r.ChangeUser(ctx, was, &promoted), licensing.EConflict)
		wantWriteCode(t, "RecordSignIn of a disabled user", r.RecordSignIn(ctx, u.ID, rtTime(7)), licensing.ENotFound)
		must(t, r.SetUserPassword(ctx, u.ID, "p2", rtTime(8)))
		pt, luanda, en, none := "pt-PT", "Africa/Luanda", "en", ""
		must(t, r.SetUserLocale(ctx, u.ID, &en, &luanda, rtTime(9)))
		// Only the language: the time zone written just before stays.
		must(t, r.SetUserLocale(ctx, u.ID, &pt, nil, rtTime(9)))
		wantWriteCode(t, "SetUserLocale of no user", r.SetUserLocale(ctx, "01950000-0000-7000-8000-0000000009ff", &en, &none, rtTime(9)), licensing.ENotFound)

		got, err := r.GetUser(ctx, u.ID)
		must(t, err)
		if got.Language != "pt-PT" || got.TimeZone != "Africa/Luanda" {
			t.Errorf("locale after SetUserLocale = %q %q", got.Language, got.TimeZone)
		}
		if got.Status != users.StatusDisabled || got.Role != licensing.RoleSupport || got.PasswordHash != "p2" || !got.TOTPEnabled ||
			got.TOTPLastStep != 11 || len(got.RecoveryCodes) != 2 || got.RecoveryCodes[1] != "c" || string(got.TOTPSecret) != "newer" {
			t.Errorf("user after the writes = %+v", got)
		}
	})
}

// TestSessionWritesKeepRevocation: a session read before its revocation
// cannot be moved, promoted or revived afterwards, console or portal.
func TestSessionWritesKeepRevocation(t *testing.T) {
	t.Parallel()
	storagetest.ForEach(t, func(t *testing.T, s *storage.Store) {
		ctx := context.Background()
		r := s.Users()
		u := &users.User{Email: "ops@example.com", Role: licensing.RoleAdmin, Status: users.StatusActive, CreatedAt: rtTime(1), UpdatedAt: rtTime(1)}
		must(t, r.CreateUser(ctx, u))
		sess := &users.Session{UserID: u.ID, Stage: users.StagePending, BrowserSession: licensing.BrowserSession{TokenHash: "h1", CSRFToken: "c", CreatedAt: rtTime(1), LastSeenAt: rtTime(1), ExpiresAt: rtTime(9)}}
		must(t, r.CreateSession(ctx, sess))
		must(t, r.TouchSession(ctx, sess.ID, rtTime(2)))
		must(t, r.RevokeSessions(ctx, u.ID, rtTime(3)))
		wantWriteCode(t, "TouchSession after revocation", r.TouchSession(ctx, sess.ID, rtTime(4)), licensing.ENotFound)
		wantWriteCode(t, "PromoteSession after revocation", r.PromoteSession(ctx, sess.ID, "h2", "c2", rtTime(4)), licensing.ENotFound)
		must(t, r.RevokeSession(ctx, sess.ID, rtTime(5)))
		got, err := r.GetSessionByHash(ctx, "h1")
		must(t, err)
		if got.RevokedAt == nil || !got.RevokedAt.Equal(rtTime(3)) || !got.LastSeenAt.Equal(rtTime(2)) || got.Stage != users.StagePending {
			t.Errorf("session after the writes = %+v", got)
		}

		live := &users.Session{UserID: u.ID, Stage: users.StagePending, BrowserSession: licensing.BrowserSession{TokenHash: "h3", CSRFToken: "c", CreatedAt: rtTime(1), LastSeenAt: rtTime(1), ExpiresAt: rtTime(9)}}
		must(t, r.CreateSession(ctx, live))
		must(t, r.PromoteSession(ctx, live.ID, "h4", "c4", rtTime(2)))
		wantWriteCode(t, "PromoteSession twice", r.PromoteSession(ctx, live.ID, "h5", "c5", rtTime(2)), licensing.ENotFound)
		if _, err := r.GetSessionByHash(ctx, "h3"); licensing.ErrorCode(err) != licensing.ENotFound {
			t.Errorf("the pre-promotion secret still finds the session: %v", err)
		}

		p := s.Portal()
		c := &licensing.Customer{Name: "Acme", Email: "it@acme.test", Status: licensing.CustomerActive, CreatedAt: rtTime(1), UpdatedAt: rtTime(1)}
		must(t, s.CreateCustomer(ctx, c))
		ps := &portal.Session{CustomerID: c.ID, Email: "it@acme.test", BrowserSession: licensing.BrowserSession{TokenHash: "p1", CSRFToken: "c", CreatedAt: rtTime(1), LastSeenAt: rtTime(1), ExpiresAt: rtTime(9)}}
		must(t, p.CreateSession(ctx, ps))
		must(t, p.TouchSession(ctx, ps.ID, rtTime(2)))
		must(t, p.RevokeSessions(ctx, "IT@acme.test", "", rtTime(3)))
		wantWriteCode(t, "portal TouchSession after revocation", p.TouchSession(ctx, ps.ID, rtTime(4)), licensing.ENotFound)
		must(t, p.RevokeSession(ctx, ps.ID, rtTime(5)))
		gotP, err := p.GetSessionByHash(ctx, "p1")
		must(t, err)
		if gotP.RevokedAt == nil || !gotP.RevokedAt.Equal(rtTime(3)) || !gotP.LastSeenAt.Equal(rtTime(2)) {
			t.Errorf("portal session after the writes = %+v", gotP)
		}
	})
}
