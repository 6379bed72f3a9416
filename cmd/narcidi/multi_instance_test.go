package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/nzilacode/narcidicontrole/licensing"
	"github.com/nzilacode/narcidicontrole/storage/blob/blobtest"
	"github.com/nzilacode/narcidicontrole/storage/storagetest"
	verifier "github.com/nzilacode/narcidicontrole/verifier-sdk"
	"github.com/nzilacode/narcidicontrole/workers/workerstest"
)

// proc is one narcidi process of the topology: this test binary re-run as
// the real program (TestMain), with exactly its environment.
type proc struct {
	name string
	cmd  *exec.Cmd
	log  string
	done chan error
}

func startProc(t *testing.T, name string, env map[string]string, args ...string) *proc {
	t.Helper()
	logPath := filepath.Join(t.TempDir(), name+".log")
	f, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = []string{"NARCIDI_TEST_RUN_MAIN=1", "PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &proc{name: name, cmd: cmd, log: logPath, done: make(chan error, 1)}
	go func() { p.done <- cmd.Wait(); f.Close() }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
		}
		if t.Failed() {
			b, _ := os.ReadFile(logPath)
			if len(b) > 6000 {
				b = b[len(b)-6000:]
			}
			t.Logf("--- %s log (end):\n%s", name, b)
		}
	})
	return p
}

// stop sends SIGTERM and waits for a clean exit.
func (p *proc) stop(t *testing.T) {
	t.Helper()
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-p.done:
		p.done <- err // for the cleanup
		if err != nil {
			b, _ := os.ReadFile(p.log)
			t.Fatalf("%s exited with %v:\n%s", p.name, err, b)
		}
	case <-time.After(40 * time.Second):
		t.Fatalf("%s did not stop within 40s of SIGTERM", p.name)
	}
}

// instance is one `narcidi serve` behind the test's load balancer.
type instance struct {
	name, base string
	healthArgs []string // compose's health check, on this instance's port
	env        map[string]string
	proc       *proc
	ready      atomic.Bool // as the balancer last saw /readyz
	saw503     atomic.Bool // /readyz answered 503 (draining) since the last start
}

// balancer is what the test's clients use: like a load balancer, it polls
// each instance's /readyz every 50ms and sends requests round robin to the
// instances last seen ready. It retries a request on another instance only
// when the connection was refused, that is before anything was sent; any
// other error, and any answer of 5xx, counts as a failed client request.
type balancer struct {
	insts                 []*instance
	next                  atomic.Uint64
	client                *http.Client
	sent, retried, failed atomic.Int64
	mu                    sync.Mutex
	fails                 []string
}

