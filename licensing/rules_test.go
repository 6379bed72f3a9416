package licensing_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nzilacode/narcidicontrole/licensing"
	"github.com/nzilacode/narcidicontrole/storage/storagetest"
)

func TestPolicyRulesValidate(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		rules licensing.PolicyRules
		field string // "" : valid
	}{
		{"defaults", licensing.PolicyRules{}, ""},
		{"every rule", licensing.PolicyRules{Matching: licensing.MatchMost, Uniqueness: licensing.UniquePerProduct, OverageFactor: 1.5,
			ActivationLimits: licensing.ActivationLimits{MaxActivations: 5, MaxDeactivations: 2, LimitPeriodSeconds: 3600, MinSeatHoldSeconds: 60}}, ""},
		{"license scope by name", licensing.PolicyRules{Uniqueness: "license"}, ""},
		{"factor 1 is none", licensing.PolicyRules{OverageFactor: 1}, ""},
		{"plus seats", licensing.PolicyRules{OverageSeats: 3}, ""},
		{"unknown matching rule", licensing.PolicyRules{Matching: "three"}, "rules.matching"},
		{"unknown scope", licensing.PolicyRules{Uniqueness: "galaxy"}, "rules.uniqueness"},
		{"overage below 1", licensing.PolicyRules{OverageFactor: 0.5}, "rules.overage_factor"},
		{"overage not offered", licensing.PolicyRules{OverageFactor: 1.75}, "rules.overage_factor"},
		{"negative plus seats", licensing.PolicyRules{OverageSeats: -1}, "rules.overage_seats"},
		{"factor and seats", licensing.PolicyRules{OverageFactor: 2, OverageSeats: 1}, "rules.overage_seats"},
		{"negative cap", licensing.PolicyRules{ActivationLimits: licensing.ActivationLimits{MaxActivations: -1, LimitPeriodSeconds: 60}}, "rules.max_activations"},
		{"absurd cap", licensing.PolicyRules{ActivationLimits: licensing.ActivationLimits{MaxDeactivations: 2_000_000, LimitPeriodSeconds: 60}}, "rules.max_deactivations"},
		{"cap without period", licensing.PolicyRules{ActivationLimits: licensing.ActivationLimits{MaxActivations: 3}}, "rules.limit_period_seconds"},
		{"negative hold", licensing.PolicyRules{ActivationLimits: licensing.ActivationLimits{MinSeatHoldSeconds: -5}}, "rules.min_seat_hold_seconds"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.rules.Validate()
			if tc.field == "" {
				if err != nil {
					t.Fatalf("valid rules refused: %v", err)
				}
				return
			}
			if licensing.ErrorCode(err) != licensing.EInvalid || licensing.ErrorField(err) != tc.field {
				t.Fatalf("got %v (field %q), want invalid naming %s", err, licensing.ErrorField(err), tc.field)
			}
		})
	}
}

func TestSeatCap(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		rules      licensing.PolicyRules
		seats, cap int
	}{
		{licensing.PolicyRules{}, 10, 10},
		{licensing.PolicyRules{OverageFactor: 1.25}, 10, 12},
		{licensing.PolicyRules{OverageFactor: 1.5}, 10, 15},
		{licensing.PolicyRules{OverageFactor: 2}, 10, 20},
		{licensing.PolicyRules{OverageFactor: 1.5}, 1, 1},
		{licensing.PolicyRules{OverageSeats: 3}, 10, 13},
	} {
		if got := tc.rules.SeatCap(tc.seats); got != tc.cap {
			t.Errorf("%+v: SeatCap(%d) = %d, want %d", tc.rules, tc.seats, got, tc.cap)
		}
	}
}

func TestComponentsMatch(t *testing.T) {
	t.Parallel()
	known := []string{"board", "disk", "mac", "os"}
	for _, tc := range []struct {
		rule licensing.MatchingRule
		got  []string
		want bool
	}{
		{licensing.MatchExact, known, false}, // the default never matches by components
		{licensing.MatchAny, []string{"disk"}, true},
		{licensing.MatchAny, []string{"other"}, false},
		{licensing.MatchTwo, []string{"disk", "x"}, false},
		{licensing.MatchTwo, []string{"disk", "mac", "x"}, true},
		{licensing.MatchMost, []string{"board", "mac", "os", "new-disk"}, true},
		{licensing.MatchMost, []string{"board", "mac", "new-os", "new-disk"}, false}, // half is not most
		{licensing.MatchAll, []string{"board", "mac", "os", "new-disk"}, false},
		{licensing.MatchAll, []string{"board", "disk", "mac", "os", "extra"}, true},
		{licensing.MatchAny, nil, false},
	} {
		if got := licensing.ComponentsMatch(tc.rule, known, tc.got); got != tc.want {
			t.Errorf("%q %v: %v, want %v", tc.rule, tc.got, got, tc.want)
		}
	}
}

