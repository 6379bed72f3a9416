package sim_test

import (
	"bytes"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/nzilacode/narcidicontrole/licensing"
	"github.com/nzilacode/narcidicontrole/licensing/insights"
	"github.com/nzilacode/narcidicontrole/licensing/insights/sim"
)

func write(t *testing.T, cfg sim.Config) (history, labels []byte) {
	t.Helper()
	var h, l bytes.Buffer
	if err := sim.Write(cfg, &h, &l); err != nil {
		t.Fatal(err)
	}
	return h.Bytes(), l.Bytes()
}

// TestDeterministicForASeed: the same config writes the same bytes; another
// seed writes others.
func TestDeterministicForASeed(t *testing.T) {
	cfg := sim.Default(7, 200)
	h1, l1 := write(t, cfg)
	h2, l2 := write(t, cfg)
	if !bytes.Equal(h1, h2) || !bytes.Equal(l1, l2) {
		t.Fatal("the same seed wrote two different histories")
	}
	cfg.Seed = 8
	h3, _ := write(t, cfg)
	if bytes.Equal(h1, h3) {
		t.Fatal("two seeds wrote the same history")
	}
}

// licenseStats is what a history says of one license.
type licenseStats struct {
	expires       string
	lastUse       string
	fingerprints  map[string]bool
	networks      map[string]bool
	seatRefusals  int
	extended      bool
	suspended     bool
	troubled      bool
	clones        map[string]map[string]bool // fingerprint → hostnames
	activeDayLast map[string]bool            // days with renewals in the 30 days before expiry
}