func (b *balancer) poll(ctx context.Context) {
	c := &http.Client{Timeout: 500 * time.Millisecond}
	for ctx.Err() == nil {
		for _, in := range b.insts {
			resp, err := c.Get(in.base + "/readyz")
			if err != nil {
				in.ready.Store(false)
				continue
			}
			resp.Body.Close()
			in.ready.Store(resp.StatusCode == 200)
			if resp.StatusCode == 503 {
				in.saw503.Store(true)
			}
		}
		select {
		case <-ctx.Done():
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// do sends one request through the balancer and returns the answer's
// status and body (status 0 after a failure, which is recorded).
func (b *balancer) do(method, path, token string, body any) (int, []byte) {
	raw, _ := json.Marshal(body)
	deadline := time.Now().Add(20 * time.Second)
	for {
		var in *instance
		for range b.insts {
			c := b.insts[b.next.Add(1)%uint64(len(b.insts))]
			if c.ready.Load() {
				in = c
				break
			}
		}
		if in == nil {
			if time.Now().After(deadline) {
				b.fail("no instance ready for 20s")
				return 0, nil
			}
			time.Sleep(20 * time.Millisecond)
			continue
		}
		req, _ := http.NewRequest(method, in.base+path, bytes.NewReader(raw))
		req.Header.Set("Content-Type", "application/json")
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		b.sent.Add(1)
		resp, err := b.client.Do(req)
		var op *net.OpError
		if err != nil && errors.As(err, &op) && op.Op == "dial" {
			in.ready.Store(false) // refused before sending: safe to send elsewhere
			b.retried.Add(1)
			continue
		}
		if err != nil {
			b.fail(fmt.Sprintf("%s %s on %s: %v", method, path, in.name, err))
			return 0, nil
		}
		out, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode >= 500 {
			b.fail(fmt.Sprintf("%s %s on %s: %d %s", method, path, in.name, resp.StatusCode, out))
		}
		return resp.StatusCode, out
	}
}

func (b *balancer) fail(msg string) {
	b.failed.Add(1)
	b.mu.Lock()
	if len(b.fails) < 10 {
		b.fails = append(b.fails, msg)
	}
	b.mu.Unlock()
}

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
}

// The compose topology as processes on loopback: compose.yaml's narcidi
// services with their environment, where only the addresses of the
// dependencies, the folders and the test-only settings below change; two
// serve instances on one PostgreSQL, Redis and versitygw, and the worker
// service twice.
func TestMultiInstance(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	services := narcidiServices(t, loadCompose(t))
	pg := storagetest.PostgresURL(t)
	redisURL := fmt.Sprintf("redis://%s/%d", storagetest.RedisAddr(), storagetest.RedisDB(t))
	s3 := blobtest.Start(t).Config
	keysDir := filepath.Join(t.TempDir(), "keys") // the shared volume
	rcv := workerstest.StartReceiver(t, nil)

	// Where the topology's addresses and folders differ on loopback.
	rewrite := map[string]string{
		"NARCIDI_DATABASE_URL": pg, "NARCIDI_REDIS_URL": redisURL, "NARCIDI_KEYS_DIR": keysDir, "NARCIDI_MASTER_KEY_FILE": masterKeyFile(t),
		"NARCIDI_S3_BUCKET": s3.Bucket, "NARCIDI_S3_ENDPOINT": s3.Endpoint, "NARCIDI_S3_ACCESS_KEY": s3.AccessKey, "NARCIDI_S3_SECRET_KEY": s3.SecretKey,
		// Two workers on one machine: each its own free metrics port.
		"NARCIDI_METRICS_ADDR": "127.0.0.1:0", "NARCIDI_METRICS_TOKEN": "multi-instance-metrics-token",
	}
	// Test-only settings: a short drain, no client rate limit for the load
	// (all clients share 127.0.0.1), webhooks to the loopback receiver.
	testOnly := map[string]map[string]string{
		"serve":  {"NARCIDI_SHUTDOWN_GRACE": "1500ms", "NARCIDI_CLIENT_RATE": "1000000/m", "NARCIDI_WEBHOOK_ALLOW_PRIVATE": "true", "NARCIDI_LOG_LEVEL": "warn"},
		"worker": {"NARCIDI_WEBHOOK_ALLOW_PRIVATE": "true", "NARCIDI_RETRY_BASE": "200ms", "NARCIDI_LOG_LEVEL": "warn"},
	}
	envOf := func(s narcidiService) map[string]string {
		env := map[string]string{}
		for k, v := range s.env {
			if r, ok := rewrite[k]; ok {
				v = r
			}
			env[k] = v
		}
		dir := filepath.Join(t.TempDir(), s.name)
		if err := os.Mkdir(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		env["NARCIDI_DATA_DIR"] = dir
		for k, v := range testOnly[s.command] {
			env[k] = v
		}
		return env
	}
	byCommand := map[string][]narcidiService{}
	for _, s := range services {
		byCommand[s.command] = append(byCommand[s.command], s)
	}
	if len(byCommand["migrate"]) != 1 || len(byCommand["serve"]) != 2 || len(byCommand["worker"]) != 1 {
		t.Fatalf("compose services: %v", byCommand)
	}

	// The migrate service first, as compose orders it.
	if code, out, errs := runBinary(t, envOf(byCommand["migrate"][0]), "migrate"); code != 0 {
		t.Fatalf("migrate: %d %s %s", code, out, errs)
	}
	// A root key pins the signing keys: key 1 is made and certified before
	// the instances start, as an operator does.
	offline := t.TempDir()
	runOK(t, nil, "keys", "root", "generate", "-out", offline)
	rootsJSON, _ := os.ReadFile(filepath.Join(offline, "root.jwks.json"))
	roots, err := verifier.ParseJWKS(rootsJSON)
	if err != nil {
		t.Fatal(err)
	}
	keysEnv := envOf(byCommand["serve"][0])
	certifyActive := func(name string) {
		jwks := filepath.Join(offline, name+".jwks.json")
		if err := os.WriteFile(jwks, []byte(runOK(t, keysEnv, "keys", "jwks")), 0o600); err != nil {
			t.Fatal(err)
		}
		cert := filepath.Join(offline, name+".cert")
		runOK(t, nil, "keys", "certify", "-root", filepath.Join(offline, "root.key.json"), "-jwks", jwks,
			"-not-before", time.Now().Add(-time.Minute).UTC().Format(time.RFC3339), "-valid-for", "24h", "-out", cert)
		runOK(t, keysEnv, "keys", "attach", cert, filepath.Join(offline, "root.jwks.json"))
	}
	runOK(t, keysEnv, "keys", "generate")
	certifyActive("key1")

	var insts []*instance
	for _, s := range byCommand["serve"] {
		env := envOf(s)
		port := freePort(t)
		env["NARCIDI_ADDR"] = "127.0.0.1:" + port
		health := append([]string(nil), s.health[2:]...) // without "CMD", "/narcidi"
		health[len(health)-1] = strings.Replace(health[len(health)-1], ":8080/", ":"+port+"/", 1)
		insts = append(insts, &instance{name: s.name, base: "http://127.0.0.1:" + port, env: env, healthArgs: health[:]})
	}
	waitReady := func(in *instance) {
		t.Helper()
		deadline := time.Now().Add(45 * time.Second)
		for {
			// compose's own health check command, run as compose would.
			var out, errs bytes.Buffer
			if run(ctx, in.healthArgs, func(string) string { return "" }, &out, &errs) == 0 {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s not healthy after 45s: %s", in.name, errs.String())
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	for _, in := range insts {
		in.proc = startProc(t, in.name, in.env, "serve")
		waitReady(in)
	}
	workerEnv := envOf(byCommand["worker"][0])
	workerProcs := []*proc{startProc(t, "worker-a", workerEnv, "worker"), startProc(t, "worker-b", workerEnv, "worker")}

	lbCtx, stopLB := context.WithCancel(ctx)
	defer stopLB()
	lb := &balancer{insts: insts, client: &http.Client{Timeout: 15 * time.Second}}
	go lb.poll(lbCtx)
	workerstest.WaitFor(t, "both instances ready at the balancer", func() bool { return insts[0].ready.Load() && insts[1].ready.Load() })
	direct := func(in *instance) apiClient { return apiClient{t, in.base, adminToken} }
	cat := seedCatalog(t, direct(insts[0]), 5)

	// 1. Seats: 40 machines activate at once, alternating instances; exactly
	// the license's 5 seats are taken.
	var won, refused atomic.Int64
	var winners sync.Map
	var wg sync.WaitGroup
	for i := range 40 {
		wg.Go(func() {
			fp := fmt.Sprintf("multi-instance-machine-%02d", i)
			raw, _ := json.Marshal(verifier.MachineRequest{LicenseKey: cat.key, Fingerprint: fp})
			resp, err := http.Post(insts[i%2].base+"/v1/client/activate", "application/json", bytes.NewReader(raw))
			if err != nil {
				t.Error(err)
				return
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			switch {
			case resp.StatusCode == 201:
				won.Add(1)
				winners.Store(fp, true)
			case resp.StatusCode == 409 || resp.StatusCode == 403 || resp.StatusCode == 422:
				if !strings.Contains(string(b), string(licensing.ESeatLimit)) {
					t.Errorf("activation %d: %d %s", i, resp.StatusCode, b)
				}
				refused.Add(1)
			default:
				t.Errorf("activation %d: %d %s", i, resp.StatusCode, b)
			}
		})
	}
	wg.Wait()
	var machines struct{ Data []licensing.Machine }
	direct(insts[1]).call("GET", "/v1/machines?license_id="+cat.licenseID+"&limit=200", nil, &machines)
	t.Logf("seats: 40 concurrent activations over 2 instances: %d took a seat, %d refused seat_limit; %d machines stored (max 5)", won.Load(), refused.Load(), len(machines.Data))
	if won.Load() != 5 || refused.Load() != 35 || len(machines.Data) != 5 {
		t.Fatalf("seat limit not exact across instances")
	}
	var fps []string
	winners.Range(func(k, _ any) bool { fps = append(fps, k.(string)); return true })

	// 2. Rate limits are counted in Redis: token creations by one token
	// (NARCIDI_TOKEN_RATE, compose's default 10/m, bursts of 5), alternating
	// instances. Counted per instance, 10 would pass.
	allowed, limited := 0, [2]int{}
	for i := range 16 {
		s, _ := direct(insts[i%2]).call("POST", "/v1/tokens", map[string]any{"name": fmt.Sprintf("rate-%d", i), "role": "read-only"}, nil)
		switch s {
		case 201:
			allowed++
		case 429:
			limited[i%2]++
		default:
			t.Fatalf("token creation %d: %d", i, s)
		}
	}
	t.Logf("rate limit: 16 token creations over 2 instances: %d allowed, 429 from %s: %d, from %s: %d (shared budget: burst 5)", allowed, insts[0].name, limited[0], insts[1].name, limited[1])
	if allowed < 5 || allowed > 6 || limited[0] == 0 || limited[1] == 0 {
		t.Fatal("the rate limit is not shared across instances")
	}

	// 3. Webhooks: events made on both instances, delivered by two workers.
	registerHook(t, direct(insts[0]), rcv, licensing.ActionLicenseSuspended, licensing.ActionLicenseReinstated)
	// A second license of the customer is suspended and reinstated; the
	// first one serves the client load below.
	var toggled struct{ ID string }
	direct(insts[1]).mustCreate("/v1/licenses", map[string]any{"policy_id": cat.policyID, "customer_id": cat.customerID}, &toggled)
	actions := 0
	toggle := func(c apiClient) {
		action := []string{"suspend", "reinstate"}[actions%2]
		if s, b := c.call("POST", "/v1/licenses/"+toggled.ID+"/actions/"+action, map[string]any{"reason": "multi-instance test"}, nil); s != 200 {
			t.Fatalf("%s: %d %s", action, s, b)
		}
		actions++
	}
	for i := range 10 {
		toggle(direct(insts[i%2]))
	}

	// 4. Rotation and a rolling restart under load. Key 2 is made and
	// certified on the shared keys folder; each instance picks it up when it
	// restarts. Clients renew leases all along and verify each with the
	// pinned root only (verifier.Config.Roots).
	runOK(t, keysEnv, "keys", "generate")
	certifyActive("key2")
	pinned := map[string]*verifier.Verifier{}
	for _, fp := range fps {
		v, err := verifier.New(verifier.Config{Roots: roots, Product: cat.productID, Fingerprint: fp})
		if err != nil {
			t.Fatal(err)
		}
		pinned[fp] = v
	}
	type lease struct{ fp, token, kid string }
	var leasesMu sync.Mutex
	var leases []lease
	var verified, refusedLeases atomic.Int64
	loadCtx, stopLoad := context.WithCancel(ctx)
	var load sync.WaitGroup
	for g := range 4 {
		load.Go(func() {
			for n := 0; loadCtx.Err() == nil; n++ {
				fp := fps[(g+n)%len(fps)]
				path := "/v1/client/renew"
				if n%3 == 2 {
					path = "/v1/client/validate"
				}
				s, b := lb.do("POST", path, "", verifier.MachineRequest{LicenseKey: cat.key, Fingerprint: fp})
				if s == 0 || s >= 500 {
					continue // recorded by the balancer
				}
				if s != 200 {
					lb.fail(fmt.Sprintf("%s: %d %s", path, s, b))
					continue
				}
				if path != "/v1/client/renew" {
					continue
				}
				var r verifier.LeaseResponse
				_ = json.Unmarshal(b, &r)
				l, err := pinned[fp].Verify(r.Lease)
				if err != nil {
					refusedLeases.Add(1)
					lb.fail(fmt.Sprintf("lease refused by the SDK: %v", err))
					continue
				}
				verified.Add(1)
				leasesMu.Lock()
				leases = append(leases, lease{fp, r.Lease, l.KeyID})
				leasesMu.Unlock()
			}
		})
	}
	// Admin actions go through the balancer too (their events must still
	// be delivered once).
	adminActions := func() {
		action := []string{"suspend", "reinstate"}[actions%2]
		if s, b := lb.do("POST", "/v1/licenses/"+toggled.ID+"/actions/"+action, adminToken, map[string]any{"reason": "during the roll"}); s != 200 {
			lb.fail(fmt.Sprintf("%s during the roll: %d %s", action, s, b))
		}
		actions++
	}
	time.Sleep(500 * time.Millisecond)
	var drainedServed int
	for i, in := range insts {
		adminActions()
		in.saw503.Store(false)
		_ = in.proc.cmd.Process.Signal(syscall.SIGTERM)
		// While draining: /readyz says 503, and requests are still served.
		workerstest.WaitFor(t, in.name+" readiness off after SIGTERM", func() bool { return in.saw503.Load() })
		if s, _ := direct(in).call("GET", "/v1/licenses/"+cat.licenseID, nil, nil); s == 200 {
			drainedServed++
		}
		if i == 0 {
			// A worker restarts too: its running tasks go back to the queue.
			workerProcs[0].stop(t)
			workerProcs[0] = startProc(t, "worker-a2", workerEnv, "worker")
		}
		in.proc.stop(t)
		adminActions()
		in.proc = startProc(t, in.name, in.env, "serve")
		waitReady(in)
		workerstest.WaitFor(t, in.name+" back at the balancer", func() bool { return in.ready.Load() })
		time.Sleep(300 * time.Millisecond)
	}
	time.Sleep(500 * time.Millisecond)
	stopLoad()
	load.Wait()
	t.Logf("rolling restart: %d requests sent, %d retried after connection refused, %d failed; %d leases verified with the root, %d refused; %d of 2 draining instances served a request after /readyz went 503",
		lb.sent.Load(), lb.retried.Load(), lb.failed.Load(), verified.Load(), refusedLeases.Load(), drainedServed)
	if lb.failed.Load() != 0 || refusedLeases.Load() != 0 || drainedServed != 2 || verified.Load() < 20 {
		t.Fatalf("failures: %v", lb.fails)
	}
	// After the roll both instances sign with key 2 and publish both keys:
	// every lease of the run also verifies against the JWKS of either one.
	kids := map[string]int{}
	for _, l := range leases {
		kids[l.kid]++
	}
	for _, in := range insts {
		ks, err := (&verifier.Client{BaseURL: in.base}).JWKS(ctx)
		if err != nil {
			t.Fatal(err)
		}
		bad := 0
		for _, l := range leases {
			v, _ := verifier.New(verifier.Config{Keys: ks, Product: cat.productID, Fingerprint: l.fp})
			if _, err := v.Verify(l.token); err != nil {
				bad++
			}
		}
		r, err := (&verifier.Client{BaseURL: in.base}).Renew(ctx, verifier.MachineRequest{LicenseKey: cat.key, Fingerprint: fps[0]})
		if err != nil {
			t.Fatal(err)
		}
		l, err := pinned[fps[0]].Verify(r.Lease)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("rotation: JWKS of %s verifies %d of %d leases; it now signs with %s", in.name, len(leases)-bad, len(leases), l.KeyID)
		if bad != 0 || len(ks.Kids()) != 2 {
			t.Fatalf("%s: %d leases refused by its JWKS (%d keys)", in.name, bad, len(ks.Kids()))
		}
	}
	if len(kids) != 2 {
		t.Errorf("leases by key during the roll: %v (want both keys)", kids)
	}

	// Every event delivered once, restarts included.
	var evs struct{ Data []licensing.Event }
	direct(insts[0]).call("GET", "/v1/events?target_id="+toggled.ID+"&limit=200", nil, &evs)
	want := map[string]bool{}
	for _, e := range evs.Data {
		if e.Action == licensing.ActionLicenseSuspended || e.Action == licensing.ActionLicenseReinstated {
			want[e.ID] = true
		}
	}
	workerstest.WaitFor(t, "every webhook", func() bool { return len(rcv.Received()) >= len(want) })
	time.Sleep(time.Second) // a duplicate would come now
	got := map[string]int{}
	for _, p := range rcv.Received() {
		got[p.ID]++
	}
	dups := 0
	for id, n := range got {
		if !want[id] {
			t.Errorf("unexpected event %s", id)
		}
		dups += n - 1
	}
	t.Logf("webhooks: %d events (%d actions), %d deliveries received, %d distinct, %d duplicates", len(want), actions, len(rcv.Received()), len(got), dups)
	if len(want) != actions || len(got) != len(want) || dups != 0 {
		t.Fatal("webhooks not delivered exactly once")
	}
}

// masterKeyFile is a 0600 file holding testMasterKey: the compose secret
// master_key on loopback.
func masterKeyFile(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "master.key")
	if err := os.WriteFile(path, []byte(testMasterKey+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}