func TestNormalizeComponents(t *testing.T) {
	t.Parallel()
	many := make([]string, 10_000)
	for i := range many {
		many[i] = fmt.Sprint("c", i)
	}
	for _, tc := range []struct {
		name string
		in   []string
		want []string
		bad  bool
	}{
		{"none", nil, nil, false},
		{"sorted and unique", []string{" b ", "a", "b", ""}, []string{"a", "b"}, false},
		{"ten thousand", many, nil, true},
		{"too long", []string{strings.Repeat("x", 129)}, nil, true},
	} {
		got, err := licensing.NormalizeComponents(tc.in)
		if tc.bad {
			if licensing.ErrorField(err) != "components" {
				t.Errorf("%s: %v, want invalid naming components", tc.name, err)
			}
			continue
		}
		if err != nil || fmt.Sprint(got) != fmt.Sprint(tc.want) {
			t.Errorf("%s: %v %v, want %v", tc.name, got, err, tc.want)
		}
	}
}

func TestWithOverrides(t *testing.T) {
	t.Parallel()
	p := &licensing.Policy{MaxMachines: 3, LeaseTTLSeconds: 3600, HeartbeatWindowSeconds: 600, GraceSeconds: 60, ExpiryAction: licensing.ExpiryRestrict,
		Rules: licensing.PolicyRules{ActivationLimits: licensing.ActivationLimits{MaxActivations: 5, LimitPeriodSeconds: 3600}}}
	for _, tc := range []struct {
		name  string
		lic   licensing.License
		check func(e *licensing.Policy) bool
		names []string
	}{
		{"none", licensing.License{}, func(e *licensing.Policy) bool { return e.MaxMachines == 3 && e.LeaseTTLSeconds == 3600 }, nil},
		{"seats and ttl", licensing.License{SeatsOverride: ptr(7), Overrides: licensing.LicenseOverrides{LeaseTTLSeconds: ptr[int64](600)}},
			func(e *licensing.Policy) bool {
				return e.MaxMachines == 7 && e.LeaseTTLSeconds == 600 && e.GraceSeconds == 60
			},
			[]string{"seats", "lease_ttl_seconds"}},
		{"expiry and limits", licensing.License{Overrides: licensing.LicenseOverrides{ExpiryAction: ptr(licensing.ExpiryAllow), MaxActivations: ptr(0), MinSeatHoldSeconds: ptr[int64](30)}},
			func(e *licensing.Policy) bool {
				return e.ExpiryAction == licensing.ExpiryAllow && e.Rules.MaxActivations == 0 && e.Rules.MinSeatHoldSeconds == 30 && e.Rules.LimitPeriodSeconds == 3600
			},
			[]string{"expiry_action", "max_activations", "min_seat_hold_seconds"}},
	} {
		e, names := tc.lic.WithOverrides(p)
		if !tc.check(e) || fmt.Sprint(names) != fmt.Sprint(tc.names) {
			t.Errorf("%s: %+v %v, want names %v", tc.name, e, names, tc.names)
		}
		if p.MaxMachines != 3 || p.Rules.MaxActivations != 5 {
			t.Fatalf("%s: the policy itself changed", tc.name)
		}
	}
}

