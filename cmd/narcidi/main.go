package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

const usage = `narcidi — license and release control for NzilaCode software

Usage:
  narcidi serve    [flags]   start the server (the default)
  narcidi migrate  [flags]   apply database migrations and exit
  narcidi worker   [flags]   run background jobs on Redis (NARCIDI_REDIS_URL): alerts, webhooks, scans
  narcidi keys generate      create a new lease signing key (it becomes the active one)
  narcidi keys list          list signing keys
  narcidi keys root generate -out DIR   create the root key that apps pin (offline)
  narcidi keys certify -root F -jwks F  certify a signing key with the root (see "keys certify -h")
  narcidi keys attach CERT ROOTS        attach a signing key's certificate on the server
  narcidi licenses  <verb>   admin: list, get, create, suspend, reinstate, revoke, extend, transfer, change-policy
  narcidi machines  <verb>   admin: list, get, deactivate, block, unblock, reset-heartbeat
  narcidi customers <verb>   admin: list, get, create
  narcidi tokens    <verb>   admin: list, create, revoke
  narcidi release   <verb>   keygen (a release signing key pair), publish (hash, sign, upload, publish)
  narcidi activate-offline REQUEST -out LEASE [-ttl D]   admin: air-gapped activation
  narcidi help               this text; "narcidi serve -h" lists the configuration

Configuration is by NARCIDI_* environment variables (see README.md); each has
a flag of the same name, e.g. NARCIDI_DATA_DIR and -data-dir.
The admin commands call a running server's API: set NARCIDI_URL and
NARCIDI_TOKEN (or -url, -token); -o json prints the API's JSON.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr))
}

// run is main without the process: testable.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	cmd := "serve"
	if len(args) > 0 && args[0] != "" && args[0][0] != '-' {
		cmd, args = args[0], args[1:]
	}
	var err error
	switch cmd {
	case "serve":
		err = serve(ctx, args, getenv, stdout, stderr)
	case "migrate":
		err = migrate(ctx, args, getenv, stdout, stderr)
	case "worker":
		err = worker(ctx, args, getenv, stdout, stderr)
	case "keys":
		err = keysCommand(args, getenv, stdout, stderr)
	case "release":
		err = releaseCommand(ctx, args, getenv, stdout, stderr)
	case "activate-offline":
		err = activateOffline(ctx, args, getenv, stdout, stderr)
	case "licenses", "machines", "customers", "tokens":
		return cli(ctx, cmd, args, getenv, stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "narcidi: unknown command %q\n\n%s", cmd, usage)
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
	fmt.Fprintf(stderr, "narcidi %s: %v\n", cmd, err)
	return 1
}

func serve(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cfg, _, err := parseConfig("serve", args, getenv, stderr)
	if err != nil {
		return err
	}
	log, err := cfg.logger(stderr)
	if err != nil {
		return err
	}
	app := &App{Config: cfg, Out: stdout, Log: log}
	if err := app.Start(ctx); err != nil {
		return err
	}
	return app.Wait(ctx)
}

func migrate(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cfg, _, err := parseConfig("migrate", args, getenv, stderr)
	if err != nil {
		return err
	}
	st, err := openStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer st.Close()
	fmt.Fprintf(stdout, "the %s database is up to date\n", st.Dialect())
	return nil
}

func keysCommand(args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return fmt.Errorf("want a subcommand: generate or list")
	}
	if handled, err := rootKeysCommand(args, getenv, stdout, stderr); handled {
		return err
	}
	sub := args[0]
	if sub != "generate" && sub != "list" {
		return fmt.Errorf("unknown keys subcommand %q: want generate, list, root generate, certify or attach", sub)
	}
	cfg, _, err := parseConfig("keys "+sub, args[1:], getenv, stderr)
	if err != nil {
		return err
	}
	log, err := cfg.logger(stderr)
	if err != nil {
		return err
	}
	kr, _, err := openKeyring(cfg, log)
	if err != nil {
		return err
	}
	switch sub {
	case "generate":
		kid, err := kr.Generate()
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "generated signing key %s (now active; running servers pick it up on restart)\n", kid)
	case "list":
		for _, k := range kr.List() {
			fmt.Fprintf(stdout, "%s\t%s\t%s\n", k.KID, k.Status, k.CreatedAt.Format("2006-01-02T15:04:05Z07:00"))
		}
	default:
		return fmt.Errorf("unknown keys subcommand %q: want generate or list", sub)
	}
	return nil
}
