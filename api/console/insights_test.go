package console_test

import (
	"context"
	"net/http"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/nzilacode/narcidicontrole/api"
	"github.com/nzilacode/narcidicontrole/api/console"
	"github.com/nzilacode/narcidicontrole/keys/keystest"
	"github.com/nzilacode/narcidicontrole/licensing"
	"github.com/nzilacode/narcidicontrole/licensing/i18n"
	"github.com/nzilacode/narcidicontrole/licensing/insights"
	"github.com/nzilacode/narcidicontrole/storage"
	"github.com/nzilacode/narcidicontrole/storage/storagetest"
)

// insightsFixture stores scores of two licenses of two customers: the
// env's license has a strong churn risk and an upgrade suggestion naming
// the "Team" policy; a second license of another customer and product has
// a weak churn risk and a strong sharing suspicion.
type insightsFixture struct {
	other     *licensing.License
	otherCust *licensing.Customer
	team      *licensing.Policy
	product2  *licensing.Product
}

func storeScores(t *testing.T, e *env, st *storage.Store) insightsFixture {
	t.Helper()
	ctx := context.Background()
	team, err := e.svc.Catalog.CreatePolicy(ctx, licensing.PolicyInput{ProductID: e.license.ProductID, Name: "Team", DurationSeconds: 86400 * 365, MaxMachines: 10, Floating: true,
		LeaseTTLSeconds: 3600, HeartbeatWindowSeconds: 600, ExpiryAction: licensing.ExpiryRestrict})
	must(t, err)
	prod2, err := e.svc.Catalog.CreateProduct(ctx, licensing.ProductInput{Code: "render", Name: "Render"})
	must(t, err)
	pol2, err := e.svc.Catalog.CreatePolicy(ctx, licensing.PolicyInput{ProductID: prod2.ID, Name: "Basic", DurationSeconds: 86400 * 365, MaxMachines: 1,
		LeaseTTLSeconds: 3600, HeartbeatWindowSeconds: 600, ExpiryAction: licensing.ExpiryRestrict})
	must(t, err)
	cust2, err := e.svc.Customers.CreateCustomer(ctx, licensing.CustomerInput{Name: "Globex", Email: "it@globex.example"})
	must(t, err)
	other, err := e.svc.Licenses.CreateLicense(ctx, licensing.LicenseInput{PolicyID: pol2.ID, CustomerID: cust2.ID, Name: "Globex render"})
	must(t, err)
	now := e.clock.Now()
	l := e.license
	scores := []insights.Score{
		{LicenseID: l.ID, CustomerID: l.CustomerID, ProductID: l.ProductID, PolicyID: l.PolicyID, Kind: insights.KindChurn, Value: 0.834,
			Reasons:      []insights.Reason{{Text: "used on 3 of the last 28 days (was 21)", Feature: "active_days_28", Value: 3}, {Text: "expires in 12 days with no renewal", Feature: "days_to_expiry", Value: 12}},
			ModelVersion: "churn-starting-1", StartingModel: true, ComputedAt: now},
		{LicenseID: l.ID, CustomerID: l.CustomerID, ProductID: l.ProductID, PolicyID: l.PolicyID, Kind: insights.KindUpgrade, Value: 0.91,
			Reasons:      []insights.Reason{{Text: "activation refused for the seat limit on 9 of the last 14 days", Feature: "seat_refusal_days_14", Value: 9}},
			ModelVersion: "upgrade-rules-1", SuggestedPolicyID: team.ID, ComputedAt: now},
		{LicenseID: other.ID, CustomerID: cust2.ID, ProductID: prod2.ID, PolicyID: pol2.ID, Kind: insights.KindChurn, Value: 0.12,
			Reasons: []insights.Reason{{Text: "used every day of the last 28", Feature: "active_days_28", Value: 28}}, ModelVersion: "churn-trained-ab12", ComputedAt: now},
		{LicenseID: other.ID, CustomerID: cust2.ID, ProductID: prod2.ID, PolicyID: pol2.ID, Kind: insights.KindSharing, Value: 0.77,
			Reasons: []insights.Reason{{Text: "7 fingerprints cycled through 1 seat in 14 days", Feature: "fingerprints_14", Value: 7}}, ModelVersion: "sharing-robust-1", ComputedAt: now},
	}
	must(t, st.InsightScores().SaveScores(ctx, scores, insights.Thresholds{}))
	return insightsFixture{other: &other.License, otherCust: cust2, team: team, product2: prod2}
}