// A license's overrides are what Check and the leases follow; PATCH null
// clears one; GET shows the effective policy and what is overridden.
func TestLicenseOverrides(t *testing.T) {
	t.Parallel()
	for _, d := range storagetest.Dialects {
		t.Run(d, func(t *testing.T) {
			ctx := context.Background()
			f := newFixture(t, d, licensing.PolicyInput{MaxMachines: 2, Floating: true, LeaseTTLSeconds: 3600, DurationSeconds: 86400})
			lic := f.license(t, licensing.LicenseInput{Overrides: &licensing.OverridesInput{Seats: ptr(3),
				LicenseOverrides: licensing.LicenseOverrides{LeaseTTLSeconds: ptr[int64](600), GraceSeconds: ptr[int64](7200)}}})
			if e := lic.Effective; e == nil || e.Seats != 3 || e.LeaseTTLSeconds != 600 || fmt.Sprint(e.Overridden) != "[seats lease_ttl_seconds grace_seconds]" {
				t.Fatalf("created effective %+v", lic.Effective)
			}
			g, err := f.svc.Leasing.Activate(ctx, req(lic.Key, "fingerprint-a"))
			if err != nil {
				t.Fatal(err)
			}
			if c := claimsOf(t, g, f.pub); c.Expiry-c.IssuedAt != 600 {
				t.Errorf("lease lasts %ds, want the override's 600", c.Expiry-c.IssuedAt)
			}
			// Past expiry but within the overridden grace: still usable.
			f.clock.Add(86400*time.Second + time.Hour)
			if _, err := f.svc.Leasing.Renew(ctx, req(lic.Key, "fingerprint-a")); err != nil {
				t.Fatalf("renew within the overridden grace: %v", err)
			}

			var patch licensing.LicensePatch
			if err := json.Unmarshal([]byte(`{"overrides":{"lease_ttl_seconds":null,"expiry_action":"allow","seats":5}}`), &patch); err != nil {
				t.Fatal(err)
			}
			got, err := f.svc.Licenses.UpdateLicense(ctx, lic.ID, patch)
			if err != nil {
				t.Fatal(err)
			}
			e := got.Effective
			if e.LeaseTTLSeconds != 3600 || e.Seats != 5 || e.ExpiryAction != licensing.ExpiryAllow || fmt.Sprint(e.Overridden) != "[seats grace_seconds expiry_action]" {
				t.Fatalf("patched effective %+v", e)
			}
			read, err := f.svc.Licenses.License(ctx, lic.ID)
			if err != nil || read.Overrides.LeaseTTLSeconds != nil || *read.Overrides.GraceSeconds != 7200 || *read.SeatsOverride != 5 {
				t.Fatalf("read back %+v %v", read, err)
			}
			// Far past the grace: the allow override keeps it usable.
			f.clock.Add(30 * 24 * time.Hour)
			if _, err := f.svc.Leasing.Renew(ctx, req(lic.Key, "fingerprint-a")); err != nil {
				t.Fatalf("renew under the allow override: %v", err)
			}

			for _, tc := range []struct{ body, field string }{
				{`{"overrides":{"seats":0}}`, "overrides.seats"},
				{`{"overrides":{"lease_ttl_seconds":5}}`, "overrides.lease_ttl_seconds"},
				{`{"overrides":{"grace_seconds":-1}}`, "overrides.grace_seconds"},
				{`{"overrides":{"expiry_action":"explode"}}`, "overrides.expiry_action"},
				{`{"overrides":{"max_activations":-3}}`, "overrides.max_activations"},
			} {
				var p licensing.LicensePatch
				if err := json.Unmarshal([]byte(tc.body), &p); err != nil {
					t.Fatal(err)
				}
				_, err := f.svc.Licenses.UpdateLicense(ctx, lic.ID, p)
				if licensing.ErrorField(err) != tc.field {
					t.Errorf("%s: %v, want invalid naming %s", tc.body, err, tc.field)
				}
			}
			after, _ := f.svc.Licenses.License(ctx, lic.ID)
			if *after.SeatsOverride != 5 || after.Overrides.MaxActivations != nil {
				t.Errorf("a refused patch wrote: %+v", after)
			}
		})
	}
}

func rulesFixture(t *testing.T, d string, rules licensing.PolicyRules, seats int) (*fixture, *licensing.CreatedLicense) {
	t.Helper()
	f := newFixture(t, d, licensing.PolicyInput{MaxMachines: seats, Floating: true, LeaseTTLSeconds: 3600, Rules: &rules})
	return f, f.license(t, licensing.LicenseInput{})
}

func withComponents(key, fp string, comps ...string) licensing.MachineRequest {
	r := req(key, fp)
	r.Components = comps
	return r
}

