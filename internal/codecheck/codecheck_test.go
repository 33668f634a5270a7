package codecheck

import (
	"bytes"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// maxLines is the size past which a source file should be split.
const maxLines = 600

// sources returns the module's non-test Go files, grouped by directory.
func sources(t *testing.T) map[string][]string {
	t.Helper()
	root := filepath.Join("..", "..")
	dirs := map[string][]string{}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && path != root && (strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata") {
			return filepath.SkipDir
		}
		if !d.IsDir() && strings.HasSuffix(path, ".go") && !strings.HasSuffix(path, "_test.go") {
			dirs[filepath.Dir(path)] = append(dirs[filepath.Dir(path)], path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return dirs
}

// Every package has a doc comment, and so has every exported name (a
// method counts when its receiver type is exported).
func TestDocComments(t *testing.T) {
	for dir, files := range sources(t) {
		fset := token.NewFileSet()
		pkgDoc := false
		for _, name := range files {
			f, err := parser.ParseFile(fset, name, nil, parser.ParseComments)
			if err != nil {
				t.Fatal(err)
			}
			pkgDoc = pkgDoc || f.Doc != nil
			for _, d := range f.Decls {
				switch d := d.(type) {
				case *ast.FuncDecl:
					if d.Name.IsExported() && receiverExported(d) && d.Doc == nil {
						t.Errorf("%s: %s has no doc comment", fset.Position(d.Pos()), d.Name)
					}
				case *ast.GenDecl:
					for _, sp := range d.Specs {
						names, doc := specDoc(sp)
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
			t.Errorf("package in %s has no package doc comment", dir)
		}
	}
}

// No source file grows past maxLines.
func TestFileSizes(t *testing.T) {
	for _, files := range sources(t) {
		for _, name := range files {
			b, err := os.ReadFile(name)
			if err != nil {
				t.Fatal(err)
			}
			if n := bytes.Count(b, []byte("\n")); n > maxLines {
				t.Errorf("%s has %d lines; split it by responsibility", name, n)
			}
		}
	}
}

func receiverExported(d *ast.FuncDecl) bool {
	if d.Recv == nil || len(d.Recv.List) == 0 {
		return true
	}
	typ := d.Recv.List[0].Type
	if star, ok := typ.(*ast.StarExpr); ok {
		typ = star.X
	}
	if idx, ok := typ.(*ast.IndexExpr); ok {
		typ = idx.X
	}
	id, ok := typ.(*ast.Ident)
	return ok && id.IsExported()
}

func specDoc(s ast.Spec) ([]*ast.Ident, *ast.CommentGroup) {
	switch s := s.(type) {
	case *ast.TypeSpec:
		return []*ast.Ident{s.Name}, s.Doc
	case *ast.ValueSpec:
		doc := s.Doc
		if doc == nil {
			doc = s.Comment
		}
		return s.Names, doc
	}
	return nil, nil
}
