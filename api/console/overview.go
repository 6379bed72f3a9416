package console

import (
	"context"
	"strconv"

	"github.com/gofiber/fiber/v2"

	"github.com/nzilacode/narcidicontrole/api"
	"github.com/nzilacode/narcidicontrole/licensing"
	"github.com/nzilacode/narcidicontrole/licensing/i18n"
)

// The overview: what an operator checks at a glance. Its charts are SVG
// drawn here, on the server: no script runs (the CSP allows none inline),
// colours come from the stylesheet or SVG presentation attributes (the
// CSP forbids style attributes), and each chart has a title, a description
// and its numbers as a table for screen readers and keyboards.

var overviewRoutes = []Route{
	{"overview", "GET", "/", licensing.ReadDashboard, (*Console).overview},
}

// QueueReport is the state of the background job queues.
type QueueReport struct {
	// Mode is "redis" (asynq queues, run by narcidi worker processes),
	// "in-process" (serve runs the jobs itself) or "off" (nothing runs
	// them here).
	Mode   string
	Queues []QueueSize
}

// QueueSize is the tasks of one queue by state; Active is running now.
type QueueSize struct {
	Name                                        string
	Pending, Active, Scheduled, Retry, Archived int
}

// QueueReporter tells the state of the queues (Config.Queues; cmd wires
// asynq's inspector or the in-process runner).
type QueueReporter func(ctx context.Context) (*QueueReport, error)

type overviewData struct {
	O           *licensing.Overview
	Licenses    []statusCount
	Machines    []statusCount
	Activations chart
	Renewals    chart
	Queues      *QueueReport
	QueueError  bool
	Monitor     string       // the queue monitor's path, for those who may use it
	Insights    []insightTop // insights.go: nil when the user may not read them
}

type statusCount struct {
	Status string
	Count  int
}

func (cn *Console) overview(c *fiber.Ctx) error {
	ctx := c.UserContext()
	o, err := cn.cfg.Services.Automation.Overview(ctx)
	if err != nil {
		return cn.fail(c, err)
	}
	d := overviewData{O: o}
	for _, s := range []licensing.LicenseStatus{licensing.LicenseActive, licensing.LicenseSuspended, licensing.LicenseExpired, licensing.LicenseRevoked} {
		d.Licenses = append(d.Licenses, statusCount{string(s), o.LicensesByStatus[s]})
	}
	for _, s := range []licensing.MachineStatus{licensing.MachineActive, licensing.MachineOffline, licensing.MachineBlocked} {
		d.Machines = append(d.Machines, statusCount{string(s), o.MachinesByStatus[s]})
	}
	pr := printer(c)
	d.Activations = newChart(pr, "activations", o.ActivationsPerDay)
	d.Renewals = newChart(pr, "renewals", o.RenewalsPerDay)
	if cn.cfg.Queues != nil {
		if d.Queues, err = cn.cfg.Queues(ctx); err != nil {
			// The page is still useful without the queues (Redis down).
			cn.cfg.Logger.Error("console: queue report", "err", err)
			d.Queues, d.QueueError = nil, true
		}
	}
	if d.Queues != nil && d.Queues.Mode == "redis" && current(c).Actor.Allows(licensing.ManageQueues) {
		d.Monitor = api.QueueMonitorPath
	}
	if d.Insights, err = cn.insightTops(c); err != nil {
		return cn.fail(c, err)
	}
	return cn.render(c, fiber.StatusOK, "overview", "console.page.overview", d)
}

// chart is a bar chart of counts per day, laid out for an SVG viewBox of
// W×H units.
type chart struct {
	ID, Title, Desc string
	W, H            int
	Bars            []bar
	Ticks           []tick
	Top             tick // the gridline of the scale's maximum
	BaseY           float64
	Left, Right     float64
	Days            []licensing.DayCount
	Total           int
}

type bar struct {
	X, Y, W, H float64
	Label      string // "2026-05-01: 3"
}

type tick struct {
	X, Y  float64
	Label string
}

const (
	chartW, chartH            = 600, 200
	padLeft, padRight         = 40, 8
	padTop, padBottom         = 12, 28
	barGap            float64 = 2
)

// newChart lays out days (oldest first) as bars scaled to a round
// maximum, its words in pr's language ("console.chart.<id>.*").
func newChart(pr *i18n.Printer, id string, days []licensing.DayCount) chart {
	what := pr.T("console.chart." + id + ".what")
	ch := chart{ID: "chart-" + id, Title: pr.T("console.chart." + id + ".title"), W: chartW, H: chartH, Days: days,
		BaseY: chartH - padBottom, Left: padLeft, Right: chartW - padRight}
	peak, peakDay := 0, ""
	for _, d := range days {
		ch.Total += d.Count
		if d.Count > peak {
			peak, peakDay = d.Count, d.Day
		}
	}
	top := niceMax(peak)
	plotH := ch.BaseY - padTop
	ch.Top = tick{X: padLeft - 4, Y: padTop, Label: strconv.Itoa(top)}
	if n := len(days); n > 0 {
		slot := (ch.Right - ch.Left) / float64(n)
		for i, d := range days {
			x := ch.Left + float64(i)*slot
			if d.Count > 0 {
				h := plotH * float64(d.Count) / float64(top)
				ch.Bars = append(ch.Bars, bar{X: x + barGap/2, Y: ch.BaseY - h, W: slot - barGap, H: h, Label: d.Day + ": " + pr.Int(d.Count)})
			}
			// A label a week, and the last day's, unless a weekly one is
			// too close to it to be read.
			if (i%7 == 0 && n-1-i >= 4) || i == n-1 {
				ch.Ticks = append(ch.Ticks, tick{X: x + slot/2, Y: chartH - 10, Label: d.Day[5:]})
			}
		}
	}
	switch {
	case len(days) == 0:
		ch.Desc = pr.T("console.chart.no_data")
	case peak == 0:
		ch.Desc = pr.T("console.chart.none", "what", what, "from", days[0].Day, "to", days[len(days)-1].Day)
	default:
		ch.Desc = pr.T("console.chart.desc", "what", what, "from", days[0].Day, "to", days[len(days)-1].Day,
			"total", pr.Int(ch.Total), "peak", pr.Int(peak), "day", peakDay)
	}
	return ch
}

// niceMax is the top of the scale: 1, 2 or 5 times a power of ten, at
// least n (and at least 1, so an empty chart still has a scale).
func niceMax(n int) int {
	for p := 1; ; p *= 10 {
		for _, m := range []int{1, 2, 5} {
			if m*p >= n {
				return m * p
			}
		}
	}
}
