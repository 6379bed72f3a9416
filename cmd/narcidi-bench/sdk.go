package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// The verifier SDK's Go benchmarks (verifier-sdk/bench_test.go), run in
// rounds: each round runs all four once, so a slower moment of this shared
// machine hits all of them, and the ratio to the floor is taken per round
// before the median.

var sdkBenchmarks = []string{"Ed25519Verify", "VerifyLease", "VerifyLeaseWithoutSignature", "GolangJWTVerify", "EntitlementCheck"}

type benchRun struct {
	NsPerOp     float64
	AllocsPerOp float64
	BytesPerOp  float64
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// parseBench reads `go test -bench` output lines.
func parseBench(out []byte) map[string]benchRun {
	res := map[string]benchRun{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") {
			continue
		}
		name := strings.TrimPrefix(f[0], "Benchmark")
		if i := strings.LastIndexByte(name, '-'); i > 0 {
			name = name[:i]
		}
		var b benchRun
		for i := 2; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				continue
			}
			switch f[i+1] {
			case "ns/op":
				b.NsPerOp = v
			case "allocs/op":
				b.AllocsPerOp = v
			case "B/op":
				b.BytesPerOp = v
			}
		}
		res[name] = b
	}
	return res
}

func benchSDK(ctx context.Context, s *Settings, r *Report) error {
	sdkDir := filepath.Join(s.Root, "verifier-sdk")
	testBin := filepath.Join(s.Tmp, "verifier-sdk.test")
	build := exec.CommandContext(ctx, "go", "test", "-c", "-o", testBin, ".")
	build.Dir = sdkDir
	if out, err := build.CombinedOutput(); err != nil {
		return fmt.Errorf("go test -c (verifier-sdk): %v: %s", err, out)
	}
	runs := map[string][]benchRun{}
	var ratios []float64
	for round := 1; round <= s.BenchRounds; round++ {
		// One process per benchmark, in an order that rotates each round, so
		// that no benchmark always runs first (or last) on a warm machine.
		got := map[string]benchRun{}
		for j := range sdkBenchmarks {
			name := sdkBenchmarks[(round+j)%len(sdkBenchmarks)]
			cmd := exec.CommandContext(ctx, testBin, "-test.run", "^$", "-test.bench", "^Benchmark"+name+"$", "-test.benchmem", "-test.benchtime", s.BenchTime, "-test.count", "1")
			cmd.Dir = sdkDir
			out, err := cmd.CombinedOutput()
			if err != nil {
				return fmt.Errorf("verifier-sdk benchmark %s: %v: %s", name, err, tail(out, 2000))
			}
			b, ok := parseBench(out)[name]
			if !ok {
				return fmt.Errorf("benchmark %s missing from the output: %s", name, tail(out, 2000))
			}
			got[name] = b
			runs[name] = append(runs[name], b)
		}
		ratios = append(ratios, got["VerifyLease"].NsPerOp/got["Ed25519Verify"].NsPerOp)
		logf("sdk round %d/%d: Ed25519Verify %.0f ns, VerifyLease %.0f ns (×%.3f), GolangJWTVerify %.0f ns, EntitlementCheck %.2f ns",
			round, s.BenchRounds, got["Ed25519Verify"].NsPerOp, got["VerifyLease"].NsPerOp, ratios[len(ratios)-1], got["GolangJWTVerify"].NsPerOp, got["EntitlementCheck"].NsPerOp)
	}
	med := func(name string, f func(benchRun) float64) float64 {
		var xs []float64
		for _, b := range runs[name] {
			xs = append(xs, f(b))
		}
		return median(xs)
	}
	ns := func(b benchRun) float64 { return b.NsPerOp }
	allocs := func(b benchRun) float64 { return b.AllocsPerOp }
	bytesOp := func(b benchRun) float64 { return b.BytesPerOp }
	spread := func(name string) string {
		var xs []float64
		for _, b := range runs[name] {
			xs = append(xs, b.NsPerOp)
		}
		return fmt.Sprintf("median of %d rounds (min %s, max %s)", len(xs), fmtNs(slices.Min(xs)), fmtNs(slices.Max(xs)))
	}
	floor := med("Ed25519Verify", ns)
	r.add(Row{ID: "sdk.ed25519_verify", Name: "Ed25519Verify (floor)", Value: floor, Unit: "ns/op", Display: fmtNs(floor),
		Note: spread("Ed25519Verify") + "; crypto/ed25519.Verify of the lease's signing input"})
	vl := med("VerifyLease", ns)
	ratio := median(ratios)
	r.add(Row{ID: "sdk.verify_lease", Name: "VerifyLease", Value: vl, Unit: "ns/op", Display: fmtNs(vl),
		Target: "≤ 1.15 × Ed25519Verify", Ratio: ptr(ratio), Status: judge(ratio <= 1.15),
		Note: fmt.Sprintf("%s; ratio is the median of per-round ratios; %.0f allocs, %.0f B per op", spread("VerifyLease"), med("VerifyLease", allocs), med("VerifyLease", bytesOp))})
	over := med("VerifyLeaseWithoutSignature", ns)
	r.add(Row{ID: "sdk.verify_overhead", Name: "VerifyLease minus the signature", Value: over, Unit: "ns/op", Display: fmtNs(over),
		Ratio: ptr((floor + over) / floor),
		Note: fmt.Sprintf("%s; everything Verify does but ed25519.Verify, measured alone: %.1f%% of the floor; ratio = (floor + this) / floor, a steadier estimate of VerifyLease / Ed25519Verify; %.0f allocs, %.0f B per op",
			spread("VerifyLeaseWithoutSignature"), 100*over/floor, med("VerifyLeaseWithoutSignature", allocs), med("VerifyLeaseWithoutSignature", bytesOp))})
	jwt := med("GolangJWTVerify", ns)
	r.add(Row{ID: "sdk.golang_jwt_verify", Name: "GolangJWTVerify (golang-jwt v5)", Value: jwt, Unit: "ns/op", Display: fmtNs(jwt), Ratio: ptr(jwt / floor),
		Note: fmt.Sprintf("%s; ratio to the floor; %.0f allocs, %.0f B per op; VerifyLease is %.2f× this", spread("GolangJWTVerify"), med("GolangJWTVerify", allocs), med("GolangJWTVerify", bytesOp), vl/jwt)})
	ent, entAllocs := med("EntitlementCheck", ns), med("EntitlementCheck", allocs)
	r.add(Row{ID: "sdk.entitlement_check", Name: "EntitlementCheck", Value: ent, Unit: "ns/op", Display: fmt.Sprintf("%s, %.0f allocs", fmtNs(ent), entAllocs),
		Target: "≤ 50 ns, 0 allocs", Status: judge(ent <= 50 && entAllocs == 0), Note: spread("EntitlementCheck")})

	if s.Profile {
		for _, c := range []struct{ id, bench string }{{"sdk.verify_lease", "VerifyLease"}, {"sdk.entitlement_check", "EntitlementCheck"}} {
			if !r.missed(c.id) {
				continue
			}
			prof := filepath.Join(s.Tmp, c.bench+".cpu.pprof")
			benchtime := "3s"
			if s.Smoke {
				benchtime = s.BenchTime
			}
			cmd := exec.CommandContext(ctx, testBin, "-test.run", "^$", "-test.bench", "^Benchmark"+c.bench+"$", "-test.benchtime", benchtime, "-test.cpuprofile", prof)
			cmd.Dir = sdkDir
			if out, err := cmd.CombinedOutput(); err != nil {
				return fmt.Errorf("profile %s: %v: %s", c.bench, err, tail(out, 2000))
			}
			top, err := pprofTop(ctx, testBin, prof, "-nodecount=25")
			if err != nil {
				return err
			}
			r.Profiles[c.id] = top
		}
	}
	return nil
}

