package licensing_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/nzilacode/narcidicontrole/licensing"
	"github.com/nzilacode/narcidicontrole/licensing/licensingtest"
)

// audienceSession is an audience's session type, as users.Session and
// portal.Session are: the shared part embedded, who it is beside it.
type audienceSession struct {
	licensing.BrowserSession
	Owner string
}

// fakeRows keeps sessions by hash; revokedMeanwhile makes the next touch
// find the session revoked (another request's sign-out).
type fakeRows struct {
	byHash           map[string]*audienceSession
	touches          int
	revokedMeanwhile bool
}

func (f *fakeRows) GetSessionByHash(_ context.Context, hash string) (*audienceSession, error) {
	s, ok := f.byHash[hash]
	if !ok {
		return nil, licensing.Errorf(licensing.ENotFound, "session not found")
	}
	c := *s
	return &c, nil
}

func (f *fakeRows) TouchSession(_ context.Context, id string, now time.Time) error {
	if f.revokedMeanwhile {
		return licensing.Errorf(licensing.ENotFound, "live session not found")
	}
	for _, s := range f.byHash {
		if s.ID == id {
			f.touches++
			s.LastSeenAt = now
		}
	}
	return nil
}

func (f *fakeRows) RevokeSession(_ context.Context, id string, now time.Time) error {
	for _, s := range f.byHash {
		if s.ID == id && s.RevokedAt == nil {
			s.RevokedAt = &now
		}
	}
	return nil
}

func TestSessionCore(t *testing.T) {
	t0 := time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC)
	refuseOwner := func(*audienceSession) error {
		return licensing.Errorf(licensing.EUnauthorized, "the account is disabled")
	}
	for _, tc := range []struct {
		name      string
		after     time.Duration // from the session's opening to the request
		secret    func(opened string) string
		owner     func(*audienceSession) error
		revoked   bool
		meanwhile bool           // revoked between the read and the touch
		want      licensing.Code // "" for a live session
		touches   int
	}{
		{name: "fresh: no touch within a minute", after: 30 * time.Second, want: "", touches: 0},
		{name: "used again: touched", after: 29 * time.Minute, want: "", touches: 1},
		{name: "idle 30 minutes", after: 30 * time.Minute, want: licensing.EUnauthorized},
		{name: "revoked", after: time.Minute, revoked: true, want: licensing.EUnauthorized},
		{name: "owner refused: not touched", after: 5 * time.Minute, owner: refuseOwner, want: licensing.EUnauthorized, touches: 0},
		{name: "revoked between read and touch", after: 5 * time.Minute, meanwhile: true, want: licensing.EUnauthorized},
		{name: "unknown secret", after: time.Minute, secret: func(string) string { return "nzt_unknown" }, want: licensing.EUnauthorized},
		{name: "empty secret", after: time.Minute, secret: func(string) string { return "" }, want: licensing.EUnauthorized},
		{name: "oversized secret", after: time.Minute, secret: func(string) string { return strings.Repeat("x", 129) }, want: licensing.EUnauthorized},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clock := licensingtest.NewClock(t0)
			core := licensing.NewSessionCore[*audienceSession](clock.Now, "nzt_", 0, 0)
			b, secret := core.Open("192.0.2.1", strings.Repeat("a", 300))
			if !strings.HasPrefix(secret, "nzt_") || b.TokenHash != licensing.SecretHash(secret) || b.CSRFToken == "" ||
				len(b.UserAgent) != 255 || !b.ExpiresAt.Equal(t0.Add(12*time.Hour)) || !b.LastSeenAt.Equal(t0) {
				t.Fatalf("Open = %+v, %q", b, secret)
			}
			rows := &fakeRows{byHash: map[string]*audienceSession{b.TokenHash: {BrowserSession: b, Owner: "u1"}}, revokedMeanwhile: tc.meanwhile}
			if tc.revoked {
				if err := core.Revoke(context.Background(), rows, rows.byHash[b.TokenHash]); err != nil {
					t.Fatal(err)
				}
			}
			clock.Add(tc.after)
			if tc.secret != nil {
				secret = tc.secret(secret)
			}
			owner := tc.owner
			if owner == nil {
				owner = func(s *audienceSession) error {
					if s.Owner != "u1" {
						t.Errorf("owner got %+v", s)
					}
					return nil
				}
			}
			got, err := core.Authenticate(context.Background(), rows, secret, owner)
			if licensing.ErrorCode(err) != tc.want {
				t.Fatalf("Authenticate: %v, want code %q", err, tc.want)
			}
			if rows.touches != tc.touches {
				t.Errorf("%d touches, want %d", rows.touches, tc.touches)
			}
			if err == nil && tc.touches > 0 && !got.LastSeenAt.Equal(clock.Now()) {
				t.Errorf("LastSeenAt = %v after a touch at %v", got.LastSeenAt, clock.Now())
			}
		})
	}
}

