package users_test

import (
	"context"
	"testing"
	"time"

	"github.com/nzilacode/narcidicontrole/licensing"
	"github.com/nzilacode/narcidicontrole/licensing/licensingtest"
	"github.com/nzilacode/narcidicontrole/licensing/users"
	"github.com/nzilacode/narcidicontrole/storage"
	"github.com/nzilacode/narcidicontrole/storage/storagetest"
)

// TestAdminChangesRoleAndStatus: an admin changes another user's role
// (effective on the next request) and disables them (their sessions end),
// each audited; nobody changes their own.
func TestAdminChangesRoleAndStatus(t *testing.T) {
	storagetest.ForEach(t, func(t *testing.T, st *storage.Store) {
		clock := licensingtest.NewClock(time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC))
		svc := newService(t, st, clock, false)
		admin, _, err := svc.CreateUser(context.Background(), "boss@example.com", licensing.RoleAdmin)
		if err != nil {
			t.Fatal(err)
		}
		ctx := licensing.WithActor(context.Background(), &licensing.Actor{UserID: admin.ID, Name: admin.Email, Role: licensing.RoleAdmin})
		u, link, err := svc.CreateUser(ctx, "ops@example.com", licensing.RoleReadOnly)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := svc.SetPassword(ctx, link, "a long enough password"); err != nil {
			t.Fatal(err)
		}
		in, err := svc.SignIn(ctx, "ops@example.com", "a long enough password", "", "")
		if err != nil {
			t.Fatal(err)
		}

		_, err = svc.SetRole(ctx, u.ID, licensing.RoleCustomer, "")
		code(t, licensing.EInvalid, err)
		_, err = svc.SetRole(ctx, admin.ID, licensing.RoleReadOnly, "")
		code(t, licensing.EConflict, err)
		_, err = svc.SetStatus(ctx, admin.ID, users.StatusDisabled, "")
		code(t, licensing.EConflict, err)
		_, err = svc.SetStatus(ctx, u.ID, "gone", "")
		code(t, licensing.EInvalid, err)

		if _, err := svc.SetRole(ctx, u.ID, licensing.RoleSupport, "on call"); err != nil {
			t.Fatal(err)
		}
		cur, err := svc.Authenticate(ctx, in.Secret)
		if err != nil || !cur.Actor.Allows(licensing.WriteLicenses) {
			t.Fatalf("after the role change: %+v %v, want a support actor", cur, err)
		}
		if _, err := svc.SetStatus(ctx, u.ID, users.StatusDisabled, "left"); err != nil {
			t.Fatal(err)
		}
		_, err = svc.Authenticate(ctx, in.Secret)
		code(t, licensing.EUnauthorized, err)
		if _, err := svc.SetStatus(ctx, u.ID, users.StatusActive, "back"); err != nil {
			t.Fatal(err)
		}
		_, err = svc.Authenticate(ctx, in.Secret)
		code(t, licensing.EUnauthorized, err) // the old session stays ended
		got, err := svc.User(ctx, u.ID)
		if err != nil || got.Role != licensing.RoleSupport || got.Status != users.StatusActive {
			t.Fatalf("user = %+v %v", got, err)
		}
		evs, err := st.ListEvents(ctx, licensing.EventFilter{TargetID: u.ID, Action: licensing.ActionUserUpdated}, licensing.Page{})
		if err != nil {
			t.Fatal(err)
		}
		if len(evs) != 3 || evs[0].Reason != "on call" || evs[1].Reason != "left" || evs[0].Actor != "user:"+admin.ID {
			t.Fatalf("user.updated events = %+v", evs)
		}
	})
}
