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

	"github.com/nzilacode/narcidicontrole/licensing/insights"
	"github.com/nzilacode/narcidicontrole/licensing/insights/sim"
	"github.com/nzilacode/narcidicontrole/wiring"
)

const insightsUsage = `Usage:
  narcidi insights simulate -out FILE -labels FILE [-mix classic|wide|traps] [-seed N] [-licenses N] [-days N] [-churn F] [-grow F] [-share F]
      write a simulated history (the import format, README "Insights") and its known outcomes
  narcidi insights evaluate -history FILE -labels FILE [-backtest=false] [-churn-alert F] [-block-alert F] [-upgrade-alert F] [-sharing-alert F]
      train the models on the licenses decided in the earlier half and print, per
      score, AUC, precision and recall (at the engine's threshold), the reliability
      table and the rate raised per profile on the later half; then the rolling
      backtest (the daily job's logic every 3 days) and the targets of issue 26
  narcidi insights import -history FILE
      load a history into the database: roll-ups, refusals and past outcomes
      the scoring job trains on ("narcidi insights import -h")
`

// Insights runs `narcidi insights`. It works on files only: no
// configuration, no database.
func Insights(_ context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, insightsUsage)
		return errors.New("want a subcommand: simulate or evaluate")
	}
	switch args[0] {
	case "simulate":
		return insightsSimulate(args[1:], stdout, stderr)
	case "evaluate":
		return insightsEvaluate(args[1:], stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, insightsUsage)
		return nil
	}
	return fmt.Errorf("unknown insights subcommand %q: want simulate or evaluate", args[0])
}

