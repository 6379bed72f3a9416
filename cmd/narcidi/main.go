package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/nzilacode/narcidicontrole/cli"
	"github.com/nzilacode/narcidicontrole/keys"
	"github.com/nzilacode/narcidicontrole/licensing/i18n"
	"github.com/nzilacode/narcidicontrole/storage"
	"github.com/nzilacode/narcidicontrole/wiring"
)

// usage is the binary's help, catalog key cli.help.narcidi in the reader's
// language (cli.Reader).
func usage(getenv func(string) string) string { return cli.Reader(getenv).T("cli.help.narcidi") }

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := checkEnvironment(os.Environ()); err != nil {
		fmt.Fprintf(os.Stderr, "narcidi: %v\n", err)
		stop()
		os.Exit(2)
	}
	os.Exit(run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr))
}

// run is main without the process: testable.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		// No command: say what there is (flags alone still mean serve).
		fmt.Fprint(stdout, usage(getenv))
		return 0
	}
	cmd := "serve"
	if args[0] == "-h" || args[0] == "--help" || (args[0] != "" && args[0][0] != '-') {
		cmd, args = args[0], args[1:]
	}
	var err error
	// One case per command, alike by shape only: each calls its own.
	switch cmd {
	case "serve":
		err = serve(ctx, args, getenv, stdout, stderr)
	case "migrate":
		err = migrate(ctx, args, getenv, stdout, stderr)
	case "worker":
		err = worker(ctx, args, getenv, stdout, stderr)
	case "keys":
		err = keysCommand(ctx, args, getenv, stdout, stderr)
	case "release":
		err = cli.Release(ctx, args, getenv, stdout, stderr)
	case "seed":
		err = seed(ctx, args, getenv, stdout, stderr)
	case "backup":
		err = backupCommand(ctx, args, getenv, stdout, stderr)
	case "restore":
		err = restoreCommand(ctx, args, getenv, stdout, stderr)
	case "verify-backup":
		err = verifyBackupCommand(ctx, args, getenv, stdout, stderr)
	case "healthcheck":
		err = healthcheck(ctx, args, stdout, stderr)
	case "activate-offline":
		err = cli.ActivateOffline(ctx, args, getenv, stdout, stderr)
	case "users":
		err = usersCommand(ctx, args, getenv, stdout, stderr)
	case "portal-link":
		err = portalLinkCommand(ctx, args, getenv, stdout, stderr)
	case "insights":
		if len(args) > 0 && args[0] == "import" { // the one insights verb on the database (insights_import.go)
			err = insightsImport(ctx, args[1:], getenv, stdout, stderr)
			break
		}
		err = cli.Insights(ctx, args, getenv, stdout, stderr)
	case "licenses", "machines", "customers", "tokens", "subscriptions", "meters", "policies", "entitlements":
		return cli.Run(ctx, cmd, args, getenv, stdout, stderr)
	case "version", "-version", "--version":
		printVersion(stdout)
		return 0
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage(getenv))
		return 0
	default:
		fmt.Fprintf(stderr, "narcidi: %s\n\n%s", cli.Reader(getenv).T("cli.unknown_command", "command", strconv.Quote(cmd)), usage(getenv))
		return 2
	}
	switch {
	case err == nil:
		return 0
	case errHelp(err):
		return 0 // the help is printed
	case errors.As(err, new(usageError)):
		return 2 // the flag package has said why, followed by the help
	}
	fmt.Fprintf(stderr, "narcidi %s: %s\n", cmd, cli.Words(cli.Reader(getenv), err))
	return 1
}

// parseConfig is wiring.ParseConfig with this binary's build (version.go).
func parseConfig(command string, args []string, getenv func(string) string, out io.Writer) (*Config, []string, error) {
	cfg, rest, err := wiring.ParseConfig(command, args, getenv, out)
	if cfg != nil {
		b := currentBuild()
		cfg.Build = wiring.Build{Version: b.Version, Revision: b.Revision, Schema: b.Schema}
	}
	return cfg, rest, err
}

// loadConfig is parseConfig with its help and flag errors on stderr.
func loadConfig(command string, args []string, getenv func(string) string) (*Config, []string, error) {
	return parseConfig(command, args, getenv, os.Stderr)
}

// openCommandStore is the start of the commands that work on the database
// directly (seed, users create): their configuration, logger and store,
// which the caller closes.
func openCommandStore(ctx context.Context, command string, args []string, getenv func(string) string, stderr io.Writer) (*Config, *slog.Logger, *storage.Store, error) {
	cfg, _, err := parseConfig(command, args, getenv, stderr)
	if err != nil {
		return nil, nil, nil, err
	}
	log, err := cfg.Logger(stderr)
	if err != nil {
		return nil, nil, nil, err
	}
	st, err := wiring.OpenStore(ctx, cfg)
	if err != nil {
		return nil, nil, nil, err
	}
	return cfg, log, st, nil
}