// TestGroundTruthAsConfigured: the labels have exactly the configured
// shares of each profile, churned is exactly the churners, and the history
// shows each behaviour: churners stop at expiry and fade before it,
// growers are refused for the seat limit, sharers cycle fingerprints
// through many networks.
func TestGroundTruthAsConfigured(t *testing.T) {
	for _, cfg := range []sim.Config{
		sim.Default(1, 500),
		{Seed: 2, Licenses: 333, Days: 150, ChurnRate: 0.3, GrowRate: 0.2, ShareRate: 0.1},
	} {
		t.Run(fmt.Sprintf("seed %d", cfg.Seed), func(t *testing.T) {
			h, l := write(t, cfg)
			labels, err := insights.ReadLabels(bytes.NewReader(l))
			if err != nil {
				t.Fatal(err)
			}
			count := map[string]int{}
			for _, lb := range labels {
				count[lb.Profile]++
				if lb.Churned && lb.Profile != sim.Churner && lb.Profile != sim.Delinquent || lb.Profile == sim.Churner && !lb.Churned {
					t.Fatalf("label %+v: churned must be the churners and the suspended delinquents", lb)
				}
			}
			n := float64(cfg.Licenses)
			want := map[string]int{sim.Churner: int(math.Round(cfg.ChurnRate * n)), sim.Grower: int(math.Round(cfg.GrowRate * n)),
				sim.Sharer: int(math.Round(cfg.ShareRate * n)), sim.Delinquent: int(math.Round(cfg.BlockRate * n))}
			want[sim.Steady] = cfg.Licenses - want[sim.Churner] - want[sim.Grower] - want[sim.Sharer] - want[sim.Delinquent]
			if want[sim.Delinquent] == 0 {
				delete(want, sim.Delinquent)
			}
			if len(labels) != cfg.Licenses || fmt.Sprint(count) != fmt.Sprint(want) {
				t.Fatalf("%d labels, profiles %v; want %d, %v", len(labels), count, cfg.Licenses, want)
			}

			stats := map[string]*licenseStats{}
			err = insights.ReadHistory(bytes.NewReader(h), func(r *insights.Record) error {
				if r.Type == insights.RecordLicense {
					stats[r.ID] = &licenseStats{expires: r.ExpiresAt.Format(insights.DayLayout), fingerprints: map[string]bool{},
						networks: map[string]bool{}, activeDayLast: map[string]bool{}, clones: map[string]map[string]bool{}}
					return nil
				}
				s := stats[r.LicenseID]
				if s == nil {
					return fmt.Errorf("%s record of %s before its license", r.Type, r.LicenseID)
				}
				day := r.At.Format(insights.DayLayout)
				switch r.Type {
				case insights.RecordActivation:
					s.fingerprints[r.Fingerprint] = true
					if s.clones[r.Fingerprint] == nil {
						s.clones[r.Fingerprint] = map[string]bool{}
					}
					s.clones[r.Fingerprint][r.Hostname] = true
				case insights.RecordSuspension:
					s.suspended = true
				case insights.RecordPayment:
					s.troubled = s.troubled || r.Status == insights.PaymentPastDue
				case insights.RecordRenewal:
					s.networks[insights.Network(r.IP)] = true
					s.lastUse = max(s.lastUse, day)
					if exp, _ := timeOf(s.expires); exp.Sub(r.At).Hours() < 30*24 && day < s.expires {
						s.activeDayLast[day] = true
					}
				case insights.RecordRefusal:
					if r.Code == string(licensing.ESeatLimit) {
						s.seatRefusals++
					}
				case insights.RecordExtension:
					s.extended = true
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			mean := map[string]map[string]float64{}
			for _, lb := range labels {
				s := stats[lb.LicenseID]
				if s.extended == lb.Churned {
					t.Fatalf("%s (%s): extended %v", lb.LicenseID, lb.Profile, s.extended)
				}
				if s.suspended != (lb.Profile == sim.Delinquent && lb.Churned) || lb.Profile == sim.Delinquent && !s.troubled {
					t.Fatalf("%s (%s): suspended %v, payment trouble %v; want the churned delinquents suspended, every delinquent in trouble",
						lb.LicenseID, lb.Profile, s.suspended, s.troubled)
				}
				if lb.Churned && s.lastUse >= s.expires {
					t.Fatalf("churner %s used on %s, after its expiry %s", lb.LicenseID, s.lastUse, s.expires)
				}
				if mean[lb.Profile] == nil {
					mean[lb.Profile] = map[string]float64{}
				}
				m := mean[lb.Profile]
				m["fingerprints"] += float64(len(s.fingerprints)) / float64(count[lb.Profile])
				m["networks"] += float64(len(s.networks)) / float64(count[lb.Profile])
				m["seat refusals"] += float64(s.seatRefusals) / float64(count[lb.Profile])
				m["active days before expiry"] += float64(len(s.activeDayLast)) / float64(count[lb.Profile])
				for _, hosts := range s.clones {
					m["cloned hostnames"] += float64(len(hosts)-1) / float64(count[lb.Profile])
				}
			}
			for _, c := range []struct {
				what, more, less string
				ratio            float64
			}{
				{"fingerprints", sim.Sharer, sim.Steady, 3},
				{"networks", sim.Sharer, sim.Steady, 3},
				{"seat refusals", sim.Grower, sim.Steady, 20}, // steady: a spare machine refused now and then
				{"active days before expiry", sim.Steady, sim.Churner, 1.5},
				{"cloned hostnames", sim.Sharer, sim.Steady, 100},
			} {
				if mean[c.more][c.what] < c.ratio*mean[c.less][c.what] || mean[c.more][c.what] == 0 {
					t.Errorf("%s: %s average %.2f, %s %.2f; want at least %.1f times", c.what, c.more, mean[c.more][c.what], c.less, mean[c.less][c.what], c.ratio)
				}
			}
			t.Logf("averages by profile: %v", mean)
		})
	}
}

func timeOf(day string) (t time.Time, err error) { return time.Parse(insights.DayLayout, day) }

// TestMixesShowTheirBehaviours: every mix deals exactly its shares, and on
// the wide and traps mixes the profiles of issue 26 do what they say:
// churned is the churners, quiet non-renewers, card lapses and suspended
// delinquents; card lapses fail and are retried, and are not extended; large sharers and top growers sit on 25 and 50 seats; VM
// farms clone one machine on managed hosts of one network; CI fleets
// deactivate their runners; quiet non-renewers deactivate nothing.
func TestMixesShowTheirBehaviours(t *testing.T) {
	for _, seed := range []uint64{1, 2} {
		for name, cfg := range sim.Mixes(seed, 150, 120) {
			if name == "classic" {
				continue // TestGroundTruthAsConfigured
			}
			t.Run(fmt.Sprintf("%s seed %d", name, seed), func(t *testing.T) {
				h, l := write(t, cfg)
				labels, err := insights.ReadLabels(bytes.NewReader(l))
				if err != nil {
					t.Fatal(err)
				}
				count := map[string]int{}
				profile := map[string]string{}
				for _, lb := range labels {
					count[lb.Profile]++
					profile[lb.LicenseID] = lb.Profile
					if want := sim.ChurnedProfiles[lb.Profile] || lb.Profile == sim.Delinquent && lb.Churned; lb.Churned != want {
						t.Fatalf("%s (%s): churned %v", lb.LicenseID, lb.Profile, lb.Churned)
					}
				}
				for _, p := range sim.ExtraProfiles {
					if want := int(math.Round(cfg.Mix[p] * 150)); count[p] != want {
						t.Errorf("%s: %d licenses, want %d", p, count[p], want)
					}
				}
				type stats struct {
					seats, deacts, maxAttempts int
					unpaid, extended           bool
					hostsOf                    map[string]map[string]bool
					netsOf                     map[string]map[string]bool
					seatRefusals               int
				}
				st := map[string]*stats{}
				err = insights.ReadHistory(bytes.NewReader(h), func(r *insights.Record) error {
					if r.Type == insights.RecordLicense {
						st[r.ID] = &stats{seats: r.Seats, hostsOf: map[string]map[string]bool{}, netsOf: map[string]map[string]bool{}}
						return nil
					}
					s := st[r.LicenseID]
					switch r.Type {
					case insights.RecordDeactivation:
						s.deacts++
					case insights.RecordPayment:
						s.maxAttempts = max(s.maxAttempts, r.Attempts)
						s.unpaid = s.unpaid || r.Status == insights.PaymentUnpaid
					case insights.RecordExtension:
						s.extended = true
					case insights.RecordRefusal:
						if r.Code == string(licensing.ESeatLimit) {
							s.seatRefusals++
						}
					case insights.RecordActivation:
						if s.hostsOf[r.MachineID] == nil {
							s.hostsOf[r.MachineID], s.netsOf[r.MachineID] = map[string]bool{}, map[string]bool{}
						}
						s.hostsOf[r.MachineID][r.Hostname] = true
						s.netsOf[r.MachineID][insights.Network(r.IP)] = true
					}
					return nil
				})
				if err != nil {
					t.Fatal(err)
				}
				for id, s := range st {
					mostHosts, itsNets := 0, 0
					for m, hosts := range s.hostsOf {
						if len(hosts) > mostHosts {
							mostHosts, itsNets = len(hosts), len(s.netsOf[m])
						}
					}
					var bad string
					switch profile[id] {
					case sim.CardLapse:
						if s.maxAttempts < 2 || s.extended {
							bad = fmt.Sprintf("attempts %d, unpaid %v, extended %v", s.maxAttempts, s.unpaid, s.extended)
						}
					case sim.LargeSharer:
						if s.seats != 25 || s.deacts < 15 {
							bad = fmt.Sprintf("%d seats, %d deactivations", s.seats, s.deacts)
						}
					case sim.TopGrower:
						if s.seats != sim.Plans[len(sim.Plans)-1] || s.seatRefusals < 20 {
							bad = fmt.Sprintf("%d seats, %d seat refusals", s.seats, s.seatRefusals)
						}
					case sim.VMFarm:
						if mostHosts < 5 || itsNets != 1 || !s.extended {
							bad = fmt.Sprintf("one machine on %d hosts from %d networks, extended %v", mostHosts, itsNets, s.extended)
						}
					case sim.CIFleet:
						if s.deacts < 30 || !s.extended {
							bad = fmt.Sprintf("%d deactivations, extended %v", s.deacts, s.extended)
						}
					case sim.QuietChurner:
						if s.deacts != 0 || s.extended {
							bad = fmt.Sprintf("%d deactivations, extended %v", s.deacts, s.extended)
						}
					case sim.Seasonal, sim.Erratic:
						if !s.extended {
							bad = "not extended"
						}
					}
					if bad != "" {
						t.Errorf("%s (%s): %s", id, profile[id], bad)
					}
				}
			})
		}
	}
}
