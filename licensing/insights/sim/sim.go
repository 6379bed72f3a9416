package sim

import (
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"time"

	"github.com/nzilacode/narcidicontrole/licensing"
	"github.com/nzilacode/narcidicontrole/licensing/insights"
)

// The profiles (Label.Profile).
const (
	Steady  = "steady"
	Churner = "churner"
	Grower  = "grower"
	Sharer  = "sharer"
)

// Config describes a simulated installation.
type Config struct {
	Seed     uint64
	Licenses int
	// Days is the length of the history (at least 120). Every license
	// reaches its expiry between day 90 and day Days-1, so each outcome
	// is known and has at least 90 days of use before it.
	Days  int
	Start time.Time // the first day (UTC midnight); zero: 2026-01-01
	// The shares of churners, growers and sharers; the rest are steady.
	// Each is rounded to a whole number of licenses.
	ChurnRate, GrowRate, ShareRate float64
}

// Default is a mid-sized installation's mix.
func Default(seed uint64, licenses int) Config {
	return Config{Seed: seed, Licenses: licenses, Days: 180, ChurnRate: 0.15, GrowRate: 0.1, ShareRate: 0.05}
}

func (c *Config) check() error {
	switch {
	case c.Licenses < 1:
		return fmt.Errorf("sim: at least one license")
	case c.Days < 120:
		return fmt.Errorf("sim: at least 120 days of history")
	case c.ChurnRate < 0 || c.GrowRate < 0 || c.ShareRate < 0 || c.ChurnRate+c.GrowRate+c.ShareRate > 1:
		return fmt.Errorf("sim: the rates must be shares that add up to at most 1")
	}
	if c.Start.IsZero() {
		c.Start = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	}
	return nil
}

// Profiles is the profile of each license, in license order: exactly
// round(rate × Licenses) of each kind, shuffled with the seed.
func (c Config) Profiles() []string {
	n := c.Licenses
	out := make([]string, 0, n)
	for _, p := range []struct {
		name string
		rate float64
	}{{Churner, c.ChurnRate}, {Grower, c.GrowRate}, {Sharer, c.ShareRate}} {
		for range int(math.Round(p.rate * float64(n))) {
			if len(out) < n {
				out = append(out, p.name)
			}
		}
	}
	for len(out) < n {
		out = append(out, Steady)
	}
	r := rand.New(rand.NewPCG(c.Seed, 0x9e3779b97f4a7c15))
	r.Shuffle(n, func(i, j int) { out[i], out[j] = out[j], out[i] })
	return out
}

// Write writes the history of cfg to history and its labels to labels
// (either may be nil).
func Write(cfg Config, history, labels io.Writer) error {
	if err := cfg.check(); err != nil {
		return err
	}
	if history == nil {
		history = io.Discard
	}
	hw := insights.NewHistoryWriter(history)
	profiles := cfg.Profiles()
	out := make([]insights.Label, 0, cfg.Licenses)
	for i, p := range profiles {
		// Each license has its own stream: adding licenses does not change
		// the earlier ones.
		g := &gen{cfg: cfg, r: rand.New(rand.NewPCG(cfg.Seed, uint64(i)+1)), w: hw, profile: p, n: i}
		l, err := g.license()
		if err != nil {
			return err
		}
		out = append(out, l)
	}
	if err := hw.Flush(); err != nil {
		return err
	}
	if labels != nil {
		return insights.WriteLabels(labels, out)
	}
	return nil
}

type machine struct {
	id, fp, platform string
	ips              []string
}

type gen struct {
	cfg     Config
	r       *rand.Rand
	w       *insights.HistoryWriter
	profile string
	n       int
	nextM   int
	err     error
}

func (g *gen) write(r *insights.Record) {
	if g.err == nil {
		g.err = g.w.Write(r)
	}
}

func (g *gen) at(day int) time.Time {
	return g.cfg.Start.AddDate(0, 0, day).Add(time.Duration(g.r.IntN(86400)) * time.Second)
}

var platforms = []string{"windows/amd64", "darwin/arm64", "linux/amd64"}

func (g *gen) newMachine(home string) *machine {
	g.nextM++
	m := &machine{id: fmt.Sprintf("m-%06d-%03d", g.n, g.nextM), fp: fmt.Sprintf("fp-%06d-%03d-%08x", g.n, g.nextM, g.r.Uint32()),
		platform: platforms[g.r.IntN(len(platforms))]}
	// A machine is used from its home network, and sometimes another one.
	m.ips = []string{home}
	if g.r.Float64() < 0.3 {
		m.ips = append(m.ips, g.randomIP())
	}
	return m
}