func fmtNs(ns float64) string {
	switch {
	case ns >= 10_000:
		return fmt.Sprintf("%.1f µs", ns/1000)
	case ns >= 100:
		return fmt.Sprintf("%.0f ns", ns)
	default:
		return fmt.Sprintf("%.2f ns", ns)
	}
}

// benchSize builds a hello-world program with and without the SDK linked,
// in a temporary module that points at ./verifier-sdk.
func benchSize(ctx context.Context, s *Settings, r *Report) error {
	dir, err := os.MkdirTemp(s.Tmp, "sdksize-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	if err := writeSizeModule(dir, filepath.Join(s.Root, "verifier-sdk")); err != nil {
		return err
	}
	size, nonStd, err := buildSizes(ctx, dir)
	if err != nil {
		return err
	}
	reportSizes(r, size, nonStd)
	return nil
}

// sizeModule is the module of the size programs, its SDK replaced by the
// tree's (sdkDir).
func sizeModule(sdkDir string) map[string]string {
	return map[string]string{
		"go.mod": "module narcidi.bench/sdksize\n\ngo 1.26\n\nrequire github.com/nzilacode/narcidicontrole/verifier-sdk v0.0.0\n\n" +
			"replace github.com/nzilacode/narcidicontrole/verifier-sdk => " + sdkDir + "\n",
		"plain/main.go": "package main\n\nimport \"fmt\"\n\nfunc main() { fmt.Println(\"hello\") }\n",
		// The SDK's Client talks HTTP, so an app linking it links net/http:
		// this reference tells what the SDK costs beyond that.
		"withhttp/main.go": "package main\n\nimport (\n\t\"fmt\"\n\t\"net/http\"\n\t\"os\"\n)\n\nfunc main() {\n\tfmt.Println(\"hello\")\n\tif len(os.Args) > 1 {\n\t\tfmt.Println(http.Get(os.Args[1]))\n\t}\n}\n",
		// The SDK's whole offline path: parse a JWKS, verify a lease, check a feature.
		// withsdk and withclient below are alike by shape: two programs the
		// size measurement builds, each linking a different part of the SDK.
		"withsdk/main.go": `package main

import (
	"fmt"
	"os"

	verifier "github.com/nzilacode/narcidicontrole/verifier-sdk"
)

func main() {
	fmt.Println("hello")
	if len(os.Args) < 4 {
		return
	}
	keys, err := verifier.ParseJWKS([]byte(os.Args[1]))
	if err != nil {
		fmt.Println(err)
		return
	}
	fp, _ := verifier.Fingerprint("sdksize")
	v, err := verifier.New(verifier.Config{Keys: keys, Product: os.Args[2], Fingerprint: fp})
	if err != nil {
		fmt.Println(err)
		return
	}
	lease, err := v.Verify(os.Args[3])
	fmt.Println(err == nil && lease.HasEntitlement("export"))
}
`,
		// The whole SDK an app uses: the same, plus the Client that activates.
		"withclient/main.go": `package main

import (
	"context"
	"fmt"
	"os"

	verifier "github.com/nzilacode/narcidicontrole/verifier-sdk"
)

func main() {
	fmt.Println("hello")
	if len(os.Args) < 5 {
		return
	}
	fp, _ := verifier.Fingerprint("sdksize")
	c := &verifier.Client{BaseURL: os.Args[4]}
	res, err := c.Activate(context.Background(), verifier.MachineRequest{LicenseKey: os.Args[1], Fingerprint: fp})
	if err != nil {
		fmt.Println(err)
		return
	}
	keys, err := c.JWKS(context.Background())
	if err != nil {
		fmt.Println(err)
		return
	}
	v, err := verifier.New(verifier.Config{Keys: keys, Product: os.Args[2], Fingerprint: fp})
	if err != nil {
		fmt.Println(err)
		return
	}
	lease, err := v.Verify(res.Lease)
	fmt.Println(err == nil && lease.HasEntitlement(os.Args[3]))
}
`,
	}
}