func TestMatchingRule(t *testing.T) {
	t.Parallel()
	for _, d := range storagetest.Dialects {
		for _, tc := range []struct {
			rule     licensing.MatchingRule
			sameSeat bool
		}{{licensing.MatchMost, true}, {licensing.MatchAll, false}, {licensing.MatchExact, false}} {
			t.Run(d+"/"+string(tc.rule), func(t *testing.T) {
				ctx := context.Background()
				f, lic := rulesFixture(t, d, licensing.PolicyRules{Matching: tc.rule}, 2)
				g1, err := f.svc.Leasing.Activate(ctx, withComponents(lic.Key, "fingerprint-1", "board", "disk-1", "mac", "os"))
				if err != nil {
					t.Fatal(err)
				}
				// The disk was replaced: a new fingerprint and one component changed.
				g2, err := f.svc.Leasing.Activate(ctx, withComponents(lic.Key, "fingerprint-2", "board", "disk-2", "mac", "os"))
				if err != nil {
					t.Fatal(err)
				}
				if (g2.Machine.ID == g1.Machine.ID) != tc.sameSeat || g2.Created == tc.sameSeat {
					t.Fatalf("same seat %v (created %v), want %v", g2.Machine.ID == g1.Machine.ID, g2.Created, tc.sameSeat)
				}
				n, _ := f.store.CountMachines(ctx, lic.ID)
				evs, err := f.svc.Notifications.Events(ctx, licensing.EventFilter{Action: licensing.ActionMachineFingerprintChanged}, licensing.Page{Limit: 10})
				if err != nil {
					t.Fatal(err)
				}
				if tc.sameSeat {
					if n != 1 || len(evs) != 1 || g2.Machine.Fingerprint != "fingerprint-2" {
						t.Fatalf("machines %d, events %d, fingerprint %s", n, len(evs), g2.Machine.Fingerprint)
					}
					// The old fingerprint no longer holds a seat; the new one renews.
					if _, err := f.svc.Leasing.Renew(ctx, req(lic.Key, "fingerprint-2")); err != nil {
						t.Fatal(err)
					}
					wantCode(t, func() error { _, err := f.svc.Leasing.Renew(ctx, req(lic.Key, "fingerprint-1")); return err }(), licensing.ENotActivated)
					m, _ := f.svc.Licenses.Machine(ctx, g1.Machine.ID)
					if fmt.Sprint(m.Components) != "[board disk-2 mac os]" {
						t.Errorf("components %v", m.Components)
					}
				} else if n != 2 || len(evs) != 0 {
					t.Fatalf("machines %d, events %d", n, len(evs))
				}
			})
		}
	}
}