// rowsOf is the insight rows of a page's insights table.
func rowsOf(t *testing.T, body string) []string {
	t.Helper()
	table := section(t, body, "insights-table", "</table>")
	return strings.Split(table, `<tr class="insight">`)[1:]
}

func TestInsightsPageListsAndFilters(t *testing.T) {
	t.Parallel()
	storagetest.ForEach(t, func(t *testing.T, st *storage.Store) {
		e := newEnv(t, st)
		fx := storeScores(t, e, st)
		b := e.signedIn(licensing.RoleReadOnly)

		resp, body := b.do("GET", "/console/insights", nil)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("insights: %d", resp.StatusCode)
		}
		if rows := rowsOf(t, body); len(rows) != 4 {
			t.Fatalf("%d rows, want 4", len(rows))
		}
		for _, want := range []string{"churn risk", "upgrade suggested", "sharing suspected", ">83%<", ">91%<", ">12%<",
			"used on 3 of the last 28 days (was 21)", "expires in 12 days with no renewal",
			`href="/console/policies/` + fx.team.ID + `" class="suggested">Team</a>`,
			"churn-starting-1", "starting model", "churn-trained-ab12",
			`href="/console/licenses/` + e.license.ID + `">…` + e.license.KeyHint + ` (Acme studio)</a>`, ">Globex</a>", "2026-05-01 10:00 UTC",
			`href="/console/insights" aria-current="page">Insights</a>`} {
			if !strings.Contains(body, want) {
				t.Errorf("the insights page lacks %q", want)
			}
		}

		// Filters: each narrows to the rows it names.
		for q, want := range map[string][]string{
			"kind=churn_risk":                       {"83%", "12%"},
			"kind=churn_risk&min=50":                {"83%"},
			"min=80":                                {"83%", "91%"},
			"customer=" + fx.otherCust.ID:           {"12%", "77%"},
			"product=" + fx.product2.ID + "&min=50": {"77%"},
			"kind=block_risk":                       {},
		} {
			_, body := b.do("GET", "/console/insights?"+q, nil)
			rows := rowsOf(t, body)
			if len(rows) != len(want) {
				t.Errorf("%s: %d rows, want %d", q, len(rows), len(want))
				continue
			}
			for _, w := range want {
				if !strings.Contains(strings.Join(rows, ""), ">"+w+"<") {
					t.Errorf("%s: no row of %s", q, w)
				}
			}
		}
		for _, q := range []string{"min=101", "min=x", "kind=nope"} {
			if resp, _ := b.do("GET", "/console/insights?"+q, nil); resp.StatusCode != http.StatusUnprocessableEntity {
				t.Errorf("%s: %d, want 422 (invalid)", q, resp.StatusCode)
			}
		}
	})
}