func serve(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cfg, _, err := parseConfig("serve", args, getenv, stderr)
	if err != nil {
		return err
	}
	log, err := cfg.Logger(stderr)
	if err != nil {
		return err
	}
	app := &wiring.App{Config: cfg, Out: stdout, Words: cli.Reader(getenv), Log: log}
	b := currentBuild()
	if err := app.Start(ctx); err != nil {
		log.Error("narcidi serve did not start", append(b.logAttrs(), "error", err.Error())...)
		return err
	}
	log.Info("narcidi serve started", append(b.logAttrs(), "url", app.URL())...)
	err = app.Wait(ctx)
	log.Info("narcidi serve stopped", b.logAttrs()...)
	return err
}

// migrate opens the store as backup does (backup.go): alike by shape, the
// three lines of wiring.OpenStore with its error.
func migrate(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cfg, _, err := parseConfig("migrate", args, getenv, stderr)
	if err != nil {
		return err
	}
	st, err := wiring.OpenStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer st.Close()
	fmt.Fprintln(stdout, cli.Reader(getenv).T("cli.migrate.up_to_date", "dialect", st.Dialect()))
	return nil
}

func keysCommand(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	pr := cli.Reader(getenv)
	if len(args) == 0 {
		return i18n.Say("cli.keys.want_subcommand")
	}
	if args[0] == "-h" || args[0] == "-help" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stdout, pr.T("cli.help.keys"))
		return nil
	}
	if handled, err := rootKeysCommand(ctx, args, getenv, stdout, stderr); handled {
		return err
	}
	sub := args[0]
	if sub != "generate" && sub != "list" && sub != "jwks" {
		return i18n.Say("cli.keys.unknown_subcommand", "subcommand", strconv.Quote(sub))
	}
	cfg, _, err := parseConfig("keys "+sub, args[1:], getenv, stderr)
	if err != nil {
		return err
	}
	log, err := cfg.Logger(stderr)
	if err != nil {
		return err
	}
	kr, closeStore, err := openServerKeyring(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer closeStore()
	switch sub {
	case "generate":
		pinned := certifiedKeys(kr) > 0
		kid, err := kr.Generate()
		if err != nil {
			return err
		}
		fmt.Fprintln(stdout, pr.T("cli.keys.generated", "kid", kid))
		if pinned {
			// Apps that pin the root refuse leases of a key without a
			// certificate: restarting now would cut them off.
			fmt.Fprint(stderr, pr.T("cli.keys.uncertified_warning", "kid", kid))
		}
	case "list":
		printKeys(stdout, kr, time.Now())
	case "jwks":
		b, err := kr.JWKS()
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%s\n", b)
	}
	return nil
}

// openServerKeyring opens the server's keyring for a keys command: the
// database too, since the master key is checked against it (wiring.LoadMaster).
func openServerKeyring(ctx context.Context, cfg *Config, log *slog.Logger) (*keys.Keyring, func(), error) {
	st, err := wiring.OpenStore(ctx, cfg)
	if err != nil {
		return nil, nil, err
	}
	kr, _, err := wiring.OpenKeyring(ctx, cfg, st, log)
	if err != nil {
		_ = st.Close()
		return nil, nil, err
	}
	return kr, func() { _ = st.Close() }, nil
}

// certifiedKeys counts the keys with a root certificate attached.
func certifiedKeys(kr *keys.Keyring) int {
	n := 0
	for _, k := range kr.List() {
		if _, ok := kr.Certificate(k.KID); ok {
			n++
		}
	}
	return n
}

// printKeys lists the signing keys with their certificate status, and says
// when the active key lacks a certificate that pinned apps need.
func printKeys(w io.Writer, kr *keys.Keyring, now time.Time) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "KID\tSTATUS\tCREATED\tCERTIFICATE")
	pinned := certifiedKeys(kr) > 0
	for _, k := range kr.List() {
		cert := "none"
		if nbf, exp, ok := kr.CertificateWindow(k.KID); ok {
			switch {
			case now.After(exp):
				cert = "ended " + exp.Format(time.RFC3339)
			case now.Before(nbf):
				cert = "from " + nbf.Format(time.RFC3339) + " until " + exp.Format(time.RFC3339)
			default:
				cert = "valid until " + exp.Format(time.RFC3339)
			}
		} else if pinned && k.Status == keys.StatusActive {
			cert = "none: apps that pin the root refuse its leases (certify and attach it)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", k.KID, k.Status, k.CreatedAt.Format(time.RFC3339), cert)
	}
	_ = tw.Flush()
}
