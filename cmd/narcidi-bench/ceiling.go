package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/nzilacode/narcidicontrole/keys"
	verifier "github.com/nzilacode/narcidicontrole/verifier-sdk"
)

// The ceiling: a bare fiber v2 handler that decodes the renewal body and
// signs a lease with the server's signer (keys.Keyring.SignLease, same
// claims and answer),
// without a database. It is what HTTP plus a signature cost on this machine,
// the most a renewal could ever do.

func runCeiling(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("ceiling", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:0", "listen address")
	if err := fs.Parse(args); err != nil {
		return err
	}
	// The server's own signer (keys.Keyring.SignLease), on a throwaway key.
	dir, err := os.MkdirTemp("", "narcidi-ceiling-keys-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	master := make([]byte, keys.MasterKeySize)
	_, _ = rand.Read(master)
	kr, err := keys.Open(dir, master, nil)
	if err != nil {
		return err
	}
	if _, _, err := kr.EnsureActive(); err != nil {
		return err
	}
	const (
		productID  = "00000000-0000-4000-8000-0000000000aa"
		licenseID  = "00000000-0000-4000-8000-0000000000bb"
		policyID   = "00000000-0000-4000-8000-0000000000cc"
		customerID = "00000000-0000-4000-8000-0000000000dd"
		machineID  = "00000000-0000-4000-8000-0000000000ee"
	)
	app := fiber.New(fiber.Config{DisableStartupMessage: true, BodyLimit: 64 << 10,
		ReadTimeout: 15 * time.Second, WriteTimeout: 15 * time.Second, IdleTimeout: 120 * time.Second})
	app.Post("/v1/client/renew", func(c *fiber.Ctx) error {
		var in verifier.MachineRequest
		if err := json.Unmarshal(c.Body(), &in); err != nil || in.LicenseKey == "" || len(in.Fingerprint) < 8 {
			return c.SendStatus(fiber.StatusBadRequest)
		}
		now := time.Now()
		id := make([]byte, 16)
		_, _ = rand.Read(id)
		claims := verifier.LeaseClaims{
			Issuer: "narcidi", Subject: machineID, Audience: productID, ID: hex.EncodeToString(id),
			IssuedAt: now.Unix(), NotBefore: now.Unix(), Expiry: now.Add(time.Hour).Unix(),
			License: licenseID, Policy: policyID, Customer: customerID, Machine: machineID,
			Fingerprint: in.Fingerprint, Entitlements: []string{"export", "sync"}, LicenseExpiry: now.Add(365 * 24 * time.Hour).Unix(),
		}
		tok, err := kr.SignLease(c.UserContext(), claims)
		if err != nil {
			return err
		}
		return c.JSON(verifier.LeaseResponse{Lease: tok, LeaseExpiresAt: time.Unix(claims.Expiry, 0).UTC(),
			MachineID: machineID, LicenseID: licenseID, ProductID: productID})
	})
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	done := make(chan error, 1)
	go func() { done <- app.Listener(ln) }()
	fmt.Printf("narcidi-bench ceiling listening on http://%s\n", ln.Addr())
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return app.ShutdownWithTimeout(5 * time.Second)
	}
}

// ceilingResult is the load run against the ceiling.
type ceilingResult struct {
	load  *loadResult
	cpu   cpuUse
	rssKB int
}

func runCeilingLoad(ctx context.Context, s *Settings) (*ceilingResult, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	p, err := startProc(ctx, self, []string{"ceiling"}, os.Environ(), filepath.Join(s.Tmp, "ceiling.log"))
	if err != nil {
		return nil, err
	}
	defer p.stop()
	var counter atomic.Int64
	spec := renewSpec(p.Addr, s.Clients, s.Warmup, s.Licenses)
	runLoad(ctx, spec, &counter)
	spec.Duration = s.Duration
	before := sampleCPU(p.pid())
	load := runLoad(ctx, spec, &counter)
	after := sampleCPU(p.pid())
	logf("ceiling: %d requests in %s:%s", load.Requests, load.Elapsed.Round(time.Millisecond), load.statusText())
	if load.Statuses[http.StatusOK] == 0 {
		return nil, fmt.Errorf("the ceiling answered no request with 200:%s", load.statusText())
	}
	rss, _ := procStatusKB(p.pid(), "VmHWM")
	return &ceilingResult{load: load, cpu: cpuBetween(before, after), rssKB: rss}, nil
}

func (x *ceilingResult) report(r *Report) {
	l := x.load
	rate := l.rate(http.StatusOK)
	srvUS, _, selfUS := x.cpu.perOp(l.Statuses[http.StatusOK])
	r.add(Row{ID: "ceiling.throughput", Name: "ceiling: bare fiber + lease signature", Value: rate, Unit: "requests/s",
		Display: fmt.Sprintf("%.0f/s", rate),
		Note: fmt.Sprintf("no database; p50 %.2f ms, p99 %.2f ms; CPU per request: handler process %.0f µs, loadgen %.0f µs; peak RSS %.1f MiB; answers:%s",
			ms(l.percentile(50)), ms(l.percentile(99)), srvUS, selfUS, float64(x.rssKB)/1024, l.statusText())})
}
