package main

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/nzilacode/narcidicontrole/keys"
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
	switch args[0] {
	case "root":
		return true, keysRootGenerate(args[1:], stdout)
	case "certify":
		return true, keysCertify(args[1:], stdout)
	case "attach":
		return true, keysAttach(ctx, args[1:], getenv, stdout, stderr)
	}
	return false, nil
}

func keysRootGenerate(args []string, stdout io.Writer) error {
	if len(args) == 0 || args[0] != "generate" {
		return errors.New("want: keys root generate -out DIR")
	}
	fs := flag.NewFlagSet("narcidi keys root generate", flag.ContinueOnError)
	out := fs.String("out", "", "folder for "+keys.RootPrivateFile+" (private, 0600) and "+keys.RootPublicFile+" (public: pin it in apps)")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if *out == "" {
		return errors.New("-out is required")
	}
	kid, err := keys.GenerateRoot(*out)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "generated root key %s in %s: keep %s offline; ship %s in apps (verifier.Config.Roots)\n",
		kid, *out, keys.RootPrivateFile, keys.RootPublicFile)
	return nil
}

func keysCertify(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("narcidi keys certify", flag.ContinueOnError)
	rootPath := fs.String("root", "", "the root private key file ("+keys.RootPrivateFile+")")
	jwksPath := fs.String("jwks", "", "the server's JWKS (GET /.well-known/jwks.json) holding the signing key")
	kid := fs.String("kid", "", "the signing key to certify (default: the JWKS's first key, the active one)")
	notBefore := fs.String("not-before", "", "start of the window, RFC 3339 (default: now)")
	validFor := fs.Duration("valid-for", 90*24*time.Hour, "length of the window: leases signed in it verify until it ends")
	out := fs.String("out", "", "write the certificate here (default: standard output)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *rootPath == "" || *jwksPath == "" {
		return errors.New("-root and -jwks are required")
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
			return fmt.Errorf("-not-before: %w", err)
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
	fmt.Fprintf(stdout, "certified key %s from %s to %s: %s\n", certKid, start.Format(time.RFC3339), start.Add(*validFor).Format(time.RFC3339), *out)
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
			return nil, "", errors.New("the JWKS holds no key")
		}
		kid = doc.Keys[0].Kid
	}
	pub, ok := ks.Lookup(kid)
	if !ok {
		return nil, "", fmt.Errorf("the JWKS holds no Ed25519 key %q", kid)
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
		return errors.New("want: keys attach [flags] CERT-FILE ROOTS-JWKS-FILE")
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
	fmt.Fprintf(stdout, "attached the certificate of key %s (valid %s to %s); running servers pick it up on restart\n",
		c.Subject, time.Unix(c.NotBefore, 0).UTC().Format(time.RFC3339), time.Unix(c.Expiry, 0).UTC().Format(time.RFC3339))
	return nil
}