// The overview shows the strongest scores above each kind's threshold
// (the default 70%); the license and customer pages their own scores.
func TestInsightsOnOverviewAndDetails(t *testing.T) {
	t.Parallel()
	storagetest.ForEach(t, func(t *testing.T, st *storage.Store) {
		e := newEnv(t, st)
		fx := storeScores(t, e, st)
		b := e.signedIn(licensing.RoleSupport)

		_, body := b.do("GET", "/console/", nil)
		churn := section(t, body, "top-churn_risk", "</div>")
		if !strings.Contains(churn, "83%") || strings.Contains(churn, "12%") || !strings.Contains(churn, "used on 3 of the last 28 days") {
			t.Errorf("the overview's churn risk is not the one above 70%%: %s", churn)
		}
		if !strings.Contains(churn, `href="/console/insights?kind=churn_risk&amp;min=70"`) {
			t.Errorf("the overview's churn risk does not link to the filtered list: %s", churn)
		}
		if s := section(t, body, "top-sharing_suspected", "</div>"); !strings.Contains(s, "77%") || !strings.Contains(s, "Globex") {
			t.Errorf("sharing: %s", s)
		}
		if s := section(t, body, "top-block_risk", "</div>"); !strings.Contains(s, "None above the threshold") {
			t.Errorf("block risk: %s", s)
		}

		_, body = b.do("GET", "/console/licenses/"+e.license.ID, nil)
		rows := rowsOf(t, body)
		if len(rows) != 2 || !strings.Contains(rows[0], "91%") || !strings.Contains(rows[0], ">Team</a>") || !strings.Contains(rows[1], "expires in 12 days") {
			t.Errorf("the license's insights are not its two scores, strongest first: %v", rows)
		}
		_, body = b.do("GET", "/console/customers/"+fx.otherCust.ID, nil)
		rows = rowsOf(t, body)
		if len(rows) != 2 || !strings.Contains(rows[0], "7 fingerprints cycled through 1 seat") || !strings.Contains(rows[1], "12%") {
			t.Errorf("the customer's insights: %v", rows)
		}
		_, body = b.do("GET", "/console/licenses/"+fx.other.ID, nil)
		if strings.Contains(body, "83%") {
			t.Error("another license's score shows on a license page")
		}
	})
}

// Every console role reads insights (licensing's table): a server without
// them answers 503 on the page and leaves the sections out elsewhere, and
// a role that lacked the permission would be refused by the same check
// (TestRoutesByRole covers the matrix).
func TestInsightsLeftOutWithoutScores(t *testing.T) {
	t.Parallel()
	storagetest.ForEach(t, func(t *testing.T, st *storage.Store) {
		e := newEnv(t, st)
		storeScores(t, e, st)
		for _, role := range []licensing.Role{licensing.RoleAdmin, licensing.RoleSupport, licensing.RoleReadOnly} {
			if !(&licensing.Actor{Role: role}).Allows(licensing.ReadInsights) {
				t.Errorf("%s: no %s, yet the console's sections assume every console role reads insights", role, licensing.ReadInsights)
			}
		}
		if (&licensing.Actor{Role: licensing.RoleCustomer, CustomerID: "c"}).Allows(licensing.ReadInsights) {
			t.Error("a customer reads insights")
		}
		b := e.signedIn(licensing.RoleAdmin)
		kr, _ := keystest.Keyring(t, e.clock.Now)
		limiter := api.NewRateLimiter(nil, "", nil)
		bare := *e
		bare.app = api.New(api.Config{Services: e.svc, Health: st, Keys: kr, Limiter: limiter,
			Console: console.New(console.Config{Users: e.us, Services: e.svc, Limiter: limiter})}).App()
		b2 := &browser{e: &bare, cookies: b.cookies}
		if resp, _ := b2.do("GET", "/console/insights", nil); resp.StatusCode != http.StatusServiceUnavailable {
			t.Errorf("insights without scores: %d, want 503", resp.StatusCode)
		}
		for _, path := range []string{"/console/", "/console/licenses/" + e.license.ID, "/console/customers/" + e.license.CustomerID} {
			resp, body := b2.do("GET", path, nil)
			if resp.StatusCode != http.StatusOK || strings.Contains(body, "83%") || strings.Contains(body, `id="insights`) || strings.Contains(body, `id="overview-insights"`) {
				t.Errorf("%s without scores: %d, or it shows insights", path, resp.StatusCode)
			}
		}
		// And with them, the same user sees them there.
		if _, body := b.do("GET", "/console/licenses/"+e.license.ID, nil); !strings.Contains(body, `id="insights"`) {
			t.Error("the license page lacks its insights")
		}
	})
}

