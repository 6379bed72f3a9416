package main

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"
)

// The load generator: a fixed number of clients, each with its own
// keep-alive connection, sending back-to-back POSTs for a fixed duration
// (and never more than a fixed count). fasthttp keeps its own CPU cost low,
// since it shares the machine with the server and the database.

// loadSpec describes one run.
type loadSpec struct {
	Addr     string // host:port
	Path     string
	Clients  int
	Duration time.Duration
	MaxReqs  int64
	// Body returns the body of request n (0, 1, ...) and a tag kept with
	// its outcome (for example the row number it names).
	Body func(n int64, buf []byte) ([]byte, int)
	// OnResponse, when set, sees every answer (called concurrently).
	OnResponse func(tag, status int, body []byte)
}

// loadResult is what a run measured.
type loadResult struct {
	Requests  int64
	Elapsed   time.Duration
	Statuses  map[int]int64
	NetErrors int64
	FirstErr  string
	latencies []time.Duration // of answered requests
}

func (r *loadResult) rate(status ...int) float64 {
	var n int64
	if len(status) == 0 {
		n = r.Requests - r.NetErrors
	}
	for _, s := range status {
		n += r.Statuses[s]
	}
	return float64(n) / r.Elapsed.Seconds()
}

// percentile of the answered requests' latencies (p in 0..100).
func (r *loadResult) percentile(p float64) time.Duration {
	if len(r.latencies) == 0 {
		return 0
	}
	i := int(float64(len(r.latencies)-1) * p / 100)
	return r.latencies[i]
}

func (r *loadResult) statusText() string {
	keys := make([]int, 0, len(r.Statuses))
	for k := range r.Statuses {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	s := ""
	for _, k := range keys {
		s += fmt.Sprintf(" %d×%d", k, r.Statuses[k])
	}
	if r.NetErrors > 0 {
		s += fmt.Sprintf(" net-errors×%d (%s)", r.NetErrors, r.FirstErr)
	}
	return s
}

// runLoad runs spec. The request counter is shared, so request numbers are
// handed out in order across the clients.
func runLoad(ctx context.Context, spec loadSpec, counter *atomic.Int64) *loadResult {
	hc := &fasthttp.HostClient{
		Addr:                spec.Addr,
		MaxConns:            spec.Clients,
		ReadTimeout:         30 * time.Second,
		WriteTimeout:        30 * time.Second,
		MaxIdleConnDuration: time.Minute,
	}
	defer hc.CloseIdleConnections()
	ctx, cancel := context.WithTimeout(ctx, spec.Duration)
	defer cancel()
	type worker struct {
		lat      []time.Duration
		statuses map[int]int64
		netErr   int64
		firstErr string
	}
	workers := make([]*worker, spec.Clients)
	var wg sync.WaitGroup
	start := time.Now()
	for w := range workers {
		wk := &worker{statuses: map[int]int64{}, lat: make([]time.Duration, 0, 1<<14)}
		workers[w] = wk
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
			defer fasthttp.ReleaseRequest(req)
			defer fasthttp.ReleaseResponse(resp)
			var buf []byte
			for ctx.Err() == nil {
				n := counter.Add(1) - 1
				if spec.MaxReqs > 0 && n >= spec.MaxReqs {
					return
				}
				var tag int
				buf, tag = spec.Body(n, buf[:0])
				req.Reset()
				req.Header.SetMethod(fasthttp.MethodPost)
				req.SetRequestURI("http://" + spec.Addr + spec.Path)
				req.Header.SetContentType("application/json")
				req.SetBody(buf)
				t0 := time.Now()
				err := hc.Do(req, resp)
				d := time.Since(t0)
				if err != nil {
					wk.netErr++
					if wk.firstErr == "" {
						wk.firstErr = err.Error()
					}
					continue
				}
				wk.lat = append(wk.lat, d)
				wk.statuses[resp.StatusCode()]++
				if spec.OnResponse != nil {
					spec.OnResponse(tag, resp.StatusCode(), resp.Body())
				}
			}
		}()
	}
	wg.Wait()
	res := &loadResult{Elapsed: time.Since(start), Statuses: map[int]int64{}}
	for _, wk := range workers {
		res.latencies = append(res.latencies, wk.lat...)
		for k, v := range wk.statuses {
			res.Statuses[k] += v
		}
		res.NetErrors += wk.netErr
		if res.FirstErr == "" {
			res.FirstErr = wk.firstErr
		}
	}
	for _, v := range res.Statuses {
		res.Requests += v
	}
	res.Requests += res.NetErrors
	slices.Sort(res.latencies)
	return res
}

// machineBody is the client API body for license key and fingerprint i.
func machineBody(buf []byte, keyPrefix, fpPrefix string, i int) []byte {
	buf = append(buf, `{"license_key":"`...)
	buf = fmt.Appendf(buf, "%s%08d", keyPrefix, i)
	buf = append(buf, `","fingerprint":"`...)
	buf = fmt.Appendf(buf, "%s%08d", fpPrefix, i)
	return append(buf, `"}`...)
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
