package insights_test

import (
	"context"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/nzilacode/narcidicontrole/keys/keystest"
	"github.com/nzilacode/narcidicontrole/licensing"
	"github.com/nzilacode/narcidicontrole/licensing/insights"
	"github.com/nzilacode/narcidicontrole/licensing/licensingtest"
	"github.com/nzilacode/narcidicontrole/storage"
	"github.com/nzilacode/narcidicontrole/storage/storagetest"
)

var start = time.Date(2026, 11, 28, 9, 0, 0, 0, time.UTC)

type fixture struct {
	svc   *licensing.Services
	st    *storage.Store
	rec   *insights.Recorder
	clock *licensingtest.Clock
	key   string
	lic   string
}

// newFixture is a server's wiring: services over a real database with a
// Recorder as their telemetry, and one license of two seats.
func newFixture(t *testing.T, dialect string, cfg insights.RecorderConfig, rules ...licensing.PolicyRules) *fixture {
	t.Helper()
	ctx := context.Background()
	st := storagetest.Open(t, dialect)
	clk := licensingtest.NewClock(start)
	kr, _ := keystest.Keyring(t, clk.Now)
	rec := insights.NewRecorder(st.Insights(), cfg)
	t.Cleanup(func() { _ = rec.Close(context.Background()) })
	svc := licensing.NewServices(storage.Stores(st), licensing.Deps{Signer: kr, Clock: clk.Now, Issuer: "t", Telemetry: rec})
	prod, err := svc.Catalog.CreateProduct(ctx, licensing.ProductInput{Code: "studio", Name: "Studio"})
	if err != nil {
		t.Fatal(err)
	}
	in := licensing.PolicyInput{ProductID: prod.ID, Name: "Team", MaxMachines: 2, Floating: true,
		LeaseTTLSeconds: 3600, HeartbeatWindowSeconds: 600}
	if len(rules) > 0 {
		in.Rules = &rules[0]
	}
	pol, err := svc.Catalog.CreatePolicy(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	cus, err := svc.Customers.CreateCustomer(ctx, licensing.CustomerInput{Name: "Acme", Email: "ops@acme.test"})
	if err != nil {
		t.Fatal(err)
	}
	l, err := svc.Licenses.CreateLicense(ctx, licensing.LicenseInput{PolicyID: pol.ID, CustomerID: cus.ID})
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{svc: svc, st: st, rec: rec, clock: clk, key: l.Key, lic: l.ID}
}

func (f *fixture) req(fp, ip, platform string) licensing.MachineRequest {
	return licensing.MachineRequest{Key: f.key, Fingerprint: fp, Hostname: "h", Platform: platform, IP: ip}
}

func must[T any](t *testing.T) func(T, error) T {
	return func(v T, err error) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

func wantCode(t *testing.T, err error, code licensing.Code) {
	t.Helper()
	if got := licensing.ErrorCode(err); got != code {
		t.Fatalf("error code = %q (%v), want %q", got, err, code)
	}
}

// TestTelemetryCountsWhatTheClientAPIAnswered scripts renewals,
// heartbeats, validations and refusals through the services and reads the
// roll-ups and refusal events back: nothing is written before Close (the
// batch waits), everything is after it.
func TestTelemetryCountsWhatTheClientAPIAnswered(t *testing.T) {
	t.Parallel()
	for _, d := range storagetest.Dialects {
		t.Run(d, func(t *testing.T) {
			ctx := context.Background()
			f := newFixture(t, d, insights.RecorderConfig{MaxDelay: time.Hour})
			grant := must[*licensing.Grant](t)
			a := grant(f.svc.Leasing.Activate(ctx, f.req("fp-aaaaaaaa", "192.0.2.1", "linux/amd64")))
			b := grant(f.svc.Leasing.Activate(ctx, f.req("fp-bbbbbbbb", "198.51.100.7", "windows/amd64")))
			_, err := f.svc.Leasing.Activate(ctx, f.req("fp-cccccccc", "192.0.2.3", "linux/amd64"))
			wantCode(t, err, licensing.ESeatLimit)
			for _, ip := range []string{"192.0.2.1", "192.0.2.99", "203.0.113.5"} {
				f.clock.Add(time.Minute)
				grant(f.svc.Leasing.Renew(ctx, f.req("fp-aaaaaaaa", ip, "linux/amd64")))
			}
			for range 2 {
				if _, _, err := f.svc.Leasing.Heartbeat(ctx, f.req("fp-bbbbbbbb", "198.51.100.7", "windows/amd64")); err != nil {
					t.Fatal(err)
				}
			}
			if v := must[*licensing.Validation](t)(f.svc.Leasing.Validate(ctx, f.key, "")); !v.Valid {
				t.Fatalf("validation: %+v", v)
			}
			_, err = f.svc.Leasing.Renew(ctx, f.req("fp-zzzzzzzz", "2001:db8:1:2::5", "linux/amd64"))
			wantCode(t, err, licensing.ENotActivated)
			must[*licensing.Machine](t)(f.svc.Licenses.BlockMachine(ctx, b.Machine.ID, "shared"))
			_, err = f.svc.Leasing.Activate(ctx, f.req("fp-bbbbbbbb", "198.51.100.7", "windows/amd64"))
			wantCode(t, err, licensing.EMachineBlocked)
			_, err = f.svc.Leasing.Renew(ctx, f.req("fp-bbbbbbbb", "198.51.100.7", "windows/amd64"))
			wantCode(t, err, licensing.EMachineBlocked)
			// Unknown keys are not telemetry of any license.
			_, err = f.svc.Leasing.Renew(ctx, licensing.MachineRequest{Key: "NOPE-NOPE", Fingerprint: "fp-aaaaaaaa"})
			wantCode(t, err, licensing.ENotFound)
			day1 := f.clock.Now().Format(insights.DayLayout)
			f.clock.Add(24 * time.Hour)
			grant(f.svc.Leasing.Renew(ctx, f.req("fp-aaaaaaaa", "192.0.2.1", "linux/amd64")))
			day2 := f.clock.Now().Format(insights.DayLayout)

			is := insights.NewService(f.st.Insights(), f.clock.Now, 0)
			if got := must[[]insights.Day](t)(is.Usage(ctx, f.lic, 7)); len(got) != 0 {
				t.Fatalf("before the batch is due, %d roll-ups are written: telemetry is on the request path", len(got))
			}
			if f.rec.Pending() == 0 {
				t.Fatal("the recorder holds nothing")
			}
			if err := f.rec.Close(ctx); err != nil {
				t.Fatal(err)
			}
			got := must[[]insights.Day](t)(is.Usage(ctx, f.lic, 7))
			want := []insights.Day{
				{Day: day1, LicenseID: f.lic, Activations: 2, Renewals: 3, Heartbeats: 2, Validations: 1,
					Networks: []string{"192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24"}, Platforms: []string{"linux/amd64", "windows/amd64"}},
				{Day: day1, LicenseID: f.lic, MachineID: a.Machine.ID, Activations: 1, Renewals: 3,
					Networks: []string{"192.0.2.0/24", "203.0.113.0/24"}, Platforms: []string{"linux/amd64"}},
				{Day: day1, LicenseID: f.lic, MachineID: b.Machine.ID, Activations: 1, Heartbeats: 2,
					Networks: []string{"198.51.100.0/24"}, Platforms: []string{"windows/amd64"}},
				{Day: day2, LicenseID: f.lic, Renewals: 1, Networks: []string{"192.0.2.0/24"}, Platforms: []string{"linux/amd64"}},
				{Day: day2, LicenseID: f.lic, MachineID: a.Machine.ID, Renewals: 1, Networks: []string{"192.0.2.0/24"}, Platforms: []string{"linux/amd64"}},
			}
			sortDays(want)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("roll-ups:\n%+v\nwant\n%+v", got, want)
			}
			refs := must[[]insights.RefusalEvent](t)(is.Refusals(ctx, f.lic, 7))
			type ref struct {
				kind    licensing.UseKind
				code    licensing.Code
				machine string
				fp      string
				network string
			}
			var gotRefs []ref
			for _, r := range refs {
				if r.ID == "" || r.At.IsZero() || r.LicenseID != f.lic {
					t.Errorf("refusal %+v lacks its id, time or license", r)
				}
				gotRefs = append(gotRefs, ref{r.Kind, r.Code, r.MachineID, r.Fingerprint, r.Network})
			}
			wantRefs := []ref{
				{licensing.UseActivation, licensing.ESeatLimit, "", "fp-cccccccc", "192.0.2.0/24"},
				{licensing.UseRenewal, licensing.ENotActivated, "", "fp-zzzzzzzz", "2001:db8:1::/48"},
				{licensing.UseActivation, licensing.EMachineBlocked, b.Machine.ID, "fp-bbbbbbbb", "198.51.100.0/24"},
				{licensing.UseRenewal, licensing.EMachineBlocked, b.Machine.ID, "fp-bbbbbbbb", "198.51.100.0/24"},
			}
			if !reflect.DeepEqual(gotRefs, wantRefs) {
				t.Errorf("refusals:\n%+v\nwant\n%+v", gotRefs, wantRefs)
			}
		})
	}
}

// TestActivationCapRefusalsAreKept: an activation refused by the policy's
// activation cap (issue 27) is kept as a refusal with its own code, so
// the sharing score can read it (TestActivationCapRaisesSharing).
func TestActivationCapRefusalsAreKept(t *testing.T) {
	t.Parallel()
	for _, d := range storagetest.Dialects {
		t.Run(d, func(t *testing.T) {
			ctx := context.Background()
			f := newFixture(t, d, insights.RecorderConfig{MaxDelay: time.Hour},
				licensing.PolicyRules{ActivationLimits: licensing.ActivationLimits{MaxActivations: 1, LimitPeriodSeconds: 3600}})
			must[*licensing.Grant](t)(f.svc.Leasing.Activate(ctx, f.req("fp-aaaaaaaa", "192.0.2.1", "linux/amd64")))
			_, err := f.svc.Leasing.Activate(ctx, f.req("fp-bbbbbbbb", "198.51.100.7", "linux/amd64"))
			wantCode(t, err, licensing.EActivationLimited)
			if err := f.rec.Close(ctx); err != nil {
				t.Fatal(err)
			}
			f.clock.Add(time.Minute) // PostgreSQL keeps microseconds: read past the refusal's rounded time
			is := insights.NewService(f.st.Insights(), f.clock.Now, 0)
			refs := must[[]insights.RefusalEvent](t)(is.Refusals(ctx, f.lic, 7))
			if len(refs) != 1 || refs[0].Code != licensing.EActivationLimited || refs[0].Kind != licensing.UseActivation || refs[0].Fingerprint != "fp-bbbbbbbb" {
				t.Fatalf("refusals %+v: want the one activation refused by the cap", refs)
			}
		})
	}
}

// sortDays orders as Store.Days does: by day, then machine.
func sortDays(ds []insights.Day) {
	for i := range ds {
		for j := i + 1; j < len(ds); j++ {
			if ds[j].Day < ds[i].Day || (ds[j].Day == ds[i].Day && ds[j].MachineID < ds[i].MachineID) {
				ds[i], ds[j] = ds[j], ds[i]
			}
		}
	}
}

// TestTelemetryNetworksStayBounded: a license seen from 300 networks in a
// day keeps MaxNetworks of them, whether they arrive in one batch or many
// (the bound holds in the recorder and in the database's merge).
func TestTelemetryNetworksStayBounded(t *testing.T) {
	t.Parallel()
	for _, d := range storagetest.Dialects {
		t.Run(d, func(t *testing.T) {
			ctx := context.Background()
			st := storagetest.Open(t, d)
			// flushEvery 7 writes a batch every 7 uses: the database merges
			// the sets.
			for _, flushEvery := range []int{1000, 7} {
				t.Run(fmt.Sprintf("flush every %d", flushEvery), func(t *testing.T) {
					rec := insights.NewRecorder(st.Insights(), insights.RecorderConfig{MaxDelay: time.Hour})
					lic := fmt.Sprintf("lic-%d", flushEvery)
					for i := range 300 {
						// Backwards, so later batches bring smaller networks.
						n := 299 - i
						rec.RecordUse(licensing.Use{Kind: licensing.UseHeartbeat, LicenseID: lic, At: start,
							IP: fmt.Sprintf("10.%d.%d.9", n/250, n%250), Platform: fmt.Sprintf("os-%02d", n%20)})
						if i%flushEvery == flushEvery-1 {
							if err := rec.Flush(ctx); err != nil {
								t.Fatal(err)
							}
						}
					}
					if err := rec.Close(ctx); err != nil {
						t.Fatal(err)
					}
					days, err := st.Insights().Days(ctx, lic, "2026-01-01", "2027-01-01")
					if err != nil {
						t.Fatal(err)
					}
					if len(days) != 1 || days[0].Heartbeats != 300 || len(days[0].Networks) != insights.MaxNetworks || len(days[0].Platforms) != insights.MaxPlatforms {
						var n, hb, nets, plats int
						if n = len(days); n > 0 {
							hb, nets, plats = int(days[0].Heartbeats), len(days[0].Networks), len(days[0].Platforms)
						}
						t.Fatalf("got %d days, %d heartbeats, %d networks, %d platforms; want 1, 300, %d, %d", n, hb, nets, plats, insights.MaxNetworks, insights.MaxPlatforms)
					}
					if days[0].Networks[0] != "10.0.0.0/24" {
						t.Errorf("the kept networks are not the smallest: %v", days[0].Networks[:3])
					}
				})
			}
		})
	}
}

// TestTelemetryRetention: Cleanup removes what is older than the
// retention and keeps the rest.
func TestTelemetryRetention(t *testing.T) {
	t.Parallel()
	for _, d := range storagetest.Dialects {
		t.Run(d, func(t *testing.T) {
			ctx := context.Background()
			st := storagetest.Open(t, d)
			clk := licensingtest.NewClock(start)
			old, recent := start.AddDate(0, 0, -181), start.AddDate(0, 0, -179)
			for _, at := range []time.Time{old, recent} {
				if err := st.Insights().AddDays(ctx, []insights.Day{{Day: at.Format(insights.DayLayout), LicenseID: "l", Renewals: 1}}); err != nil {
					t.Fatal(err)
				}
				if err := st.Insights().AddRefusals(ctx, []insights.RefusalEvent{{ID: licensing.NewID(), At: at, Kind: licensing.UseRenewal,
					Code: licensing.ELicenseExpired, LicenseID: "l"}}); err != nil {
					t.Fatal(err)
				}
			}
			svc := insights.NewService(st.Insights(), clk.Now, 180*24*time.Hour)
			n, err := svc.Cleanup(ctx)
			if err != nil || n != 2 {
				t.Fatalf("Cleanup = %d, %v; want 2 rows (one roll-up, one refusal)", n, err)
			}
			days := must[[]insights.Day](t)(svc.Usage(ctx, "l", 400))
			refs := must[[]insights.RefusalEvent](t)(svc.Refusals(ctx, "l", 400))
			if len(days) != 1 || days[0].Day != recent.Format(insights.DayLayout) || len(refs) != 1 || !refs[0].At.Equal(recent) {
				t.Fatalf("kept %+v and %+v, want only the recent ones", days, refs)
			}
			if n, _ := svc.Cleanup(ctx); n != 0 {
				t.Errorf("a second clean-up removed %d rows", n)
			}
		})
	}
}

// TestTelemetryConcurrentUse: many goroutines recording while batches are
// written lose no count (run with -race).
func TestTelemetryConcurrentUse(t *testing.T) {
	t.Parallel()
	for _, d := range storagetest.Dialects {
		t.Run(d, func(t *testing.T) {
			ctx := context.Background()
			st := storagetest.Open(t, d)
			rec := insights.NewRecorder(st.Insights(), insights.RecorderConfig{MaxDelay: 2 * time.Millisecond, MaxBatch: 5})
			const workers, each = 8, 150
			var wg sync.WaitGroup
			for w := range workers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := range each {
						rec.RecordUse(licensing.Use{Kind: licensing.UseRenewal, LicenseID: "l", MachineID: fmt.Sprintf("m%d", (w+i)%5),
							At: start, IP: "192.0.2.1"})
						if i%50 == 0 {
							rec.RecordRefusal(licensing.Refusal{Kind: licensing.UseActivation, Code: licensing.ESeatLimit, LicenseID: "l", At: start})
						}
					}
				}()
			}
			wg.Wait()
			if err := rec.Close(ctx); err != nil {
				t.Fatal(err)
			}
			days, err := st.Insights().Days(ctx, "l", "2026-01-01", "2027-01-01")
			if err != nil {
				t.Fatal(err)
			}
			var license, machines int64
			for _, d := range days {
				if d.MachineID == "" {
					license += d.Renewals
				} else {
					machines += d.Renewals
				}
			}
			refs, err := st.Insights().Refusals(ctx, "l", start.Add(-time.Hour), start.Add(time.Hour))
			if err != nil {
				t.Fatal(err)
			}
			if license != workers*each || machines != workers*each || len(refs) != workers*3 || rec.Dropped() != 0 {
				t.Fatalf("license %d, machines %d renewals, %d refusals, %d dropped; want %d, %d, %d, 0",
					license, machines, len(refs), rec.Dropped(), workers*each, workers*each, workers*3)
			}
		})
	}
}

