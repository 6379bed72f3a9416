package console

import (
	"context"
	"fmt"
	"html/template"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/nzilacode/narcidicontrole/licensing"
	"github.com/nzilacode/narcidicontrole/licensing/i18n"
	"github.com/nzilacode/narcidicontrole/licensing/insights"
)

// The insights pages: the scoring job's latest scores, read through the
// same insights.Scores as GET /v1/insights (so the same ReadInsights check
// and filter rules), with the names a support person knows (license key
// hint, customer name, suggested policy) in place of ids.

var insightRoutes = []Route{
	{"insights", "GET", "/insights", licensing.ReadInsights, (*Console).insights},
}

// reasonsShown is how many reasons a row shows (the strongest first, as
// the engine orders them).
const reasonsShown = 3

// overviewTop is how many licenses the overview shows per kind (the
// highest scores above the kind's threshold).
const overviewTop = 5

// kindLabel is a kind in the reader's words (catalog "insights.kind.<kind>").
func kindLabel(pr *i18n.Printer, k insights.Kind) string { return pr.T("insights.kind." + string(k)) }

type kindOption struct {
	Value insights.Kind
	Label string
}

func kindOptions(pr *i18n.Printer) []kindOption {
	out := make([]kindOption, len(insights.Kinds))
	for i, k := range insights.Kinds {
		out[i] = kindOption{k, kindLabel(pr, k)}
	}
	return out
}

// insightRow is a score as a page shows it.
type insightRow struct {
	insights.ScoreRecord
	License   string // "…KH3F (name)", or the id when the license cannot be read
	Customer  string // the customer's name, or its id
	Suggested string // the suggested policy's name, or its id ("": none)
	Reasons   []insights.Reason
}

// Percent is the score as a whole percentage ("83%").
func (r insightRow) Percent() string { return percent(r.Value) }

func percent(v float64) string { return fmt.Sprintf("%.0f%%", v*100) }

// names resolves the ids of a page's rows once each: a list page of 50
// scores names a handful of customers and policies.
type names struct {
	cn                            *Console
	ctx                           context.Context
	licenses, customers, policies map[string]string
}

func (cn *Console) names(ctx context.Context) *names {
	return &names{cn: cn, ctx: ctx, licenses: map[string]string{}, customers: map[string]string{}, policies: map[string]string{}}
}

// of looks id up in cache with get; the id itself when it cannot be read
// (deleted since, or outside the actor's reach): the row is still useful.
func (n *names) of(cache map[string]string, id string, get func(string) (string, error)) string {
	if id == "" {
		return ""
	}
	if v, ok := cache[id]; ok {
		return v
	}
	v, err := get(id)
	if err != nil || v == "" {
		v = id
	}
	cache[id] = v
	return v
}

func (n *names) row(r insights.ScoreRecord) insightRow {
	svc := n.cn.cfg.Services
	row := insightRow{ScoreRecord: r, Reasons: r.Reasons}
	if len(row.Reasons) > reasonsShown {
		row.Reasons = row.Reasons[:reasonsShown]
	}
	row.License = n.of(n.licenses, r.LicenseID, func(id string) (string, error) {
		l, err := svc.Licenses.License(n.ctx, id)
		if err != nil {
			return "", err
		}
		if l.Name != "" {
			return "…" + l.KeyHint + " (" + l.Name + ")", nil
		}
		return "…" + l.KeyHint, nil
	})
	row.Customer = n.of(n.customers, r.CustomerID, func(id string) (string, error) {
		cu, err := svc.Customers.Customer(n.ctx, id)
		if err != nil {
			return "", err
		}
		return cu.Name, nil
	})
	row.Suggested = n.of(n.policies, r.SuggestedPolicyID, func(id string) (string, error) {
		p, err := svc.Catalog.Policy(n.ctx, id)
		if err != nil {
			return "", err
		}
		return p.Name, nil
	})
	return row
}

func (n *names) rows(rs []insights.ScoreRecord) []insightRow {
	out := make([]insightRow, len(rs))
	for i, r := range rs {
		out[i] = n.row(r)
	}
	return out
}

// canInsights reports whether the page may show insights: the server has
// them and the signed-in user's role reads them.
func (cn *Console) canInsights(c *fiber.Ctx) bool {
	cur := current(c)
	return cn.cfg.Insights != nil && cur != nil && cur.Actor.Allows(licensing.ReadInsights)
}

type insightsData struct {
	Rows     []insightRow
	Kinds    []kindOption
	Products []licensing.Product
	Kind     string
	Min      string // whole percent, "" for any
	Customer string
	Product  string
	Next     template.URL
	// Report is how the models of the last scoring run did on the
	// installation's outcomes (nil before a run made one).
	Report *modelReport
	pr     *i18n.Printer
}

// T is the page's words from the catalog (the insights.* keys) in the
// reader's language: the console's layout has no printer of its own.
func (d insightsData) T(key string, args ...any) string { return d.pr.T(key, args...) }

// modelReport is insights.ModelReport as the page shows it.
type modelReport struct {
	*insights.ModelReport
	Kinds []reportKind
}

type reportKind struct {
	insights.ModelReportKind
	Label    string
	Outcomes []reportOutcome
	Lead     string // the median lead in days, "" when no true positive was raised
}

// reportOutcome is one outcome's row of the backtest: its name in words.
type reportOutcome struct {
	insights.ProfileRate
	Name string
}

