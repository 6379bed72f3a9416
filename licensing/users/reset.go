package users

import (
	"context"
	"time"

	"github.com/cenkalti/backoff/v5"

	"github.com/nzilacode/narcidicontrole/licensing"
	"github.com/nzilacode/narcidicontrole/licensing/i18n"
)

// Mailer sends one plain-text message (workers.Mailer, the alerts' SMTP).
type Mailer interface {
	Send(ctx context.Context, messageID string, to []string, subject, body string) error
}

// CanMail reports whether "forgot password" can mail links.
func (s *Service) CanMail() bool { return s.cfg.Mailer != nil }

// LinkTTL is how long a set-password link works.
func (s *Service) LinkTTL() time.Duration { return s.cfg.LinkTTL }

// PasswordLinkState says whether a set-password link secret still works,
// so that the console shows a used or expired link's page, not a form
// that can only fail. It spends nothing.
func (s *Service) PasswordLinkState(ctx context.Context, secret string) (licensing.LinkState, error) {
	_, state, err := s.links.State(ctx, s.cfg.Store, secret)
	return state, err
}

// resetMailTries is how often a reset mail is tried (about 2 s of
// backing off in all), as the portal's sign-in links.
const resetMailTries = 4

// RequestPasswordReset mails a new set-password link to the console user
// with email, if there is an active one; link turns the secret into the
// console URL. It answers the same whether or not the email is a user's
// (the caller answers at once and runs it in the background), and audits
// either case. EInvalid (not an email), EUnavailable (no mailer, or the
// mail could not be sent).
func (s *Service) RequestPasswordReset(ctx context.Context, email string, link func(secret string) string, ip string) error {
	email, err := normalEmail(email)
	if err != nil {
		return err
	}
	if s.cfg.Mailer == nil {
		return licensing.Errorf(licensing.EUnavailable, "password links cannot be mailed: email is not configured on this server")
	}
	u, err := s.cfg.Store.GetUserByEmail(ctx, email)
	if err != nil && licensing.ErrorCode(err) != licensing.ENotFound {
		return err
	}
	if u == nil || u.Status != StatusActive {
		target := ""
		if u != nil {
			target = u.ID
		}
		return s.cfg.Store.InTx(ctx, func(tx Store) error {
			return s.record(ctx, tx, licensing.ActionUserSignInFailed, target,
				clip("password reset asked for "+email+" (no active console user) from "+ip, 500), nil, nil)
		})
	}
	secret, err := s.PasswordLink(ctx, u.ID, clip("mailed on a forgot-password request from "+ip, 500))
	if err != nil {
		return err
	}
	// The user's language, else the one of the request that asked
	// (i18n.WithLanguage: its Accept-Language), else the server default.
	pr := i18n.For(i18n.Choose(u.Language, i18n.LanguageFrom(ctx)), u.TimeZone)
	body := pr.T("staff.reset.intro", "email", u.Email) + "\n\n" + pr.T("staff.reset.choose") + "\n" + link(secret) + "\n\n" +
		pr.T("staff.reset.ttl", "ttl", pr.Duration(s.cfg.LinkTTL)) + "\n" + pr.T("staff.reset.ignore") + "\n"
	subject := pr.T("staff.reset.subject")
	id := "<" + licensing.NewID() + "@narcidi>"
	_, err = backoff.Retry(ctx, func() (struct{}, error) {
		return struct{}{}, s.cfg.Mailer.Send(ctx, id, []string{u.Email}, subject, body)
	}, backoff.WithBackOff(backoff.NewExponentialBackOff()), backoff.WithMaxTries(resetMailTries))
	if err != nil {
		return licensing.Wrap(licensing.EUnavailable, err, "the password link could not be mailed")
	}
	return nil
}
