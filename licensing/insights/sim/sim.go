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
	l := g.draw()
	for day := 0; day < g.cfg.Days; day++ {
		if !l.live(day) {
			break
		}
	}
	return insights.Label{LicenseID: l.id, Churned: l.churned, DecidedAt: l.expires, Profile: g.profile}, g.err
}

// life is one simulated license: what was drawn for it once (its plan,
// expiry, habits and the days of its events) and its state day by day.
type life struct {
	*gen
	id                                     string
	seats, expiryDay                       int
	expires                                time.Time
	home                                   string
	activity                               float64 // chance a machine is used on a day
	perDay                                 int     // renewals of a machine on a day it is used
	quiet, quietFor                        int
	traveller                              bool
	blip, blipPaid, tamper                 int
	fade, shareEvery                       int
	cloned                                 bool
	trouble, suspendDay, paidDay, cardFail int
	period, phase, quietFrom               int
	quietShare                             float64
	weekFactor                             map[int]float64
	heartbeats                             bool
	machines                               []*machine
	image                                  *machine
	nodes, runners                         int
	churned, suspended                     bool
}

// draw writes the license record and makes the license's draws, in the
// order the seed fixes, and activates its first machines.
func (g *gen) draw() *life {
	cfg, r := g.cfg, g.r
	l := &life{gen: g, id: fmt.Sprintf("lic-%06d", g.n)}
	l.seats = []int{1, 2, 3, 5, 10}[r.IntN(5)]
	switch g.profile {
	case Sharer:
		l.seats = min(l.seats, 1+r.IntN(3))
	case Grower:
		// One who outgrows a plan has a larger one to move to.
		l.seats = min(l.seats, []int{1, 2, 3, 5}[r.IntN(4)])
	case LargeSharer:
		l.seats = 25
	case TopGrower:
		l.seats = Plans[len(Plans)-1]
	case VMFarm:
		l.seats = []int{10, 25}[r.IntN(2)]
	case CIFleet:
		l.seats = []int{5, 10}[r.IntN(2)]
	}
	l.expiryDay = 90 + r.IntN(cfg.Days-90)
	l.expires = cfg.Start.AddDate(0, 0, l.expiryDay)
	created := l.expires.AddDate(-1, 0, 0)
	g.write(&insights.Record{Type: insights.RecordLicense, ID: l.id, CustomerID: fmt.Sprintf("cus-%06d", g.n), Policy: fmt.Sprintf("plan-%d", l.seats),
		Product: "app", Seats: l.seats, At: created, ExpiresAt: &l.expires})

	l.home = g.randomIP()
	want := max(1, int(math.Ceil(float64(l.seats)*(0.4+0.5*r.Float64()))))
	switch g.profile {
	case Grower, TopGrower:
		want = l.seats
	case CIFleet:
		want = max(1, l.seats/3) // the fleet's standing machines; runners come and go
	}
	l.activity = 0.6 + 0.35*r.Float64()
	l.perDay = 1 + r.IntN(4)
	l.quiet, l.quietFor = -1, 14+r.IntN(8)
	l.drawNoise()
	l.drawTrouble()
	// Seasonal: slack months (a tenth of the use) in a cycle of 120 to
	// 240 days; erratic: each week's use drawn afresh, a week in eight
	// idle; a quiet non-renewer uses it 35 to 60 % less than its own
	// normal in its last 60 to 100 days, nothing else changes.
	l.period, l.phase = 120+r.IntN(121), r.IntN(240)
	l.quietFrom, l.quietShare = l.expiryDay-60-r.IntN(41), 0.4+0.25*r.Float64()
	l.weekFactor = map[int]float64{}
	// Most apps renew and never heartbeat (verifier.Manager); a third do
	// both. It also keeps histories small.
	l.heartbeats = r.Float64() < 0.3

	for range want {
		l.activate(0)
	}
	// A VM farm's image: one machine id and fingerprint, brought up on
	// managed hosts (farm-<license>-node-NN) of its network now and then.
	if g.profile == VMFarm && len(l.machines) > 0 {
		l.image = l.machines[0]
	}
	l.churned = ChurnedProfiles[g.profile] || l.suspendDay >= 0
	return l
}

// drawNoise draws the noise that must not read as the other profiles: a
// tenth of steady licenses take a holiday, some travel (machines on many
// networks), machines get replaced now and then, a full license is
// sometimes refused a spare machine, a payment is sometimes late for a
// few days; and the churners' fade, the sharers' pace.
func (l *life) drawNoise() {
	cfg, r, g := l.cfg, l.r, l.gen
	l.blip, l.blipPaid, l.tamper = -1, -1, -1
	if g.profile == Steady {
		if r.Float64() < 0.1 {
			l.quiet = r.IntN(cfg.Days - 21)
		}
		l.traveller = r.Float64() < 0.08
		if r.Float64() < 0.03 {
			l.blip = r.IntN(cfg.Days - 10)
			l.blipPaid = l.blip + 2 + r.IntN(5)
		}
		if r.Float64() < 0.005 {
			l.tamper = r.IntN(cfg.Days)
		}
	}
	l.fade = l.expiryDay - 20 - r.IntN(51)
	l.shareEvery = 2 + r.IntN(4)
	l.cloned = g.profile == Sharer && r.Float64() < 0.3
	if g.profile == Sharer && r.Float64() < 0.2 {
		l.tamper = r.IntN(cfg.Days)
	}
}

