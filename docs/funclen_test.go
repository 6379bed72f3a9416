package docs

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// MaxFuncLines is the longest a function outside tests may be (STYLE.md):
// a longer one is split into named steps.
const MaxFuncLines = 120

// TestNoFunctionOver120Lines walks every Go file of the module (and the
// SDK's) but tests and generated code, and fails for each function longer
// than MaxFuncLines, from its func keyword to its closing brace.
func TestNoFunctionOver120Lines(t *testing.T) {
	long := longFunctions(t, "..")
	for _, f := range long {
		t.Errorf("%s is %d lines (at most %d): split it into named steps", f.name, f.lines, MaxFuncLines)
	}
}

type longFunc struct {
	name  string // path/to/file.go:Recv.Func
	lines int
}

// longFunctions lists the functions over MaxFuncLines under root.
func longFunctions(t *testing.T, root string) []longFunc {
	t.Helper()
	var out []longFunc
	fset := token.NewFileSet()
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if n := d.Name(); path != root && (strings.HasPrefix(n, ".") || n == "testdata" || n == "node_modules") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.ParseComments|parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		if ast.IsGenerated(f) {
			return nil
		}
		rel, _ := filepath.Rel(root, path)
		for _, decl := range f.Decls {
			fn, ok := decl.(*ast.FuncDecl)
			if !ok || fn.Body == nil {
				continue
			}
			n := fset.Position(fn.End()).Line - fset.Position(fn.Pos()).Line + 1
			if n > MaxFuncLines {
				out = append(out, longFunc{name: filepath.ToSlash(rel) + ":" + funcName(fn), lines: n})
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func funcName(fn *ast.FuncDecl) string {
	if fn.Recv == nil || len(fn.Recv.List) == 0 {
		return fn.Name.Name
	}
	typ := fn.Recv.List[0].Type
	if s, ok := typ.(*ast.StarExpr); ok {
		typ = s.X
	}
	switch x := typ.(type) {
	case *ast.IndexExpr:
		typ = x.X
	case *ast.IndexListExpr:
		typ = x.X
	}
	if id, ok := typ.(*ast.Ident); ok {
		return id.Name + "." + fn.Name.Name
	}
	return fn.Name.Name
}

// TestLongFunctionsAreFound keeps the check honest: a function of 121
// lines is found, one of 120 is not.
func TestLongFunctionsAreFound(t *testing.T) {
	dir := t.TempDir()
	body := func(name string, lines int) string {
		return "func " + name + "() {\n" + strings.Repeat("\t_ = 0\n", lines-2) + "}\n"
	}
	src := "package x\n\n" + body("fits", MaxFuncLines) + body("over", MaxFuncLines+1)
	if err := os.WriteFile(filepath.Join(dir, "x.go"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "x_test.go"), []byte("package x\n\n"+body("inTest", 200)), 0o644); err != nil {
		t.Fatal(err)
	}
	got := longFunctions(t, dir)
	if len(got) != 1 || got[0].name != "x.go:over" || got[0].lines != MaxFuncLines+1 {
		t.Fatalf("longFunctions = %+v, want only x.go:over at %d lines", got, MaxFuncLines+1)
	}
}
