package buildpack

import (
	"errors"
	"fmt"
	"go/ast"
	"go/build/constraint"
	"go/parser"
	"go/scanner"
	gotoken "go/token"
	"io/fs"
	"path"
	"strings"
	"unicode/utf8"

	"golang.org/x/mod/modfile"
	"golang.org/x/mod/module"
)

// detectGo finds a Go module with a main package: at the root, or in one
// cmd/* directory (in a cmd/web or cmd/server when there are several). The
// plan builds the binary into bin/ and runs it; nothing is run here, so the
// package clauses are read with go/parser rather than asked of go list.
func detectGo(a *appFiles) (*Plan, error) {
	src, err := a.read("go.mod")
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	var mod goModule
	if err == nil {
		mod, err = parseGoModModule(src)
	}
	if err != nil {
		return nil, &unreadManifest{file: "go.mod", without: "no Go binary", err: err}
	}
	modEv := Evidence{File: "go.mod", Line: mod.line, Says: fmt.Sprintf("declares module %s", mod.path)}

	rootEv, rootMain, err := goPackageMain(a, ".")
	if err != nil {
		return nil, err
	}
	cmds, err := goCmdMains(a)
	if err != nil {
		return nil, err
	}
	if rootMain {
		p := goPlan(modEv, rootEv, goExecName(mod.path), ".")
		for _, c := range cmds {
			p.Notes = append(p.Notes, fmt.Sprintf("cmd/%s also holds a main package; corral runs the one at the root as web (a Procfile can run the others)", c.dir))
		}
		return p, nil
	}
	switch len(cmds) {
	case 0:
		return nil, fmt.Errorf("buildpack: go.mod: module %s has no main package at the root or in cmd/*", mod.path)
	case 1:
		return goPlan(modEv, cmds[0].why, cmds[0].dir, "cmd/"+cmds[0].dir), nil
	}
	var web []goCmd
	for _, c := range cmds {
		if c.dir == "web" || c.dir == "server" {
			web = append(web, c)
		}
	}
	if len(web) != 1 {
		names := make([]string, len(cmds))
		for i, c := range cmds {
			names[i] = "cmd/" + c.dir
		}
		why := "none is named web or server"
		if len(web) > 1 {
			why = "both cmd/web and cmd/server exist"
		}
		return nil, fmt.Errorf("buildpack: go.mod: module %s has main packages in %s, and %s: "+
			"write a Procfile naming the web one, e.g. \"web: bin/%s\", after building them with \"go build -o bin/ ./cmd/...\"",
			mod.path, strings.Join(names, ", "), why, cmds[0].dir)
	}
	p := goPlan(modEv, web[0].why, web[0].dir, "cmd/"+web[0].dir)
	for _, c := range cmds {
		if c != web[0] {
			p.Notes = append(p.Notes, fmt.Sprintf("cmd/%s also holds a main package; corral runs cmd/%s as web (a Procfile can run the others)", c.dir, web[0].dir))
		}
	}
	return p, nil
}

// goPlan is the plan for the main package in pkgDir ("." or "cmd/x"),
// built as bin/name.
func goPlan(modEv, mainEv Evidence, name, pkgDir string) *Plan {
	bin := "bin/" + name
	target := "."
	if pkgDir != "." {
		target = "./" + pkgDir
	}
	return &Plan{
		Kind:      Go,
		Title:     "Go",
		Evidence:  []Evidence{modEv, mainEv},
		Processes: []Process{{Type: "web", Command: bin, Why: mainEv}},
		Build:     []Step{{Command: "go build -o " + bin + " " + target, Creates: bin, Why: mainEv}},
		Notes: []string{
			fmt.Sprintf("corral start builds %s when it is missing and the app has no Procfile; corral build always rebuilds it", bin),
		},
	}
}

// goExecName is the name go build gives the binary of the main package
// at a module's root: the path's last element, or the one before a
// major-version suffix (example.com/hello/v2 makes hello), as cmd/go's
// DefaultExecName does.
func goExecName(modPath string) string {
	dir, elem := path.Split(modPath)
	if dir != "" && goIsVersionElement(elem) {
		_, elem = path.Split(strings.TrimSuffix(dir, "/"))
	}
	return elem
}

