package portal

import (
	"context"
	"sync"
	"time"

	"github.com/nzilacode/narcidicontrole/licensing"
)

// Passwords are kept per email address, not per customer: the email is what
// a person types, and the customers it may open are found the same way as
// for a link (its customers' email or contacts), at every sign-in. An email
// that no active customer has any more opens nothing, whatever its password.

// FreshSignIn is how recent the sign-in of a session must be for it to set
// a first password: an email without a password can only prove itself by a
// link, so the link must have been used moments ago, not by a browser left
// signed in for days.
const FreshSignIn = 10 * time.Minute

// SetPassword sets or replaces the password of the session's email, after
// re-authentication: an email that has a password gives it (current); one
// without gives none, and its session must come from a link redeemed within
// FreshSignIn. The email's other sessions end.
// EUnauthorized when current is wrong or the session too old for a first
// password; EInvalid when the two entries differ or the password is too
// short.
func (s *Service) SetPassword(ctx context.Context, cur *Current, current, password, again string) error {
	old, err := s.cfg.Store.PasswordHash(ctx, cur.Session.Email)
	switch licensing.ErrorCode(err) {
	case "":
		if len(current) > 256 || !licensing.VerifyPassword(old, current) {
			return licensing.Errorf(licensing.EUnauthorized, "the current password is wrong")
		}
	case licensing.ENotFound:
		if s.now().Sub(cur.Session.CreatedAt) > FreshSignIn {
			return licensing.Errorf(licensing.EUnauthorized, "to set a first password, sign in again with a new link and set it within %d minutes", int(FreshSignIn/time.Minute))
		}
	default:
		return err
	}
	if password != again {
		// The repetition is what is wrong: the first is checked below.
		return licensing.FieldErrorf("again", "the two passwords differ")
	}
	if err := licensing.CheckPassword(password); err != nil {
		return err
	}
	hash, err := licensing.HashPassword(password)
	if err != nil {
		return err
	}
	return s.cfg.Store.InTx(ctx, func(tx Store) error {
		now := s.now()
		if err := tx.SetPassword(ctx, cur.Session.Email, hash, now); err != nil {
			return err
		}
		// A new password often answers a doubt: the email's other
		// browsers sign in again.
		if err := tx.RevokeSessions(ctx, cur.Session.Email, cur.Session.ID, now); err != nil {
			return err
		}
		return s.record(ctx, tx, licensing.ActionPortalPasswordSet, cur.Customer.ID, "for "+cur.Session.Email)
	})
}

// Choice is one customer a password opens, when the email opens several:
// Secret is a one-time link secret (redeemed with Redeem, valid LinkTTL),
// so choosing goes through the same path as a mailed link.
type Choice struct {
	Customer string // the customer's name
	Secret   string
}

// PasswordSignIn is the outcome of a right password: a session when the
// email opens one customer, else the Choices to redeem one of.
type PasswordSignIn struct {
	SignedIn *SignedIn
	Choices  []Choice
}

// errBadPassword names no Field: naming the email or the password would
// tell whether the email is a customer's.
var errBadPassword = licensing.Errorf(licensing.EUnauthorized, "the email or the password is wrong")

// dummyHash is verified against when the email has no password, so an
// unknown email costs the same argon2id work as a known one.
var dummyHash = sync.OnceValue(func() string {
	h, _ := licensing.HashPassword(licensing.RandomSecret(""))
	return h
})

// SignInWithPassword checks email's password and opens its customer's
// portal as a redeemed link would. EUnauthorized, with one message, for an
// email that is not an address, has no password, a wrong one, or that no
// active customer has (any more); every refusal is in the audit log.
func (s *Service) SignInWithPassword(ctx context.Context, email, password, ip, userAgent string) (*PasswordSignIn, error) {
	out, target, err := s.signInWithPassword(ctx, email, password, ip, userAgent)
	if err == errBadPassword {
		if rerr := s.cfg.Store.InTx(ctx, func(tx Store) error {
			return s.record(ctx, tx, licensing.ActionPortalSignInFailed, target, clip("wrong password or unknown email "+clip(email, 254)+" from "+clip(ip, 64), 500))
		}); rerr != nil {
			return nil, rerr
		}
	}
	return out, err
}

func (s *Service) signInWithPassword(ctx context.Context, email, password, ip, userAgent string) (*PasswordSignIn, string, error) {
	email, err := normalEmail(email)
	if err != nil || password == "" || len(password) > 256 {
		return nil, "", errBadPassword
	}
	hash, err := s.cfg.Store.PasswordHash(ctx, email)
	known := err == nil
	if licensing.ErrorCode(err) == licensing.ENotFound {
		hash = dummyHash()
	} else if err != nil {
		return nil, "", err
	}
	if !licensing.VerifyPassword(hash, password) || !known {
		return nil, "", errBadPassword
	}
	customers, err := s.activeCustomers(ctx, email)
	if err != nil {
		return nil, "", err
	}
	switch len(customers) {
	case 0:
		return nil, "", errBadPassword
	case 1:
		var in *SignedIn
		err := s.cfg.Store.InTx(ctx, func(tx Store) error {
			var err error
			in, err = s.openSession(ctx, tx, &customers[0], email, "with a password from "+ip, ip, userAgent)
			return err
		})
		if err != nil {
			return nil, "", err
		}
		return &PasswordSignIn{SignedIn: in}, customers[0].ID, nil
	}
	// Several customers: one short-lived link each, as the mail of a link
	// request lists them; the person picks one on the next page.
	var choices []Choice
	err = s.cfg.Store.InTx(ctx, func(tx Store) error {
		for _, c := range customers {
			secret, err := s.newLink(ctx, tx, c.ID, email)
			if err != nil {
				return err
			}
			choices = append(choices, Choice{Customer: c.Name, Secret: secret})
		}
		return nil
	})
	if err != nil {
		return nil, "", err
	}
	return &PasswordSignIn{Choices: choices}, "", nil
}