// drawTrouble draws the payment trouble. A delinquent's payment fails 15
// to 45 days before expiry; three in four are suspended for it 1 to 20
// days before expiry (and never extended), the others pay within 3 to 10
// days. A card that lapses fails 3 to 7 days before expiry, is retried
// every two days over a 7-day dunning window, and the license is not
// extended.
func (l *life) drawTrouble() {
	r := l.r
	l.trouble, l.suspendDay, l.paidDay, l.cardFail = -1, -1, -1, -1
	if l.profile == Delinquent {
		l.trouble = l.expiryDay - 15 - r.IntN(31)
		if r.Float64() < 0.75 {
			l.suspendDay = max(l.trouble+3, l.expiryDay-1-r.IntN(20))
		} else {
			l.paidDay = l.trouble + 3 + r.IntN(8)
		}
	}
	if l.profile == CardLapse {
		l.cardFail = l.expiryDay - 3 - r.IntN(5)
	}
}

func (l *life) activateAs(day int, m *machine, host string) {
	l.write(&insights.Record{Type: insights.RecordActivation, LicenseID: l.id, MachineID: m.id, Fingerprint: m.fp, Platform: m.platform,
		Hostname: host, IP: m.ips[0], At: l.at(day)})
}

func (l *life) activate(day int) *machine {
	r := l.r
	m := l.newMachine(l.home)
	if Sharers[l.profile] {
		m.ips = []string{l.randomIP()}
	}
	if l.traveller {
		for range 3 + r.IntN(5) {
			m.ips = append(m.ips, l.randomIP())
		}
	}
	if l.profile == VMFarm || l.profile == CIFleet {
		m.ips = []string{l.home} // a managed fleet calls from its own network
	}
	l.machines = append(l.machines, m)
	l.activateAs(day, m, m.host)
	return m
}

func (l *life) deactivate(day, i int) {
	m := l.machines[i]
	l.machines = append(l.machines[:i], l.machines[i+1:]...)
	l.write(&insights.Record{Type: insights.RecordDeactivation, LicenseID: l.id, MachineID: m.id, At: l.at(day)})
}

// live simulates one day; false once the license has churned at its
// expiry.
func (l *life) live(day int) bool {
	if day == l.expiryDay-1 && !l.churned {
		// Extended the day before it expires.
		next := l.expires.AddDate(1, 0, 0)
		l.write(&insights.Record{Type: insights.RecordExtension, LicenseID: l.id, At: l.at(day), ExpiresAt: &next})
	}
	if day == l.expiryDay && l.churned {
		return false
	}
	l.accountDay(day)
	p := l.usage(day)
	l.profileDay(day)
	l.use(day, p)
	return true
}

// accountDay writes the day's payments, suspension and clock tampering.
func (l *life) accountDay(day int) {
	cfg, r := l.cfg, l.r
	switch day {
	case l.trouble, l.blip:
		l.write(&insights.Record{Type: insights.RecordPayment, LicenseID: l.id, Status: insights.PaymentPastDue, At: l.at(day), Attempts: 1})
	case l.paidDay, l.blipPaid:
		l.write(&insights.Record{Type: insights.RecordPayment, LicenseID: l.id, Status: insights.PaymentPaid, At: l.at(day)})
	case l.suspendDay:
		l.write(&insights.Record{Type: insights.RecordSuspension, LicenseID: l.id, At: l.at(day)})
		l.suspended = true
	}
	if l.cardFail >= 0 && day >= l.cardFail && (day-l.cardFail)%2 == 0 {
		attempt := 1 + (day-l.cardFail)/2
		ends := cfg.Start.AddDate(0, 0, l.cardFail+7)
		status := insights.PaymentPastDue
		if attempt >= 3 {
			status = insights.PaymentUnpaid // the last retry of the window failed too
		}
		if attempt <= 4 {
			l.write(&insights.Record{Type: insights.RecordPayment, LicenseID: l.id, Status: status, At: l.at(day), Attempts: attempt, DunningEndsAt: &ends})
		}
	}
	if day == l.tamper && len(l.machines) > 0 {
		for range 1 + r.IntN(3) {
			l.write(&insights.Record{Type: insights.RecordClockTampering, LicenseID: l.id, MachineID: l.machines[0].id, At: l.at(day)})
		}
	}
}

