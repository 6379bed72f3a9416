package docs

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/nzilacode/narcidicontrole/licensing/i18n"
	"github.com/nzilacode/narcidicontrole/storage"
)

func read(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// section is the text of the README section headed title, up to the next
// heading of the same or a higher level.
func section(t *testing.T, doc, title string) string {
	t.Helper()
	start := strings.Index(doc, "\n"+title+"\n")
	if start < 0 {
		t.Fatalf("README.md has no %q section", title)
	}
	rest := doc[start+len(title)+2:]
	level := strings.Count(strings.Fields(title)[0], "#")
	next := regexp.MustCompile(`(?m)^#{1,` + string(rune('0'+level)) + `} `)
	if loc := next.FindStringIndex(rest); loc != nil {
		rest = rest[:loc[0]]
	}
	return rest
}

// packages are the folders of this module holding Go code, relative to the
// root (the SDK is its own module with its own README section).
func packages(t *testing.T) []string {
	t.Helper()
	seen := map[string]bool{}
	err := filepath.WalkDir("..", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel("..", path)
		if d.IsDir() {
			switch {
			case rel == "verifier-sdk", d.Name() == "testdata", d.Name() == "node_modules",
				strings.HasPrefix(d.Name(), ".") && rel != ".":
				return filepath.SkipDir
			}
			return nil
		}
		dir := filepath.ToSlash(filepath.Dir(rel))
		if strings.HasSuffix(path, ".go") && dir != "." && dir != "docs" {
			seen[dir] = true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for p := range seen {
		out = append(out, p)
	}
	return out
}

func TestReadmeLayoutNamesEveryPackage(t *testing.T) {
	layout := section(t, read(t, "README.md"), "## Layout")
	for _, p := range packages(t) {
		if !strings.Contains(layout, "`"+p+"`") {
			t.Errorf("README.md's Layout does not name the package `%s`: say in a few words what it holds", p)
		}
	}
}

func TestChangelogNamesEveryMigration(t *testing.T) {
	log := read(t, "CHANGELOG.md")
	for _, id := range storage.MigrationIDs() {
		if !strings.Contains(log, "`"+id+"`") {
			t.Errorf("CHANGELOG.md does not name the migration `%s`: say what it changes and whether a rollback survives it", id)
		}
	}
}

// Pages exist: the README must not promise them for later.
func TestReadmeSaysNothingIsToCome(t *testing.T) {
	if strings.Contains(read(t, "README.md"), "to come") {
		t.Error(`README.md says something is "to come": describe what is there`)
	}
}

// TestTranslatedTemplatesTakeTheirWordsFromTheCatalog is the extraction
// check of issue 25: the portal's and the console's pages, the sign-in
// pages, the customers' and the staff's mails write no word of their own
// (i18n.Literal), and every key they name is in the catalog.
func TestTranslatedTemplatesTakeTheirWordsFromTheCatalog(t *testing.T) {
	key := regexp.MustCompile(`\{\{\s*(?:t|th|tn)\s+"([^"]+)"`)
	n := 0
	for _, glob := range []string{"api/portal/templates/*.html", "api/console/templates/*.html", "licensing/custmail/templates/*", "workers/templates/*.tmpl"} {
		files, err := filepath.Glob(filepath.Join("..", glob))
		if err != nil || len(files) == 0 {
			t.Fatalf("%s: %v (%d files)", glob, err, len(files))
		}
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			n++
			// Names, not words: the brands, a hash's and a protocol's, the
			// time zone of no preference.
			if words := i18n.Literal(string(b), strings.HasSuffix(f, ".html"), "NzilaCode", "Narcidi", "SHA-256", "SHA-512", "HTTP", "UTC"); len(words) > 0 {
				t.Errorf("%s writes words that are not from the catalog: %q", f, words)
			}
			for _, m := range key.FindAllStringSubmatch(string(b), -1) {
				if !i18n.Has(m[1]) {
					t.Errorf("%s names %q, which the catalog lacks", f, m[1])
				}
			}
		}
	}
	if n < 30 {
		t.Errorf("only %d templates checked", n)
	}
}
