package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/nzilacode/narcidicontrole/licensing"
	"github.com/nzilacode/narcidicontrole/licensing/insights"
	"github.com/nzilacode/narcidicontrole/wiring"
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
	svc, err := wiring.CommandServices(ctx, cfg, st, log)
	if err != nil {
		return err
	}
	if existing, err := svc.Catalog.Products(ctx, licensing.Page{Limit: 1}); err != nil {
		return err
	} else if len(existing) > 0 {
		return errors.New("the database already has products: narcidi seed only fills a fresh installation")
	}
	sum, err := seedDemo(ctx, svc, st.Insights(), time.Now())
	if err != nil {
		return fmt.Errorf("seed: %w", err)
	}
	fmt.Fprintf(stdout, "demo data: %d products, %d plans, %d customers, %d licenses, %d machines, %d license actions, %d days of usage\n",
		sum.products, sum.plans, sum.customers, sum.licenses, sum.machines, sum.actions, seedHistoryDays)
	fmt.Fprintf(stdout, "try a license key with the SDK or the client API: %s\n", sum.sampleKey)
	return nil
}

// seedHistoryDays is how far back the demo's usage goes: the insights
// read 60 days, so a shorter history reads as "not used" for everyone.
const seedHistoryDays = 60

// seedStopped are the demo licenses (by index) whose customers stopped
// using them weeks ago: their machines are gone and their usage ends, so
// the insights have one clear churn case beside the busy licenses.
var seedStopped = map[int]int{6: 41} // license index: days since last use

// dayAdder writes telemetry roll-ups (storage's Insights).
type dayAdder interface {
	AddDays(ctx context.Context, days []insights.Day) error
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
//
// It then writes a usage history through tel, as the server's telemetry
// roll-ups would have: each machine used most working days of the last 60
// up to today, and the stopped licenses' former machines until weeks ago,
// so the insights agree with the machines' last heartbeats. A nil tel
// writes no history (a schema from before the telemetry tables).
func seedDemo(ctx context.Context, svc *licensing.Services, tel dayAdder, now time.Time) (seedSummary, error) {
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
	var days []insights.Day
	for i, l := range licenses {
		for m := 0; m < min(l.pol.MaxMachines, 1+i%3); m++ {
			platform := platforms[(i+m)%len(platforms)]
			if stopped, ok := seedStopped[i]; ok {
				// A machine since removed: only its past usage remains.
				days = append(days, seedUsage(l.lic.ID, licensing.NewID(), platform, i+m, now, stopped)...)
				continue
			}
			req := licensing.MachineRequest{Key: l.lic.Key, Fingerprint: fmt.Sprintf("demo-%02d-machine-%d", i, m),
				Hostname: fmt.Sprintf("ws-%02d-%d", i, m), Platform: platform, IP: "192.0.2.10"}
			g, err := svc.Leasing.Activate(ctx, req)
			if err != nil {
				return sum, err
			}
			sum.machines++
			days = append(days, seedUsage(l.lic.ID, g.Machine.ID, platform, i+m, now, 0)...)
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
	if tel == nil {
		return sum, nil
	}
	if err := tel.AddDays(ctx, days); err != nil {
		return sum, fmt.Errorf("usage history: %w", err)
	}
	return sum, nil
}

// seedUsage is one machine's daily roll-ups over the demo's history, the
// last one lastUse days before now: used on most working days (which ones
// vary with salt) and always on its last day, with a few heartbeats and
// validations each day it is used.
func seedUsage(licenseID, machineID, platform string, salt int, now time.Time, lastUse int) []insights.Day {
	var out []insights.Day
	for ago := lastUse; ago < seedHistoryDays; ago++ {
		at := now.UTC().AddDate(0, 0, -ago)
		weekend := at.Weekday() == time.Saturday || at.Weekday() == time.Sunday
		if ago != lastUse && (weekend || (ago+salt)%9 == 0) {
			continue
		}
		out = append(out, insights.Day{Day: at.Format(time.DateOnly), LicenseID: licenseID, MachineID: machineID,
			Renewals: 1, Heartbeats: int64(6 + (ago+salt)%10), Validations: int64(2 + (ago*salt)%5),
			Networks: []string{"192.0.2.0/24"}, Platforms: []string{platform}, AppVersions: []string{"2.4.1"}})
	}
	return out
}
