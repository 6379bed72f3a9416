package insights_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nzilacode/narcidicontrole/licensing"
	"github.com/nzilacode/narcidicontrole/licensing/insights"
)

var update = flag.Bool("update", false, "rewrite the golden files of testdata")

// fixedSnapshot is one license of three seats, 10 days from expiry, whose
// use fell from every day to a few days a week, with a cloned machine and
// seat-limit refusals: every kind of score has something to say.
func fixedSnapshot() insights.Snapshot {
	at := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	exp := at.AddDate(0, 0, 10)
	grace := exp.AddDate(0, 0, 3)
	s := insights.Snapshot{
		At: at, LicenseID: "lic-1", CustomerID: "cus-1", ProductID: "prod-1", PolicyID: "plan-3", Status: licensing.LicenseActive,
		Seats: 3, CreatedAt: at.AddDate(-1, 0, 10), ExpiresAt: &exp, GraceUntil: &grace, ActiveMachines: 3,
		Extensions: []time.Time{at.AddDate(0, -11, 0)}, PaymentTrouble: true, ClockTampering: 1,
		UpgradePolicies: []licensing.Policy{{ID: "plan-5", MaxMachines: 5}, {ID: "plan-10", MaxMachines: 10}},
	}
	for k := 55; k >= 0; k-- {
		// Every day until four weeks ago, then one day in four.
		if k < 28 && k%4 != 0 {
			continue
		}
		day := at.AddDate(0, 0, -k).Format(insights.DayLayout)
		s.Days = append(s.Days, insights.Day{Day: day, LicenseID: "lic-1", Renewals: 6, Networks: []string{"198.51.100.0/24"}})
		for m := 1; m <= 3; m++ {
			s.Days = append(s.Days, insights.Day{Day: day, LicenseID: "lic-1", MachineID: fmt.Sprintf("m-%d", m), Renewals: 2,
				Networks: []string{"198.51.100.0/24"}})
		}
	}
	for i, host := range []string{"build-1", "build-1-copy", "laptop"} {
		s.Activations = append(s.Activations, insights.Activation{At: at.AddDate(0, 0, -60+i), MachineID: "m-1", Fingerprint: "fp-1",
			Hostname: host, Network: "198.51.100.0/24"})
	}
	for k := range 5 {
		s.Refusals = append(s.Refusals, insights.RefusalEvent{At: at.AddDate(0, 0, -3*k-1), Kind: licensing.UseActivation,
			Code: licensing.ESeatLimit, LicenseID: "lic-1", Fingerprint: fmt.Sprintf("fp-new-%d", k)})
	}
	return s
}

// TestScoreGolden: the scores of one fixed snapshot by the starting
// models, as JSON (go test -run TestScoreGolden -update rewrites it after
// a deliberate change: the diff is the review).
func TestScoreGolden(t *testing.T) {
	t.Parallel()
	e := insights.NewEngine(insights.EngineConfig{Seed: 1})
	scores, err := e.Score([]insights.Snapshot{fixedSnapshot()})
	if err != nil {
		t.Fatal(err)
	}
	got, err := json.MarshalIndent(scores, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, '\n')
	path := filepath.Join("testdata", "score_golden.json")
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("scores differ from %s (run with -update after a deliberate change):\n%s", path, got)
	}
	// What the golden file must say, whatever it holds.
	if len(scores) != len(insights.Kinds) {
		t.Fatalf("%d scores, want one per kind", len(scores))
	}
	for i, s := range scores {
		if s.Kind != insights.Kinds[i] || s.Value < 0 || s.Value > 1 || len(s.Reasons) == 0 || s.ModelVersion == "" {
			t.Errorf("score %+v", s)
		}
	}
	if !scores[0].StartingModel || scores[0].ModelVersion != "churn-starting-2" {
		t.Errorf("an untrained engine must say it used the starting model: %+v", scores[0])
	}
	if up := scores[2]; up.SuggestedPolicyID != "plan-5" || up.Value < 0.5 {
		t.Errorf("upgrade %+v: want plan-5 suggested", up)
	}
	if sh := scores[3]; sh.Value < 0.5 || !strings.Contains(sh.Reasons[0].Text, "3 different hostnames") {
		t.Errorf("sharing %+v: want the cloned machine first", sh)
	}
	if ch := scores[0]; !strings.Contains(fmt.Sprint(ch.Reasons), "machine-days of use a week in the last 4 weeks, its own normal") {
		t.Errorf("churn reasons %+v: want the fall in use in plain words", ch.Reasons)
	}
}

