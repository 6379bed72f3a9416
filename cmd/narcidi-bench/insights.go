package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"runtime"
	"sync"
	"time"

	"github.com/nzilacode/narcidicontrole/licensing"
	"github.com/nzilacode/narcidicontrole/licensing/insights"
)

// insightBatch is how many snapshots exist at once: the scoring job reads
// licenses batch by batch, extracts their features and drops the
// snapshots, then scores every license together (peers are the
// installation's).
const insightBatch = 1000

// insightsResult is one run of the scoring path.
type insightsResult struct {
	licenses  int
	scores    int
	extract   time.Duration // snapshots → features
	score     time.Duration // features → scores
	synth     time.Duration // building the snapshots (the store's part, not timed above)
	peakHeap  uint64        // bytes, runtime.MemStats.HeapInuse sampled
	dayRows   int
	raisedAny int
}

// benchInsights measures the insights engine on synthetic snapshots of n
// licenses with 90 days of roll-ups each (license and machines), in
// process: the figure is the engine's, the store reads are the job's.
func benchInsights(ctx context.Context, s *Settings, r *Report) error {
	res, err := scoreSynthetic(ctx, s.InsightLicenses)
	if err != nil {
		return err
	}
	total := res.extract + res.score
	r.add(Row{ID: "insights.score", Name: fmt.Sprintf("insights: score %s licenses, 90 days", count(res.licenses)), Value: total.Seconds(), Unit: "s",
		Display: fmt.Sprintf("%.2f s (%.1f µs/license)", total.Seconds(), float64(total.Microseconds())/float64(res.licenses)),
		Note: fmt.Sprintf("extract %.2f s + score %.2f s, %d scores, %d day rows; building the snapshots took %.2f s more (not counted)",
			res.extract.Seconds(), res.score.Seconds(), res.scores, res.dayRows, res.synth.Seconds())})
	mb := float64(res.peakHeap) / (1 << 20)
	r.add(Row{ID: "insights.peak_heap", Name: "insights: peak heap while scoring", Value: mb, Unit: "MiB", Display: fmt.Sprintf("%.1f MiB", mb),
		Note: fmt.Sprintf("runtime.MemStats.HeapInuse, sampled; snapshots held %d at a time", insightBatch)})
	return nil
}

// scoreSynthetic builds n synthetic snapshots (seeded: the same n gives
// the same data), batch by batch, and scores them.
func scoreSynthetic(ctx context.Context, n int) (*insightsResult, error) {
	res := &insightsResult{licenses: n}
	runtime.GC()
	var peak uint64
	var mu sync.Mutex
	sample := func() {
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		mu.Lock()
		peak = max(peak, ms.HeapInuse)
		mu.Unlock()
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				sample()
			}
		}
	}()
	defer func() {
		close(stop)
		wg.Wait()
	}()

	rng := rand.New(rand.NewPCG(14, 90))
	at := time.Date(2026, 6, 1, 6, 0, 0, 0, time.UTC)
	engine := insights.NewEngine(insights.EngineConfig{Seed: 14})
	features := make([]insights.Features, 0, n)
	batch := make([]insights.Snapshot, 0, insightBatch)
	for i := 0; i < n; i += insightBatch {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		batch = batch[:0]
		t0 := time.Now()
		for j := i; j < min(n, i+insightBatch); j++ {
			batch = append(batch, syntheticSnapshot(rng, j, at))
			res.dayRows += len(batch[len(batch)-1].Days)
		}
		t1 := time.Now()
		for k := range batch {
			features = append(features, insights.Extract(&batch[k]))
		}
		res.synth += t1.Sub(t0)
		res.extract += time.Since(t1)
		sample()
	}
	batch = nil
	t0 := time.Now()
	scores := engine.ScoreFeatures(features)
	res.score = time.Since(t0)
	sample()
	res.scores = len(scores)
	for _, s := range scores {
		if s.Value >= engine.Threshold(s.Kind) {
			res.raisedAny++
		}
	}
	mu.Lock()
	res.peakHeap = peak
	mu.Unlock()
	return res, nil
}

// benchDays are the names of the 90 days before the benchmark's moment.
var benchDays = func() []string {
	at := time.Date(2026, 6, 1, 6, 0, 0, 0, time.UTC)
	out := make([]string, 90)
	for k := range out {
		out[k] = at.AddDate(0, 0, -k).Format(insights.DayLayout)
	}
	return out
}()

var benchPolicies = []licensing.Policy{{ID: "plan-1", MaxMachines: 1}, {ID: "plan-3", MaxMachines: 3}, {ID: "plan-5", MaxMachines: 5}, {ID: "plan-10", MaxMachines: 10}}

// syntheticSnapshot is license i: a policy, its machines used on most of
// the last 90 days (each day a license roll-up and one per machine used),
// a few activations and refusals.
func syntheticSnapshot(rng *rand.Rand, i int, at time.Time) insights.Snapshot {
	p := rng.IntN(len(benchPolicies))
	pol := benchPolicies[p]
	exp := at.AddDate(0, 0, 1+rng.IntN(365))
	id := fmt.Sprintf("lic-%07d", i)
	s := insights.Snapshot{At: at, LicenseID: id, CustomerID: fmt.Sprintf("cus-%07d", i/2), ProductID: "prod-1", PolicyID: pol.ID,
		Status: licensing.LicenseActive, Seats: pol.MaxMachines, CreatedAt: at.AddDate(-1, 0, 0), ExpiresAt: &exp, GraceUntil: &exp,
		ActiveMachines: 1 + rng.IntN(pol.MaxMachines), UpgradePolicies: benchPolicies[p+1:]}
	machines := make([]string, s.ActiveMachines)
	for m := range machines {
		machines[m] = fmt.Sprintf("%s-m%02d", id, m)
		s.Activations = append(s.Activations, insights.Activation{At: at.AddDate(0, 0, -rng.IntN(90)), MachineID: machines[m],
			Fingerprint: machines[m], Hostname: machines[m], Network: "198.51.100.0/24"})
	}
	net := []string{fmt.Sprintf("10.%d.%d.0/24", i%256, (i/256)%256)}
	for k := 89; k >= 0; k-- {
		day := benchDays[k]
		used := 0
		for _, m := range machines {
			if rng.Float64() < 0.7 {
				used++
				s.Days = append(s.Days, insights.Day{Day: day, LicenseID: id, MachineID: m, Renewals: 3, Networks: net, Platforms: []string{"linux/amd64"}})
			}
		}
		if used > 0 {
			s.Days = append(s.Days, insights.Day{Day: day, LicenseID: id, Renewals: int64(3 * used), Networks: net, Platforms: []string{"linux/amd64"}})
		}
		if rng.Float64() < 0.02 {
			s.Refusals = append(s.Refusals, insights.RefusalEvent{At: at.AddDate(0, 0, -k), Kind: licensing.UseActivation, Code: licensing.ESeatLimit, LicenseID: id})
		}
	}
	return s
}
