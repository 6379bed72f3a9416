package licensing_test

import (
	"bytes"
	"context"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/nzilacode/narcidicontrole/keys"
	"github.com/nzilacode/narcidicontrole/licensing"
	"github.com/nzilacode/narcidicontrole/storage"
	"github.com/nzilacode/narcidicontrole/storage/storagetest"
)

// actionConsts reads the Action* constants of the package in dir from its
// sources: name to value. A constant defined as licensing.X takes X's value
// from known.
func actionConsts(t *testing.T, dir string, known map[string]string) map[string]string {
	t.Helper()
	fset := token.NewFileSet()
	pkgs, err := parser.ParseDir(fset, dir, func(fi fs.FileInfo) bool {
		return !strings.HasSuffix(fi.Name(), "_test.go")
	}, 0)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, pkg := range pkgs {
		for _, f := range pkg.Files {
			for _, decl := range f.Decls {
				gd, ok := decl.(*ast.GenDecl)
				if !ok || gd.Tok != token.CONST {
					continue
				}
				for _, spec := range gd.Specs {
					vs := spec.(*ast.ValueSpec)
					for i, name := range vs.Names {
						if !strings.HasPrefix(name.Name, "Action") || i >= len(vs.Values) {
							continue
						}
						switch v := vs.Values[i].(type) {
						case *ast.BasicLit:
							s, err := strconv.Unquote(v.Value)
							if err != nil {
								t.Fatalf("%s: %v", name.Name, err)
							}
							out[name.Name] = s
						case *ast.SelectorExpr:
							s, ok := known[v.Sel.Name]
							if !ok {
								t.Fatalf("%s = %s.%s: not a licensing action", name.Name, v.X, v.Sel.Name)
							}
							out[name.Name] = s
						default:
							t.Fatalf("%s: an action must be a string literal or a licensing action", name.Name)
						}
					}
				}
			}
		}
	}
	return out
}

// TestEveryActionIsRegistered walks every Action* constant of licensing and
// licensing/release: each is in the one registry (release.* actions once
// were not, so a webhook could not subscribe to release.published).
func TestEveryActionIsRegistered(t *testing.T) {
	t.Parallel()
	own := actionConsts(t, ".", nil)
	all := map[string]string{}
	for n, v := range own {
		all["licensing."+n] = v
	}
	for n, v := range actionConsts(t, "release", own) {
		all["release."+n] = v
	}
	if len(own) < 30 || len(all) <= len(own) {
		t.Fatalf("found %d actions in licensing and %d in all: the walk is broken", len(own), len(all))
	}
	for name, v := range all {
		if !slices.Contains(licensing.Actions, v) {
			t.Errorf("%s (%q) is not in licensing.Actions", name, v)
		}
	}
	seen := map[string]bool{}
	for _, a := range licensing.Actions {
		if seen[a] {
			t.Errorf("%q is twice in licensing.Actions", a)
		}
		seen[a] = true
	}
	if len(licensing.Actions) != len(own) {
		t.Errorf("licensing.Actions has %d entries for %d constants: a value without a constant?", len(licensing.Actions), len(own))
	}
}

func TestWebhookMaySubscribeToReleases(t *testing.T) {
	t.Parallel()
	for _, d := range storagetest.Dialects {
		t.Run(d, func(t *testing.T) {
			box, err := keys.NewSecretBox(bytes.Repeat([]byte{3}, 32), keys.BoxWebhooks)
			if err != nil {
				t.Fatal(err)
			}
			svc := licensing.NewServices(storage.Stores(storagetest.Open(t, d)), licensing.Deps{Box: box, AllowPrivate: true})
			w, err := svc.Notifications.CreateWebhook(context.Background(), licensing.WebhookInput{URL: "http://127.0.0.1:9/hook",
				EventTypes: []string{licensing.ActionReleasePublished, licensing.ActionArtifactFinalized}})
			if err != nil {
				t.Fatal(err)
			}
			if !w.Wants("release.published") || w.Wants(licensing.ActionLicenseCreated) {
				t.Errorf("event types = %v", w.EventTypes)
			}
		})
	}
}