// TestInsightsPageShowsModelReport (issue 26): the insights page shows how
// the models of the last scoring run did (stored by the run): the version
// in use, AUC, precision and recall at the threshold, and the reliability
// table; before any run, no such section.
func TestInsightsPageShowsModelReport(t *testing.T) {
	t.Parallel()
	storagetest.ForEach(t, func(t *testing.T, st *storage.Store) {
		e := newEnv(t, st)
		storeScores(t, e, st)
		b := e.signedIn(licensing.RoleReadOnly)
		if _, body := b.do("GET", "/console/insights", nil); strings.Contains(body, "How the models do") {
			t.Fatal("a model report before any run")
		}
		ctx := context.Background()
		now := e.clock.Now()
		if ok, err := st.InsightScores().TryLock(ctx, "run-1", now, now.Add(time.Hour)); err != nil || !ok {
			t.Fatalf("lock: %v %v", ok, err)
		}
		rep := &insights.ModelReport{At: now, Outcomes: 640, Kinds: []insights.ModelReportKind{{Kind: insights.KindChurn, ModelVersion: "churn-trained-0badcafe",
			Train: 320, Test: 320, TestPositive: 61, AUC: 0.871, Threshold: 0.5, Precision: 0.8, Recall: 0.55, CalibrationError: 0.031, Calibration: insights.CalibrationPlatt,
			Reliability:    []insights.ReliabilityBin{{Low: 0, High: 0.1, N: 200, Positive: 6, MeanPredicted: 0.04}, {Low: 0.7, High: 0.8, N: 20, Positive: 15, MeanPredicted: 0.74}},
			AlertThreshold: 0.7, AtThresholds: []insights.ThresholdFigures{{Threshold: 0.5, Raised: 44, Precision: 0.8, Recall: 0.55}, {Threshold: 0.7, Raised: 30, Precision: 0.9, Recall: 0.44}},
			ByOutcome: []insights.ProfileRate{{Profile: insights.OutcomeChurned, N: 61, Raised: 27, Positive: true}, {Profile: insights.OutcomeRenewed, N: 259, Raised: 3}},
			LeadDays:  17.4}}}
		must(t, st.InsightScores().SaveModelReport(ctx, rep))
		_, body := b.do("GET", "/console/insights", nil)
		for _, want := range []string{"How the models do", "640 past outcomes", "churn-trained-0badcafe", "AUC 0.871", "precision 80%", "recall 55%",
			"calibration error 0.031", "The model in use is Platt-scaled", "<td>70%–80%</td><td>20</td><td>74%</td><td>75%</td>",
			// The backtest: figures at each threshold, the false positives
			// per outcome, the lead.
			"the job alerts at 70%", "<td>70%</td><td>30</td><td>90%</td><td>44%</td>",
			"<td>renewed</td><td>259</td><td>3</td><td>1%</td><td>false positives</td>", "<td>not renewed</td><td>61</td><td>27</td><td>44%</td><td>true positives</td>",
			"a median of 17 days before their decision"} {
			if !strings.Contains(body, want) {
				t.Errorf("the insights page lacks %q", want)
			}
		}
	})
}

// TestInsightsPageTakesItsWordsFromTheCatalog is the extraction check of
// the insights page: no word of its own, and every key it names in the
// English and Portuguese catalogs.
func TestInsightsPageTakesItsWordsFromTheCatalog(t *testing.T) {
	b, err := os.ReadFile("templates/insights.html")
	if err != nil {
		t.Fatal(err)
	}
	if words := i18n.Literal(string(b), true, "NzilaCode"); len(words) > 0 {
		t.Errorf("insights.html writes words that are not from the catalog: %q", words)
	}
	keys := regexp.MustCompile(`\.T\s+"([^"]+)"`).FindAllStringSubmatch(string(b), -1)
	if len(keys) < 20 {
		t.Fatalf("only %d keys found", len(keys))
	}
	cats := i18n.Catalogs()
	for _, k := range append(keys, []string{"", "insights.outcome." + insights.OutcomeRenewed}, []string{"", "insights.outcome." + insights.OutcomeChurned},
		[]string{"", "insights.outcome." + insights.OutcomeBlocked}) {
		for _, lang := range []string{i18n.English, "pt-PT"} {
			if _, ok := cats[lang].Messages[k[1]]; !ok {
				t.Errorf("%s lacks %q", lang, k[1])
			}
		}
	}
}

