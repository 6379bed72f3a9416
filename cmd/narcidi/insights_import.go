package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/nzilacode/narcidicontrole/cli"
	"github.com/nzilacode/narcidicontrole/licensing/i18n"
	"github.com/nzilacode/narcidicontrole/licensing/insights"
)

// insightsImport runs `narcidi insights import -history FILE`.
func insightsImport(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	pr := cli.Reader(getenv)
	fs := flag.NewFlagSet("narcidi insights import", flag.ContinueOnError)
	fs.SetOutput(stderr)
	history := fs.String("history", "", "the history file (JSON lines)")
	cli.Localize(pr, fs, "narcidi insights import -history FILE [configuration flags]", "insights", "import")
	fs.Usage = func() {
		cli.Usage(pr, stderr, "cli.help.insights_import")
		cli.PrintFlags(pr, fs)
	}
	if err := fs.Parse(args); err != nil {
		return cli.UsageOr(err)
	}
	if *history == "" {
		err := i18n.Say("cli.flag_required", "flag", "history")
		fmt.Fprintln(stderr, cli.Words(pr, err))
		fs.Usage()
		return usageError{Err: err}
	}
	_, _, st, err := openCommandStore(ctx, "insights import", fs.Args(), getenv, stderr)
	if err != nil {
		return err
	}
	defer st.Close()
	f, err := os.Open(*history)
	if err != nil {
		return err
	}
	defer f.Close()
	res, err := insights.Import(ctx, f, st.InsightScores())
	if err != nil {
		return i18n.Say("cli.insights.import_failed", "file", *history, "error", err)
	}
	fmt.Fprintln(stdout, pr.T("cli.insights.imported", "records", res.Records, "licenses", res.Licenses, "file", *history,
		"days", res.Days, "refusals", res.Refusals, "outcomes", res.Outcomes))
	return nil
}
