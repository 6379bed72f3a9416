package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/nzilacode/narcidicontrole/licensing"
	"github.com/nzilacode/narcidicontrole/storage"
)

// seed runs `narcidi seed`: it fills a fresh installation with a demo for
// trying the console, through the domain services (so every row is one the
// server itself would write, with its events). It refuses a database that
// already has products: a demo never mixes with real data.
func seed(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cfg, log, st, err := openCommandStore(ctx, "seed", args, getenv, stderr)
	if err != nil {
		return err
	}
	defer st.Close()
	kr, master, err := openKeyring(ctx, cfg, st, log)
	if err != nil {
		return err
	}
	// The keys it prints must open on the server: the same keyed hash.
	hasher, err := secretHasher(master)
	if err != nil {
		return err
	}
	if err := ensureSigningKey(ctx, kr, st, log); err != nil {
		return err
	}
	svc := licensing.NewServices(storage.Stores(st), licensing.Deps{Signer: kr, Clock: time.Now, Issuer: cfg.Issuer, Secrets: hasher})
	if existing, err := svc.Catalog.Products(ctx, licensing.Page{Limit: 1}); err != nil {
		return err
	} else if len(existing) > 0 {
		return errors.New("the database already has products: narcidi seed only fills a fresh installation")
	}
	sum, err := seedDemo(ctx, svc, time.Now())
	if err != nil {
		return fmt.Errorf("seed: %w", err)
	}
	fmt.Fprintf(stdout, "demo data: %d products, %d plans, %d customers, %d licenses, %d machines, %d license actions\n",
		sum.products, sum.plans, sum.customers, sum.licenses, sum.machines, sum.actions)
	fmt.Fprintf(stdout, "try a license key with the SDK or the client API: %s\n", sum.sampleKey)
	return nil
}

type seedSummary struct {
	products, plans, customers, licenses, machines, actions int
	sampleKey                                               string
}

// The demo catalog: what NzilaCode might sell.
var (
	demoEntitlements = []licensing.EntitlementInput{
		{Code: "export-pdf", Name: "PDF export"}, {Code: "cloud-sync", Name: "Cloud sync"},
		{Code: "plugins", Name: "Third-party plugins"}, {Code: "priority-support", Name: "Priority support"},
	}
	demoProducts = []struct {
		code, name string
		plans      []licensing.PolicyInput
	}{
		{"studio", "NzilaCode Studio", []licensing.PolicyInput{
			{Name: "Studio Personal", DurationSeconds: 365 * 86400, MaxMachines: 2, Floating: true, LeaseTTLSeconds: 7 * 86400, HeartbeatWindowSeconds: 86400, GraceSeconds: 3 * 86400, Entitlements: []string{"export-pdf"}},
			{Name: "Studio Team", DurationSeconds: 365 * 86400, MaxMachines: 10, Floating: true, LeaseTTLSeconds: 86400, HeartbeatWindowSeconds: 3600, GraceSeconds: 7 * 86400, Entitlements: []string{"export-pdf", "cloud-sync", "plugins"}},
		}},
		{"ledger", "NzilaCode Ledger", []licensing.PolicyInput{
			{Name: "Ledger Business", DurationSeconds: 365 * 86400, MaxMachines: 5, Floating: true, LeaseTTLSeconds: 3 * 86400, HeartbeatWindowSeconds: 86400, GraceSeconds: 7 * 86400, Entitlements: []string{"cloud-sync", "priority-support"}},
			{Name: "Ledger Trial", DurationSeconds: 30 * 86400, MaxMachines: 1, LeaseTTLSeconds: 86400, HeartbeatWindowSeconds: 86400, Entitlements: []string{"cloud-sync"}},
		}},
	}
	demoCustomers = []licensing.CustomerInput{
		{Name: "Acme Engineering", Email: "it@acme.example", Contacts: []licensing.Contact{{Name: "Ada Mensah", Email: "ada@acme.example", Role: "technical"}}},
		{Name: "Kivu Logistics", Email: "ops@kivu.example", Contacts: []licensing.Contact{{Name: "Jean Mutombo", Email: "billing@kivu.example", Role: "billing"}}},
		{Name: "Lagoon Design Studio", Email: "hello@lagoon.example"},
		{Name: "Baobab Accounting", Email: "admin@baobab.example"},
		{Name: "Sahel Schools Network", Email: "licences@sahel.example"},
	}
)