// TestLargestPlanSuggestsCustomPlan: the same license with no larger plan
// keeps its upgrade score (issue 26: growers on the largest plan were
// capped at 0.05) and suggests a custom plan, saying so last.
func TestLargestPlanSuggestsCustomPlan(t *testing.T) {
	t.Parallel()
	s := fixedSnapshot()
	with, _ := insights.NewEngine(insights.EngineConfig{}).Score([]insights.Snapshot{s})
	s.UpgradePolicies = nil
	scores, _ := insights.NewEngine(insights.EngineConfig{}).Score([]insights.Snapshot{s})
	up := scores[2]
	last := up.Reasons[len(up.Reasons)-1]
	if up.Value != with[2].Value || up.SuggestedPolicyID != "" || up.Suggestion != insights.SuggestCustomPlan ||
		last.Feature != "largest_plan" || !strings.Contains(last.Text, "custom plan") {
		t.Errorf("upgrade %+v", up)
	}
	if with[2].Suggestion != "" {
		t.Errorf("with a larger plan: suggestion %q", with[2].Suggestion)
	}
}

// TestTrainingMinimumsAndDeterminism: below the minimums the starting
// models stay; above them the same outcomes, in any order, give the same
// version.
func TestTrainingMinimumsAndDeterminism(t *testing.T) {
	t.Parallel()
	base := fixedSnapshot()
	outcomes := func(n int) []insights.Outcome {
		var out []insights.Outcome
		for i := range n {
			s := base
			s.LicenseID = fmt.Sprintf("lic-%03d", i)
			s.At = base.At.Add(time.Duration(i) * time.Hour)
			churned := i%3 == 0
			if churned {
				s.Days = s.Days[:len(s.Days)/2] // used less
			}
			out = append(out, insights.Outcome{Snapshot: s, Churned: churned, Blocked: churned && i%2 == 0})
		}
		return out
	}
	e := insights.NewEngine(insights.EngineConfig{})
	if err := e.Train(outcomes(150)); err != nil {
		t.Fatal(err)
	}
	if v := e.ModelVersions(); v[insights.KindChurn] != "churn-starting-2" || v[insights.KindBlock] != "block-starting-2" {
		t.Fatalf("150 outcomes trained %v; want the starting models", v)
	}
	past := outcomes(300)
	if err := e.Train(past); err != nil {
		t.Fatal(err)
	}
	v1 := e.ModelVersions()
	if !strings.HasPrefix(v1[insights.KindChurn], "churn-trained-") || !strings.HasPrefix(v1[insights.KindBlock], "block-trained-") {
		t.Fatalf("300 outcomes: %v; want trained models", v1)
	}
	for i, j := 0, len(past)-1; i < j; i, j = i+1, j-1 {
		past[i], past[j] = past[j], past[i]
	}
	e2 := insights.NewEngine(insights.EngineConfig{})
	if err := e2.Train(past); err != nil {
		t.Fatal(err)
	}
	if v2 := e2.ModelVersions(); fmt.Sprint(v1) != fmt.Sprint(v2) {
		t.Errorf("the same outcomes in another order: %v, then %v", v1, v2)
	}
	scores, _ := e.Score([]insights.Snapshot{base})
	if scores[0].StartingModel || scores[0].ModelVersion != v1[insights.KindChurn] {
		t.Errorf("a trained engine's score %+v", scores[0])
	}
}