func (g *gen) randomIP() string {
	return fmt.Sprintf("%d.%d.%d.%d", 11+g.r.IntN(180), g.r.IntN(256), g.r.IntN(256), 1+g.r.IntN(254))
}

func (g *gen) license() (insights.Label, error) {
	cfg, r := g.cfg, g.r
	id := fmt.Sprintf("lic-%06d", g.n)
	seats := []int{1, 2, 3, 5, 10}[r.IntN(5)]
	if g.profile == Sharer && seats > 3 {
		seats = 1 + r.IntN(3)
	}
	expiryDay := 90 + r.IntN(cfg.Days-90)
	expires := cfg.Start.AddDate(0, 0, expiryDay)
	created := expires.AddDate(-1, 0, 0)
	g.write(&insights.Record{Type: insights.RecordLicense, ID: id, CustomerID: fmt.Sprintf("cus-%06d", g.n), Policy: fmt.Sprintf("plan-%d", seats),
		Seats: seats, At: created, ExpiresAt: &expires})

	home := g.randomIP()
	want := max(1, int(math.Ceil(float64(seats)*(0.4+0.5*r.Float64()))))
	if g.profile == Grower {
		want = seats
	}
	activity := 0.6 + 0.35*r.Float64() // chance a machine is used on a day
	perDay := 1 + r.IntN(4)            // renewals of a machine on a day it is used
	quiet, quietFor := -1, 14+r.IntN(8)
	if g.profile == Steady && r.Float64() < 0.1 {
		quiet = r.IntN(cfg.Days - 21)
	}
	fade := expiryDay - 20 - r.IntN(51)
	shareEvery := 2 + r.IntN(4)
	// Most apps renew and never heartbeat (verifier.Manager); a third do
	// both. It also keeps histories small.
	heartbeats := r.Float64() < 0.3

	var machines []*machine
	activate := func(day int) {
		m := g.newMachine(home)
		if g.profile == Sharer {
			m.ips = []string{g.randomIP()}
		}
		machines = append(machines, m)
		g.write(&insights.Record{Type: insights.RecordActivation, LicenseID: id, MachineID: m.id, Fingerprint: m.fp, Platform: m.platform,
			IP: m.ips[0], At: g.at(day)})
	}
	deactivate := func(day, i int) {
		m := machines[i]
		machines = append(machines[:i], machines[i+1:]...)
		g.write(&insights.Record{Type: insights.RecordDeactivation, LicenseID: id, MachineID: m.id, At: g.at(day)})
	}
	for range want {
		activate(0)
	}
	churned := g.profile == Churner
	for day := 0; day < cfg.Days; day++ {
		if day == expiryDay {
			if churned {
				break
			}
			next := expires.AddDate(1, 0, 0)
			g.write(&insights.Record{Type: insights.RecordExtension, LicenseID: id, At: g.at(day), ExpiresAt: &next})
		}
		p := activity
		if quiet >= 0 && day >= quiet && day < quiet+quietFor {
			p *= 0.15
		}
		if churned && day >= fade {
			// Use fades to a tenth over the days left, and machines go.
			left := float64(expiryDay-day) / float64(expiryDay-fade)
			p *= 0.1 + 0.9*left
			if len(machines) > 1 && r.Float64() < 0.04 {
				deactivate(day, r.IntN(len(machines)))
			}
		}
		switch g.profile {
		case Sharer:
			if day > 0 && day%shareEvery == 0 && len(machines) > 0 {
				deactivate(day, r.IntN(len(machines)))
				activate(day)
			}
		case Grower:
			if r.Float64() < 0.35 {
				g.write(&insights.Record{Type: insights.RecordRefusal, LicenseID: id, Kind: string(licensing.UseActivation),
					Code: string(licensing.ESeatLimit), Fingerprint: fmt.Sprintf("fp-%06d-new-%08x", g.n, r.Uint32()), IP: home, At: g.at(day)})
			}
		}
		for _, m := range machines {
			if r.Float64() >= p {
				continue
			}
			ip := m.ips[r.IntN(len(m.ips))]
			g.write(&insights.Record{Type: insights.RecordRenewal, LicenseID: id, MachineID: m.id, IP: ip, At: g.at(day), Count: perDay})
			if heartbeats {
				g.write(&insights.Record{Type: insights.RecordHeartbeat, LicenseID: id, MachineID: m.id, IP: ip, At: g.at(day), Count: 4 * perDay})
			}
		}
		if r.Float64() < 0.2*p {
			g.write(&insights.Record{Type: insights.RecordValidation, LicenseID: id, At: g.at(day), Count: 1 + r.IntN(3)})
		}
	}
	return insights.Label{LicenseID: id, Churned: churned, DecidedAt: expires, Profile: g.profile}, g.err
}