// usage is the chance a machine is used on day, by the license's
// profile; a churner's machines go as its use fades.
func (l *life) usage(day int) float64 {
	r := l.r
	p := l.activity
	if l.quiet >= 0 && day >= l.quiet && day < l.quiet+l.quietFor {
		p *= 0.15
	}
	switch l.profile {
	case Seasonal:
		if math.Sin(2*math.Pi*float64(day+l.phase)/float64(l.period)) < -0.2 {
			p *= 0.1
		}
	case Erratic:
		w, ok := l.weekFactor[day/7]
		if !ok {
			w = 0.1 + 0.9*r.Float64()
			if r.IntN(8) == 0 {
				w = 0
			}
			l.weekFactor[day/7] = w
		}
		p *= w
	case QuietChurner:
		if day >= l.quietFrom {
			p *= 1 - l.quietShare
		}
	}
	if l.churned && day >= l.fade && l.profile == Churner {
		// Use fades to a tenth over the days left, and machines go.
		left := float64(l.expiryDay-day) / float64(l.expiryDay-l.fade)
		p *= 0.1 + 0.9*left
		if len(l.machines) > 1 && r.Float64() < 0.04 {
			l.deactivate(day, r.IntN(len(l.machines)))
		}
	}
	return p
}

// profileDay writes what the license's profile does on day beside its
// use: sharing, refusals for the seat limit, farm nodes, CI runners, a
// steady license's replaced machine.
func (l *life) profileDay(day int) {
	r := l.r
	switch l.profile {
	case Sharer, LargeSharer:
		every := l.shareEvery
		if l.profile == LargeSharer {
			every = 1 + r.IntN(3)
		}
		if day > 0 && day%every == 0 && len(l.machines) > 0 {
			if l.cloned {
				// The same machine image, another host and network.
				m := l.machines[r.IntN(len(l.machines))]
				l.write(&insights.Record{Type: insights.RecordActivation, LicenseID: l.id, MachineID: m.id, Fingerprint: m.fp, Platform: m.platform,
					Hostname: fmt.Sprintf("%s-clone-%d", m.host, day), IP: l.randomIP(), At: l.at(day)})
			} else {
				l.deactivate(day, r.IntN(len(l.machines)))
				l.activate(day)
			}
		}
	case Grower, TopGrower:
		if r.Float64() < 0.35 {
			l.refuseSeat(l.id, l.home, day)
		}
	case VMFarm:
		if l.image != nil && r.Float64() < 0.3 {
			l.nodes++
			l.activateAs(day, l.image, fmt.Sprintf("farm-%06d-node-%02d", l.n, 1+l.nodes%40))
		}
	case CIFleet:
		// Runners: a fresh machine per job, gone the same day, never
		// more at once than the seats left.
		for range r.IntN(1 + l.seats - len(l.machines)) {
			l.runners++
			m := &machine{id: fmt.Sprintf("m-%06d-r%05d", l.n, l.runners), fp: fmt.Sprintf("fp-%06d-r%05d-%08x", l.n, l.runners, r.Uint32()),
				platform: "linux/amd64", host: fmt.Sprintf("runner-%06d-%05d", l.n, l.runners), ips: []string{l.home}}
			l.activateAs(day, m, m.host)
			l.write(&insights.Record{Type: insights.RecordRenewal, LicenseID: l.id, MachineID: m.id, IP: l.home, At: l.at(day), Count: 1})
			l.write(&insights.Record{Type: insights.RecordDeactivation, LicenseID: l.id, MachineID: m.id, At: l.at(day)})
		}
	case Steady:
		if len(l.machines) >= l.seats && r.Float64() < 0.01 {
			l.refuseSeat(l.id, l.home, day)
		}
		if day > 0 && r.Float64() < 1.0/150 && len(l.machines) > 0 {
			// A machine replaced.
			l.deactivate(day, r.IntN(len(l.machines)))
			l.activate(day)
		}
	}
}

// use writes the day's renewals (refusals once suspended), heartbeats and
// validations: each machine is used with chance p.
func (l *life) use(day int, p float64) {
	r := l.r
	for _, m := range l.machines {
		if r.Float64() >= p {
			continue
		}
		ip := m.ips[r.IntN(len(m.ips))]
		if l.suspended {
			l.write(&insights.Record{Type: insights.RecordRefusal, LicenseID: l.id, MachineID: m.id, Fingerprint: m.fp, Kind: string(licensing.UseRenewal),
				Code: string(licensing.ELicenseSuspended), IP: ip, At: l.at(day)})
			continue
		}
		l.write(&insights.Record{Type: insights.RecordRenewal, LicenseID: l.id, MachineID: m.id, IP: ip, At: l.at(day), Count: l.perDay})
		if l.heartbeats {
			l.write(&insights.Record{Type: insights.RecordHeartbeat, LicenseID: l.id, MachineID: m.id, IP: ip, At: l.at(day), Count: 4 * l.perDay})
		}
	}
	if !l.suspended && r.Float64() < 0.2*p {
		l.write(&insights.Record{Type: insights.RecordValidation, LicenseID: l.id, At: l.at(day), Count: 1 + r.IntN(3)})
	}
}

func (g *gen) refuseSeat(id, home string, day int) {
	g.write(&insights.Record{Type: insights.RecordRefusal, LicenseID: id, Kind: string(licensing.UseActivation),
		Code: string(licensing.ESeatLimit), Fingerprint: fmt.Sprintf("fp-%06d-new-%08x", g.n, g.r.Uint32()), IP: home, At: g.at(day)})
}
