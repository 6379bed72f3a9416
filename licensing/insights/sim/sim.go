package sim

import (
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"slices"
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

	// The profiles of issue 26, the worlds the first five do not cover
	// (Config.Mix). Loyal ones renew; the traps must not raise the score
	// they resemble.
	QuietChurner = "quiet_churner" // no fade, no machine leaving: used a little less than its own normal, then not renewed
	Seasonal     = "seasonal"      // busy months and slack months, renews
	Erratic      = "erratic"       // use swings week by week, gaps of a week or two, renews (a churn trap)
	LargeSharer  = "large_sharer"  // a 25-seat key rotated through outsiders' machines, a few a week
	TopGrower    = "top_grower"    // outgrows the largest plan: refused for the seat limit, nothing larger to buy
	VMFarm       = "vm_farm"       // one machine image cloned on managed hosts of one network, renews (a sharing trap)
	CIFleet      = "ci_fleet"      // ephemeral runners activated and deactivated daily, within the seats (a sharing trap)
	CardLapse    = "card_lapse"    // a steady user whose card fails days before expiry: past due, retried, lapses
)

// ExtraProfiles lists the profiles of Config.Mix, in the order Profiles
// deals them.
var ExtraProfiles = []string{QuietChurner, Seasonal, Erratic, LargeSharer, TopGrower, VMFarm, CIFleet, CardLapse}

// ChurnedProfiles are the profiles whose label says churned (expired
// without extension); the delinquents suspended for payment are too.
var ChurnedProfiles = map[string]bool{Churner: true, QuietChurner: true, CardLapse: true}

// Growers and Sharers are the profiles that are the truth of
// upgrade_suggested and sharing_suspected.
var (
	Growers = map[string]bool{Grower: true, TopGrower: true}
	Sharers = map[string]bool{Sharer: true, LargeSharer: true}
)

// Plans are the seats of the simulated product's policies ("plan-N"); the
// last is the largest plan.
var Plans = []int{1, 2, 3, 5, 10, 25, 50}

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
	// Mix gives the shares of the ExtraProfiles (missing: none). All the
	// shares together add up to at most 1.
	Mix map[string]float64
}

// Mixes are named installations for tests and evaluate: "classic" (the
// first five profiles), "wide" (every profile, a little of each) and
// "traps" (many loyal licenses that look like churners or sharers).
func Mixes(seed uint64, licenses, days int) map[string]Config {
	classic := Default(seed, licenses)
	classic.Days = days
	wide := Config{Seed: seed, Licenses: licenses, Days: days, ChurnRate: 0.08, GrowRate: 0.06, ShareRate: 0.03, BlockRate: 0.03,
		Mix: map[string]float64{QuietChurner: 0.06, Seasonal: 0.08, Erratic: 0.08, LargeSharer: 0.03, TopGrower: 0.03,
			VMFarm: 0.04, CIFleet: 0.04, CardLapse: 0.03}}
	traps := Config{Seed: seed, Licenses: licenses, Days: days, ChurnRate: 0.06, GrowRate: 0.04, ShareRate: 0.02, BlockRate: 0.02,
		Mix: map[string]float64{QuietChurner: 0.08, Seasonal: 0.12, Erratic: 0.15, LargeSharer: 0.03, TopGrower: 0.03,
			VMFarm: 0.08, CIFleet: 0.08, CardLapse: 0.04}}
	return map[string]Config{"classic": classic, "wide": wide, "traps": traps}
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
	case c.ChurnRate < 0 || c.GrowRate < 0 || c.ShareRate < 0 || c.BlockRate < 0 || c.ChurnRate+c.GrowRate+c.ShareRate+c.BlockRate+c.mixTotal() > 1:
		return fmt.Errorf("sim: the rates must be shares that add up to at most 1")
	}
	for p, r := range c.Mix {
		if r < 0 || !slices.Contains(ExtraProfiles, p) {
			return fmt.Errorf("sim: mix: %q is not a profile with a share", p)
		}
	}
	if c.Start.IsZero() {
		c.Start = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	}
	return nil
}

func (c *Config) mixTotal() float64 {
	t := 0.0
	for _, r := range c.Mix {
		t += r
	}
	return t
}

