package users_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"

	"github.com/nzilacode/narcidicontrole/keys"
	"github.com/nzilacode/narcidicontrole/licensing"
	"github.com/nzilacode/narcidicontrole/licensing/licensingtest"
	"github.com/nzilacode/narcidicontrole/licensing/users"
	"github.com/nzilacode/narcidicontrole/storage"
	"github.com/nzilacode/narcidicontrole/storage/storagetest"
)

// The tests of this file force the interleavings of issue 22: one-time
// secrets spent by many requests at once, and writes committed between a
// request's read and its write. Each runs on SQLite and PostgreSQL.

// enrolled makes a user with TOTP on and returns the service, the user's
// TOTP secret, its recovery codes and a function opening a pending session.
func enrolled(t *testing.T, st *storage.Store, clock *licensingtest.Clock, store users.Store) (*users.Service, string, []string, func() *users.Current) {
	t.Helper()
	ctx := context.Background()
	box := newBox(t)
	svc, err := users.NewService(users.Config{Store: store, Box: box, Clock: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	link, err := svc.BootstrapAdmin(ctx, "admin@example.com")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.SetPassword(ctx, link, "correct horse battery"); err != nil {
		t.Fatal(err)
	}
	in, err := svc.SignIn(ctx, "admin@example.com", "correct horse battery", "192.0.2.1", "t")
	if err != nil {
		t.Fatal(err)
	}
	cur, err := svc.Authenticate(ctx, in.Secret)
	if err != nil {
		t.Fatal(err)
	}
	enr, err := svc.BeginTOTP(ctx, cur.User.ID)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := totp.GenerateCode(enr.Secret, clock.Now())
	recovery, err := svc.ConfirmTOTP(ctx, cur, "correct horse battery", c)
	if err != nil {
		t.Fatal(err)
	}
	pending := func() *users.Current {
		t.Helper()
		in, err := svc.SignIn(ctx, "admin@example.com", "correct horse battery", "192.0.2.1", "t")
		if err != nil || in.Session.Stage != users.StagePending {
			t.Fatalf("SignIn = %+v, %v; want a pending session", in, err)
		}
		cur, err := svc.Authenticate(ctx, in.Secret)
		if err != nil {
			t.Fatal(err)
		}
		return cur
	}
	// Enrolment spends its code: it opens no other session.
	if err := svc.VerifySecondFactor(ctx, pending(), c); licensing.ErrorCode(err) != licensing.EInvalid {
		t.Errorf("the code that confirmed enrolment, again at sign-in: %v, want invalid", err)
	}
	clock.Add(2 * time.Minute) // past the enrolment code's steps
	return svc, enr.Secret, recovery, pending
}

func newBox(t *testing.T) licensing.SecretBox {
	t.Helper()
	box, err := keys.NewSecretBox(make([]byte, 32), keys.BoxConsoleTOTP)
	if err != nil {
		t.Fatal(err)
	}
	return box
}

// concurrently runs n second-factor attempts with code at once, each from
// its own pending session, and returns how many were accepted.
func concurrently(t *testing.T, svc *users.Service, pending func() *users.Current, n int, code string) int {
	t.Helper()
	curs := make([]*users.Current, n)
	for i := range curs {
		curs[i] = pending()
	}
	var wins atomic.Int32
	var wg sync.WaitGroup
	start := make(chan struct{})
	for _, cur := range curs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			err := svc.VerifySecondFactor(context.Background(), cur, code)
			switch licensing.ErrorCode(err) {
			case "":
				wins.Add(1)
			case licensing.EInvalid:
			default:
				t.Errorf("VerifySecondFactor: %v", err)
			}
		}()
	}
	close(start)
	wg.Wait()
	return int(wins.Load())
}

// TestTOTPCodeAcceptedOnce: RFC 6238 §5.2, one code opens one session,
// whether the attempts come one after the other or 20 at once; the code
// that confirmed enrolment opens none.
func TestTOTPCodeAcceptedOnce(t *testing.T) {
	storagetest.ForEach(t, func(t *testing.T, st *storage.Store) {
		ctx := context.Background()
		clock := licensingtest.NewClock(time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC))
		svc, secret, _, pending := enrolled(t, st, clock, st.Users())

		c, _ := totp.GenerateCode(secret, clock.Now())
		if got := concurrently(t, svc, pending, 20, c); got != 1 {
			t.Errorf("20 concurrent sign-ins with one TOTP code opened %d sessions, want 1", got)
		}
		// The next step's code works once; a code of the step before the
		// last accepted one is refused although within the skew.
		clock.Add(30 * time.Second)
		next, _ := totp.GenerateCode(secret, clock.Now())
		if err := svc.VerifySecondFactor(ctx, pending(), next); err != nil {
			t.Fatalf("the next step's code: %v", err)
		}
		code(t, licensing.EInvalid, svc.VerifySecondFactor(ctx, pending(), next))
		code(t, licensing.EInvalid, svc.VerifySecondFactor(ctx, pending(), c))
	})
}