func TestUniquenessScope(t *testing.T) {
	t.Parallel()
	for _, d := range storagetest.Dialects {
		t.Run(d, func(t *testing.T) {
			ctx := context.Background()
			f, lic := rulesFixture(t, d, licensing.PolicyRules{Uniqueness: licensing.UniquePerPolicy}, 2)
			other := f.license(t, licensing.LicenseInput{})
			if _, err := f.svc.Leasing.Activate(ctx, req(lic.Key, "fingerprint-1")); err != nil {
				t.Fatal(err)
			}
			_, err := f.svc.Leasing.Activate(ctx, req(other.Key, "fingerprint-1"))
			wantCode(t, err, licensing.EFingerprintTaken)
			if _, err := f.svc.Leasing.Activate(ctx, req(other.Key, "fingerprint-2")); err != nil {
				t.Fatal(err)
			}
			// The default scope (per license) lets the same machine on two licenses.
			f2, a := rulesFixture(t, d, licensing.PolicyRules{}, 1)
			b := f2.license(t, licensing.LicenseInput{})
			for _, k := range []string{a.Key, b.Key} {
				if _, err := f2.svc.Leasing.Activate(ctx, req(k, "fingerprint-1")); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}

func TestActivationLimits(t *testing.T) {
	t.Parallel()
	for _, d := range storagetest.Dialects {
		t.Run(d, func(t *testing.T) {
			ctx := context.Background()
			f, lic := rulesFixture(t, d, licensing.PolicyRules{ActivationLimits: licensing.ActivationLimits{
				MaxActivations: 3, MaxDeactivations: 2, LimitPeriodSeconds: 3600, MinSeatHoldSeconds: 600}}, 10)
			for i := range 3 {
				if _, err := f.svc.Leasing.Activate(ctx, req(lic.Key, fmt.Sprint("fingerprint-", i))); err != nil {
					t.Fatal(err)
				}
			}
			for range 2 { // refused twice: one event
				_, err := f.svc.Leasing.Activate(ctx, req(lic.Key, "fingerprint-x"))
				wantCode(t, err, licensing.EActivationLimited)
			}
			// A seat held less than its minimum cannot be freed by the app.
			wantCode(t, f.svc.Leasing.Deactivate(ctx, req(lic.Key, "fingerprint-0")), licensing.ESeatHeld)
			f.clock.Add(11 * time.Minute)
			for i := range 2 {
				if err := f.svc.Leasing.Deactivate(ctx, req(lic.Key, fmt.Sprint("fingerprint-", i))); err != nil {
					t.Fatal(err)
				}
			}
			wantCode(t, f.svc.Leasing.Deactivate(ctx, req(lic.Key, "fingerprint-2")), licensing.EActivationLimited)
			evs, err := f.svc.Notifications.Events(ctx, licensing.EventFilter{Action: licensing.ActionLicenseActivationLimited}, licensing.Page{Limit: 10})
			if err != nil || len(evs) != 1 {
				t.Fatalf("activation_limited events %d (%v), want 1", len(evs), err)
			}
			// The window rolls: an hour later activations are allowed again.
			f.clock.Add(time.Hour)
			if _, err := f.svc.Leasing.Activate(ctx, req(lic.Key, "fingerprint-x")); err != nil {
				t.Fatal(err)
			}
			// A per-license override lifts the cap.
			var p licensing.LicensePatch
			_ = json.Unmarshal([]byte(`{"overrides":{"max_activations":0}}`), &p)
			if _, err := f.svc.Licenses.UpdateLicense(ctx, lic.ID, p); err != nil {
				t.Fatal(err)
			}
			for i := range 4 {
				if _, err := f.svc.Leasing.Activate(ctx, req(lic.Key, fmt.Sprint("fingerprint-y", i))); err != nil {
					t.Fatalf("with the cap overridden: %v", err)
				}
			}
		})
	}
}

func TestOverageSeats(t *testing.T) {
	t.Parallel()
	for _, d := range storagetest.Dialects {
		t.Run(d, func(t *testing.T) {
			ctx := context.Background()
			f, lic := rulesFixture(t, d, licensing.PolicyRules{OverageSeats: 1}, 2)
			for i := range 3 {
				g, err := f.svc.Leasing.Activate(ctx, req(lic.Key, fmt.Sprint("fingerprint-", i)))
				if err != nil {
					t.Fatal(err)
				}
				if want := max(i-1, 0); g.Overage != want || claimsOf(t, g, f.pub).Overage != int64(want) {
					t.Errorf("activation %d: overage %d (claim %d), want %d", i, g.Overage, claimsOf(t, g, f.pub).Overage, want)
				}
			}
			_, err := f.svc.Leasing.Activate(ctx, req(lic.Key, "fingerprint-3"))
			wantCode(t, err, licensing.ESeatLimit)
			r, err := f.svc.Leasing.Renew(ctx, req(lic.Key, "fingerprint-0"))
			if err != nil || r.Overage != 1 {
				t.Fatalf("renewal overage %v %v", r, err)
			}
			for action, want := range map[string]int{licensing.ActionLicenseOverageEntered: 1, licensing.ActionLicenseSeatLimitReached: 1} {
				evs, err := f.svc.Notifications.Events(ctx, licensing.EventFilter{Action: action}, licensing.Page{Limit: 10})
				if err != nil || len(evs) != want {
					t.Errorf("%s: %d events (%v), want %d", action, len(evs), err, want)
				}
			}
		})
	}
}

// The seat count stays exact under concurrency: 100 activations at once
// against 10 seats ×1.5 take exactly 15.
func TestOverageConcurrentPostgres(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f, lic := rulesFixture(t, "postgres", licensing.PolicyRules{OverageFactor: 1.5}, 10)
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		ok      int
		refused int
		other   []error
	)
	for i := range 100 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := f.svc.Leasing.Activate(ctx, req(lic.Key, fmt.Sprint("fingerprint-", i)))
			mu.Lock()
			defer mu.Unlock()
			switch licensing.ErrorCode(err) {
			case "":
				ok++
			case licensing.ESeatLimit:
				refused++
			default:
				other = append(other, err)
			}
		}()
	}
	wg.Wait()
	n, err := f.store.CountMachines(ctx, lic.ID)
	if ok != 15 || refused != 85 || n != 15 || len(other) > 0 || err != nil {
		t.Fatalf("accepted %d, refused %d, machines %d, other errors %v", ok, refused, n, other)
	}
	evs, _ := f.svc.Notifications.Events(ctx, licensing.EventFilter{Action: licensing.ActionLicenseOverageEntered}, licensing.Page{Limit: 10})
	if len(evs) != 1 {
		t.Errorf("overage_entered events %d, want 1", len(evs))
	}
}
