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
	// Delinquent: payment trouble; most are suspended for it before their
	// expiry (block-risk ground truth), the others pay and stay.
	Delinquent = "delinquent"
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
	// The shares of churners, growers, sharers and delinquents; the rest
	// are steady. Each is rounded to a whole number of licenses.
	ChurnRate, GrowRate, ShareRate, BlockRate float64
}

// Default is a mid-sized installation's mix.
func Default(seed uint64, licenses int) Config {
	return Config{Seed: seed, Licenses: licenses, Days: 180, ChurnRate: 0.15, GrowRate: 0.1, ShareRate: 0.05, BlockRate: 0.05}
}

func (c *Config) check() error {
	switch {
	case c.Licenses < 1:
		return fmt.Errorf("sim: at least one license")
	case c.Days < 120:
		return fmt.Errorf("sim: at least 120 days of history")
	case c.ChurnRate < 0 || c.GrowRate < 0 || c.ShareRate < 0 || c.BlockRate < 0 || c.ChurnRate+c.GrowRate+c.ShareRate+c.BlockRate > 1:
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
	}{{Churner, c.ChurnRate}, {Grower, c.GrowRate}, {Sharer, c.ShareRate}, {Delinquent, c.BlockRate}} {
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
	if history == nil {
		history = io.Discard
	}
	hw := insights.NewHistoryWriter(history)
	out, err := Generate(cfg, hw.Write)
	if err != nil {
		return err
	}
	if err := hw.Flush(); err != nil {
		return err
	}
	if labels != nil {
		return insights.WriteLabels(labels, out)
	}
	return nil
}

// Generate hands every record of the history of cfg to fn, in the order
// Write writes them, and answers the labels: tests feed a
// HistoryBuilder without the cost of JSON. fn must not keep the record.
func Generate(cfg Config, fn func(*insights.Record) error) ([]insights.Label, error) {
	if err := cfg.check(); err != nil {
		return nil, err
	}
	profiles := cfg.Profiles()
	out := make([]insights.Label, 0, cfg.Licenses)
	for i, p := range profiles {
		// Each license has its own stream: adding licenses does not change
		// the earlier ones.
		g := &gen{cfg: cfg, r: rand.New(rand.NewPCG(cfg.Seed, uint64(i)+1)), w: fn, profile: p, n: i}
		l, err := g.license()
		if err != nil {
			return nil, err
		}
		out = append(out, l)
	}
	return out, nil
}

type machine struct {
	id, fp, platform, host string
	ips                    []string
}

type gen struct {
	cfg     Config
	r       *rand.Rand
	w       func(*insights.Record) error
	profile string
	n       int
	nextM   int
	err     error
	buf     insights.Record
}

// write hands a copy of r to the writer: r stays on the stack, and one
// buffer serves every record (Generate's fn must not keep it).
func (g *gen) write(r *insights.Record) {
	if g.err == nil {
		g.buf = *r
		g.err = g.w(&g.buf)
	}
}

func (g *gen) at(day int) time.Time {
	return g.cfg.Start.AddDate(0, 0, day).Add(time.Duration(g.r.IntN(86400)) * time.Second)
}

var platforms = []string{"windows/amd64", "darwin/arm64", "linux/amd64"}

func (g *gen) newMachine(home string) *machine {
	g.nextM++
	m := &machine{id: fmt.Sprintf("m-%06d-%03d", g.n, g.nextM), fp: fmt.Sprintf("fp-%06d-%03d-%08x", g.n, g.nextM, g.r.Uint32()),
		platform: platforms[g.r.IntN(len(platforms))], host: fmt.Sprintf("host-%06d-%03d", g.n, g.nextM)}
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
	switch g.profile {
	case Sharer:
		seats = min(seats, 1+r.IntN(3))
	case Grower:
		// One who outgrows a plan has a larger one to move to.
		seats = min(seats, []int{1, 2, 3, 5}[r.IntN(4)])
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
	// Noise that must not read as the other profiles: a tenth of steady
	// licenses take a holiday, some travel (machines on many networks),
	// machines get replaced now and then, a full license is sometimes
	// refused a spare machine, a payment is sometimes late for a few days.
	traveller, blip, blipPaid, tamper := false, -1, -1, -1
	if g.profile == Steady {
		if r.Float64() < 0.1 {
			quiet = r.IntN(cfg.Days - 21)
		}
		traveller = r.Float64() < 0.08
		if r.Float64() < 0.03 {
			blip = r.IntN(cfg.Days - 10)
			blipPaid = blip + 2 + r.IntN(5)
		}
		if r.Float64() < 0.005 {
			tamper = r.IntN(cfg.Days)
		}
	}
	fade := expiryDay - 20 - r.IntN(51)
	shareEvery := 2 + r.IntN(4)
	cloned := g.profile == Sharer && r.Float64() < 0.3
	if g.profile == Sharer && r.Float64() < 0.2 {
		tamper = r.IntN(cfg.Days)
	}
	// A delinquent's payment fails 15 to 45 days before expiry; three in
	// four are suspended for it 1 to 20 days before expiry (and never
	// extended), the others pay within 3 to 10 days.
	trouble, suspendDay, paidDay := -1, -1, -1
	if g.profile == Delinquent {
		trouble = expiryDay - 15 - r.IntN(31)
		if r.Float64() < 0.75 {
			suspendDay = max(trouble+3, expiryDay-1-r.IntN(20))
		} else {
			paidDay = trouble + 3 + r.IntN(8)
		}
	}
	// Most apps renew and never heartbeat (verifier.Manager); a third do
	// both. It also keeps histories small.
	heartbeats := r.Float64() < 0.3

	var machines []*machine
	activate := func(day int) {
		m := g.newMachine(home)
		if g.profile == Sharer {
			m.ips = []string{g.randomIP()}
		}
		if traveller {
			for range 3 + r.IntN(5) {
				m.ips = append(m.ips, g.randomIP())
			}
		}
		machines = append(machines, m)
		g.write(&insights.Record{Type: insights.RecordActivation, LicenseID: id, MachineID: m.id, Fingerprint: m.fp, Platform: m.platform,
			Hostname: m.host, IP: m.ips[0], At: g.at(day)})
	}
	deactivate := func(day, i int) {
		m := machines[i]
		machines = append(machines[:i], machines[i+1:]...)
		g.write(&insights.Record{Type: insights.RecordDeactivation, LicenseID: id, MachineID: m.id, At: g.at(day)})
	}
	for range want {
		activate(0)
	}
	churned := g.profile == Churner || suspendDay >= 0
	suspended := false
	for day := 0; day < cfg.Days; day++ {
		if day == expiryDay-1 && !churned {
			// Extended the day before it expires.
			next := expires.AddDate(1, 0, 0)
			g.write(&insights.Record{Type: insights.RecordExtension, LicenseID: id, At: g.at(day), ExpiresAt: &next})
		}
		if day == expiryDay && churned {
			break
		}
		switch day {
		case trouble, blip:
			g.write(&insights.Record{Type: insights.RecordPayment, LicenseID: id, Status: insights.PaymentPastDue, At: g.at(day)})
		case paidDay, blipPaid:
			g.write(&insights.Record{Type: insights.RecordPayment, LicenseID: id, Status: insights.PaymentPaid, At: g.at(day)})
		case suspendDay:
			g.write(&insights.Record{Type: insights.RecordSuspension, LicenseID: id, At: g.at(day)})
			suspended = true
		}
		if day == tamper && len(machines) > 0 {
			for range 1 + r.IntN(3) {
				g.write(&insights.Record{Type: insights.RecordClockTampering, LicenseID: id, MachineID: machines[0].id, At: g.at(day)})
			}
		}
		p := activity
		if quiet >= 0 && day >= quiet && day < quiet+quietFor {
			p *= 0.15
		}
		if churned && day >= fade && g.profile == Churner {
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
				if cloned {
					// The same machine image, another host and network.
					m := machines[r.IntN(len(machines))]
					g.write(&insights.Record{Type: insights.RecordActivation, LicenseID: id, MachineID: m.id, Fingerprint: m.fp, Platform: m.platform,
						Hostname: fmt.Sprintf("%s-clone-%d", m.host, day), IP: g.randomIP(), At: g.at(day)})
				} else {
					deactivate(day, r.IntN(len(machines)))
					activate(day)
				}
			}
		case Grower:
			if r.Float64() < 0.35 {
				g.refuseSeat(id, home, day)
			}
		case Steady:
			if len(machines) >= seats && r.Float64() < 0.01 {
				g.refuseSeat(id, home, day)
			}
			if day > 0 && r.Float64() < 1.0/150 && len(machines) > 0 {
				// A machine replaced.
				deactivate(day, r.IntN(len(machines)))
				activate(day)
			}
		}
		for _, m := range machines {
			if r.Float64() >= p {
				continue
			}
			ip := m.ips[r.IntN(len(m.ips))]
			if suspended {
				g.write(&insights.Record{Type: insights.RecordRefusal, LicenseID: id, MachineID: m.id, Fingerprint: m.fp, Kind: string(licensing.UseRenewal),
					Code: string(licensing.ELicenseSuspended), IP: ip, At: g.at(day)})
				continue
			}
			g.write(&insights.Record{Type: insights.RecordRenewal, LicenseID: id, MachineID: m.id, IP: ip, At: g.at(day), Count: perDay})
			if heartbeats {
				g.write(&insights.Record{Type: insights.RecordHeartbeat, LicenseID: id, MachineID: m.id, IP: ip, At: g.at(day), Count: 4 * perDay})
			}
		}
		if !suspended && r.Float64() < 0.2*p {
			g.write(&insights.Record{Type: insights.RecordValidation, LicenseID: id, At: g.at(day), Count: 1 + r.IntN(3)})
		}
	}
	return insights.Label{LicenseID: id, Churned: churned, DecidedAt: expires, Profile: g.profile}, g.err
}

func (g *gen) refuseSeat(id, home string, day int) {
	g.write(&insights.Record{Type: insights.RecordRefusal, LicenseID: id, Kind: string(licensing.UseActivation),
		Code: string(licensing.ESeatLimit), Fingerprint: fmt.Sprintf("fp-%06d-new-%08x", g.n, g.r.Uint32()), IP: home, At: g.at(day)})
}
