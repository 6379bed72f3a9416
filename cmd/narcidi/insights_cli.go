package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/nzilacode/narcidicontrole/licensing/insights"
	"github.com/nzilacode/narcidicontrole/licensing/insights/sim"
)

const insightsUsage = `Usage:
  narcidi insights simulate -out FILE -labels FILE [-seed N] [-licenses N] [-days N] [-churn F] [-grow F] [-share F]
      write a simulated history (the import format, README "Insights") and its known outcomes
  narcidi insights evaluate -history FILE -labels FILE
      train the churn model on the licenses decided in the earlier half and print
      AUC, precision and recall on the later half
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
	labelsPath := fs.String("labels", "", "labels file: one {\"license_id\",\"churned\",\"decided_at\"} per line")
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
	set, err := insights.ChurnSetFromHistory(hf, labels)
	if err != nil {
		return fmt.Errorf("%s: %w", *history, err)
	}
	ev, err := insights.EvaluateChurn(set)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "churn risk (logistic regression, judged %d days before expiry)\n", int(insights.ChurnHorizon.Hours()/24))
	fmt.Fprintf(stdout, "  trained on %d licenses decided before %s (%d churned)\n", ev.Train, ev.Split.Format("2006-01-02"), ev.TrainChurn)
	fmt.Fprintf(stdout, "  tested on  %d licenses decided from then on (%d churned)\n", ev.Test, ev.TestChurn)
	fmt.Fprintf(stdout, "  AUC %.3f   precision %.3f   recall %.3f   (threshold %.2f)\n", ev.AUC, ev.Precision, ev.Recall, ev.Threshold)
	fmt.Fprintf(stdout, "  weights (per standard deviation):\n")
	for i, name := range insights.ChurnFeatures {
		fmt.Fprintf(stdout, "    %+7.3f  %s\n", ev.Model.Weights[i], name)
	}
	return nil
}

// usageOr passes -h through and marks other flag errors as usage errors.
func usageOr(err error) error {
	if errHelp(err) {
		return err
	}
	return usageError{err}
}