// insightsSimulate's flag checks are alike insightsEvaluate's by shape
// ("-x and -y are required"): each subcommand names its own flags.
func insightsSimulate(args []string, stdout, stderr io.Writer) error {
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
	if err := fs.Parse(args); err != nil {
		return UsageOr(err)
	}
	if *out == "" || *labels == "" {
		fmt.Fprintln(stderr, "-out and -labels are required")
		fs.Usage()
		return wiring.UsageError{Err: errors.New("-out and -labels are required")}
	}
	def.Seed = *seed
	if *mix != "" {
		m, ok := sim.Mixes(def.Seed, def.Licenses, def.Days)[*mix]
		if !ok {
			err := fmt.Errorf("-mix %q: want classic, wide or traps", *mix)
			fmt.Fprintln(stderr, err)
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
	fmt.Fprintf(stdout, "wrote %d licenses over %d days to %s (labels: %s)\n", def.Licenses, def.Days, *out, *labels)
	return nil
}

func insightsEvaluate(args []string, stdout, stderr io.Writer) error {
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
		fs.Func(name+"-alert", fmt.Sprintf("the job's alert threshold of %s in the backtest (default %.2f, as NARCIDI_INSIGHTS_%s_THRESHOLD)", k, insights.DefaultAlertThreshold, strings.ToUpper(name)),
			func(v string) error {
				f, err := strconv.ParseFloat(v, 64)
				if err != nil || f <= 0 || f > 1 {
					return fmt.Errorf("want a score in (0, 1]")
				}
				alerts[k] = f
				return nil
			})
	}
	if err := fs.Parse(args); err != nil {
		return UsageOr(err)
	}
	if *history == "" || *labelsPath == "" {
		fmt.Fprintln(stderr, "-history and -labels are required")
		fs.Usage()
		return wiring.UsageError{Err: errors.New("-history and -labels are required")}
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
	printEvaluation(stdout, ev)
	var res *insights.BacktestResult
	if *backtest {
		res = insights.RunBacktest(rows, probes, insights.EngineConfig{}, 0, alerts)
		res.Every = bt.Every
		printBacktest(stdout, res, len(probes))
	}
	printTargets(stdout, ev, res)
	fmt.Fprintf(stdout, "\n%d licenses: read and snapshots %s, total %s\n", len(labels), read.Round(time.Millisecond), time.Since(start).Round(time.Millisecond))
	return nil
}

func printReliability(w io.Writer, bins []insights.ReliabilityBin) {
	if len(bins) == 0 {
		return
	}
	fmt.Fprintf(w, "  reliability (calibration error %.3f):", insights.CalibrationError(bins))
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

// printBacktest prints the rolling backtest.
func printBacktest(w io.Writer, res *insights.BacktestResult, probes int) {
	fmt.Fprintf(w, "rolling backtest: %d origins every %d days, %d probes, retrained every %d days on the outcomes known by then\n\n",
		res.Origins, int(res.Every.Hours()/24), probes, int(res.Retrain.Hours()/24))
	for _, k := range res.Kinds {
		fmt.Fprintf(w, "%s (backtest)\n", k.Kind)
		if k.StartingOrigins > 0 {
			fmt.Fprintf(w, "  %d origins left out: the starting model was in use\n", k.StartingOrigins)
		}
		fmt.Fprintf(w, "  probes %d (%d positive): AUC %.3f   precision %.3f   recall %.3f at %.2f\n", k.Probes, k.ProbePositive, k.AUC, k.Precision, k.Recall, k.Threshold)
		if !math.IsNaN(k.WindowAUC) {
			fmt.Fprintf(w, "  last 14 days before expiry: %d probes, AUC %.3f\n", k.WindowProbes, k.WindowAUC)
		}
		fmt.Fprintf(w, "  licenses %d (%d positive), flagged by the job (at %.2f) %d: precision %.3f   recall %.3f", k.Licenses, k.Positive, k.AlertThreshold, k.Flagged, k.LicensePrecision, k.LicenseRecall)
		if !math.IsNaN(k.LeadDays) {
			fmt.Fprintf(w, "   median lead %.0f days", k.LeadDays)
		}
		fmt.Fprintln(w)
		printProfiles(w, "flagged by the job per profile (* = the kind's truth)", k.ByProfile)
		printReliability(w, k.Reliability)
		fmt.Fprintln(w)
	}
}

// printTargets prints the targets of issue 26 and whether each is met.
func printTargets(w io.Writer, ev *insights.Evaluation, res *insights.BacktestResult) {
	fmt.Fprintln(w, "targets")
	line := func(what string, got, want float64, atMost bool) {
		ok := got >= want
		if atMost {
			ok = got <= want
		}
		verdict := "met"
		if math.IsNaN(got) {
			verdict = "not measured"
		} else if !ok {
			verdict = "NOT met"
		}
		cmp := "≥"
		if atMost {
			cmp = "≤"
		}
		fmt.Fprintf(w, "  %-58s %s %.3f: %.3f %s\n", what, cmp, want, got, verdict)
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
		line("churn AUC", k.AUC, 0.85, false)
		line("churn raised on erratic-but-loyal", rate(k.ByProfile, "erratic"), 0.05, true)
	}
	if res == nil {
		return
	}
	if k := res.Kind(insights.KindChurn); k != nil {
		line("churn flagged by the job on erratic-but-loyal", rate(k.ByProfile, "erratic"), 0.05, true)
	}
	if k := res.Kind(insights.KindBlock); k != nil {
		line("block AUC, last 14 days before expiry (backtest)", k.WindowAUC, 0.85, false)
	}
	if k := res.Kind(insights.KindSharing); k != nil {
		line("sharing precision, licenses flagged by the job", k.LicensePrecision, 0.95, false)
		line("VM farms flagged by the job", rate(k.ByProfile, "vm_farm"), 0.02, true)
		line("CI fleets flagged by the job", rate(k.ByProfile, "ci_fleet"), 0.02, true)
		line("large-plan sharers found by the job", rate(k.ByProfile, "large_sharer"), 0.9, false)
	}
	if k := res.Kind(insights.KindUpgrade); k != nil {
		line("upgrade recall, licenses flagged by the job", k.LicenseRecall, 0.9, false)
		line("growers on the largest plan found by the job", rate(k.ByProfile, "top_grower"), 0.9, false)
	}
}

// printEvaluation prints one block per kind of score (README, "Insights",
// how to read it).
func printEvaluation(w io.Writer, ev *insights.Evaluation) {
	fmt.Fprintf(w, "snapshots 7 to 28 days before each decision; block risk looks %d days ahead\n", int(insights.BlockHorizon.Hours()/24))
	fmt.Fprintf(w, "trained on %d licenses decided before %s, tested on %d decided from then on\n\n", ev.Train, ev.Split.Format("2006-01-02"), ev.Test)
	for _, k := range ev.Kinds {
		model := k.ModelVersion
		if k.StartingModel {
			model += " (starting model: too few outcomes to train)"
		}
		fmt.Fprintf(w, "%s  %s\n", k.Kind, model)
		if k.Note != "" {
			fmt.Fprintf(w, "  not judged: %s\n\n", k.Note)
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
		printProfiles(w, "raised per profile (* = the kind's truth)", k.ByProfile)
		printReliability(w, k.Reliability)
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
