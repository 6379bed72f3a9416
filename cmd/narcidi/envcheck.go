package main

import (
	"fmt"
	"slices"
	"strings"

	"github.com/nzilacode/narcidicontrole/wiring"
)

// Variables a process may see that are not settings of a command: the
// admin CLI's, the verifier SDK's (an app and narcidi on one host), and the
// prefixes of tests and benchmarks.
var (
	otherVariables  = []string{"NARCIDI_URL", "NARCIDI_TOKEN", "NARCIDI_LANGUAGE", "NARCIDI_MACHINE_ID", "NARCIDI_MACHINE_ID_FILE", "NARCIDI_SCREENSHOTS", "NARCIDI_UPDATE_GOLDEN", "NARCIDI_KEYS_HELPER_DIR"}
	otherPrefixes   = []string{"NARCIDI_TEST_", "NARCIDI_BENCH_"}
	variablesPrefix = "NARCIDI_"
)

// knownVariables is every NARCIDI_* name some command reads.
func knownVariables() []string {
	names := append(wiring.SettingNames(), otherVariables...)
	slices.Sort(names)
	return slices.Compact(names)
}

// checkEnvironment refuses a NARCIDI_* variable that no command reads: a
// typo (NARCIDI_DATABSE_URL) would otherwise leave the setting at its
// default, an empty SQLite database that answers not_found for every
// license. It names the closest known variable.
func checkEnvironment(environ []string) error {
	known := knownVariables()
	var unknown []string
	for _, kv := range environ {
		name, _, _ := strings.Cut(kv, "=")
		if !strings.HasPrefix(name, variablesPrefix) || slices.Contains(known, name) {
			continue
		}
		if slices.ContainsFunc(otherPrefixes, func(p string) bool { return strings.HasPrefix(name, p) }) {
			continue
		}
		unknown = append(unknown, fmt.Sprintf("%s (did you mean %s?)", name, closest(name, known)))
	}
	if len(unknown) == 0 {
		return nil
	}
	slices.Sort(unknown)
	return fmt.Errorf("unknown environment variable %s: no narcidi command reads it; fix or unset it (README.md lists every variable)", strings.Join(unknown, ", "))
}

// closest is the name of names nearest to s: the shortest that s begins
// (a name cut short), else the nearest by edit distance.
func closest(s string, names []string) string {
	best, bestD := "", -1
	for _, n := range names {
		if strings.HasPrefix(n, s) && (best == "" || len(n) < len(best)) {
			best = n
		}
	}
	if best != "" {
		return best
	}
	for _, n := range names {
		if d := editDistance(s, n); bestD < 0 || d < bestD {
			best, bestD = n, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance of a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
