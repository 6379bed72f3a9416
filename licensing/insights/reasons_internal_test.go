package insights

import (
	"encoding/json"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/nzilacode/narcidicontrole/licensing"
	"github.com/nzilacode/narcidicontrole/licensing/i18n"
)

// reasonFeatures are licenses that between them make every sentence the
// engine can say: each changes one thing of a plain three-seat license.
func reasonFeatures() []Features {
	base := Features{LicenseID: "lic", PolicyID: "plan", Status: licensing.LicenseActive, Seats: 3, ActiveMachines: 3,
		ActiveDays28: 10, ActiveDaysPrev28: 20, DaysSinceUse: 4, DaysToExpiry: 10, DaysToGraceEnd: 13, HasUpgradePolicies: true,
		RecentWeekActive: 5.25, BaseWeekActive: 10.5, BaseWeekStd: 2.04, BaseWeeks: 8, EarlierWeeks: 8, EarlierWeekActive: 12,
		OwnWeeks: 20, OwnWeekMean: 11.35, OwnWeekStd: 3, RecentBestWeek: 7, UsualWeek: 10, LowWeeks: 3, BaseMaxGap: 2,
		Renewals28: 1234, RenewalsPrev28: 2000, MachinesUsed14: 2}
	vary := []func(f *Features){
		func(f *Features) {},
		func(f *Features) { f.ActiveDaysPrev28 = 5 },
		func(f *Features) { f.ActiveDaysPrev28 = f.ActiveDays28; f.DaysSinceUse = 0.5 },
		func(f *Features) { f.DaysSinceUse = maxSince; f.DaysToExpiry = maxHorizon },
		func(f *Features) { f.DaysToExpiry, f.DaysToGraceEnd = -3, 1 },
		func(f *Features) { f.DaysToExpiry, f.DaysToGraceEnd = -1, -2; f.LowWeeks = 1 },
		func(f *Features) { f.PaymentTrouble, f.FailedAttempts, f.DunningDaysLeft = true, 1, maxHorizon },
		func(f *Features) {
			f.PaymentTrouble, f.PaymentUnpaid, f.PastDueDays, f.FailedAttempts, f.DunningDaysLeft = true, true, 12, 3, 2.5
		},
		func(f *Features) {
			f.PaymentTrouble, f.PastDueDays, f.FailedAttempts, f.DunningDaysLeft = true, 1, 0, -1
		},
		func(f *Features) {
			f.Deactivations28, f.RefusedRenewals28, f.SeatRefusals28, f.CustomerChurns, f.SupportActions, f.CardExpiresFirst = 1, 1, 1, 1, 1, true
		},
		func(f *Features) {
			f.Deactivations28, f.RefusedRenewals28, f.SeatRefusals28, f.CustomerChurns, f.CustomerRenewals, f.SupportActions = 2, 3, 4, 2, 1, 5
		},
		func(f *Features) { f.Status = licensing.LicenseSuspended },
		func(f *Features) {
			f.Clones, f.CloneKey, f.CloneHosts, f.CloneNetworks = 2, "m-1", []string{"a", "b", "c"}, 1
		},
		func(f *Features) {
			f.Clones, f.CloneKey, f.CloneByFingerprint, f.CloneHosts, f.CloneNetworks = 1, "fp-1", true, []string{"a", "b"}, 2
		},
		func(f *Features) { f.ClockTampering, f.CapRefusalDays28 = 1, 1 },
		func(f *Features) { f.ClockTampering, f.CapRefusalDays28 = 2, 3 },
		func(f *Features) { f.Fingerprints90, f.ActivationNetworks90, f.Deactivations90 = 40, 9, 30 },
		func(f *Features) { f.Networks28, f.MaxNetworksDay, f.BurstDay = 30, 7, 25; f.Deactivations90 = 1 },
		func(f *Features) { f.RecentActivations, f.BaselineActivations, f.BaselineMAD = 30, 2, 1 },
		func(f *Features) {
			f.RecentActivations, f.BaselineActivations, f.BaselineMAD = 1, 0, 0
			f.CapRefusalDays28 = 4
		},
		func(f *Features) {
			f.SeatRefusalDays28, f.SeatRefusals28, f.FullDays28 = 8, 20, 28
			f.HasUpgradePolicies = false
		},
		func(f *Features) {
			f.SeatRefusalDays28, f.SeatRefusals28, f.FullDays28, f.Seats = 6, 1, 14, 1
			f.HasUpgradePolicies = false
		},
	}
	var out []Features
	for _, v := range vary {
		f := base
		v(&f)
		out = append(out, f)
	}
	return out
}

