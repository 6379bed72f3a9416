package main

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/nzilacode/narcidicontrole/cli"
	"github.com/nzilacode/narcidicontrole/keys"
	"github.com/nzilacode/narcidicontrole/licensing/i18n"
	verifier "github.com/nzilacode/narcidicontrole/verifier-sdk"
)

// rootKeysCommand runs the keys verbs of the root key. The first two never
// touch the server's keys nor need its configuration: they run on the
// offline machine that holds the root's private key. handled is false for
// the other keys verbs.
func rootKeysCommand(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) (handled bool, err error) {
	if len(args) == 0 {
		return false, nil
	}
	pr := cli.Reader(getenv)
	switch args[0] {
	case "root":
		return true, keysRootGenerate(pr, args[1:], stdout, stderr)
	case "certify":
		return true, keysCertify(pr, args[1:], stdout, stderr)
	case "attach":
		return true, keysAttach(ctx, args[1:], getenv, stdout, stderr)
	}
	return false, nil
}

func keysRootGenerate(pr *i18n.Printer, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "generate" {
		return i18n.Say("cli.keys.root_want")
	}
	fs := flag.NewFlagSet("narcidi keys root generate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	out := fs.String("out", "", "folder for "+keys.RootPrivateFile+" (private, 0600) and "+keys.RootPublicFile+" (public: pin it in apps)")
	cli.Localize(pr, fs, "narcidi keys root generate -out DIR", "keys", "root", "generate")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if *out == "" {
		return i18n.Say("cli.flag_required", "flag", "out")
	}
	kid, err := keys.GenerateRoot(*out)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, pr.T("cli.keys.root_generated", "kid", kid, "dir", *out, "private", keys.RootPrivateFile, "public", keys.RootPublicFile))
	return nil
}

func keysCertify(pr *i18n.Printer, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("narcidi keys certify", flag.ContinueOnError)
	fs.SetOutput(stderr)
	rootPath := fs.String("root", "", "the root private key file ("+keys.RootPrivateFile+")")
	jwksPath := fs.String("jwks", "", "the server's JWKS (GET /.well-known/jwks.json) holding the signing key")
	kid := fs.String("kid", "", "the signing key to certify (default: the JWKS's first key, the active one)")
	notBefore := fs.String("not-before", "", "start of the window, RFC 3339 (default: now)")
	validFor := fs.Duration("valid-for", 90*24*time.Hour, "length of the window: leases signed in it verify until it ends")
	out := fs.String("out", "", "write the certificate here (default: standard output)")
	cli.Localize(pr, fs, "narcidi keys certify -root "+keys.RootPrivateFile+" -jwks FILE [flags]", "keys", "certify")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *rootPath == "" || *jwksPath == "" {
		return i18n.Say("cli.both_required", "a", "-root", "b", "-jwks")
	}
	root, err := keys.LoadRootKey(*rootPath)
	if err != nil {
		return err
	}
	pub, certKid, err := keyFromJWKS(*jwksPath, *kid)
	if err != nil {
		return err
	}
	now := time.Now().UTC()
	start := now
	if *notBefore != "" {
		if start, err = time.Parse(time.RFC3339, *notBefore); err != nil {
			return i18n.Say("cli.flag_time", "flag", "not-before", "value", strconv.Quote(*notBefore))
		}
	}
	cert, err := root.Certify(pub, start, start.Add(*validFor), now)
	if err != nil {
		return err
	}
	if *out == "" {
		fmt.Fprintln(stdout, cert)
		return nil
	}
	if err := os.WriteFile(*out, []byte(cert+"\n"), 0o644); err != nil {
		return err
	}
	fmt.Fprintln(stdout, pr.T("cli.keys.certified", "kid", certKid, "from", start.Format(time.RFC3339), "until", start.Add(*validFor).Format(time.RFC3339), "file", *out))
	return nil
}

// keyFromJWKS picks a key out of a JWKS file through the SDK's own parser, so
// that the key certified is read exactly as apps read keys.
func keyFromJWKS(path, kid string) (ed25519.PublicKey, string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, "", err
	}
	ks, err := verifier.ParseJWKS(b)
	if err != nil {
		return nil, "", err
	}
	if kid == "" {
		var doc struct {
			Keys []struct {
				Kid string `json:"kid"`
			} `json:"keys"`
		}
		if err := json.Unmarshal(b, &doc); err != nil || len(doc.Keys) == 0 {
			return nil, "", i18n.Say("cli.keys.jwks_empty")
		}
		kid = doc.Keys[0].Kid
	}
	pub, ok := ks.Lookup(kid)
	if !ok {
		return nil, "", i18n.Say("cli.keys.jwks_no_key", "kid", strconv.Quote(kid))
	}
	return pub, kid, nil
}

// keysAttach's opening (config, logger, the server's keyring) is alike
// keysCommand's in main.go: kept apart because each reads its own flags
// first.
func keysAttach(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cfg, rest, err := parseConfig("keys attach", args, getenv, stderr)
	if err != nil {
		return err
	}
	if len(rest) != 2 {
		return i18n.Say("cli.keys.attach_want")
	}
	cert, err := os.ReadFile(rest[0])
	if err != nil {
		return err
	}
	rootsJSON, err := os.ReadFile(rest[1])
	if err != nil {
		return err
	}
	roots, err := verifier.ParseJWKS(rootsJSON)
	if err != nil {
		return fmt.Errorf("roots: %w", err)
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
	c, err := kr.AttachCertificate(strings.TrimSpace(string(cert)), roots)
	if err != nil {
		return err
	}
	if time.Now().After(time.Unix(c.Expiry, 0)) {
		log.Warn("the attached certificate has already ended", slog.String("kid", c.Subject))
	}
	fmt.Fprintln(stdout, cli.Reader(getenv).T("cli.keys.attached", "kid", c.Subject,
		"from", time.Unix(c.NotBefore, 0).UTC().Format(time.RFC3339), "until", time.Unix(c.Expiry, 0).UTC().Format(time.RFC3339)))
	return nil
}