// TestRecoveryCodeSpentOnce: 20 pending sessions send one recovery code at
// once; one gets in.
func TestRecoveryCodeSpentOnce(t *testing.T) {
	storagetest.ForEach(t, func(t *testing.T, st *storage.Store) {
		clock := licensingtest.NewClock(time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC))
		svc, _, recovery, pending := enrolled(t, st, clock, st.Users())
		if got := concurrently(t, svc, pending, 20, recovery[3]); got != 1 {
			t.Errorf("20 concurrent sign-ins with one recovery code opened %d sessions, want 1", got)
		}
		// Another code still works, once.
		if got := concurrently(t, svc, pending, 2, recovery[5]); got != 1 {
			t.Errorf("a second recovery code opened %d sessions, want 1", got)
		}
	})
}

// hooked is the real store with a hook after some reads: the place where a
// concurrent request commits in the middle of another's.
type hooked struct {
	users.Store
	afterSession func()
	afterUser    func()
}

func (h *hooked) InTx(ctx context.Context, fn func(tx users.Store) error) error {
	return h.Store.InTx(ctx, func(tx users.Store) error {
		return fn(&hooked{Store: tx, afterSession: h.afterSession, afterUser: h.afterUser})
	})
}

func (h *hooked) GetSessionByHash(ctx context.Context, hash string) (*users.Session, error) {
	s, err := h.Store.GetSessionByHash(ctx, hash)
	if h.afterSession != nil {
		h.afterSession()
	}
	return s, err
}

func (h *hooked) GetUser(ctx context.Context, id string) (*users.User, error) {
	u, err := h.Store.GetUser(ctx, id)
	if h.afterUser != nil {
		h.afterUser()
	}
	return u, err
}

// inTheMiddle runs op on another goroutine (its own connection) and waits
// for it up to a moment: on PostgreSQL it commits between the hooked read
// and the write that follows; on SQLite, whose transactions are serial, it
// waits for the hooked transaction and commits after it. Either way
// nothing it wrote may be lost. The returned wait joins it.
func inTheMiddle(t *testing.T, op func() error) (wait func()) {
	done := make(chan error, 1)
	go func() { done <- op() }()
	var err error
	finished := false
	select {
	case err = <-done:
		finished = true
	case <-time.After(300 * time.Millisecond):
	}
	return func() {
		if !finished {
			err = <-done
		}
		if err != nil {
			t.Errorf("the concurrent write: %v", err)
		}
	}
}

// TestAuthenticateKeepsRevocation: "sign out everywhere" commits while a
// request of the session is between reading its session and moving its
// last use: the session stays revoked, for 25 requests in flight.
func TestAuthenticateKeepsRevocation(t *testing.T) {
	storagetest.ForEach(t, func(t *testing.T, st *storage.Store) {
		ctx := context.Background()
		clock := licensingtest.NewClock(time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC))
		var hook atomic.Pointer[func()]
		h := &hooked{Store: st.Users(), afterSession: func() {
			if f := hook.Load(); f != nil {
				(*f)()
			}
		}}
		svc, err := users.NewService(users.Config{Store: h, Box: newBox(t), Clock: clock.Now})
		if err != nil {
			t.Fatal(err)
		}
		link, _ := svc.BootstrapAdmin(ctx, "admin@example.com")
		if _, err := svc.SetPassword(ctx, link, "correct horse battery"); err != nil {
			t.Fatal(err)
		}
		var secrets []string
		for range 25 {
			in, err := svc.SignIn(ctx, "admin@example.com", "correct horse battery", "", "")
			if err != nil {
				t.Fatal(err)
			}
			secrets = append(secrets, in.Secret)
		}
		clock.Add(2 * time.Minute) // each request will move last_seen_at

		// 25 requests read their sessions, then wait until the revocation
		// has committed, then go on.
		var read sync.WaitGroup
		read.Add(len(secrets))
		revoked := make(chan struct{})
		f := func() { read.Done(); <-revoked }
		hook.Store(&f)
		var wg sync.WaitGroup
		for _, s := range secrets {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, err := svc.Authenticate(ctx, s); err != nil && licensing.ErrorCode(err) != licensing.EUnauthorized {
					t.Errorf("Authenticate: %v", err)
				}
			}()
		}
		read.Wait()
		hook.Store(nil)
		u, _ := st.Users().GetUserByEmail(ctx, "admin@example.com")
		if err := svc.SignOutEverywhere(ctx, u.ID); err != nil {
			t.Fatal(err)
		}
		close(revoked)
		wg.Wait()

		for i, s := range secrets {
			if _, err := svc.Authenticate(ctx, s); licensing.ErrorCode(err) != licensing.EUnauthorized {
				t.Errorf("session %d after sign-out everywhere: %v, want unauthorized", i, err)
			}
		}
	})
}