// engineReasons is every reason the engine says of reasonFeatures: by
// scoring them, and by every term and peer metric of every one directly
// (a term the starting weights never pick is still said by a trained
// model).
func engineReasons() []Reason {
	fs := reasonFeatures()
	var out []Reason
	for _, s := range NewEngine(EngineConfig{Seed: 1}).ScoreFeatures(fs) {
		out = append(out, s.Reasons...)
	}
	terms := slices.Concat(churnTerms, blockTerms)
	for i := range fs {
		f := &fs[i]
		for _, t := range terms {
			s := t.text(f)
			out = append(out, reason(s.text, t.name, 0, s.key, s.args...))
		}
		for _, m := range peerMetrics {
			s := m.text(f, 0.75)
			out = append(out, reason(s.text, m.name, 0, s.key, s.args...))
		}
		_, rs := scoreSharing(f, startingPeers)
		out = append(out, rs...)
		_, rs = scoreUpgrade(f)
		out = append(out, rs...)
	}
	return out
}

var grouped = regexp.MustCompile(`(\d),(\d{3})`)

// TestReasonsInEveryLanguage: every reason the engine can say has its
// message in the catalog with the placeholders of its args; said in
// English it is its Text word for word, and in Portuguese it has no
// placeholder or missing message left. Every reason message is said.
func TestReasonsInEveryLanguage(t *testing.T) {
	en := i18n.Catalogs()[i18n.English]
	said := map[string]bool{}
	for _, r := range engineReasons() {
		said[r.Key] = true
		for _, a := range r.Args {
			if a.Msg != "" {
				said[a.Msg] = true
			}
		}
		m, ok := en.Messages[r.Key]
		if !ok {
			t.Errorf("%q (%s): no message %q", r.Text, r.Feature, r.Key)
			continue
		}
		want := i18n.Placeholders(strings.Join(m.Variants(), " "))
		var have []string
		for _, a := range r.Args {
			have = append(have, "{"+a.Name+"}")
			if a.Msg != "" && !i18n.Has(a.Msg) {
				t.Errorf("%s: arg %s names no message %q", r.Key, a.Name, a.Msg)
			}
		}
		slices.Sort(have)
		if !slices.Equal(have, want) && !(m.Forms != nil && slices.Equal(have, slices.DeleteFunc(slices.Clone(want), func(s string) bool { return s == "{n}" }))) {
			t.Errorf("%s: args %v, message placeholders %v", r.Key, have, want)
		}
		// The page groups thousands ("1,234"), Text does not.
		if got := r.In(i18n.For(i18n.English, "")); grouped.ReplaceAllString(got, "$1$2") != r.Text {
			t.Errorf("%s in English:\n got %q\nwant %q", r.Key, got, r.Text)
		}
		for _, lang := range []string{"pt-PT", "pt-BR"} {
			if got := r.In(i18n.For(lang, "")); strings.ContainsAny(got, "{}[]") || got == r.Text {
				t.Errorf("%s in %s: %q", r.Key, lang, got)
			}
		}
	}
	for key := range en.Messages {
		if (strings.HasPrefix(key, "insights.reason.") || strings.HasPrefix(key, "insights.unit.")) && !said[key] {
			t.Errorf("message %q: no reason of the fixtures says it", key)
		}
	}
}

// TestReasonJSONOldRows: a reason stored before reasons had a message
// decodes and is said as its Text; one with a message keeps it through
// JSON (its numbers too).
func TestReasonJSONOldRows(t *testing.T) {
	var old Reason
	if err := json.Unmarshal([]byte(`{"text":"used today","feature":"days_since_use","value":0}`), &old); err != nil {
		t.Fatal(err)
	}
	if got := old.In(i18n.For("pt-PT", "")); got != "used today" {
		t.Errorf("old row in pt-PT: %q", got)
	}
	f := reasonFeatures()[0]
	s := ownUseText(&f)
	r := reason(s.text, "own_use_drop", 1, s.key, s.args...)
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	var back Reason
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	want := "5,2 dias-máquina de uso por semana nas últimas 4 semanas; o seu normal é 10,5 (± 2,0)"
	if got := back.In(i18n.For("pt-PT", "")); got != want {
		t.Errorf("after JSON, pt-PT:\n got %q\nwant %q\n(%s)", got, want, b)
	}
}
