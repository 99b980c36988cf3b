package buildpack

import (
	"bytes"
	"errors"
	"fmt"
	"go/ast"
	"go/build/constraint"
	"go/parser"
	"go/scanner"
	gotoken "go/token"
	"io/fs"
	"path"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
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
	if err != nil {
		return nil, err
	}
	mod, err := parseGoModModule(src)
	if err != nil {
		return nil, err
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

// parseGoModModule finds the module directive of a go.mod, following the
// file's grammar (golang.org/x/mod/modfile) as far as the directive
// needs: words and quoted strings separated by spaces, // comments,
// "verb (" blocks closed by a line ")". Like the go command, it accepts a
// module block ("module (" newline path newline ")"), rejects what modfile's
// lexer rejects anywhere in the file, and checks the path as cmd/go checks
// a main module's: it becomes a binary's name and a shell word, and every
// byte an import path allows is safe in both. Directives other than
// module are not checked: go build will.
func parseGoModModule(src []byte) (goModule, error) {
	toks, err := lexGoMod(src)
	if err != nil {
		return goModule{}, err
	}
	var mod goModule
	directive := func(stmt goModToken, args []goModToken) error {
		if mod.line != 0 {
			return goModError(stmt, "repeated module directive (the first is at line %d)", mod.line)
		}
		if len(args) != 1 {
			return goModError(stmt, "usage: module module/path (found %d words after module)", len(args))
		}
		p, err := goModString(args[0])
		if err != nil {
			return err
		}
		if err := goCheckImportPath(p); err != nil {
			return goModError(args[0], "malformed module path %q: %v", p, err)
		}
		mod = goModule{path: p, line: args[0].line}
		return nil
	}
	for i := 0; toks[i].kind != goTokEOF; {
		if toks[i].kind == goTokEOL {
			i++
			continue
		}
		// A statement: its first word, then words to the end of the line,
		// unless a "(" ends the line, which opens a block.
		stmt := toks[i]
		words := []goModToken{stmt}
		block, emptyBlock := false, false
		for i++; !toks[i].kind.endsLine(); i++ {
			if toks[i].kind == '(' && toks[i+1].kind.endsLine() {
				block = true
				i++
				break
			}
			if toks[i].kind == '(' && toks[i+1].kind == ')' && toks[i+2].kind.endsLine() {
				i += 2 // an empty block: "require ( )"
				emptyBlock = true
				break
			}
			words = append(words, toks[i])
		}
		isModule := stmt.kind == goTokWord && stmt.text == "module"
		if !block {
			if isModule && !emptyBlock {
				if err := directive(stmt, words[1:]); err != nil {
					return goModule{}, err
				}
			}
			continue
		}
		if isModule && len(words) > 1 {
			return goModule{}, goModError(stmt, "unknown block type: module %s", words[1].text)
		}
		for {
			for toks[i].kind == goTokEOL {
				i++
			}
			if toks[i].kind == goTokEOF {
				return goModule{}, goModError(stmt, "unterminated block: no line \")\" closes the \"(\" of line %d", stmt.line)
			}
			if toks[i].kind == ')' {
				if !toks[i+1].kind.endsLine() {
					return goModule{}, goModError(toks[i+1], "expected a newline after the block's closing \")\"")
				}
				i++
				break
			}
			line := toks[i]
			var args []goModToken
			for ; !toks[i].kind.endsLine(); i++ {
				args = append(args, toks[i])
			}
			if isModule {
				if err := directive(line, args); err != nil {
					return goModule{}, err
				}
			}
		}
	}
	if mod.line == 0 {
		return goModule{}, errors.New("buildpack: go.mod: no module directive")
	}
	return mod, nil
}

// goModString is the value of a go.mod word: a Go string literal
// unquoted, a bare word as it is. Like modfile, it refuses quotes in a
// bare word, which takes in a `raw` string: go.mod reserves them.
func goModString(t goModToken) (string, error) {
	if strings.HasPrefix(t.text, `"`) {
		s, err := strconv.Unquote(t.text)
		if err != nil {
			return "", goModError(t, "invalid quoted string %s", t.text)
		}
		return s, nil
	}
	if strings.ContainsAny(t.text, "\"'`") {
		return "", goModError(t, "unquoted string %s cannot contain a quote", t.text)
	}
	return t.text, nil
}

// goTokKind is the kind of a go.mod token: one of the constants below, or
// the punctuation byte itself for ( ) [ ] { } and ",".
type goTokKind int

// The go.mod token kinds that are not punctuation.
const (
	goTokWord   goTokKind = -1 - iota // a bare word
	goTokString                       // a "quoted" or `raw` string, quotes included
	goTokEOL                          // the end of a line (a // comment runs to it)
	goTokEOF                          // the end of the file, always the last token
)

// endsLine reports whether k ends a statement.
func (k goTokKind) endsLine() bool { return k == goTokEOL || k == goTokEOF }

// goModToken is one token of a go.mod, with its 1-based line and byte
// column for errors.
type goModToken struct {
	kind      goTokKind
	text      string
	line, col int
}

// lexGoMod splits a go.mod into tokens as modfile's lexer does, with the
// same errors: a /* comment, a string cut by a newline or the end of the
// file, or a character that is neither space, punctuation nor printable.
// The token list always ends with goTokEOF, after a goTokEOL.
func lexGoMod(src []byte) ([]goModToken, error) {
	var toks []goModToken
	line, lineStart := 1, 0
	at := func(i int) goModToken { return goModToken{line: line, col: i - lineStart + 1} }
	for i := 0; i < len(src); {
		c := src[i]
		switch {
		case c == ' ' || c == '\t' || c == '\r':
			i++
		case c == '\n':
			toks = append(toks, goModToken{kind: goTokEOL, line: line, col: i - lineStart + 1})
			i++
			line, lineStart = line+1, i
		case bytes.HasPrefix(src[i:], []byte("//")):
			for i < len(src) && src[i] != '\n' {
				i++
			}
		case bytes.HasPrefix(src[i:], []byte("/*")):
			return nil, goModError(at(i), "go.mod files use // comments, not /* */")
		case strings.IndexByte("()[]{},", c) >= 0:
			t := at(i)
			t.kind, t.text = goTokKind(c), string(c)
			toks = append(toks, t)
			i++
		case c == '"' || c == '`':
			t := at(i)
			start := i
			for i++; ; i++ {
				if i >= len(src) {
					return nil, goModError(t, "string not closed before the end of the file")
				}
				if src[i] == '\n' {
					return nil, goModError(at(i), "newline in string")
				}
				if src[i] == c {
					i++
					break
				}
				if src[i] == '\\' && c == '"' {
					i++
					if i >= len(src) {
						return nil, goModError(t, "string not closed before the end of the file")
					}
					if src[i] == '\n' {
						// modfile lets an escaped newline into the
						// string (strconv.Unquote refuses it later).
						line, lineStart = line+1, i+1
					}
				}
			}
			t.kind, t.text = goTokString, string(src[start:i])
			toks = append(toks, t)
		default:
			r, _ := utf8.DecodeRune(src[i:])
			if !goModWordRune(r) {
				return nil, goModError(at(i), "unexpected character %q", r)
			}
			t := at(i)
			start := i
			for i < len(src) {
				r, size := utf8.DecodeRune(src[i:])
				if !goModWordRune(r) || bytes.HasPrefix(src[i:], []byte("//")) {
					break
				}
				if bytes.HasPrefix(src[i:], []byte("/*")) {
					return nil, goModError(at(i), "go.mod files use // comments, not /* */")
				}
				i += size
			}
			t.kind, t.text = goTokWord, string(src[start:i])
			toks = append(toks, t)
		}
	}
	end := goModToken{kind: goTokEOL, line: line, col: len(src) - lineStart + 1}
	toks = append(toks, end)
	end.kind = goTokEOF
	return append(toks, end), nil
}

// goModWordRune reports whether r belongs in a bare go.mod word: modfile's
// isIdent. (Bytes that are not UTF-8 decode as U+FFFD, which is printable:
// modfile lets them through too, and the path check refuses them.)
func goModWordRune(r rune) bool {
	return strings.IndexRune(" ()[]{},", r) < 0 && !unicode.IsSpace(r) && unicode.IsPrint(r)
}

// goModError is an error at a token of go.mod.
func goModError(t goModToken, format string, args ...any) error {
	return fmt.Errorf("buildpack: go.mod:%d:%d: %s", t.line, t.col, fmt.Sprintf(format, args...))
}

// goCheckImportPath checks a main module's path as cmd/go does
// (golang.org/x/mod/module.CheckImportPath), with its messages, short of
// the names Windows reserves.
func goCheckImportPath(p string) error {
	switch {
	case !utf8.ValidString(p):
		return errors.New("invalid UTF-8")
	case p == "":
		return errors.New("empty string")
	case p[0] == '-':
		return errors.New("leading dash")
	case strings.Contains(p, "//"):
		return errors.New("double slash")
	case p[len(p)-1] == '/':
		return errors.New("trailing slash")
	}
	for elem := range strings.SplitSeq(p, "/") {
		if err := goCheckElem(elem); err != nil {
			return err
		}
	}
	return nil
}

// goCheckElem checks one element of an import path: ASCII letters,
// digits and -._~+, not only dots, not ending in a dot.
func goCheckElem(elem string) error {
	if elem == "" {
		return errors.New("empty path element")
	}
	if strings.Count(elem, ".") == len(elem) {
		return fmt.Errorf("invalid path element %q", elem)
	}
	if elem[len(elem)-1] == '.' {
		return errors.New("trailing dot in path element")
	}
	for _, r := range elem {
		ok := r < utf8.RuneSelf && (r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' ||
			strings.ContainsRune("-._~+", r))
		if !ok {
			return fmt.Errorf("invalid char %q", r)
		}
	}
	return nil
}
