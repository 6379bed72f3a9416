package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"

	"github.com/nzilacode/narcidicontrole/licensing/insights"
	"github.com/nzilacode/narcidicontrole/licensing/insights/sim"
)

const insightsUsage = `Usage:
  narcidi insights simulate -out FILE -labels FILE [-seed N] [-licenses N] [-days N] [-churn F] [-grow F] [-share F]
      write a simulated history (the import format, README "Insights") and its known outcomes
  narcidi insights evaluate -history FILE -labels FILE
      train the models on the licenses decided in the earlier half and print, per
      score, AUC, precision and recall (at the engine's threshold) on the later half
  narcidi insights import -history FILE
      load a history into the database: roll-ups, refusals and past outcomes
      the scoring job trains on ("narcidi insights import -h")
`

// insightsCommand runs `narcidi insights`. It works on files only: no
// configuration, no database.
func insightsCommand(_ context.Context, args []string, stdout, stderr io.Writer) error {
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

func insightsSimulate(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("narcidi insights simulate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	def := sim.Default(1, 1000)
	out := fs.String("out", "", "history file to write (JSON lines)")
	labels := fs.String("labels", "", "labels file to write (JSON lines)")
	seed := fs.Uint64("seed", def.Seed, "random seed: the same seed writes the same files")
	fs.IntVar(&def.Licenses, "licenses", def.Licenses, "licenses to simulate")
	fs.IntVar(&def.Days, "days", def.Days, "days of history (at least 120)")
	fs.Float64Var(&def.ChurnRate, "churn", def.ChurnRate, "share of licenses that churn")
	fs.Float64Var(&def.GrowRate, "grow", def.GrowRate, "share of licenses that outgrow their seats")
	fs.Float64Var(&def.ShareRate, "share", def.ShareRate, "share of licenses whose key is shared")
	if err := fs.Parse(args); err != nil {
		return usageOr(err)
	}
	if *out == "" || *labels == "" {
		fmt.Fprintln(stderr, "-out and -labels are required")
		fs.Usage()
		return usageError{errors.New("-out and -labels are required")}
	}
	def.Seed = *seed
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
	if err := fs.Parse(args); err != nil {
		return usageOr(err)
	}
	if *history == "" || *labelsPath == "" {
		fmt.Fprintln(stderr, "-history and -labels are required")
		fs.Usage()
		return usageError{errors.New("-history and -labels are required")}
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
	rows, err := insights.HistoryRows(hf, labels)
	if err != nil {
		return fmt.Errorf("%s: %w", *history, err)
	}
	ev, err := insights.Evaluate(rows, insights.EngineConfig{})
	if err != nil {
		return err
	}
	printEvaluation(stdout, ev)
	return nil
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
		fmt.Fprint(w, "\n\n")
	}
}

// usageOr passes -h through and marks other flag errors as usage errors.
func usageOr(err error) error {
	if errHelp(err) {
		return err
	}
	return usageError{err}
}
