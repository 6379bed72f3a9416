package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"runtime/debug"
	"runtime/pprof"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/nzilacode/narcidicontrole/licensing/i18n"
	"github.com/nzilacode/narcidicontrole/licensing/insights"
	"github.com/nzilacode/narcidicontrole/licensing/insights/sim"
	"github.com/nzilacode/narcidicontrole/wiring"
)

// Insights runs `narcidi insights simulate|evaluate` (import works on the
// database: cmd/narcidi). It works on files only: no configuration, no
// database. Its words are in the reader's language (getenv, Reader).
func Insights(_ context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	pr := Reader(getenv)
	if len(args) == 0 {
		fmt.Fprint(stderr, pr.T("cli.help.insights"))
		return i18n.Say("cli.insights.want_subcommand")
	}
	switch args[0] {
	case "simulate":
		return insightsSimulate(pr, args[1:], stdout, stderr)
	case "evaluate":
		return insightsEvaluate(pr, args[1:], stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, pr.T("cli.help.insights"))
		return nil
	}
	return i18n.Say("cli.insights.unknown_subcommand", "subcommand", strconv.Quote(args[0]))
}

// required says that flags a and b are required, then the usage, and is
// the usage error of a command line that lacks them.
func required(pr *i18n.Printer, fs *flag.FlagSet, a, b string) error {
	err := i18n.Say("cli.both_required", "a", a, "b", b)
	fmt.Fprintln(fs.Output(), Words(pr, err))
	fs.Usage()
	return wiring.UsageError{Err: err}
}