// TestDisableHoldsAgainstSecondFactor: an admin disables a user while the
// user's second-factor step is between reading the user and writing: the
// user stays disabled and the session does not open.
func TestDisableHoldsAgainstSecondFactor(t *testing.T) {
	storagetest.ForEach(t, func(t *testing.T, st *storage.Store) {
		ctx := context.Background()
		clock := licensingtest.NewClock(time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC))
		h := &hooked{Store: st.Users()}
		svc, secret, _, pending := enrolled(t, st, clock, h)
		admin, _, err := svc.CreateUser(ctx, "other@example.com", licensing.RoleAdmin)
		if err != nil {
			t.Fatal(err)
		}
		adminCtx := licensing.WithActor(ctx, &licensing.Actor{UserID: admin.ID, Role: licensing.RoleAdmin})
		cur := pending()
		userID := cur.User.ID
		var wait func()
		var fired atomic.Bool
		h.afterUser = func() {
			if fired.CompareAndSwap(false, true) { // the second factor's read, not the disable's
				wait = inTheMiddle(t, func() error {
					_, err := svc.SetStatus(adminCtx, userID, users.StatusDisabled, "left the company")
					return err
				})
			}
		}
		c, _ := totp.GenerateCode(secret, clock.Now())
		err = svc.VerifySecondFactor(ctx, cur, c)
		wait()
		if err != nil && licensing.ErrorCode(err) != licensing.EUnauthorized && licensing.ErrorCode(err) != licensing.EConflict {
			t.Fatalf("VerifySecondFactor: %v", err)
		}
		u, err := st.Users().GetUser(ctx, userID)
		if err != nil {
			t.Fatal(err)
		}
		if u.Status != users.StatusDisabled {
			t.Errorf("status = %s after a disable raced the second factor, want disabled", u.Status)
		}
		s, err := st.Users().GetSessionByHash(ctx, cur.Session.TokenHash)
		if err != nil {
			t.Fatal(err)
		}
		if s.RevokedAt == nil {
			t.Errorf("the session of a disabled user is live (stage %s)", s.Stage)
		}
	})
}

// TestEnrolmentKeepsItsSecret: opening the enrolment page again, or a
// wrong code, keeps the pending secret (the authenticator app already
// scanned holds it); only enabling TOTP ends the enrolment.
func TestEnrolmentKeepsItsSecret(t *testing.T) {
	storagetest.ForEach(t, func(t *testing.T, st *storage.Store) {
		ctx := context.Background()
		clock := licensingtest.NewClock(time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC))
		svc := newService(t, st, clock, false)
		link, _ := svc.BootstrapAdmin(ctx, "admin@example.com")
		if _, err := svc.SetPassword(ctx, link, "correct horse battery"); err != nil {
			t.Fatal(err)
		}
		in, _ := svc.SignIn(ctx, "admin@example.com", "correct horse battery", "", "")
		cur, _ := svc.Authenticate(ctx, in.Secret)
		first, err := svc.BeginTOTP(ctx, cur.User.ID)
		if err != nil {
			t.Fatal(err)
		}
		again, err := svc.BeginTOTP(ctx, cur.User.ID)
		if err != nil || again.Secret != first.Secret {
			t.Fatalf("the enrolment page opened again: secret changed %v, %v", again.Secret != first.Secret, err)
		}
		_, err = svc.ConfirmTOTP(ctx, cur, "correct horse battery", "000000")
		code(t, licensing.EInvalid, err)
		after, _ := svc.BeginTOTP(ctx, cur.User.ID)
		c, _ := totp.GenerateCode(first.Secret, clock.Now())
		if _, err := svc.ConfirmTOTP(ctx, cur, "correct horse battery", c); err != nil || after.Secret != first.Secret {
			t.Fatalf("after a wrong code the first secret's code: %v (secret changed %v)", err, after.Secret != first.Secret)
		}
	})
}
