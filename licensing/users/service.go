package users

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base32"
	"encoding/base64"
	"fmt"
	"image/png"
	"strings"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"github.com/nzilacode/narcidicontrole/licensing"
)

// Config is what the users service needs.
type Config struct {
	Store Store
	// Box seals TOTP secrets at rest (required).
	Box   licensing.SecretBox
	Clock licensing.Clock
	// IdleTimeout ends a session unused for that long (default 30 min);
	// AbsoluteTimeout ends any session that old (default 12 h).
	IdleTimeout, AbsoluteTimeout time.Duration
	// LinkTTL is how long a set-password link works (default 24 h).
	LinkTTL time.Duration
	// Mailer mails the links of "forgot password" (nil: they cannot be
	// asked for, and RequestPasswordReset answers EUnavailable).
	Mailer Mailer
	// RequireTOTP makes the second factor mandatory for every user.
	RequireTOTP bool
	// Issuer names the account in authenticator apps (default "Narcidi").
	Issuer string
}

// Service runs the console user use cases. Safe for concurrent use.
type Service struct {
	cfg      Config
	sessions licensing.SessionCore[*Session]
	links    licensing.LinkCore[*PasswordToken]
}

// NewService checks cfg and builds a Service.
func NewService(cfg Config) (*Service, error) {
	if cfg.Store == nil || cfg.Box == nil {
		return nil, fmt.Errorf("users: Store and Box are required")
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	if cfg.LinkTTL <= 0 {
		cfg.LinkTTL = 24 * time.Hour
	}
	if cfg.Issuer == "" {
		cfg.Issuer = "Narcidi"
	}
	return &Service{cfg: cfg, sessions: licensing.NewSessionCore[*Session](cfg.Clock, "nzs_", cfg.IdleTimeout, cfg.AbsoluteTimeout),
		links: licensing.NewLinkCore[*PasswordToken](cfg.Clock, "nzp_", cfg.LinkTTL, errBadLink)}, nil
}

func (s *Service) now() time.Time { return s.cfg.Clock().UTC().Truncate(time.Microsecond) }

// ConsoleRoles are the roles a console user may have: the staff roles of
// the token table (customers get the portal, not the console).
var ConsoleRoles = []licensing.Role{licensing.RoleAdmin, licensing.RoleSupport, licensing.RoleReadOnly}

// MinPasswordLength follows NIST SP 800-63B (at least 8; we ask 12).
const MinPasswordLength = licensing.MinPasswordLength

func (s *Service) record(ctx context.Context, tx licensing.EventAppender, action, targetID, reason string, before, after *User) error {
	a := licensing.ActorFrom(ctx)
	e := &licensing.Event{Time: s.now(), Action: action, TargetType: "user", TargetID: targetID,
		Actor: a.Label(), ActorName: a.Name, Reason: reason, RequestID: a.RequestID}
	if before != nil {
		e.Before = snapshot(before)
	}
	if after != nil {
		e.After = snapshot(after)
	}
	return tx.AppendEvent(ctx, e)
}

// CreateUser adds a console user without a password and returns the
// secret of its one-time set-password link. EInvalid, EConflict (email).
func (s *Service) CreateUser(ctx context.Context, email string, role licensing.Role) (*User, string, error) {
	email, err := normalEmail(email)
	if err != nil {
		return nil, "", err
	}
	if !validRole(role) {
		return nil, "", licensing.FieldErrorf("role", "role must be one of %v", ConsoleRoles)
	}
	now := s.now()
	u := &User{ID: licensing.NewID(), Email: email, Role: role, Status: StatusActive, TOTPRequired: s.cfg.RequireTOTP, CreatedAt: now, UpdatedAt: now}
	var secret string
	err = s.cfg.Store.InTx(ctx, func(tx Store) error {
		if err := tx.CreateUser(ctx, u); err != nil {
			return err
		}
		if secret, err = s.newPasswordToken(ctx, tx, u.ID); err != nil {
			return err
		}
		return s.record(ctx, tx, licensing.ActionUserCreated, u.ID, "", nil, u)
	})
	if err != nil {
		return nil, "", err
	}
	return u, secret, nil
}

// PasswordLink issues a new one-time set-password link for a user (a
// forgotten password, or the first admin again), audited with reason
// (who asked, how the link travels). Earlier links keep working until
// they expire or one is used. ENotFound.
func (s *Service) PasswordLink(ctx context.Context, userID, reason string) (string, error) {
	var secret string
	err := s.cfg.Store.InTx(ctx, func(tx Store) error {
		if _, err := tx.GetUser(ctx, userID); err != nil {
			return err
		}
		var err error
		if secret, err = s.newPasswordToken(ctx, tx, userID); err != nil {
			return err
		}
		return s.record(ctx, tx, licensing.ActionUserPasswordLink, userID, clip(reason, 500), nil, nil)
	})
	return secret, err
}

func (s *Service) newPasswordToken(ctx context.Context, tx Store, userID string) (string, error) {
	l, secret := s.links.Issue()
	return secret, tx.CreatePasswordToken(ctx, &PasswordToken{OneTimeLink: l, UserID: userID})
}

var errBadLink = licensing.Errorf(licensing.EUnauthorized, "the link is unknown, used or expired")

// BootstrapAdmin makes the first admin when there is no console user yet,
// returning its set-password link secret; "" when users exist already.
func (s *Service) BootstrapAdmin(ctx context.Context, email string) (string, error) {
	n, err := s.cfg.Store.CountUsers(ctx)
	if err != nil || n > 0 {
		return "", err
	}
	_, secret, err := s.CreateUser(ctx, email, licensing.RoleAdmin)
	if licensing.ErrorCode(err) == licensing.EConflict {
		return "", nil // another instance made it first
	}
	return secret, err
}

// SetPassword redeems a set-password link: the user's password becomes
// password and every session of theirs ends. EUnauthorized for an unknown,
// used or expired link; EInvalid for a weak password.
func (s *Service) SetPassword(ctx context.Context, linkSecret, password string) (*User, error) {
	if err := checkPassword(password); err != nil {
		return nil, err
	}
	hash, err := hashPassword(password)
	if err != nil {
		return nil, err
	}
	var out *User
	err = s.cfg.Store.InTx(ctx, func(tx Store) error {
		t, err := s.links.Spend(ctx, tx, linkSecret)
		if err != nil {
			return err
		}
		now := *t.UsedAt
		u, err := tx.GetUser(ctx, t.UserID)
		if err != nil {
			return err
		}
		if err := tx.SetUserPassword(ctx, u.ID, hash, now); err != nil {
			return err
		}
		u.PasswordHash, u.UpdatedAt = hash, now
		if err := tx.RevokeSessions(ctx, u.ID, now); err != nil {
			return err
		}
		out = u
		return s.record(licensing.WithActor(ctx, userActor(u, "")), tx, licensing.ActionUserPasswordSet, u.ID, "", nil, nil)
	})
	return out, err
}

// SignedIn is a new session: Secret goes in the cookie, once.
type SignedIn struct {
	Session *Session
	User    *User
	Secret  string
}

// SignIn checks an email and password and opens a session: full, or
// pending when the user owes a TOTP code or must enrol. A wrong email or
// password is EUnauthorized (the same answer for both) and is recorded in
// the audit log.
func (s *Service) SignIn(ctx context.Context, email, password, ip, userAgent string) (*SignedIn, error) {
	email = strings.ToLower(strings.TrimSpace(email))
	u, err := s.cfg.Store.GetUserByEmail(ctx, email)
	if err != nil && licensing.ErrorCode(err) != licensing.ENotFound {
		return nil, err
	}
	ok := false
	if u != nil && u.PasswordHash != "" {
		ok = verifyPassword(u.PasswordHash, password)
	} else {
		_, _ = hashPassword(password) // the same work for unknown emails: no timing oracle
	}
	if !ok || u.Status != StatusActive {
		target := ""
		if u != nil {
			target = u.ID
		}
		reason := "wrong email or password from " + ip
		if len(email) <= 254 {
			reason = "wrong email or password for " + email + " from " + ip
		}
		if err := s.cfg.Store.InTx(ctx, func(tx Store) error {
			return s.record(ctx, tx, licensing.ActionUserSignInFailed, target, reason, nil, nil)
		}); err != nil {
			return nil, err
		}
		// No Field: naming which of the two is wrong would tell whether the
		// email is a user's.
		return nil, licensing.Errorf(licensing.EUnauthorized, "wrong email or password")
	}
	stage := StageFull
	if u.TOTPEnabled || u.TOTPRequired || s.cfg.RequireTOTP {
		stage = StagePending
	}
	return s.openSession(ctx, u, stage, ip, userAgent)
}

func (s *Service) openSession(ctx context.Context, u *User, stage Stage, ip, userAgent string) (*SignedIn, error) {
	b, secret := s.sessions.Open(ip, userAgent)
	now := b.CreatedAt
	sess := &Session{BrowserSession: b, UserID: u.ID, Stage: stage}
	err := s.cfg.Store.InTx(ctx, func(tx Store) error {
		if err := tx.CreateSession(ctx, sess); err != nil {
			return err
		}
		if stage != StageFull {
			return nil
		}
		if err := s.recordSignIn(ctx, tx, u, now); err != nil {
			return err
		}
		return s.record(licensing.WithActor(ctx, userActor(u, "")), tx, licensing.ActionUserSignedIn, u.ID, "from "+ip, nil, nil)
	})
	if err != nil {
		return nil, err
	}
	return &SignedIn{Session: sess, User: u, Secret: secret}, nil
}

// Current is a live session with its user and the actor it stands for.
type Current struct {
	Session *Session
	User    *User
	Actor   *licensing.Actor
	// Renewed is the session's new cookie secret once the second factor
	// has made it full: the secret that was sent before the second factor
	// no longer opens it. Empty otherwise.
	Renewed string
}

// recordSignIn moves the user's last sign-in, refusing a user disabled
// meanwhile.
func (s *Service) recordSignIn(ctx context.Context, tx Store, u *User, now time.Time) error {
	if err := tx.RecordSignIn(ctx, u.ID, now); licensing.ErrorCode(err) == licensing.ENotFound {
		return licensing.Errorf(licensing.EUnauthorized, "the account is disabled")
	} else if err != nil {
		return err
	}
	u.LastSignInAt, u.UpdatedAt = &now, now
	return nil
}

// Authenticate resolves a session cookie: EUnauthorized when it is
// unknown, revoked, idle too long or past its absolute timeout, or its user
// is disabled. The session's last use moves to now (at most once a minute,
// to spare the database).
func (s *Service) Authenticate(ctx context.Context, secret string) (*Current, error) {
	var u *User
	sess, err := s.sessions.Authenticate(ctx, s.cfg.Store, secret, func(sess *Session) (err error) {
		if u, err = s.cfg.Store.GetUser(ctx, sess.UserID); err != nil {
			return err
		}
		if u.Status != StatusActive {
			return licensing.Errorf(licensing.EUnauthorized, "the account is disabled")
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &Current{Session: sess, User: u, Actor: userActor(u, "")}, nil
}

// userActor is the licensing actor of a console user: the role's
// permissions, named in the audit log as user:<id>.
func userActor(u *User, requestID string) *licensing.Actor {
	return &licensing.Actor{UserID: u.ID, Name: u.Email, Role: u.Role, RequestID: requestID}
}

// SignOut ends one session.
func (s *Service) SignOut(ctx context.Context, cur *Current) error {
	return s.cfg.Store.InTx(ctx, func(tx Store) error {
		if err := s.sessions.Revoke(ctx, tx, cur.Session); err != nil {
			return err
		}
		return s.record(ctx, tx, licensing.ActionUserSignedOut, cur.User.ID, "this session", nil, nil)
	})
}

// SignOutEverywhere ends every session of the user.
func (s *Service) SignOutEverywhere(ctx context.Context, userID string) error {
	now := s.now()
	return s.cfg.Store.InTx(ctx, func(tx Store) error {
		if err := tx.RevokeSessions(ctx, userID, now); err != nil {
			return err
		}
		return s.record(ctx, tx, licensing.ActionUserSignedOut, userID, "every session", nil, nil)
	})
}

// Enrolment is a TOTP secret being enrolled: shown once as text and as a
// QR code (a PNG data URL) for authenticator apps.
type Enrolment struct {
	Secret string
	URL    string // otpauth://
	QRCode string // data:image/png;base64,...
}

// BeginTOTP shows the user's pending TOTP secret, making one when there is
// none: opening the enrolment page again, or a wrong code, keeps the secret
// the authenticator app has already scanned. EConflict when TOTP is
// already enabled.
func (s *Service) BeginTOTP(ctx context.Context, userID string) (*Enrolment, error) {
	var out *Enrolment
	err := s.cfg.Store.InTx(ctx, func(tx Store) error {
		u, err := tx.GetUser(ctx, userID)
		if err != nil {
			return err
		}
		if u.TOTPEnabled {
			return licensing.Errorf(licensing.EConflict, "two-factor sign-in is already enabled")
		}
		opts := totp.GenerateOpts{Issuer: s.cfg.Issuer, AccountName: u.Email}
		if len(u.TOTPSecret) > 0 {
			pending, err := s.cfg.Box.Open(u.TOTPSecret, []byte(u.ID))
			if err != nil {
				return licensing.Wrap(licensing.EInternal, err, "open the TOTP secret")
			}
			if opts.Secret, err = base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(string(pending)); err != nil {
				return licensing.Wrap(licensing.EInternal, err, "decode the TOTP secret")
			}
		}
		key, err := totp.Generate(opts)
		if err != nil {
			return licensing.Wrap(licensing.EInternal, err, "generate a TOTP secret")
		}
		img, err := key.Image(256, 256)
		if err != nil {
			return licensing.Wrap(licensing.EInternal, err, "draw the QR code")
		}
		var buf bytes.Buffer
		if err := png.Encode(&buf, img); err != nil {
			return licensing.Wrap(licensing.EInternal, err, "encode the QR code")
		}
		if opts.Secret == nil {
			sealed, err := s.cfg.Box.Seal([]byte(key.Secret()), []byte(u.ID))
			if err != nil {
				return licensing.Wrap(licensing.EInternal, err, "seal the TOTP secret")
			}
			if err := tx.SetPendingTOTP(ctx, u.ID, sealed, s.now()); err != nil {
				return err
			}
		}
		out = &Enrolment{Secret: key.Secret(), URL: key.URL(), QRCode: "data:image/png;base64," + base64.StdEncoding.EncodeToString(buf.Bytes())}
		return nil
	})
	return out, err
}

// RecoveryCodeCount is how many recovery codes an enrolment gives.
const RecoveryCodeCount = 10

// ConfirmTOTP checks the user's current password (re-authentication: a
// session left open cannot bind the account to someone else's device) and
// a code of the pending secret, then enables TOTP, returning the recovery
// codes (shown once). A pending session of the user becomes full.
// EUnauthorized for a wrong password, EInvalid for a wrong code, EConflict
// with nothing pending.
func (s *Service) ConfirmTOTP(ctx context.Context, cur *Current, password, code string) ([]string, error) {
	var codes []string
	err := s.cfg.Store.InTx(ctx, func(tx Store) error {
		u, err := tx.GetUser(ctx, cur.User.ID)
		if err != nil {
			return err
		}
		if len(password) > 256 || !verifyPassword(u.PasswordHash, password) {
			return licensing.Errorf(licensing.EUnauthorized, "the password is wrong")
		}
		if u.TOTPEnabled || len(u.TOTPSecret) == 0 {
			return licensing.Errorf(licensing.EConflict, "there is no enrolment in progress")
		}
		step, err := s.codeStep(u, code)
		if err != nil {
			return err
		}
		if step < 0 {
			return licensing.FieldErrorf("code", "the code is wrong: check the time on your device")
		}
		codes = make([]string, RecoveryCodeCount)
		hashes := make([]string, RecoveryCodeCount)
		for i := range codes {
			codes[i] = recoveryCode()
			hashes[i] = hashSecret(codes[i])
		}
		now := s.now()
		// The step is spent with the enrolment: the code that confirmed
		// it opens no session.
		if err := tx.EnableTOTP(ctx, u.ID, u.TOTPSecret, step, hashes, now); err != nil {
			return err
		}
		u.TOTPEnabled, u.TOTPLastStep, u.RecoveryCodes, u.UpdatedAt = true, step, hashes, now
		if err := s.record(ctx, tx, licensing.ActionUserTOTPEnabled, u.ID, "", nil, nil); err != nil {
			return err
		}
		cur.User = u
		return s.promote(ctx, tx, cur)
	})
	return codes, err
}

// VerifySecondFactor completes a pending sign-in with a TOTP code or an
// unused recovery code (which is then spent). EInvalid for a wrong code.
func (s *Service) VerifySecondFactor(ctx context.Context, cur *Current, code string) error {
	code = strings.TrimSpace(code)
	err := s.cfg.Store.InTx(ctx, func(tx Store) error {
		u, err := tx.GetUser(ctx, cur.User.ID)
		if err != nil {
			return err
		}
		if !u.TOTPEnabled {
			return licensing.Errorf(licensing.EConflict, "two-factor sign-in is not enrolled")
		}
		ok, err := s.spendTOTPCode(ctx, tx, u, code)
		if err != nil {
			return err
		}
		if !ok {
			if ok, err = s.spendRecoveryCode(ctx, tx, u, code); err != nil {
				return err
			}
		}
		if !ok {
			return errWrongCode
		}
		cur.User = u
		return s.promote(ctx, tx, cur)
	})
	if err == errWrongCode {
		// Recorded on its own: the check's transaction was rolled back.
		if rerr := s.cfg.Store.InTx(ctx, func(tx Store) error {
			return s.record(ctx, tx, licensing.ActionUserSignInFailed, cur.User.ID, "wrong second-factor code", nil, nil)
		}); rerr != nil {
			return rerr
		}
	}
	return err
}

var errWrongCode = licensing.Errorf(licensing.EInvalid, "the code is wrong")

// spendTOTPCode accepts a TOTP code once: its time step must be later
// than the last one accepted, and is spent by a conditional update that
// only one of concurrent requests wins (RFC 6238 §5.2).
func (s *Service) spendTOTPCode(ctx context.Context, tx Store, u *User, code string) (bool, error) {
	step, err := s.codeStep(u, code)
	if err != nil || step < 0 || step <= u.TOTPLastStep {
		return false, err
	}
	now := s.now()
	switch err := tx.AcceptTOTPStep(ctx, u.ID, step, now); licensing.ErrorCode(err) {
	case "":
		u.TOTPLastStep, u.UpdatedAt = step, now
		return true, nil
	case licensing.EConflict:
		return false, nil // another request spent this step or a later one
	default:
		return false, err
	}
}

// spendRecoveryCode spends a recovery code by a compare-and-swap of the
// code list: when another request spent a code in between, the list is
// read again, and a code it spent is then gone.
func (s *Service) spendRecoveryCode(ctx context.Context, tx Store, u *User, code string) (bool, error) {
	h := hashSecret(strings.ToLower(strings.TrimSpace(code)))
	for range 5 {
		i := -1
		for j, rc := range u.RecoveryCodes {
			if subtle.ConstantTimeCompare([]byte(rc), []byte(h)) == 1 {
				i = j
			}
		}
		if i < 0 {
			return false, nil
		}
		left := append(u.RecoveryCodes[:i:i], u.RecoveryCodes[i+1:]...)
		now := s.now()
		err := tx.SpendRecoveryCodes(ctx, u.ID, u.RecoveryCodes, left, now)
		if err == nil {
			u.RecoveryCodes, u.UpdatedAt = left, now
			return true, s.record(ctx, tx, licensing.ActionUserRecoveryUsed, u.ID, fmt.Sprintf("%d left", len(left)), nil, nil)
		}
		if licensing.ErrorCode(err) != licensing.EConflict {
			return false, err
		}
		fresh, err := tx.GetUser(ctx, u.ID)
		if err != nil {
			return false, err
		}
		*u = *fresh
	}
	return false, licensing.Errorf(licensing.EConflict, "too many sign-ins at once: try again")
}

// promote makes a pending session full, with a new cookie secret and CSRF
// token (the privilege changed: what was sent before the second factor
// opens nothing), and records the sign-in. A session revoked or a user
// disabled meanwhile is EUnauthorized.
func (s *Service) promote(ctx context.Context, tx Store, cur *Current) error {
	if cur.Session.Stage == StageFull {
		return nil
	}
	now := s.now()
	secret, hash, csrf := s.sessions.Rotate()
	if err := tx.PromoteSession(ctx, cur.Session.ID, hash, csrf, now); licensing.ErrorCode(err) == licensing.ENotFound {
		return licensing.ErrSessionEnded
	} else if err != nil {
		return err
	}
	if err := s.recordSignIn(ctx, tx, cur.User, now); err != nil {
		return err
	}
	cur.Session.Stage, cur.Session.TokenHash, cur.Session.CSRFToken, cur.Session.LastSeenAt = StageFull, hash, csrf, now
	cur.Renewed = secret
	return s.record(ctx, tx, licensing.ActionUserSignedIn, cur.User.ID, "from "+cur.Session.IP, nil, nil)
}

// codeStep is the RFC 6238 time step (30 s, ±1 step of skew) whose code
// code is, or -1 when it is none's.
func (s *Service) codeStep(u *User, code string) (int64, error) {
	secret, err := s.cfg.Box.Open(u.TOTPSecret, []byte(u.ID))
	if err != nil {
		return -1, licensing.Wrap(licensing.EInternal, err, "open the TOTP secret")
	}
	code = strings.TrimSpace(code)
	if len(code) != 6 {
		return -1, nil
	}
	opts := totp.ValidateOpts{Period: totpPeriod, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1}
	now := s.cfg.Clock().Unix() / totpPeriod
	found := int64(-1)
	for step := now - 1; step <= now+1; step++ {
		want, err := totp.GenerateCodeCustom(string(secret), time.Unix(step*totpPeriod, 0), opts)
		if err != nil {
			return -1, licensing.Wrap(licensing.EInternal, err, "compute a TOTP code")
		}
		if subtle.ConstantTimeCompare([]byte(want), []byte(code)) == 1 {
			found = step // the latest step that matches
		}
	}
	return found, nil
}

const totpPeriod = 30

// NeedsEnrolment says whether a pending session must enrol TOTP (it is
// mandatory and not done) rather than give a code.
func (s *Service) NeedsEnrolment(u *User) bool {
	return !u.TOTPEnabled && (u.TOTPRequired || s.cfg.RequireTOTP)
}

// SetTOTPRequired makes the second factor mandatory (or not) for a user.
// The caller checks the actor may (WriteTokens: an admin). ENotFound.
func (s *Service) SetTOTPRequired(ctx context.Context, userID string, required bool) (*User, error) {
	return s.change(ctx, userID, "", func(u *User, tx Store) error {
		// Sessions opened without the factor now owed end: the user signs
		// in again and enrols.
		if required && !u.TOTPRequired && !u.TOTPEnabled {
			if err := tx.RevokeSessions(ctx, u.ID, s.now()); err != nil {
				return err
			}
		}
		u.TOTPRequired = required
		return nil
	})
}

// User returns a user. ENotFound.
func (s *Service) User(ctx context.Context, id string) (*User, error) {
	return s.cfg.Store.GetUser(ctx, id)
}

// UserByEmail returns a user by email. ENotFound.
func (s *Service) UserByEmail(ctx context.Context, email string) (*User, error) {
	return s.cfg.Store.GetUserByEmail(ctx, strings.ToLower(strings.TrimSpace(email)))
}

// Users lists users by id.
func (s *Service) Users(ctx context.Context, page licensing.Page) ([]User, error) {
	return s.cfg.Store.ListUsers(ctx, page)
}

func validRole(r licensing.Role) bool {
	for _, c := range ConsoleRoles {
		if r == c {
			return true
		}
	}
	return false
}

func normalEmail(s string) (string, error) { return licensing.PlainEmail(s, "ops@example.com") }

// hashSecret and randomSecret are licensing's, shared with the portal.
var hashSecret, randomSecret = licensing.SecretHash, licensing.RandomSecret

// recoveryCode is 10 base32 characters (50 bits), shown as xxxxx-xxxxx.
func recoveryCode() string {
	const alphabet = "abcdefghijkmnpqrstuvwxyz23456789"
	b := make([]byte, 10)
	_, _ = rand.Read(b)
	out := make([]byte, 0, 11)
	for i, c := range b {
		if i == 5 {
			out = append(out, '-')
		}
		out = append(out, alphabet[int(c)%len(alphabet)])
	}
	return string(out)
}

var clip = licensing.Clip
