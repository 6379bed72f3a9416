package verifier_test

import (
	"bufio"
	"os"
	"regexp"
	"strings"
	"testing"

	verifier "github.com/nzilacode/narcidicontrole/verifier-sdk"
)

var readmeRegion = regexp.MustCompile(`^\s*// readme:([a-z]+)$`)

// readmeSnippets reads the regions of readme_example_test.go: name to the
// code, one tab of indentation less, as README.md shows it.
func readmeSnippets(t *testing.T) map[string]string {
	t.Helper()
	f, err := os.Open("readme_example_test.go")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string]string{}
	name, indent := "", ""
	var b strings.Builder
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if m := readmeRegion.FindStringSubmatch(line); m != nil {
			if m[1] == "end" {
				out[name], name = b.String(), ""
				b.Reset()
				continue
			}
			name, indent = m[1], line[:len(line)-len(strings.TrimLeft(line, "\t"))]
			continue
		}
		if name != "" {
			b.WriteString(strings.TrimPrefix(line, indent))
			b.WriteByte('\n')
		}
	}
	return out
}

// TestReadmeSnippetsAreTheExamples: every Go snippet README.md shows for
// the SDK is one of the compiled examples, word for word, and every
// example region is in the README.
func TestReadmeSnippetsAreTheExamples(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	snippets := readmeSnippets(t)
	if len(snippets) != 3 {
		t.Fatalf("example regions: %d, want 3", len(snippets))
	}
	for name, code := range snippets {
		if !strings.Contains(string(readme), "```go\n"+code+"```\n") {
			t.Errorf("README.md does not show the %q example as it is in readme_example_test.go; paste this:\n```go\n%s```", name, code)
		}
	}
	// Every Go block that uses the SDK in the README is one of them.
	blocks := regexp.MustCompile("(?s)```go\n(.*?)```\n").FindAllStringSubmatch(string(readme), -1)
	for _, blk := range blocks {
		if !strings.Contains(blk[1], "verifier.") {
			continue
		}
		found := false
		for _, code := range snippets {
			found = found || code == blk[1]
		}
		if !found {
			t.Errorf("README.md shows SDK code that is no compiled example:\n%s", blk[1])
		}
	}
	// The pinned JWKS the quickstart embeds parses.
	if _, err := verifier.ParseJWKS(pinnedJWKS); err != nil {
		t.Errorf("testdata/readme.jwks.json: %v", err)
	}
}