// writeSizeModule writes the size programs' module in dir, with the SDK's
// go.sum.
func writeSizeModule(dir, sdkDir string) error {
	for name, content := range sizeModule(sdkDir) {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			return err
		}
	}
	sum, err := os.ReadFile(filepath.Join(sdkDir, "go.sum"))
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "go.sum"), sum, 0o644)
}

// buildSizes builds each size program, plain and stripped, and returns
// their sizes (by program, "-stripped" appended) and the packages outside
// the standard library the SDK programs link.
func buildSizes(ctx context.Context, dir string) (map[string]int64, []string, error) {
	goCmd := func(args ...string) ([]byte, error) {
		cmd := exec.CommandContext(ctx, "go", args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "CGO_ENABLED=0")
		out, err := cmd.CombinedOutput()
		if err != nil {
			return nil, fmt.Errorf("go %s: %v: %s", strings.Join(args, " "), err, out)
		}
		return out, nil
	}
	size := map[string]int64{}
	for _, prog := range []string{"plain", "withhttp", "withsdk", "withclient"} {
		for _, stripped := range []bool{false, true} {
			out := filepath.Join(dir, "bin", prog)
			args := []string{"build", "-trimpath", "-o", out}
			key := prog
			if stripped {
				args = append(args, "-ldflags=-s -w")
				key += "-stripped"
			}
			if _, err := goCmd(append(args, "./"+prog)...); err != nil {
				return nil, nil, err
			}
			fi, err := os.Stat(out)
			if err != nil {
				return nil, nil, err
			}
			size[key] = fi.Size()
		}
	}
	deps, err := goCmd("list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", "./withsdk", "./withclient")
	if err != nil {
		return nil, nil, err
	}
	var nonStd []string
	for _, l := range strings.Fields(string(deps)) {
		if !strings.HasPrefix(l, "narcidi.bench/") {
			nonStd = append(nonStd, l)
		}
	}
	return size, nonStd, nil
}

