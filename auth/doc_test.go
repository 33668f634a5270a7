package auth

import (
	"bytes"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestDocComments checks that the package and every exported identifier
// (fields of exported structs aside) have a doc comment.
func TestDocComments(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	pkgDoc := false
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, parser.ParseComments)
		if err != nil {
			t.Fatal(err)
		}
		pkgDoc = pkgDoc || f.Doc != nil
		for _, d := range f.Decls {
			switch d := d.(type) {
			case *ast.FuncDecl:
				if d.Name.IsExported() && d.Doc == nil {
					t.Errorf("%s: %s has no doc comment", fset.Position(d.Pos()), d.Name)
				}
			case *ast.GenDecl:
				for _, sp := range d.Specs {
					var names []*ast.Ident
					var doc *ast.CommentGroup
					switch sp := sp.(type) {
					case *ast.TypeSpec:
						names, doc = []*ast.Ident{sp.Name}, sp.Doc
					case *ast.ValueSpec:
						names, doc = sp.Names, sp.Doc
						if doc == nil {
							doc = sp.Comment
						}
					}
					for _, id := range names {
						if id.IsExported() && d.Doc == nil && doc == nil {
							t.Errorf("%s: %s has no doc comment", fset.Position(id.Pos()), id)
						}
					}
				}
			}
		}
	}
	if !pkgDoc {
		t.Error("package auth has no package doc comment")
	}
}

// TestFileSizes keeps every file under 400 lines (style.md).
func TestFileSizes(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		if n := bytes.Count(b, []byte("\n")); n >= 400 {
			t.Errorf("%s has %d lines; split it", name, n)
		}
	}
}
