package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/nzilacode/narcidicontrole/cli"
	"github.com/nzilacode/narcidicontrole/licensing/insights"
)

const insightsImportUsage = `Usage: narcidi insights import -history FILE [configuration flags]

Loads a history (JSON lines, README "Insights") into the installation's
database so the scoring job trains on it:
  - its renewals, heartbeats, validations and activations become daily
    roll-ups (per license and per machine), as the client API's telemetry;
  - its refusals become refusal events;
  - each expiry an extension replaced becomes a past outcome "renewed", a
    last expiry before the history ends one "churned".
The history's licenses need not exist here. Roll-ups are counts: import a
history once (refusals and outcomes are not duplicated by a second run).
Telemetry older than NARCIDI_TELEMETRY_RETENTION is removed by the next
daily clean-up; outcomes are kept.
`

// insightsImport runs `narcidi insights import -history FILE`.
func insightsImport(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("narcidi insights import", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, insightsImportUsage) }
	history := fs.String("history", "", "the history file (JSON lines)")
	if err := fs.Parse(args); err != nil {
		return cli.UsageOr(err)
	}
	if *history == "" {
		fs.Usage()
		return usageError{Err: errors.New("-history is required")}
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
		return fmt.Errorf("%s: %w (what was read before is stored)", *history, err)
	}
	fmt.Fprintf(stdout, "imported %d records of %d licenses from %s: %d roll-up rows, %d refusals, %d past outcomes\n",
		res.Records, res.Licenses, *history, res.Days, res.Refusals, res.Outcomes)
	return nil
}