// TestHistoryToSnapshot: a tiny history read at its cutoff gives the
// snapshot the job would build, and the outcome from what came after.
func TestHistoryToSnapshot(t *testing.T) {
	t.Parallel()
	decided := time.Date(2026, 6, 30, 0, 0, 0, 0, time.UTC)
	cutoff := decided.Add(-insights.EvalLead("lic-a"))
	at := func(daysBefore int) time.Time { return cutoff.Add(-time.Duration(daysBefore)*24*time.Hour + time.Hour) }
	exp := decided
	recs := []insights.Record{
		{Type: insights.RecordLicense, ID: "lic-a", CustomerID: "cus-a", Policy: "plan-2", Product: "p", Seats: 2, At: at(300), ExpiresAt: &exp},
		{Type: insights.RecordLicense, ID: "lic-b", Policy: "plan-5", Product: "p", Seats: 5, At: at(300), ExpiresAt: &exp},
		{Type: insights.RecordActivation, LicenseID: "lic-a", MachineID: "m1", Fingerprint: "f1", Hostname: "h1", Platform: "linux/amd64", IP: "192.0.2.7", At: at(200)},
		{Type: insights.RecordActivation, LicenseID: "lic-a", MachineID: "m2", Fingerprint: "f2", Hostname: "h2", IP: "192.0.2.8", At: at(20)},
		{Type: insights.RecordRenewal, LicenseID: "lic-a", MachineID: "m1", IP: "203.0.113.9", At: at(3), Count: 4},
		{Type: insights.RecordRenewal, LicenseID: "lic-a", MachineID: "m2", IP: "192.0.2.8", At: at(3)},
		{Type: insights.RecordPayment, LicenseID: "lic-a", Status: insights.PaymentPastDue, At: at(2)},
		{Type: insights.RecordRefusal, LicenseID: "lic-a", Kind: "activation", Code: "seat_limit", Fingerprint: "f3", IP: "192.0.2.9", At: at(1)},
		{Type: insights.RecordSuspension, LicenseID: "lic-a", At: cutoff.Add(48 * time.Hour)},
		{Type: insights.RecordRenewal, LicenseID: "lic-a", MachineID: "m1", IP: "192.0.2.7", At: cutoff.Add(30 * 24 * time.Hour)},
	}
	b := insights.NewHistoryBuilder([]insights.Label{{LicenseID: "lic-a", DecidedAt: decided, Churned: true}})
	b.KeepSnapshots = true
	for i := range recs {
		if err := b.Add(&recs[i]); err != nil {
			t.Fatal(err)
		}
	}
	rows, err := b.Finish()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 1 {
		t.Fatalf("%d rows, want 1", len(rows))
	}
	r := rows[0]
	s := r.Snapshot
	if !s.At.Equal(cutoff) || s.Status != licensing.LicenseActive || s.ActiveMachines != 2 || !s.PaymentTrouble || s.Seats != 2 ||
		len(s.Activations) != 1 || len(s.Refusals) != 1 || len(s.UpgradePolicies) != 1 || s.UpgradePolicies[0].ID != "plan-5" {
		t.Errorf("snapshot %+v", s)
	}
	// The activation's day and the renewals' day (3 days before): the
	// license's roll-up and each machine's.
	if len(s.Days) != 5 || s.Days[0].Activations != 1 || s.Days[2].MachineID != "" || s.Days[2].Renewals != 5 ||
		fmt.Sprint(s.Days[2].Networks) != "[192.0.2.0/24 203.0.113.0/24]" || fmt.Sprint(s.Days[3].Platforms) != "[linux/amd64]" {
		t.Errorf("days %+v", s.Days)
	}
	if !r.Churned || !r.Blocked || r.Features.SuggestedPolicyID != "plan-5" || r.Features.SeatRefusals28 != 1 {
		t.Errorf("row %+v: want churned, blocked (suspended two days after the cutoff), plan-5 suggested", r)
	}
	if _, err := insights.NewHistoryBuilder(nil).Finish(); err != nil {
		t.Errorf("an empty history: %v", err)
	}
	if _, err := insights.NewHistoryBuilder([]insights.Label{{LicenseID: "lic-x", DecidedAt: decided}}).Finish(); err == nil {
		t.Error("a label without its license must be an error")
	}
}

