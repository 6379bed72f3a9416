package portal

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"time"
	"unicode"

	"github.com/cenkalti/backoff/v5"
	"github.com/nzilacode/narcidicontrole/licensing"
	"github.com/nzilacode/narcidicontrole/licensing/custmail"
	"github.com/nzilacode/narcidicontrole/licensing/i18n"
)

// Config is what the portal sign-in service needs.
type Config struct {
	Store Store
	// Mailer sends the links; nil: links cannot be asked for (EUnavailable).
	Mailer Mailer
	Clock  licensing.Clock
	// LinkTTL is how long a sign-in link works (default 15 min).
	LinkTTL time.Duration
	// IdleTimeout ends a session unused for that long (default 30 min);
	// AbsoluteTimeout ends any session that old (default 12 h).
	IdleTimeout, AbsoluteTimeout time.Duration
}

// Service runs customer sign-in. Safe for concurrent use.
type Service struct {
	cfg      Config
	sessions licensing.SessionCore[*Session]
	links    licensing.LinkCore[*Link]
}

// NewService checks cfg and builds a Service.
func NewService(cfg Config) (*Service, error) {
	if cfg.Store == nil {
		return nil, fmt.Errorf("portal: Store is required")
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	if cfg.LinkTTL <= 0 {
		cfg.LinkTTL = 15 * time.Minute
	}
	return &Service{cfg: cfg, sessions: licensing.NewSessionCore[*Session](cfg.Clock, "nzc_", cfg.IdleTimeout, cfg.AbsoluteTimeout),
		links: licensing.NewLinkCore[*Link](cfg.Clock, "nzm_", cfg.LinkTTL, errBadLink)}, nil
}

func (s *Service) now() time.Time { return s.cfg.Clock().UTC().Truncate(time.Microsecond) }

// LinkPath is where a link secret is redeemed, below the portal's base URL.
const LinkPath = "/portal/link"

func (s *Service) record(ctx context.Context, tx licensing.EventAppender, action, customerID, reason string) error {
	a := licensing.ActorFrom(ctx)
	return tx.AppendEvent(ctx, &licensing.Event{Time: s.now(), Action: action, TargetType: "customer", TargetID: customerID,
		Actor: a.Label(), ActorName: a.Name, Reason: reason, RequestID: a.RequestID})
}

// RequestLink mails a sign-in link to email for each active customer that
// has it (as its email or a contact's), links to baseURL. It answers the
// same whether or not the email is known, and records either case in the
// audit log. EInvalid (not an email), EUnavailable (no mailer, or the mail
// could not be sent in mailTries tries).
func (s *Service) RequestLink(ctx context.Context, email, baseURL, ip string) error {
	email, err := normalEmail(email)
	if err != nil {
		return err
	}
	if s.cfg.Mailer == nil {
		// Audited: staff see who could not get in, and can send a link
		// from the console.
		if err := s.cfg.Store.InTx(ctx, func(tx Store) error {
			return s.record(ctx, tx, licensing.ActionPortalSignInFailed, "", clip("link asked for "+email+" from "+ip+", but this server sends no email", 500))
		}); err != nil {
			return err
		}
		return errNoMail
	}
	customers, err := s.activeCustomers(ctx, email)
	if err != nil {
		return err
	}
	if len(customers) == 0 {
		return s.cfg.Store.InTx(ctx, func(tx Store) error {
			return s.record(ctx, tx, licensing.ActionPortalSignInFailed, "", clip("link asked for unknown email "+email+" from "+ip, 500))
		})
	}
	msg := custmail.SignIn{Email: email, TTL: s.cfg.LinkTTL}
	err = s.cfg.Store.InTx(ctx, func(tx Store) error {
		for _, c := range customers {
			secret, err := s.newLink(ctx, tx, c.ID, email)
			if err != nil {
				return err
			}
			if err := s.record(ctx, tx, licensing.ActionPortalLinkSent, c.ID, clip("to "+email+" from "+ip, 500)); err != nil {
				return err
			}
			msg.Links = append(msg.Links, custmail.SignInLink{Customer: oneLine(c.Name, 100), URL: LinkURL(baseURL, secret)})
		}
		return nil
	})
	if err != nil {
		return err
	}
	// The first customer's language, else the page's reader's.
	return s.mail(ctx, email, i18n.Choose(customers[0].Language, i18n.LanguageFrom(ctx)), msg)
}

// mail sends a sign-in link message to email in language lang.
func (s *Service) mail(ctx context.Context, email, lang string, msg custmail.SignIn) error {
	m, err := custmail.RenderSignIn(lang, msg)
	if err != nil {
		return licensing.Wrap(licensing.EInternal, err, "the sign-in mail could not be written")
	}
	// A mail server that is restarting or answers "try later" (4xx) must
	// not cost the customer the link: up to mailTries tries, backing off
	// exponentially, within ctx. Every try carries the same Message-ID, so
	// a message that did get through before an error is one message.
	id := "<" + licensing.NewID() + "@narcidi>"
	_, err = backoff.Retry(ctx, func() (struct{}, error) {
		return struct{}{}, s.cfg.Mailer.SendMail(ctx, id, []string{email}, m.Subject, m.Text, m.HTML)
	}, backoff.WithBackOff(backoff.NewExponentialBackOff()), backoff.WithMaxTries(mailTries))
	if err != nil {
		return licensing.Wrap(licensing.EUnavailable, err, "the sign-in link could not be mailed")
	}
	return nil
}

var errNoMail = licensing.Errorf(licensing.EUnavailable, "sign-in links cannot be mailed: email is not configured on this server")

// IssueLink makes a sign-in link for a customer on staff's request (the
// console's "send sign-in link" and "copy sign-in link", `narcidi
// portal-link`): for email, which must be the customer's or a contact's
// ("" is the customer's own). With send it is mailed and "" returned;
// otherwise the link is returned, to be shown once. Audited as
// portal.link_sent with the staff actor. EInvalid (an email the customer
// does not have), EConflict (the customer is disabled), ENotFound,
// EUnavailable (send without a mailer, or the mail failed).
func (s *Service) IssueLink(ctx context.Context, customerID, email, baseURL string, send bool) (string, error) {
	if send && s.cfg.Mailer == nil {
		return "", errNoMail
	}
	var secret string
	var c *licensing.Customer
	err := s.cfg.Store.InTx(ctx, func(tx Store) error {
		var err error
		if c, err = tx.GetCustomer(ctx, customerID); err != nil {
			return err
		}
		if c.Status != licensing.CustomerActive {
			return licensing.Errorf(licensing.EConflict, "the customer is disabled: enable it before it can sign in")
		}
		if email = strings.ToLower(strings.TrimSpace(email)); email == "" {
			email = strings.ToLower(c.Email)
		}
		if email == "" {
			return licensing.FieldErrorf("email", "the customer has no email: add one, or a contact, first")
		}
		if !hasEmail(c, email) {
			return licensing.FieldErrorf("email", "%s is not the customer's email nor a contact's", email)
		}
		if secret, err = s.newLink(ctx, tx, c.ID, email); err != nil {
			return err
		}
		how := "shown once to staff, to pass on"
		if send {
			how = "mailed on staff's request"
		}
		return s.record(ctx, tx, licensing.ActionPortalLinkSent, c.ID, clip("to "+email+", "+how, 500))
	})
	if err != nil {
		return "", err
	}
	link := LinkURL(baseURL, secret)
	if !send {
		return link, nil
	}
	return "", s.mail(ctx, email, i18n.Choose(c.Language), custmail.SignIn{Email: email, TTL: s.cfg.LinkTTL, Staff: true,
		Links: []custmail.SignInLink{{Customer: oneLine(c.Name, 100), URL: link}}})
}

// newLink stores a new sign-in link to customerID's portal for email in
// tx and returns its secret.
func (s *Service) newLink(ctx context.Context, tx Store, customerID, email string) (string, error) {
	l, secret := s.links.Issue()
	return secret, tx.CreateLink(ctx, &Link{OneTimeLink: l, CustomerID: customerID, Email: email})
}

// LinkURL is the portal URL that redeems a link secret.
func LinkURL(baseURL, secret string) string {
	return strings.TrimRight(baseURL, "/") + LinkPath + "?token=" + url.QueryEscape(secret)
}

// LinkTTL is how long a sign-in link works.
func (s *Service) LinkTTL() time.Duration { return s.cfg.LinkTTL }

// mailTries is how often RequestLink tries to mail a link: about 2 s of
// backing off in all (0.5, 0.75, 1.1 s, each ±50%).
const mailTries = 4

// SignedIn is a new session: Secret goes in the cookie, once.
type SignedIn struct {
	Session  *Session
	Customer *licensing.Customer
	Secret   string
}

var errBadLink = licensing.Errorf(licensing.EUnauthorized, "the link is unknown, used or expired: ask for a new one")

// Redeem spends a link and opens a session for its customer. EUnauthorized
// for an unknown, used or expired link, or one whose email the customer no
// longer has; every refusal is in the audit log.
func (s *Service) Redeem(ctx context.Context, secret, ip, userAgent string) (*SignedIn, error) {
	target := ""
	var out *SignedIn
	err := s.cfg.Store.InTx(ctx, func(tx Store) error {
		l, err := s.links.Spend(ctx, tx, secret)
		if l != nil {
			target = l.CustomerID
		}
		if err != nil {
			return err
		}
		c, err := tx.GetCustomer(ctx, l.CustomerID)
		if err != nil {
			return err
		}
		if c.Status != licensing.CustomerActive || !hasEmail(c, l.Email) {
			return errBadLink
		}
		out, err = s.openSession(ctx, tx, c, l.Email, "from "+ip, ip, userAgent)
		return err
	})
	if err == errBadLink {
		// Recorded on its own: the redemption's transaction was rolled back.
		if rerr := s.cfg.Store.InTx(ctx, func(tx Store) error {
			return s.record(ctx, tx, licensing.ActionPortalSignInFailed, target, "unknown, used or expired link from "+clip(ip, 64))
		}); rerr != nil {
			return nil, rerr
		}
	}
	return out, err
}

// activeCustomers are the active customers that have email (as theirs or
// a contact's): who a link or a password may open.
func (s *Service) activeCustomers(ctx context.Context, email string) ([]licensing.Customer, error) {
	all, err := s.cfg.Store.CustomersByEmail(ctx, email)
	if err != nil {
		return nil, err
	}
	var customers []licensing.Customer
	for _, c := range all {
		if c.Status == licensing.CustomerActive && hasEmail(&c, email) {
			customers = append(customers, c)
		}
	}
	return customers, nil
}

// openSession starts a session of c for email in tx and audits it with
// reason.
func (s *Service) openSession(ctx context.Context, tx Store, c *licensing.Customer, email, reason, ip, userAgent string) (*SignedIn, error) {
	b, secret := s.sessions.Open(ip, userAgent)
	sess := &Session{BrowserSession: b, CustomerID: c.ID, Email: email}
	if err := tx.CreateSession(ctx, sess); err != nil {
		return nil, err
	}
	if err := s.record(licensing.WithActor(ctx, licensing.CustomerActor(c, email)), tx, licensing.ActionPortalSignedIn, c.ID, clip(reason, 500)); err != nil {
		return nil, err
	}
	return &SignedIn{Session: sess, Customer: c, Secret: secret}, nil
}

// Current is a live session with its customer and the actor it stands for.
type Current struct {
	Session  *Session
	Customer *licensing.Customer
	Actor    *licensing.Actor
}

// Authenticate resolves a session cookie: EUnauthorized when it is
// unknown, revoked, idle too long or past its absolute timeout, or the
// customer is disabled or no longer has the email. The session's last use
// moves to now (at most once a minute, to spare the database).
func (s *Service) Authenticate(ctx context.Context, secret string) (*Current, error) {
	var c *licensing.Customer
	sess, err := s.sessions.Authenticate(ctx, s.cfg.Store, secret, func(sess *Session) (err error) {
		if c, err = s.cfg.Store.GetCustomer(ctx, sess.CustomerID); err != nil {
			return err
		}
		if c.Status != licensing.CustomerActive || !hasEmail(c, sess.Email) {
			return licensing.Errorf(licensing.EUnauthorized, "the account is disabled")
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &Current{Session: sess, Customer: c, Actor: licensing.CustomerActor(c, sess.Email)}, nil
}

// SignOut ends one session.
func (s *Service) SignOut(ctx context.Context, cur *Current) error {
	return s.cfg.Store.InTx(ctx, func(tx Store) error {
		if err := s.sessions.Revoke(ctx, tx, cur.Session); err != nil {
			return err
		}
		return s.record(ctx, tx, licensing.ActionPortalSignedOut, cur.Customer.ID, "")
	})
}

// hasEmail says whether email is the customer's or one of its contacts'.
func hasEmail(c *licensing.Customer, email string) bool {
	if strings.EqualFold(c.Email, email) {
		return true
	}
	for _, ct := range c.Contacts {
		if strings.EqualFold(ct.Email, email) {
			return true
		}
	}
	return false
}

func normalEmail(s string) (string, error) { return licensing.PlainEmail(s, "it@example.com") }

// oneLine is s as one line of plain text for a mail: a customer's name is
// set by whoever buys (through the billing provider), so its line breaks
// and other control characters become spaces (no line of its own, such as
// a fake link), and it is cut to n runes.
func oneLine(s string, n int) string {
	s = strings.Join(strings.FieldsFunc(s, func(r rune) bool { return unicode.IsControl(r) || unicode.IsSpace(r) }), " ")
	if r := []rune(s); len(r) > n {
		s = string(r[:n]) + "…"
	}
	return s
}

var clip = licensing.Clip

// CanMail says whether links can be sent (a mailer is configured).
func (s *Service) CanMail() bool { return s.cfg.Mailer != nil }