// Profiles is the profile of each license, in license order: exactly
// round(rate × Licenses) of each kind, shuffled with the seed.
func (c Config) Profiles() []string {
	n := c.Licenses
	out := make([]string, 0, n)
	rates := []struct {
		name string
		rate float64
	}{{Churner, c.ChurnRate}, {Grower, c.GrowRate}, {Sharer, c.ShareRate}, {Delinquent, c.BlockRate}}
	for _, p := range ExtraProfiles {
		rates = append(rates, struct {
			name string
			rate float64
		}{p, c.Mix[p]})
	}
	for _, p := range rates {
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
	case LargeSharer:
		seats = 25
	case TopGrower:
		seats = Plans[len(Plans)-1]
	case VMFarm:
		seats = []int{10, 25}[r.IntN(2)]
	case CIFleet:
		seats = []int{5, 10}[r.IntN(2)]
	}
	expiryDay := 90 + r.IntN(cfg.Days-90)
	expires := cfg.Start.AddDate(0, 0, expiryDay)
	created := expires.AddDate(-1, 0, 0)
	g.write(&insights.Record{Type: insights.RecordLicense, ID: id, CustomerID: fmt.Sprintf("cus-%06d", g.n), Policy: fmt.Sprintf("plan-%d", seats),
		Product: "app", Seats: seats, At: created, ExpiresAt: &expires})

	home := g.randomIP()
	want := max(1, int(math.Ceil(float64(seats)*(0.4+0.5*r.Float64()))))
	switch g.profile {
	case Grower, TopGrower:
		want = seats
	case CIFleet:
		want = max(1, seats/3) // the fleet's standing machines; runners come and go
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
	// A card that lapses fails 3 to 7 days before expiry, is retried every
	// two days over a 7-day dunning window, and the license is not
	// extended.
	cardFail := -1
	if g.profile == CardLapse {
		cardFail = expiryDay - 3 - r.IntN(5)
	}
	// Seasonal: slack months (a tenth of the use) in a cycle of 120 to
	// 240 days; erratic: each week's use drawn afresh, a week in eight
	// idle; a quiet non-renewer uses it 35 to 60 % less than its own
	// normal in its last 60 to 100 days, nothing else changes.
	period, phase := 120+r.IntN(121), r.IntN(240)
	quietFrom, quietShare := expiryDay-60-r.IntN(41), 0.4+0.25*r.Float64()
	weekFactor := map[int]float64{}
	// Most apps renew and never heartbeat (verifier.Manager); a third do
	// both. It also keeps histories small.
	heartbeats := r.Float64() < 0.3

	var machines []*machine
	activateAs := func(day int, m *machine, host string) {
		g.write(&insights.Record{Type: insights.RecordActivation, LicenseID: id, MachineID: m.id, Fingerprint: m.fp, Platform: m.platform,
			Hostname: host, IP: m.ips[0], At: g.at(day)})
	}
	activate := func(day int) *machine {
		m := g.newMachine(home)
		if Sharers[g.profile] {
			m.ips = []string{g.randomIP()}
		}
		if traveller {
			for range 3 + r.IntN(5) {
				m.ips = append(m.ips, g.randomIP())
			}
		}
		if g.profile == VMFarm || g.profile == CIFleet {
			m.ips = []string{home} // a managed fleet calls from its own network
		}
		machines = append(machines, m)
		activateAs(day, m, m.host)
		return m
	}
	deactivate := func(day, i int) {
		m := machines[i]
		machines = append(machines[:i], machines[i+1:]...)
		g.write(&insights.Record{Type: insights.RecordDeactivation, LicenseID: id, MachineID: m.id, At: g.at(day)})
	}
	for range want {
		activate(0)
	}
	// A VM farm's image: one machine id and fingerprint, brought up on
	// managed hosts (farm-<license>-node-NN) of its network now and then.
	var image *machine
	if g.profile == VMFarm && len(machines) > 0 {
		image = machines[0]
	}
	nodes, runners := 0, 0
	churned := ChurnedProfiles[g.profile] || suspendDay >= 0
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
			g.write(&insights.Record{Type: insights.RecordPayment, LicenseID: id, Status: insights.PaymentPastDue, At: g.at(day), Attempts: 1})
		case paidDay, blipPaid:
			g.write(&insights.Record{Type: insights.RecordPayment, LicenseID: id, Status: insights.PaymentPaid, At: g.at(day)})
		case suspendDay:
			g.write(&insights.Record{Type: insights.RecordSuspension, LicenseID: id, At: g.at(day)})
			suspended = true
		}
		if cardFail >= 0 && day >= cardFail && (day-cardFail)%2 == 0 {
			attempt := 1 + (day-cardFail)/2
			ends := cfg.Start.AddDate(0, 0, cardFail+7)
			status := insights.PaymentPastDue
			if attempt >= 3 {
				status = insights.PaymentUnpaid // the last retry of the window failed too
			}
			if attempt <= 4 {
				g.write(&insights.Record{Type: insights.RecordPayment, LicenseID: id, Status: status, At: g.at(day), Attempts: attempt, DunningEndsAt: &ends})
			}
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
		switch g.profile {
		case Seasonal:
			if math.Sin(2*math.Pi*float64(day+phase)/float64(period)) < -0.2 {
				p *= 0.1
			}
		case Erratic:
			w, ok := weekFactor[day/7]
			if !ok {
				w = 0.1 + 0.9*r.Float64()
				if r.IntN(8) == 0 {
					w = 0
				}
				weekFactor[day/7] = w
			}
			p *= w
		case QuietChurner:
			if day >= quietFrom {
				p *= 1 - quietShare
			}
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
		case Sharer, LargeSharer:
			every := shareEvery
			if g.profile == LargeSharer {
				every = 1 + r.IntN(3)
			}
			if day > 0 && day%every == 0 && len(machines) > 0 {
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
		case Grower, TopGrower:
			if r.Float64() < 0.35 {
				g.refuseSeat(id, home, day)
			}
		case VMFarm:
			if image != nil && r.Float64() < 0.3 {
				nodes++
				activateAs(day, image, fmt.Sprintf("farm-%06d-node-%02d", g.n, 1+nodes%40))
			}
		case CIFleet:
			// Runners: a fresh machine per job, gone the same day, never
			// more at once than the seats left.
			for range r.IntN(1 + seats - len(machines)) {
				runners++
				m := &machine{id: fmt.Sprintf("m-%06d-r%05d", g.n, runners), fp: fmt.Sprintf("fp-%06d-r%05d-%08x", g.n, runners, r.Uint32()),
					platform: "linux/amd64", host: fmt.Sprintf("runner-%06d-%05d", g.n, runners), ips: []string{home}}
				activateAs(day, m, m.host)
				g.write(&insights.Record{Type: insights.RecordRenewal, LicenseID: id, MachineID: m.id, IP: home, At: g.at(day), Count: 1})
				g.write(&insights.Record{Type: insights.RecordDeactivation, LicenseID: id, MachineID: m.id, At: g.at(day)})
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