// TestLargePlanSharersAmongSharers (issue 26): on a 25-seat plan bought
// mostly by sharers, the peers' median and spread must not make sharing
// look normal: a key rotated through 40 outsiders' machines in 90 days is
// still suspected, and a VM fleet of the same plan is not.
func TestLargePlanSharersAmongSharers(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	var fs []insights.Features
	for i := range 30 {
		f := insights.Features{LicenseID: fmt.Sprintf("lic-%02d", i), PolicyID: "plan-25", At: at, Status: licensing.LicenseActive, Seats: 25,
			Fingerprints90: 18, Activations90: 18, Networks28: 6, MaxNetworksDay: 2, BurstDay: 18, ActivationNetworks90: 1, ManagedShare: 1}
		switch {
		case i < 18: // sharers, each rotating a little more
			f.Fingerprints90, f.Deactivations90, f.Activations90 = 65+i, 45+i, 65+i // as the simulator's: one every two days
			f.Networks28, f.ActivationNetworks90, f.ManagedShare = 20, 40, 0.2
		default: // VM fleets: one image on managed hosts of their network
			f.Activations90, f.Clones, f.CloneKey, f.CloneHosts, f.CloneNetworks, f.CloneFleet, f.Fleet = 40, 25, "m-1", []string{"node-01"}, 1, true, true
		}
		fs = append(fs, f)
	}
	scores := insights.NewEngine(insights.EngineConfig{}).ScoreFeatures(fs)
	for i, f := range fs {
		s := scores[i*len(insights.Kinds)+3]
		if sharer := i < 18; sharer != (s.Value >= 0.5) {
			t.Errorf("%s (sharer %v): sharing %.2f %v", f.LicenseID, sharer, s.Value, s.Reasons)
		}
	}
}

// TestActivationCapRaisesSharing: activations refused by the policy's
// activation cap (the refusal behind license.activation_limited, issue 27)
// are sharing evidence, named in the reasons; one day is a hint, the
// points stop at three days, and other refusals add none.
func TestActivationCapRaisesSharing(t *testing.T) {
	t.Parallel()
	e := insights.NewEngine(insights.EngineConfig{Seed: 1})
	sharing := func(capDays int, code licensing.Code) insights.Score {
		t.Helper()
		s := fixedSnapshot()
		s.ClockTampering, s.Refusals = 0, nil
		for i := range s.Activations {
			s.Activations[i].Hostname = "build-1" // no clone
		}
		for k := range capDays {
			for j := range 2 { // two refusals a day count as one day
				s.Refusals = append(s.Refusals, insights.RefusalEvent{At: s.At.AddDate(0, 0, -2*k-1).Add(time.Duration(j) * time.Minute),
					Kind: licensing.UseActivation, Code: code, LicenseID: "lic-1", Fingerprint: fmt.Sprintf("fp-hop-%d-%d", k, j)})
			}
		}
		scores, err := e.Score([]insights.Snapshot{s})
		if err != nil {
			t.Fatal(err)
		}
		return scores[3]
	}
	none, one, three, five := sharing(0, licensing.EActivationLimited), sharing(1, licensing.EActivationLimited),
		sharing(3, licensing.EActivationLimited), sharing(5, licensing.EActivationLimited)
	if !(none.Value < one.Value && one.Value < three.Value) {
		t.Fatalf("sharing by days of cap refusals: 0 → %.3f, 1 → %.3f, 3 → %.3f: want it to rise", none.Value, one.Value, three.Value)
	}
	if five.Value != three.Value {
		t.Errorf("5 days %.4f, 3 days %.4f: the points stop at three days", five.Value, three.Value)
	}
	if !strings.Contains(fmt.Sprint(three.Reasons), "activations refused by the activation cap on 3 days of the last 28") {
		t.Errorf("reasons %+v: want the cap refusals named", three.Reasons)
	}
	if strings.Contains(fmt.Sprint(none.Reasons), "activation cap") {
		t.Errorf("reasons %+v: no refusal, no reason", none.Reasons)
	}
	if other := sharing(3, licensing.EMachineBlocked); other.Value != none.Value {
		t.Errorf("blocked-machine refusals moved sharing: %.4f against %.4f", other.Value, none.Value)
	}
}
