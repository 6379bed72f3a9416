package cli

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/nzilacode/narcidicontrole/licensing/i18n"
	verifier "github.com/nzilacode/narcidicontrole/verifier-sdk"
)

// ActivateOffline is `narcidi activate-offline REQUEST-FILE -out LEASE-FILE
// [-ttl D]`: the admin's side of an air-gapped activation, over the API
// (POST /v1/offline-activations).
func ActivateOffline(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	pr := Reader(getenv)
	fs := flag.NewFlagSet("narcidi activate-offline", flag.ContinueOnError)
	fs.SetOutput(stderr)
	caller := apiFlags(fs, getenv)
	out := fs.String("out", "", "write the lease file here, for the offline machine (required)")
	ttl := fs.Duration("ttl", 0, "lease TTL (default: the policy's cap for offline leases)")
	Localize(pr, fs, "narcidi activate-offline REQUEST-FILE -out LEASE-FILE [-ttl D]", "activate-offline")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 || *out == "" {
		return i18n.Say("cli.offline.want")
	}
	b, err := os.ReadFile(pos[0])
	if err != nil {
		return err
	}
	req, err := verifier.ParseActivationRequest(b)
	if err != nil {
		return err
	}
	c, err := caller()
	if err != nil {
		return err
	}
	_, answer, err := c.do(ctx, "POST", "/v1/offline-activations", map[string]any{"request": req, "ttl_seconds": int64(*ttl / time.Second)}, nil)
	if err != nil {
		return err
	}
	var res struct {
		LeaseFile      verifier.LeaseFile `json:"lease_file"`
		LeaseExpiresAt time.Time          `json:"lease_expires_at"`
		MachineID      string             `json:"machine_id"`
	}
	if err := json.Unmarshal(answer, &res); err != nil {
		return i18n.Say("cli.offline.not_a_lease", "error", err)
	}
	if err := verifier.WriteLeaseFile(*out, res.LeaseFile.Lease); err != nil {
		return err
	}
	fmt.Fprintln(stdout, pr.T("cli.offline.done", "machine", res.MachineID, "file", *out, "until", res.LeaseExpiresAt.UTC().Format(time.RFC3339)))
	return nil
}