// TestTelemetryKeptWhileTheDatabaseIsAway: a batch that cannot be written
// is kept and merged with what comes next; once the database is back,
// every count and refusal is written once.
func TestTelemetryKeptWhileTheDatabaseIsAway(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url := storagetest.MigratedPostgresURL(t)
	proxy := storagetest.NewProxy(t, "127.0.0.1:5432")
	st, err := storage.Open(ctx, storage.Config{DatabaseURL: proxy.URL(url)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	if err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	rec := insights.NewRecorder(st.Insights(), insights.RecorderConfig{MaxDelay: time.Hour})
	use := licensing.Use{Kind: licensing.UseRenewal, LicenseID: "l", MachineID: "m", At: start, IP: "192.0.2.1"}
	refusal := licensing.Refusal{Kind: licensing.UseActivation, Code: licensing.ESeatLimit, LicenseID: "l", At: start}
	rec.RecordUse(use)
	rec.RecordRefusal(refusal)
	proxy.Cut()
	flushCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
	err = rec.Flush(flushCtx)
	cancel()
	if err == nil {
		t.Fatal("a flush with the database away succeeded")
	}
	if rec.Pending() != 2 {
		t.Fatalf("%d pending after a failed flush, want 2 (the machine's roll-up, one refusal)", rec.Pending())
	}
	use.IP = "198.51.100.1"
	rec.RecordUse(use)
	rec.RecordRefusal(refusal)
	proxy.Restore()
	// Pooled connections cut with the proxy fail once.
	for try := 0; ; try++ {
		if err = rec.Flush(ctx); err == nil || try == 3 {
			break
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	if err := rec.Close(ctx); err != nil {
		t.Fatal(err)
	}
	days, err := st.Insights().Days(ctx, "l", "2026-01-01", "2027-01-01")
	if err != nil {
		t.Fatal(err)
	}
	refs, err := st.Insights().Refusals(ctx, "l", start.Add(-time.Hour), start.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if len(days) != 2 || days[0].Renewals != 2 || days[1].Renewals != 2 || len(days[0].Networks) != 2 || len(refs) != 2 {
		t.Fatalf("days %+v, %d refusals; want two roll-ups of 2 renewals from 2 networks, 2 refusals", days, len(refs))
	}
}

// BenchmarkRecordUse is the cost a renewal pays for telemetry: a lock and
// a map update (the write is behind).
func BenchmarkRecordUse(b *testing.B) {
	st := storagetest.Open(b, "sqlite")
	rec := insights.NewRecorder(st.Insights(), insights.RecorderConfig{MaxDelay: 50 * time.Millisecond})
	defer rec.Close(context.Background())
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			i++
			rec.RecordUse(licensing.Use{Kind: licensing.UseRenewal, LicenseID: "l", MachineID: fmt.Sprintf("m%d", i%500), At: start, IP: "192.0.2.1", Platform: "linux/amd64"})
		}
	})
}
