package storage_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/nzilacode/narcidicontrole/licensing"
	"github.com/nzilacode/narcidicontrole/licensing/licensingtest"
	"github.com/nzilacode/narcidicontrole/licensing/portal"
	"github.com/nzilacode/narcidicontrole/licensing/users"
	"github.com/nzilacode/narcidicontrole/storage"
	"github.com/nzilacode/narcidicontrole/storage/storagetest"
)

// readFirst are link rows whose reads wait until every concurrent spend
// has read: all of them see the link unused, and only the conditional
// update (UseLink) can keep it single-use.
type readFirst[L licensing.Linked] struct {
	licensing.LinkRows[L]
	read *sync.WaitGroup
}

func (r readFirst[L]) GetLinkByHash(ctx context.Context, hash string) (L, error) {
	l, err := r.LinkRows.GetLinkByHash(ctx, hash)
	r.read.Done()
	r.read.Wait()
	return l, err
}

// linkCase is one row of TestLinkCore: a link issued at t0, spent n times
// at once after a while.
type linkCase struct {
	name    string
	after   time.Duration
	secret  func(issued string) string
	spends  int
	wins    int
	stateOf licensing.LinkState // of the issued secret afterwards
}

// spendRace spends secret n times at once through core
// and rows: the wins, and every loser must be core.Refused.
func spendRace[L licensing.Linked](t *testing.T, core licensing.LinkCore[L], rows licensing.LinkRows[L], secret string, n int) int {
	t.Helper()
	var read, done sync.WaitGroup
	read.Add(n)
	errs := make([]error, n)
	for i := range n {
		done.Add(1)
		go func() {
			defer done.Done()
			l, err := core.Spend(context.Background(), readFirst[L]{rows, &read}, secret)
			if err == nil && l.OneTime().UsedAt == nil {
				t.Errorf("a won spend left UsedAt nil")
			}
			errs[i] = err
		}()
	}
	done.Wait()
	wins := 0
	for _, err := range errs {
		switch {
		case err == nil:
			wins++
		case err != core.Refused:
			t.Errorf("a lost spend: %v, want the audience's refusal %v", err, core.Refused)
		}
	}
	return wins
}

// runLinkCase issues a link through core into rows (create stores it),
// moves the clock and races the spends.
func runLinkCase[L licensing.Linked](t *testing.T, tc linkCase, clock *licensingtest.Clock, core licensing.LinkCore[L],
	rows licensing.LinkRows[L], create func(licensing.OneTimeLink) error) {
	t.Helper()
	l, secret := core.Issue()
	must(t, create(l))
	clock.Add(tc.after)
	if wins := spendRace(t, core, rows, tc.secret(secret), tc.spends); wins != tc.wins {
		t.Errorf("%d of %d concurrent spends won, want %d", wins, tc.spends, tc.wins)
	}
	if _, state, err := core.State(context.Background(), rows, secret); err != nil || state != tc.stateOf {
		t.Errorf("the issued link is %q (%v), want %q", state, err, tc.stateOf)
	}
}

// TestLinkCore: both audiences' one-time links (console set-password,
// portal sign-in) are spent at most once, whoever races, on both
// databases; expired and unknown ones never.
func TestLinkCore(t *testing.T) {
	t.Parallel()
	same := func(s string) string { return s }
	cases := []linkCase{
		{name: "two concurrent spends: one wins", secret: same, spends: 2, wins: 1, stateOf: licensing.LinkUsed},
		{name: "six concurrent spends: one wins", secret: same, spends: 6, wins: 1, stateOf: licensing.LinkUsed},
		{name: "alone, just before expiry: wins", after: time.Hour - time.Microsecond, secret: same, spends: 1, wins: 1, stateOf: licensing.LinkUsed},
		{name: "expired: none wins", after: time.Hour, secret: same, spends: 2, wins: 0, stateOf: licensing.LinkExpired},
		{name: "unknown secret: none wins", secret: func(string) string { return "nzx_unknown" }, spends: 2, wins: 0, stateOf: licensing.LinkUsable},
	}
	refused := licensing.Errorf(licensing.EUnauthorized, "the link is unknown, used or expired")
	storagetest.ForEach(t, func(t *testing.T, s *storage.Store) {
		ctx := context.Background()
		u := &users.User{Email: "ann@acme.test", Role: licensing.RoleAdmin, Status: users.StatusActive, CreatedAt: t0, UpdatedAt: t0}
		must(t, s.Users().CreateUser(ctx, u))
		c := &licensing.Customer{Name: "Acme", Email: "ops@acme.test", Status: licensing.CustomerActive, CreatedAt: t0, UpdatedAt: t0}
		must(t, s.CreateCustomer(ctx, c))
		for _, tc := range cases {
			t.Run("console/"+tc.name, func(t *testing.T) {
				clock := licensingtest.NewClock(t0)
				core := licensing.NewLinkCore[*users.PasswordToken](clock.Now, "nzp_", time.Hour, refused)
				runLinkCase(t, tc, clock, core, s.Users(), func(l licensing.OneTimeLink) error {
					return s.Users().CreatePasswordToken(ctx, &users.PasswordToken{OneTimeLink: l, UserID: u.ID})
				})
			})
			t.Run("portal/"+tc.name, func(t *testing.T) {
				clock := licensingtest.NewClock(t0)
				core := licensing.NewLinkCore[*portal.Link](clock.Now, "nzm_", time.Hour, refused)
				runLinkCase(t, tc, clock, core, s.Portal(), func(l licensing.OneTimeLink) error {
					return s.Portal().CreateLink(ctx, &portal.Link{OneTimeLink: l, CustomerID: c.ID, Email: c.Email})
				})
			})
		}
	})
}