// Share is the outcome's share raised.
func (o reportOutcome) Share() string { return percent(o.Rate()) }

func newReportKind(k insights.ModelReportKind, pr *i18n.Printer) reportKind {
	r := reportKind{ModelReportKind: k, Label: kindLabel(pr, k.Kind)}
	for _, o := range k.ByOutcome {
		r.Outcomes = append(r.Outcomes, reportOutcome{o, pr.T("insights.outcome." + o.Profile)})
	}
	if k.LeadDays >= 0 && len(k.AtThresholds) > 0 {
		r.Lead = strconv.Itoa(int(k.LeadDays + 0.5))
	}
	return r
}

// Pct shows a share as a percentage ("–" when not measured).
func (reportKind) Pct(v float64) string {
	if v < 0 {
		return "–"
	}
	return percent(v)
}

// Fixed shows a figure with three decimals ("–" when not measured).
func (reportKind) Fixed(v float64) string {
	if v < 0 {
		return "–"
	}
	return fmt.Sprintf("%.3f", v)
}

func (cn *Console) insights(c *fiber.Ctx) error {
	if cn.cfg.Insights == nil {
		return cn.fail(c, licensing.Errorf(licensing.EUnavailable, "insights are not configured on this server"))
	}
	ctx := c.UserContext()
	d := insightsData{Kinds: kindOptions(printer(c)), Kind: c.Query("kind"), Min: strings.TrimSpace(c.Query("min")),
		Customer: strings.TrimSpace(c.Query("customer")), Product: c.Query("product"), pr: printer(c)}
	f := insights.ScoreFilter{Kind: insights.Kind(d.Kind), CustomerID: d.Customer, ProductID: d.Product}
	if d.Min != "" {
		n, err := strconv.Atoi(d.Min)
		if err != nil || n < 0 || n > 100 {
			return cn.fail(c, licensing.FieldErrorf("min", "minimum score must be a whole percentage from 0 to 100"))
		}
		f.MinScore = float64(n) / 100
	}
	rs, err := cn.cfg.Insights.List(ctx, f, licensing.Page{After: c.Query("after"), Limit: PageSize})
	if err != nil {
		return cn.fail(c, err)
	}
	d.Rows = cn.names(ctx).rows(rs)
	rep, err := cn.cfg.Insights.ModelReport(ctx)
	if err != nil {
		return cn.fail(c, err)
	}
	if rep != nil {
		d.Report = &modelReport{ModelReport: rep}
		for _, k := range rep.Kinds {
			d.Report.Kinds = append(d.Report.Kinds, newReportKind(k, d.pr))
		}
	}
	if d.Products, err = cn.cfg.Services.Catalog.Products(ctx, licensing.Page{Limit: licensing.MaxPageLimit}); err != nil {
		return cn.fail(c, err)
	}
	if len(rs) == PageSize {
		d.Next = template.URL(url.Values{"kind": {d.Kind}, "min": {d.Min}, "customer": {d.Customer}, "product": {d.Product}, "after": {rs[len(rs)-1].ID}}.Encode())
	}
	return cn.render(c, fiber.StatusOK, "insights", "console.nav.insights", d)
}

// scoresOf lists the scores of f for a detail page (nil when the page may
// not show insights): the strongest first, at most a page.
func (cn *Console) scoresOf(c *fiber.Ctx, f insights.ScoreFilter) ([]insightRow, error) {
	if !cn.canInsights(c) {
		return nil, nil
	}
	rs, err := cn.cfg.Insights.List(c.UserContext(), f, licensing.Page{Limit: PageSize})
	if err != nil {
		return nil, err
	}
	byValue(rs)
	return cn.names(c.UserContext()).rows(rs), nil
}

func byValue(rs []insights.ScoreRecord) {
	slices.SortStableFunc(rs, func(a, b insights.ScoreRecord) int {
		switch {
		case a.Value > b.Value:
			return -1
		case a.Value < b.Value:
			return 1
		}
		return strings.Compare(a.ID, b.ID)
	})
}

// insightTop is one kind on the overview: the strongest scores at or
// above its threshold, and the link to all of them.
type insightTop struct {
	kindOption
	Threshold string // "70%"
	Rows      []insightRow
	More      bool // more than shown are above the threshold
	Link      template.URL
}

// insightTops is the overview's insights (nil when the page may not show
// them).
func (cn *Console) insightTops(c *fiber.Ctx) ([]insightTop, error) {
	if !cn.canInsights(c) {
		return nil, nil
	}
	ctx := c.UserContext()
	n := cn.names(ctx)
	var out []insightTop
	for _, k := range kindOptions(printer(c)) {
		th := cn.cfg.Thresholds.Of(k.Value)
		// One more than shown: whether the link to all of them is needed.
		top, err := cn.cfg.Insights.Top(ctx, k.Value, th, overviewTop+1)
		if err != nil {
			return nil, err
		}
		more := len(top) > overviewTop
		top = top[:min(len(top), overviewTop)]
		minPct := strconv.Itoa(int(th*100 + 0.5))
		out = append(out, insightTop{kindOption: k, Threshold: percent(th), Rows: n.rows(top), More: more,
			Link: template.URL(url.Values{"kind": {string(k.Value)}, "min": {minPct}}.Encode())})
	}
	return out, nil
}
