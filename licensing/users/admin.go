package users

import (
	"context"
	"strings"

	"github.com/nzilacode/narcidicontrole/licensing"
	"github.com/nzilacode/narcidicontrole/licensing/i18n"
)

// What an admin does to other console users (the console's users pages).
// The caller checks the actor may (the users pages need WriteTokens, as
// SetTOTPRequired: a console user is a credential like an API token).

// SetRole changes a user's role; it applies from the user's next request
// (sessions resolve the user each time). An admin cannot change their own
// role, so the console always keeps the admin doing it. EInvalid, EConflict,
// ENotFound.
func (s *Service) SetRole(ctx context.Context, userID string, role licensing.Role, reason string) (*User, error) {
	if !validRole(role) {
		return nil, licensing.FieldErrorf("role", "role must be one of %v", ConsoleRoles)
	}
	return s.changeOther(ctx, userID, reason, func(u *User, tx Store) error {
		u.Role = role
		return nil
	})
}

// SetStatus enables or disables a user. Disabling also ends every session
// of the user at once (Authenticate refuses a disabled user anyway; the
// revoked rows make it visible). A user cannot disable themselves.
// EInvalid, EConflict, ENotFound.
func (s *Service) SetStatus(ctx context.Context, userID string, status Status, reason string) (*User, error) {
	if status != StatusActive && status != StatusDisabled {
		return nil, licensing.FieldErrorf("status", "status must be %s or %s", StatusActive, StatusDisabled)
	}
	return s.changeOther(ctx, userID, reason, func(u *User, tx Store) error {
		u.Status = status
		if status == StatusDisabled {
			return tx.RevokeSessions(ctx, u.ID, s.now())
		}
		return nil
	})
}

// changeOther is change for a user other than the actor.
func (s *Service) changeOther(ctx context.Context, userID, reason string, fn func(*User, Store) error) (*User, error) {
	if licensing.ActorFrom(ctx).UserID == userID {
		return nil, licensing.Errorf(licensing.EConflict, "you cannot change your own role or status: ask another admin")
	}
	return s.change(ctx, userID, reason, fn)
}

// change applies fn to a user in one transaction, audited as user.updated
// with the user before and after.
func (s *Service) change(ctx context.Context, userID, reason string, change func(*User, Store) error) (*User, error) {
	if len(reason) > 500 {
		return nil, licensing.FieldErrorf("reason", "reason is longer than 500 characters")
	}
	var out *User
	err := s.cfg.Store.InTx(ctx, func(tx Store) error {
		u, err := tx.GetUser(ctx, userID)
		if err != nil {
			return err
		}
		before := *u
		if err := change(u, tx); err != nil {
			return err
		}
		u.UpdatedAt = s.now()
		if err := tx.ChangeUser(ctx, &before, u); err != nil {
			return err
		}
		out = u
		return s.record(ctx, tx, licensing.ActionUserUpdated, u.ID, reason, &before, u)
	})
	return out, err
}

// SetLocale sets a user's language (a catalog's code, "" for the
// browser's) and time zone (an IANA name, "" for UTC): their own, or any
// user's for whoever may edit users. Audited as user.updated. EInvalid
// (naming the field), ENotFound.
func (s *Service) SetLocale(ctx context.Context, userID, language, zone string) (*User, error) {
	return s.UpdateLocale(ctx, userID, &language, &zone)
}

// UpdateLocale is SetLocale for what is not nil: the other preference
// is left as it is in the database (PATCH /v1/users/{id}), never written
// back from a read.
func (s *Service) UpdateLocale(ctx context.Context, userID string, language, zone *string) (*User, error) {
	if language != nil {
		lang, err := i18n.Normalize(*language)
		if err != nil {
			return nil, licensing.FieldErrorf("language", "%v", err)
		}
		language = &lang
	}
	if zone != nil {
		tz, err := i18n.NormalizeZone(*zone)
		if err != nil {
			return nil, licensing.FieldErrorf("time_zone", "%v", err)
		}
		zone = &tz
	}
	var out *User
	err := s.cfg.Store.InTx(ctx, func(tx Store) error {
		before, err := tx.GetUser(ctx, userID)
		if err != nil {
			return err
		}
		if err := tx.SetUserLocale(ctx, userID, language, zone, s.now()); err != nil {
			return err
		}
		// Read again after the write: the user as stored, for the answer
		// and the audit log.
		if out, err = tx.GetUser(ctx, userID); err != nil {
			return err
		}
		return s.record(ctx, tx, licensing.ActionUserUpdated, userID, "", before, out)
	})
	return out, err
}

// Locale is the language and time zone of the console user whose address
// is email, for what is sent to that address (staff alert mails): "", ""
// when no user has it.
func Locale(ctx context.Context, st Store, email string) (language, zone string, err error) {
	u, err := st.GetUserByEmail(ctx, strings.ToLower(strings.TrimSpace(email)))
	if licensing.ErrorCode(err) == licensing.ENotFound {
		return "", "", nil
	} else if err != nil {
		return "", "", err
	}
	return u.Language, u.TimeZone, nil
}