// goIsVersionElement reports whether elem is a major-version suffix v2,
// v3, …; v0 and v1 are never written in a path.
func goIsVersionElement(elem string) bool {
	if len(elem) < 2 || elem[0] != 'v' || elem[1] == '0' || elem == "v1" {
		return false
	}
	for i := 1; i < len(elem); i++ {
		if elem[i] < '0' || elem[i] > '9' {
			return false
		}
	}
	return true
}

// goCmd is a cmd/* directory holding a main package.
type goCmd struct {
	dir string // the directory's name under cmd/
	why Evidence
}

// goCmdMains returns the directories directly under cmd/ that hold a main
// package, sorted by name. Directories go build's patterns skip (a leading
// dot or underscore, testdata) or whose names are no valid import path
// element (go build could not build them) are passed over.
func goCmdMains(a *appFiles) ([]goCmd, error) {
	if !a.isDir("cmd") {
		return nil, nil
	}
	entries, err := a.list("cmd")
	if err != nil {
		return nil, err
	}
	var out []goCmd
	for _, e := range entries {
		name := e.Name()
		if name == "testdata" || strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") ||
			goCheckElem(name) != nil || !a.isDir(join("cmd", name)) {
			continue
		}
		ev, ok, err := goPackageMain(a, join("cmd", name))
		if err != nil {
			return nil, err
		}
		if ok {
			out = append(out, goCmd{dir: name, why: ev})
		}
	}
	return out, nil
}

// goPackageMain reports whether the Go files of dir (slash-separated, "."
// for the root) make a package main, with the file that says so. It reads
// what go build would compile: no _test.go files, no names starting with
// _ or ., and no file whose build constraint needs the ignore tag. Other
// tags count as set, so a file for another OS still says which package the
// directory is; a file gated by a tag (tools.go's "tools") never outvotes
// one with no constraint.
func goPackageMain(a *appFiles, dir string) (Evidence, bool, error) {
	entries, err := a.list(dir)
	if err != nil {
		return Evidence{}, false, err
	}
	fset := gotoken.NewFileSet()
	var main, gatedMain, other *goPackageClause
	for _, e := range entries {
		name := e.Name()
		if !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") ||
			strings.HasPrefix(name, "_") || strings.HasPrefix(name, ".") {
			continue
		}
		file := join(dir, name)
		fi, err := a.stat(file)
		if errors.Is(err, fs.ErrNotExist) {
			continue // a dangling link: go build would fail on it, and say so
		}
		if err != nil {
			return Evidence{}, false, err
		}
		// A file of more than a megabyte is generated code (embedded
		// assets); the hand-written files beside it say the package.
		if !fi.Mode().IsRegular() || fi.Size() > maxFileSize {
			continue
		}
		clause, err := goReadPackageClause(a, fset, file)
		if err != nil {
			return Evidence{}, false, err
		}
		switch {
		case clause == nil:
		case clause.name == "main" && !clause.gated:
			if main == nil {
				main = clause
			}
		case clause.name == "main":
			if gatedMain == nil {
				gatedMain = clause
			}
		case !clause.gated:
			if other == nil {
				other = clause
			}
		}
	}
	if main == nil {
		main = gatedMain
	}
	if main == nil {
		return Evidence{}, false, nil
	}
	if other != nil {
		return Evidence{}, false, fmt.Errorf("buildpack: %s:%d: package %s, but %s:%d is package main: the files of one directory make one package",
			other.file, other.line, other.name, main.file, main.line)
	}
	return Evidence{File: main.file, Line: main.line, Says: "package main"}, true, nil
}

// goPackageClause is what goReadPackageClause found in one file.
type goPackageClause struct {
	file  string
	line  int
	name  string
	gated bool // a build constraint (other than ignore) decides whether it is built
}

// goReadPackageClause parses file as far as its package clause. It returns
// nil for a file excluded by //go:build ignore (a generator's package main
// beside a library, say).
func goReadPackageClause(a *appFiles, fset *gotoken.FileSet, file string) (*goPackageClause, error) {
	src, err := a.read(file)
	if err != nil {
		return nil, err
	}
	f, err := parser.ParseFile(fset, file, src, parser.PackageClauseOnly|parser.ParseComments)
	if err != nil {
		var list scanner.ErrorList
		if errors.As(err, &list) && len(list) > 0 {
			return nil, fmt.Errorf("buildpack: %s: %s", list[0].Pos, list[0].Msg)
		}
		return nil, fmt.Errorf("buildpack: %s: %v", file, err)
	}
	expr, err := goFileConstraint(fset, f)
	if err != nil {
		return nil, err
	}
	if expr != nil && !expr.Eval(func(tag string) bool { return tag != "ignore" }) {
		return nil, nil
	}
	return &goPackageClause{
		file:  file,
		line:  fset.Position(f.Package).Line,
		name:  f.Name.Name,
		gated: expr != nil,
	}, nil
}