// reportSizes adds the size rows, each against the plain hello world.
func reportSizes(r *Report, size map[string]int64, nonStd []string) {
	mib := func(b int64) float64 { return float64(b) / (1 << 20) }
	for _, v := range []struct{ suffix, label string }{{"", ""}, {"-stripped", ", -s -w"}} {
		plain, http := size["plain"+v.suffix], size["withhttp"+v.suffix]
		verify, client := size["withsdk"+v.suffix], size["withclient"+v.suffix]
		id := "size.hello" + strings.ReplaceAll(v.suffix, "-", "_")
		over := func(n int64) string { return fmt.Sprintf("%.2f MiB (+%.0f KiB)", mib(n), float64(n-plain)/1024) }
		r.add(Row{ID: id, Name: "hello world binary" + v.label, Value: float64(plain), Unit: "bytes", Display: fmt.Sprintf("%.2f MiB", mib(plain)),
			Note: "fmt.Println only; CGO_ENABLED=0, -trimpath"})
		r.add(Row{ID: id + "_sdk", Name: "hello world + SDK verify" + v.label, Value: float64(verify), Unit: "bytes",
			Display: over(verify), Ratio: ptr(float64(verify) / float64(plain)),
			Note: fmt.Sprintf("ParseJWKS, Fingerprint, New, Verify, HasEntitlement; packages outside the standard library: %s", nonStdOrNone(nonStd))})
		r.add(Row{ID: id + "_sdk_client", Name: "hello world + SDK verify + Client" + v.label, Value: float64(client), Unit: "bytes",
			Display: over(client), Ratio: ptr(float64(client) / float64(plain)),
			Note: fmt.Sprintf("also Client.Activate and Client.JWKS (net/http); %.0f KiB more than hello + http.Get alone", float64(client-http)/1024)})
		r.add(Row{ID: id + "_http", Name: "reference: hello world + http.Get" + v.label, Value: float64(http), Unit: "bytes",
			Display: over(http), Ratio: ptr(float64(http) / float64(plain)), Note: "what an app that talks HTTP links anyway"})
	}
}

func nonStdOrNone(pkgs []string) string {
	if len(pkgs) == 0 {
		return "none"
	}
	return strings.Join(pkgs, ", ")
}