func TestSessionCoreAbsoluteTimeoutAndRotate(t *testing.T) {
	t0 := time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC)
	clock := licensingtest.NewClock(t0)
	core := licensing.NewSessionCore[*audienceSession](clock.Now, "nzt_", time.Hour, 2*time.Hour)
	b, secret := core.Open("", "")
	rows := &fakeRows{byHash: map[string]*audienceSession{b.TokenHash: {BrowserSession: b}}}
	ok := func(*audienceSession) error { return nil }
	for range 3 { // used every 50 minutes: never idle, but past 2 h it ends
		clock.Add(50 * time.Minute)
		_, err := core.Authenticate(context.Background(), rows, secret, ok)
		if clock.Now().Sub(t0) < 2*time.Hour && err != nil {
			t.Fatalf("at %v: %v", clock.Now().Sub(t0), err)
		}
		if clock.Now().Sub(t0) >= 2*time.Hour && licensing.ErrorCode(err) != licensing.EUnauthorized {
			t.Fatalf("at %v: %v, want the absolute timeout", clock.Now().Sub(t0), err)
		}
	}
	s1, h1, c1 := core.Rotate()
	s2, _, c2 := core.Rotate()
	if s1 == s2 || c1 == c2 || h1 != licensing.SecretHash(s1) || !strings.HasPrefix(s1, "nzt_") {
		t.Errorf("Rotate gave %q %q %q then %q %q", s1, h1, c1, s2, c2)
	}
}

func TestCheckCSRF(t *testing.T) {
	for _, tc := range []struct {
		token string
		want  licensing.Code
	}{{"tok", ""}, {"", licensing.EForbidden}, {"tok2", licensing.EForbidden}, {"to", licensing.EForbidden}} {
		if got := licensing.ErrorCode(licensing.CheckCSRF("tok", tc.token, "portal")); got != tc.want {
			t.Errorf("CheckCSRF(%q) = %q, want %q", tc.token, got, tc.want)
		}
	}
}

// TestPlainEmailNamesTheField: a sign-in email that is not a bare address
// is refused about field "email" (the forms of the console and the portal
// highlight it by that name), whoever's example the message gives.
func TestPlainEmailNamesTheField(t *testing.T) {
	for _, s := range []string{"", "nope", "Ana <ana@x.test>", "a@b@c.test", strings.Repeat("a", 250) + "@x.test"} {
		_, err := licensing.PlainEmail(s, "it@example.com")
		if licensing.ErrorCode(err) != licensing.EInvalid || licensing.ErrorField(err) != "email" || !strings.Contains(licensing.ErrorMessage(err), "it@example.com") {
			t.Errorf("PlainEmail(%q) = %v, want invalid about email", s, err)
		}
	}
	if got, err := licensing.PlainEmail("  Ana@X.test ", "it@example.com"); err != nil || got != "ana@x.test" {
		t.Errorf("PlainEmail of a plain address = %q, %v", got, err)
	}
}