// seedDemo creates the demo through svc: the catalog, customers, a license
// per customer and plan pair of the plan below, machines activated on them
// (and heartbeats), and a few license actions so the event log and the
// dashboard have something to show.
func seedDemo(ctx context.Context, svc *licensing.Services, now time.Time) (seedSummary, error) {
	var sum seedSummary
	for _, e := range demoEntitlements {
		if _, err := svc.Catalog.CreateEntitlement(ctx, e); err != nil {
			return sum, err
		}
	}
	var plans []*licensing.Policy
	for _, p := range demoProducts {
		prod, err := svc.Catalog.CreateProduct(ctx, licensing.ProductInput{Code: p.code, Name: p.name})
		if err != nil {
			return sum, err
		}
		sum.products++
		for _, in := range p.plans {
			in.ProductID = prod.ID
			pol, err := svc.Catalog.CreatePolicy(ctx, in)
			if err != nil {
				return sum, err
			}
			plans = append(plans, pol)
			sum.plans++
		}
	}
	var customers []*licensing.Customer
	for _, in := range demoCustomers {
		c, err := svc.Customers.CreateCustomer(ctx, in)
		if err != nil {
			return sum, err
		}
		customers = append(customers, c)
		sum.customers++
	}
	// Each customer holds one or two licenses; machines fill some seats.
	type held struct {
		lic *licensing.CreatedLicense
		pol *licensing.Policy
	}
	var licenses []held
	for i, c := range customers {
		for j := 0; j <= i%2; j++ {
			pol := plans[(i+j)%len(plans)]
			in := licensing.LicenseInput{PolicyID: pol.ID, CustomerID: c.ID, Name: fmt.Sprintf("%s — %s", c.Name, pol.Name)}
			if i == 3 && j == 0 {
				soon := now.Add(5 * 24 * time.Hour) // one license about to expire
				in.ExpiresAt = &soon
			}
			lic, err := svc.Licenses.CreateLicense(ctx, in)
			if err != nil {
				return sum, err
			}
			licenses = append(licenses, held{lic, pol})
			sum.licenses++
			if sum.sampleKey == "" {
				sum.sampleKey = lic.Key
			}
		}
	}
	platforms := []string{"windows/amd64", "darwin/arm64", "linux/amd64"}
	for i, l := range licenses {
		for m := 0; m < min(l.pol.MaxMachines, 1+i%3); m++ {
			req := licensing.MachineRequest{Key: l.lic.Key, Fingerprint: fmt.Sprintf("demo-%02d-machine-%d", i, m),
				Hostname: fmt.Sprintf("ws-%02d-%d", i, m), Platform: platforms[(i+m)%len(platforms)], IP: "192.0.2.10"}
			if _, err := svc.Leasing.Activate(ctx, req); err != nil {
				return sum, err
			}
			sum.machines++
			if m == 0 {
				if _, _, err := svc.Leasing.Heartbeat(ctx, req); err != nil {
					return sum, err
				}
			}
		}
	}
	// A suspended and a revoked license, for the event log.
	if len(licenses) > 2 {
		if _, err := svc.Licenses.SuspendLicense(ctx, licenses[1].lic.ID, "invoice 2026-114 unpaid"); err != nil {
			return sum, err
		}
		if _, err := svc.Licenses.RevokeLicense(ctx, licenses[2].lic.ID, "refunded"); err != nil {
			return sum, err
		}
		sum.actions += 2
	}
	return sum, nil
}