// TestInsightReasonsInTheReadersLanguage: a reason with a message is said
// in the page's language with its numbers as the reader writes them (the
// English page says its stored Text); one stored before reasons had a
// message says its Text on every page.
func TestInsightReasonsInTheReadersLanguage(t *testing.T) {
	t.Parallel()
	storagetest.ForEach(t, func(t *testing.T, st *storage.Store) {
		e := newEnv(t, st)
		num := func(v float64) *float64 { return &v }
		l := e.license
		score := insights.Score{LicenseID: l.ID, CustomerID: l.CustomerID, ProductID: l.ProductID, PolicyID: l.PolicyID, Kind: insights.KindChurn, Value: 0.834,
			Reasons: []insights.Reason{
				{Text: "used on 3 of the last 28 days, down from 21", Feature: "active_days_28", Value: 3, Key: "insights.reason.active_days.down",
					Args: []insights.Arg{{Name: "days", Num: num(3)}, {Name: "prev", Num: num(21)}}},
				{Text: "5.2 machine-days of use a week in the last 4 weeks, its own normal 10.5 (± 2.0)", Feature: "own_use_drop", Value: 2.6,
					Key: "insights.reason.own_use", Args: []insights.Arg{{Name: "recent", Num: num(5.25), Digits: 1},
						{Name: "normal", Num: num(10.5), Digits: 1}, {Name: "std", Num: num(2.04), Digits: 1}}},
				{Text: "expires in 12 days with no renewal", Feature: "days_to_expiry", Value: 12},
			},
			ModelVersion: "churn-starting-2", StartingModel: true, ComputedAt: e.clock.Now()}
		must(t, st.InsightScores().SaveScores(context.Background(), []insights.Score{score}, insights.Thresholds{}))
		b := e.signedIn(licensing.RoleSupport)
		for _, c := range []struct {
			lang string
			want []string
		}{
			{"", []string{"used on 3 of the last 28 days, down from 21", "5.2 machine-days of use a week in the last 4 weeks, its own normal 10.5 (± 2.0)",
				"expires in 12 days with no renewal"}},
			{"pt-PT", []string{"usada em 3 dos últimos 28 dias, menos do que os 21 anteriores",
				"5,2 dias-máquina de uso por semana nas últimas 4 semanas; o seu normal é 10,5 (± 2,0)", "expires in 12 days with no renewal"}},
			{"pt-BR", []string{"usada em 3 dos últimos 28 dias, menos do que os 21 anteriores",
				"5,2 dias-máquina de uso por semana nas últimas 4 semanas; seu normal é 10,5 (± 2,0)", "expires in 12 days with no renewal"}},
		} {
			b.lang = c.lang
			_, body := b.do("GET", "/console/licenses/"+l.ID, nil)
			rows := rowsOf(t, body)
			if len(rows) != 1 {
				t.Fatalf("%q: %d insight rows, want 1", c.lang, len(rows))
			}
			for _, w := range c.want {
				if !strings.Contains(rows[0], "<li>"+w+"</li>") {
					t.Errorf("%q: the row does not say %q: %s", c.lang, w, rows[0])
				}
			}
			_, body = b.do("GET", "/console/", nil)
			if churn := section(t, body, "top-churn_risk", "</div>"); !strings.Contains(churn, c.want[0]) {
				t.Errorf("%q: the overview's churn risk does not say %q: %s", c.lang, c.want[0], churn)
			}
		}
	})
}