// goFileConstraint returns the build constraint in the comments above f's
// package clause: its //go:build line, or else its // +build lines, which
// go build still honours in a file with no //go:build line. It returns
// nil when the file has none.
func goFileConstraint(fset *gotoken.FileSet, f *ast.File) (constraint.Expr, error) {
	var plus constraint.Expr
	for _, group := range f.Comments {
		if group.Pos() >= f.Package {
			break
		}
		for _, c := range group.List {
			switch {
			case constraint.IsGoBuild(c.Text):
				expr, err := constraint.Parse(c.Text)
				if err != nil {
					return nil, fmt.Errorf("buildpack: %s: invalid //go:build line: %v", fset.Position(c.Pos()), err)
				}
				return expr, nil
			case constraint.IsPlusBuild(c.Text):
				// go build skips a malformed +build line, and so do we.
				if expr, err := constraint.Parse(c.Text); err == nil {
					if plus == nil {
						plus = expr
					} else {
						plus = &constraint.AndExpr{X: plus, Y: expr}
					}
				}
			}
		}
	}
	return plus, nil
}

// goModule is the module directive of a go.mod.
type goModule struct {
	path string
	line int // the line holding the path
}

// parseGoModModule reads a go.mod with golang.org/x/mod/modfile, the
// parser the go command itself uses for the main module, so that a go.mod
// detection accepts is one go build accepts, and returns its module
// directive. The path is checked as cmd/go checks a main module's
// (module.CheckImportPath): it becomes a binary's name and a shell word,
// and every byte an import path allows is safe in both.
func parseGoModModule(src []byte) (goModule, error) {
	f, err := modfile.Parse("go.mod", src, nil)
	if err != nil {
		var list modfile.ErrorList
		if errors.As(err, &list) && len(list) > 0 {
			return goModule{}, goModError(list[0])
		}
		var one *modfile.Error
		if errors.As(err, &one) {
			return goModule{}, goModError(*one)
		}
		return goModule{}, fmt.Errorf("buildpack: go.mod: %w", err)
	}
	if f.Module == nil || f.Module.Syntax == nil {
		return goModule{}, errors.New("buildpack: go.mod: no module directive")
	}
	syn := f.Module.Syntax
	p := f.Module.Mod.Path
	if err := module.CheckImportPath(p); err != nil {
		col := 1
		if n := len(syn.Token); n > 0 {
			// modfile keeps no column for a word; the path is the line's
			// last, as written.
			text := string(src[syn.Start.Byte:])
			text, _, _ = strings.Cut(text, "\n")
			if i := strings.LastIndex(text, syn.Token[n-1]); i >= 0 {
				col = syn.Start.LineRune + utf8.RuneCountInString(text[:i])
			}
		}
		return goModule{}, fmt.Errorf("buildpack: go.mod:%d:%d: malformed module path %q: %v", syn.Start.Line, col, p, errors.Unwrap(err))
	}
	return goModule{path: p, line: syn.Start.Line}, nil
}

// goModError gives modfile's error in the form of the buildpack's:
// "buildpack: go.mod:3:9: message", the column 1 when modfile gives none.
func goModError(e modfile.Error) error {
	msg := e.Err.Error()
	switch {
	case e.ModPath != "":
		msg = e.Verb + " " + e.ModPath + ": " + msg
	case e.Verb != "":
		msg = e.Verb + ": " + msg
	}
	return fmt.Errorf("buildpack: go.mod:%d:%d: %s", max(e.Pos.Line, 1), max(e.Pos.LineRune, 1), msg)
}

// goCheckElem checks one element of an import path, as cmd/go would for
// a package directory's name.
func goCheckElem(elem string) error {
	if elem == "" || strings.Contains(elem, "/") {
		return fmt.Errorf("invalid path element %q", elem)
	}
	return module.CheckImportPath(elem)
}