func insightsSimulate(pr *i18n.Printer, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("narcidi insights simulate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	def := sim.Default(1, 1000)
	out := fs.String("out", "", "history file to write (JSON lines)")
	mix := fs.String("mix", "", "a named mix of profiles: classic, wide or traps (the rate flags then apply to its first four)")
	labels := fs.String("labels", "", "labels file to write (JSON lines)")
	seed := fs.Uint64("seed", def.Seed, "random seed: the same seed writes the same files")
	fs.IntVar(&def.Licenses, "licenses", def.Licenses, "licenses to simulate")
	fs.IntVar(&def.Days, "days", def.Days, "days of history (at least 120)")
	fs.Float64Var(&def.ChurnRate, "churn", def.ChurnRate, "share of licenses that churn")
	fs.Float64Var(&def.GrowRate, "grow", def.GrowRate, "share of licenses that outgrow their seats")
	fs.Float64Var(&def.ShareRate, "share", def.ShareRate, "share of licenses whose key is shared")
	Localize(pr, fs, "narcidi insights simulate -out FILE -labels FILE [flags]", "insights", "simulate")
	if err := fs.Parse(args); err != nil {
		return UsageOr(err)
	}
	if *out == "" || *labels == "" {
		return required(pr, fs, "-out", "-labels")
	}
	def.Seed = *seed
	if *mix != "" {
		m, ok := sim.Mixes(def.Seed, def.Licenses, def.Days)[*mix]
		if !ok {
			err := i18n.Say("cli.flag_one_of", "flag", "mix", "values", i18n.Or{"classic", "wide", "traps"}, "value", strconv.Quote(*mix))
			fmt.Fprintln(stderr, Words(pr, err))
			return wiring.UsageError{Err: err}
		}
		set := map[string]bool{}
		fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
		for name, rate := range map[string]*float64{"churn": &m.ChurnRate, "grow": &m.GrowRate, "share": &m.ShareRate} {
			if set[name] {
				*rate = *map[string]*float64{"churn": &def.ChurnRate, "grow": &def.GrowRate, "share": &def.ShareRate}[name]
			}
		}
		def = m
	}
	h, err := os.Create(*out)
	if err != nil {
		return err
	}
	l, err := os.Create(*labels)
	if err != nil {
		h.Close()
		return err
	}
	err = sim.Write(def, h, l)
	if err := errors.Join(err, h.Close(), l.Close()); err != nil {
		return err
	}
	fmt.Fprintln(stdout, pr.T("cli.insights.wrote", "licenses", def.Licenses, "days", def.Days, "history", *out, "labels", *labels))
	return nil
}

func insightsEvaluate(pr *i18n.Printer, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("narcidi insights evaluate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	history := fs.String("history", "", "history file (JSON lines, the import format)")
	labelsPath := fs.String("labels", "", "labels file: one {\"license_id\",\"churned\",\"decided_at\",\"profile\"?} per line")
	backtest := fs.Bool("backtest", true, "also run the rolling backtest (the daily job's logic)")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the evaluation to this file")
	alerts := insights.Thresholds{}
	for _, k := range insights.Kinds {
		name := strings.TrimSuffix(strings.TrimSuffix(string(k), "_risk"), "_suggested")
		name = strings.TrimSuffix(name, "_suspected")
		fs.Func(name+"-alert", pr.T("cli.insights.alert_flag", "kind", k, "default", fmt.Sprintf("%.2f", insights.DefaultAlertThreshold),
			"env", "NARCIDI_INSIGHTS_"+strings.ToUpper(name)+"_THRESHOLD"),
			func(v string) error {
				f, err := strconv.ParseFloat(v, 64)
				if err != nil || f <= 0 || f > 1 {
					return errors.New(pr.T("cli.insights.want_score")) // the flag package writes it
				}
				alerts[k] = f
				return nil
			})
	}
	Localize(pr, fs, "narcidi insights evaluate -history FILE -labels FILE [flags]", "insights", "evaluate")
	if err := fs.Parse(args); err != nil {
		return UsageOr(err)
	}
	if *history == "" || *labelsPath == "" {
		return required(pr, fs, "-history", "-labels")
	}
	lf, err := os.Open(*labelsPath)
	if err != nil {
		return err
	}
	labels, err := insights.ReadLabels(lf)
	lf.Close()
	if err != nil {
		return fmt.Errorf("%s: %w", *labelsPath, err)
	}
	hf, err := os.Open(*history)
	if err != nil {
		return err
	}
	defer hf.Close()
	if *cpuProfile != "" {
		pf, err := os.Create(*cpuProfile)
		if err != nil {
			return err
		}
		defer pf.Close()
		if err := pprof.StartCPUProfile(pf); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	if os.Getenv("GOGC") == "" {
		// A batch that keeps every open license in memory: collecting
		// when the heap has grown by 200 % rather than 100 % spends less
		// CPU marking it, for more memory (README, "Reading narcidi
		// insights evaluate"; GOGC set in the environment wins).
		debug.SetGCPercent(200)
	}
	start := time.Now()
	bt := insights.Backtest{}
	if *backtest {
		bt = insights.DefaultBacktest
	}
	rows, probes, err := insights.HistoryProbes(hf, labels, bt)
	if err != nil {
		return fmt.Errorf("%s: %w", *history, err)
	}
	read := time.Since(start)
	ev, err := insights.Evaluate(rows, insights.EngineConfig{})
	if err != nil {
		return err
	}
	printEvaluation(pr, stdout, ev)
	var res *insights.BacktestResult
	if *backtest {
		res = insights.RunBacktest(rows, probes, insights.EngineConfig{}, 0, alerts)
		res.Every = bt.Every
		printBacktest(pr, stdout, res, len(probes))
	}
	printTargets(pr, stdout, ev, res)
	fmt.Fprintf(stdout, "\n%s\n", pr.T("cli.insights.took", "licenses", len(labels), "read", read.Round(time.Millisecond), "total", time.Since(start).Round(time.Millisecond)))
	return nil
}

func printReliability(pr *i18n.Printer, w io.Writer, bins []insights.ReliabilityBin) {
	if len(bins) == 0 {
		return
	}
	fmt.Fprintf(w, "  %s:", pr.T("cli.insights.reliability", "error", fmt.Sprintf("%.3f", insights.CalibrationError(bins))))
	for _, b := range bins {
		fmt.Fprintf(w, "  [%.1f,%.1f) %d: %.2f→%.2f", b.Low, b.High, b.N, b.MeanPredicted, float64(b.Positive)/float64(b.N))
	}
	fmt.Fprintln(w)
}

func printProfiles(w io.Writer, what string, ps []insights.ProfileRate) {
	if len(ps) == 0 {
		return
	}
	fmt.Fprintf(w, "  %s:", what)
	for _, p := range ps {
		mark := ""
		if p.Positive {
			mark = "*"
		}
		fmt.Fprintf(w, "  %s%s %d/%d (%.1f%%)", p.Profile, mark, p.Raised, p.N, 100*p.Rate())
	}
	fmt.Fprintln(w)
}

// printBacktest prints the rolling backtest. The figures' lines (probes:
// AUC, precision, recall) keep their English names for scripts; the prose
// is in pr's language.
func printBacktest(pr *i18n.Printer, w io.Writer, res *insights.BacktestResult, probes int) {
	fmt.Fprintf(w, "%s\n\n", pr.T("cli.insights.backtest", "origins", res.Origins, "every", int(res.Every.Hours()/24), "probes", probes, "retrain", int(res.Retrain.Hours()/24)))
	for _, k := range res.Kinds {
		fmt.Fprintf(w, "%s (backtest)\n", k.Kind)
		if k.StartingOrigins > 0 {
			fmt.Fprintf(w, "  %s\n", pr.T("cli.insights.origins_left_out", "origins", k.StartingOrigins))
		}
		fmt.Fprintf(w, "  probes %d (%d positive): AUC %.3f   precision %.3f   recall %.3f at %.2f\n", k.Probes, k.ProbePositive, k.AUC, k.Precision, k.Recall, k.Threshold)
		if !math.IsNaN(k.WindowAUC) {
			fmt.Fprintf(w, "  %s\n", pr.T("cli.insights.window", "probes", k.WindowProbes, "auc", fmt.Sprintf("%.3f", k.WindowAUC)))
		}
		fmt.Fprintf(w, "  %s", pr.T("cli.insights.flagged", "licenses", k.Licenses, "positive", k.Positive, "at", fmt.Sprintf("%.2f", k.AlertThreshold),
			"flagged", k.Flagged, "precision", fmt.Sprintf("%.3f", k.LicensePrecision), "recall", fmt.Sprintf("%.3f", k.LicenseRecall)))
		if !math.IsNaN(k.LeadDays) {
			fmt.Fprintf(w, "   %s", pr.T("cli.insights.lead", "days", fmt.Sprintf("%.0f", k.LeadDays)))
		}
		fmt.Fprintln(w)
		printProfiles(w, pr.T("cli.insights.flagged_per_profile"), k.ByProfile)
		printReliability(pr, w, k.Reliability)
		fmt.Fprintln(w)
	}
}

// printTargets prints the targets of issue 26 and whether each is met.
func printTargets(pr *i18n.Printer, w io.Writer, ev *insights.Evaluation, res *insights.BacktestResult) {
	fmt.Fprintln(w, pr.T("cli.insights.targets"))
	line := func(key string, got, want float64, atMost bool) {
		ok := got >= want
		if atMost {
			ok = got <= want
		}
		verdict := pr.T("cli.insights.met")
		if math.IsNaN(got) {
			verdict = pr.T("cli.insights.not_measured")
		} else if !ok {
			verdict = pr.T("cli.insights.not_met")
		}
		cmp := "≥"
		if atMost {
			cmp = "≤"
		}
		what := pr.T("cli.insights.target." + key)
		fmt.Fprintf(w, "  %s%s %s %.3f: %.3f %s\n", what, strings.Repeat(" ", max(0, 58-utf8.RuneCountInString(what))), cmp, want, got, verdict)
	}
	rate := func(ps []insights.ProfileRate, profile string) float64 {
		for _, p := range ps {
			if p.Profile == profile {
				return p.Rate()
			}
		}
		return math.NaN()
	}
	if k := ev.Kind(insights.KindChurn); k != nil {
		line("churn_auc", k.AUC, 0.85, false)
		line("churn_erratic", rate(k.ByProfile, "erratic"), 0.05, true)
	}
	if res == nil {
		return
	}
	if k := res.Kind(insights.KindChurn); k != nil {
		line("churn_erratic_job", rate(k.ByProfile, "erratic"), 0.05, true)
	}
	if k := res.Kind(insights.KindBlock); k != nil {
		line("block_window_auc", k.WindowAUC, 0.85, false)
	}
	if k := res.Kind(insights.KindSharing); k != nil {
		line("sharing_precision", k.LicensePrecision, 0.95, false)
		line("vm_farms", rate(k.ByProfile, "vm_farm"), 0.02, true)
		line("ci_fleets", rate(k.ByProfile, "ci_fleet"), 0.02, true)
		line("large_sharers", rate(k.ByProfile, "large_sharer"), 0.9, false)
	}
	if k := res.Kind(insights.KindUpgrade); k != nil {
		line("upgrade_recall", k.LicenseRecall, 0.9, false)
		line("top_growers", rate(k.ByProfile, "top_grower"), 0.9, false)
	}
}

// printEvaluation prints one block per kind of score (README, "Insights",
// how to read it). The figures' lines (train, test, AUC) keep their
// English names for scripts; the prose is in pr's language.
func printEvaluation(pr *i18n.Printer, w io.Writer, ev *insights.Evaluation) {
	fmt.Fprintln(w, pr.T("cli.insights.snapshots", "days", int(insights.BlockHorizon.Hours()/24)))
	fmt.Fprintf(w, "%s\n\n", pr.T("cli.insights.split", "train", ev.Train, "date", ev.Split.Format("2006-01-02"), "test", ev.Test))
	for _, k := range ev.Kinds {
		model := k.ModelVersion
		if k.StartingModel {
			model += " (" + pr.T("cli.insights.starting_model") + ")"
		}
		fmt.Fprintf(w, "%s  %s\n", k.Kind, model)
		if k.Note != "" {
			fmt.Fprintf(w, "  %s\n\n", pr.T("cli.insights.not_judged", "note", k.Note))
			continue
		}
		if k.Train > 0 {
			fmt.Fprintf(w, "  train %d (%d positive)\n", k.Train, k.TrainPositive)
		}
		fmt.Fprintf(w, "  test  %d (%d positive), %d at or above %.2f\n", k.Test, k.TestPositive, k.Raised, k.Threshold)
		fmt.Fprintf(w, "  AUC %.3f   precision %.3f   recall %.3f", k.AUC, k.Precision, k.Recall)
		if !math.IsNaN(k.StartingAUC) {
			fmt.Fprintf(w, "   (starting model AUC %.3f)", k.StartingAUC)
		}
		fmt.Fprintln(w)
		printProfiles(w, pr.T("cli.insights.raised_per_profile"), k.ByProfile)
		printReliability(pr, w, k.Reliability)
		fmt.Fprintln(w)
	}
}

// UsageOr passes -h through and marks other flag errors as usage errors.
func UsageOr(err error) error {
	if wiring.ErrHelp(err) {
		return err
	}
	return wiring.UsageError{Err: err}
}
