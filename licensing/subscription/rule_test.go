package subscription

import (
	"testing"
	"time"
)

// The one rule, as a table: a provider subscription's state in, what its
// licenses get out.
func TestDecide(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	end := t0.AddDate(0, 1, 0)
	trialEnd := t0.AddDate(0, 0, 14)
	cancelAt := t0.AddDate(0, 0, 10)
	ended := t0.AddDate(0, 0, 3)
	at := func(t time.Time) *time.Time { return &t }
	prices := map[string]string{"price_solo": "pol-solo", "price_team": "pol-team"}
	one := []ProviderItem{{PriceID: "price_solo", Quantity: 1}}
	dunning := 3 * 24 * time.Hour
	for _, c := range []struct {
		name     string
		ps       ProviderSubscription
		since    time.Time
		access   Access
		runsTo   time.Time
		endsAt   time.Time
		policy   string
		seats    int
		unmapped int
	}{
		{name: "active runs to the period end", ps: ProviderSubscription{Status: Active, Items: one, PeriodStart: t0, PeriodEnd: end},
			access: AccessOn, runsTo: end, policy: "pol-solo", seats: 1},
		{name: "trialing runs to the trial end, not a month", ps: ProviderSubscription{Status: Trialing, Items: one, PeriodStart: t0, PeriodEnd: trialEnd, TrialEnd: at(trialEnd)},
			access: AccessOn, runsTo: trialEnd, policy: "pol-solo", seats: 1},
		{name: "a cancel date before the period end wins", ps: ProviderSubscription{Status: Active, Items: one, PeriodStart: t0, PeriodEnd: end, CancelAt: at(cancelAt)},
			access: AccessOn, runsTo: cancelAt, policy: "pol-solo", seats: 1},
		{name: "cancel at period end runs to the period end", ps: ProviderSubscription{Status: Active, Items: one, PeriodStart: t0, PeriodEnd: end, CancelAtPeriodEnd: true},
			access: AccessOn, runsTo: end, policy: "pol-solo", seats: 1},
		{name: "past due runs through the dunning window", ps: ProviderSubscription{Status: PastDue, Items: one, PeriodStart: end, PeriodEnd: end.AddDate(0, 1, 0)},
			since: end.Add(time.Hour), access: AccessOn, runsTo: end.Add(time.Hour + dunning), policy: "pol-solo", seats: 1},
		{name: "unpaid suspends", ps: ProviderSubscription{Status: Unpaid, Items: one, PeriodStart: t0, PeriodEnd: end},
			access: AccessSuspended, policy: "pol-solo", seats: 1},
		{name: "a paused trial ends at the trial end", ps: ProviderSubscription{Status: Paused, Items: one, PeriodStart: t0, PeriodEnd: trialEnd, TrialEnd: at(trialEnd)},
			access: AccessEnded, endsAt: trialEnd, policy: "pol-solo", seats: 1},
		{name: "canceled ends when it ended", ps: ProviderSubscription{Status: Canceled, Items: one, PeriodStart: t0, PeriodEnd: end, EndedAt: at(ended)},
			access: AccessEnded, endsAt: ended, policy: "pol-solo", seats: 1},
		{name: "incomplete gives nothing yet", ps: ProviderSubscription{Status: Incomplete, Items: one, PeriodStart: t0, PeriodEnd: end},
			access: AccessNone, policy: "pol-solo", seats: 1},
		{name: "seats follow the quantity", ps: ProviderSubscription{Status: Active, Items: []ProviderItem{{PriceID: "price_team", Quantity: 5}}, PeriodStart: t0, PeriodEnd: end},
			access: AccessOn, runsTo: end, policy: "pol-team", seats: 5},
		{name: "every item is read: the first mapped one is the plan", ps: ProviderSubscription{Status: Active,
			Items: []ProviderItem{{PriceID: "price_addon", Quantity: 1}, {PriceID: "price_team", Quantity: 2}}, PeriodStart: t0, PeriodEnd: end},
			access: AccessOn, runsTo: end, policy: "pol-team", seats: 2, unmapped: 1},
		{name: "an unmapped price decides no plan", ps: ProviderSubscription{Status: Active, Items: []ProviderItem{{PriceID: "price_x"}}, PeriodStart: t0, PeriodEnd: end},
			access: AccessOn, runsTo: end, unmapped: 1},
		{name: "the generic shorthand names a policy", ps: ProviderSubscription{Status: Active, PolicyID: "pol-x", PeriodStart: t0, PeriodEnd: end},
			access: AccessOn, runsTo: end, policy: "pol-x", seats: 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			since := c.since
			if since.IsZero() {
				since = t0
			}
			d := Decide(&c.ps, prices, since, dunning)
			if d.Access != c.access || !d.RunsTo.Equal(c.runsTo) || !d.EndsAt.Equal(c.endsAt) || d.PolicyID != c.policy || d.Seats != c.seats || len(d.Unmapped) != c.unmapped {
				t.Fatalf("Decide = %+v, want access %s runs to %v ends at %v policy %q seats %d unmapped %d",
					d, c.access, c.runsTo, c.endsAt, c.policy, c.seats, c.unmapped)
			}
		})
	}
}

// The newest state wins by the object's own period, then its time, then
// the order of statuses: never by delivery order.
func TestOlder(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	p1, p2 := t0.AddDate(0, 1, 0), t0.AddDate(0, 2, 0)
	sub := &Subscription{Status: PastDue, CurrentPeriodEnd: &p1, ProviderUpdatedAt: &t0}
	for _, c := range []struct {
		name   string
		period time.Time
		at     time.Time
		st     Status
		older  bool
	}{
		{"an earlier period", t0, t0.Add(time.Hour), Active, true},
		{"a later period", p2, t0.Add(-time.Hour), Active, false},
		{"same period, earlier", p1, t0.Add(-time.Second), Active, true},
		{"same period, later", p1, t0.Add(time.Second), Active, false},
		{"same second, earlier status", p1, t0, Active, true},
		{"same second, later status", p1, t0, Unpaid, false},
	} {
		if got := older(sub, c.period, c.at, c.st); got != c.older {
			t.Errorf("%s: older = %t", c.name, got)
		}
	}
	ended := &Subscription{Status: Canceled, CurrentPeriodEnd: &p1, ProviderUpdatedAt: &t0}
	if !older(ended, p2, t0.Add(time.Hour), Active) {
		t.Error("an ended subscription came back")
	}
}

// A provider event that leaves out what the rule needs is refused before
// anything is read or written.
func TestProviderEventCheck(t *testing.T) {
	t.Parallel()
	now := time.Now()
	for _, c := range []struct {
		name string
		ps   ProviderSubscription
		ok   bool
	}{
		{"active with its period", ProviderSubscription{ID: "s", CustomerID: "c", Status: Active, PeriodEnd: now}, true},
		{"active without a period", ProviderSubscription{ID: "s", CustomerID: "c", Status: Active}, false},
		{"trialing with its trial end", ProviderSubscription{ID: "s", CustomerID: "c", Status: Trialing, TrialEnd: &now}, true},
		{"an unknown status", ProviderSubscription{ID: "s", CustomerID: "c", Status: "frozen", PeriodEnd: now}, false},
		{"canceled without a period", ProviderSubscription{ID: "s", CustomerID: "c", Status: Canceled}, true},
	} {
		ev := ProviderEvent{Provider: "generic", ID: "e", Kind: KindSubscription, Created: now, Subscription: &c.ps}
		if err := ev.check(); (err == nil) != c.ok {
			t.Errorf("%s: %v", c.name, err)
		}
	}
}
