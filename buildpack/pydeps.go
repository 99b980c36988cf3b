package buildpack

import (
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// pyDep is one dependency a Python app declares.
type pyDep struct {
	name   string   // normalised per PEP 503: "uvicorn"
	extras []string // normalised too: "standard"
	at     Evidence // where: "requirements.txt:2: declares gunicorn"
}

// pyDeps is what a Python app's dependency file declares and the build
// step that installs it.
type pyDeps struct {
	// file is the file a user edits to add a dependency; "" when the app
	// has none (or a pyproject.toml that declares nothing).
	file string
	// where names the list in a note: "requirements.txt", "Pipfile's
	// [packages]".
	where string
	// add is how a user adds a package, with %s for its name.
	add     string
	install *Step // nil when there is nothing to install
	deps    map[string]pyDep
}

// get returns the declaration of the package name (any spelling PEP 503
// takes as the same).
func (d *pyDeps) get(name string) (pyDep, bool) {
	dep, ok := d.deps[normalizePyName(name)]
	return dep, ok
}

// missingNote is the note for a command the web process runs that no
// dependency file declares.
func (d *pyDeps) missingNote(tool string) string {
	if d.file == "" {
		return fmt.Sprintf("no requirements.txt, Pipfile or pyproject.toml declaring dependencies: corral installs nothing, so %s and the app's other packages must already be installed", tool)
	}
	return fmt.Sprintf("%s is not in %s: %s, or the web process will not start", tool, d.where, fmt.Sprintf(d.add, tool))
}

// pipInVenv begins the command that pip-installs the app's dependencies
// into .venv in the app directory, made first when missing: Debian's and
// Ubuntu's Python refuses installs into itself (PEP 668), and a platform's
// build keeps the app directory. The system's packages stay visible (apt's
// python3-django on a VPS), the virtualenv's own winning over them.
const pipInVenv = "test -d .venv || python3 -m venv --system-site-packages .venv && .venv/bin/python -m pip install "

// readPyDeps reads the app's dependencies from the file a Python buildpack
// installs from, in the order Heroku's does: requirements.txt, then
// Pipfile, then pyproject.toml (poetry, uv, or a plain [project]). Only
// that file counts: it is what the build installs.
func readPyDeps(a *appFiles) (*pyDeps, error) {
	d := &pyDeps{deps: map[string]pyDep{}}
	if reqs, err := a.readOptional("requirements.txt"); err != nil {
		return nil, err
	} else if reqs != nil {
		d.file, d.where, d.add = "requirements.txt", "requirements.txt", "add it there (pip install %s)"
		d.install = &Step{Command: pipInVenv + "-r requirements.txt", Why: Evidence{File: "requirements.txt", Says: "lists the dependencies (pip, into the virtualenv in .venv, which corral puts first in PATH)"}}
		return d, readRequirements(a, "requirements.txt", string(reqs), 0, map[string]bool{}, d.deps)
	}
	if pipfile, err := a.readOptional("Pipfile"); err != nil {
		return nil, err
	} else if pipfile != nil {
		doc, err := parseTOML("Pipfile", string(pipfile))
		if err != nil {
			return nil, err
		}
		d.file, d.where, d.add = "Pipfile", "Pipfile's [packages]", "pipenv install %s"
		d.install = &Step{Command: "PIPENV_VENV_IN_PROJECT=1 pipenv install --deploy", Why: Evidence{File: "Pipfile", Says: "lists the dependencies (pipenv; the virtualenv in .venv, which corral puts first in PATH)"}}
		for _, k := range doc.children("packages") {
			addPyDep(d.deps, k.path[1], nil, Evidence{File: "Pipfile", Line: k.line})
		}
		return d, nil
	}
	pyproject, err := a.readOptional("pyproject.toml")
	if err != nil || pyproject == nil {
		return d, err
	}
	doc, err := parseTOML("pyproject.toml", string(pyproject))
	if err != nil {
		return nil, err
	}
	if k, ok := doc.get("project", "dependencies"); ok && k.val.kind == tomlArray {
		for _, item := range k.val.items {
			if item.kind != tomlString {
				continue
			}
			if name, extras, ok := parseRequirementName(item.str); ok {
				addPyDep(d.deps, name, extras, Evidence{File: "pyproject.toml", Line: item.line})
			}
		}
	}
	projectLine, project := doc.has("project")
	poetryLine, poetry := doc.has("tool", "poetry")
	switch {
	case poetry:
		for _, k := range doc.children("tool", "poetry", "dependencies") {
			if normalizePyName(k.path[3]) != "python" {
				addPyDep(d.deps, k.path[3], nil, Evidence{File: "pyproject.toml", Line: k.line})
			}
		}
		d.add = "poetry add %s"
		d.install = &Step{Command: "POETRY_VIRTUALENVS_IN_PROJECT=true poetry install --only main --no-root", Why: Evidence{File: "pyproject.toml", Line: poetryLine, Says: "a poetry project ([tool.poetry]; the virtualenv in .venv, which corral puts first in PATH)"}}
	case a.isFile("uv.lock"):
		d.add = "uv add %s"
		d.install = &Step{Command: "uv sync --frozen", Why: Evidence{File: "uv.lock", Says: "pins the dependencies (uv; the virtualenv in .venv, which corral puts first in PATH)"}}
	case project:
		d.add = "add %s to [project] dependencies"
		d.install = &Step{Command: pipInVenv + ".", Why: Evidence{File: "pyproject.toml", Line: projectLine, Says: "a [project] table (pip, into the virtualenv in .venv, which corral puts first in PATH)"}}
	default:
		return d, nil // tool settings only: black, ruff, pytest
	}
	d.file, d.where = "pyproject.toml", "pyproject.toml's dependencies"
	return d, nil
}

// addPyDep records a declaration; the first one of a name is its evidence.
func addPyDep(deps map[string]pyDep, name string, extras []string, at Evidence) {
	n := normalizePyName(name)
	if n == "" {
		return
	}
	written := name
	if len(extras) > 0 {
		written += "[" + strings.Join(extras, ",") + "]"
	}
	at.Says = "declares " + written
	if old, ok := deps[n]; ok {
		old.extras = append(old.extras, extras...)
		deps[n] = old
		return
	}
	deps[n] = pyDep{name: n, extras: extras, at: at}
}

// maxRequirementsDepth bounds how deep -r files are followed:
// requirements.txt → requirements/production.txt → base.txt is the deepest
// layout in common use.
const maxRequirementsDepth = 3

// readRequirements adds what the requirements file name declares to deps,
// following its -r lines through a (relative to the including file, as pip
// does), each file once.
func readRequirements(a *appFiles, name, src string, depth int, seen map[string]bool, deps map[string]pyDep) error {
	seen[name] = true
	items, err := parseRequirements(name, src)
	if err != nil {
		return err
	}
	for _, it := range items {
		if it.include == "" {
			addPyDep(deps, it.name, it.extras, Evidence{File: name, Line: it.line})
			continue
		}
		inc := join(dirOf(name), it.include)
		if seen[inc] || depth+1 > maxRequirementsDepth {
			continue
		}
		b, err := a.read(inc)
		if errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("buildpack: %s:%d: -r %s: %s does not exist", name, it.line, it.include, inc)
		}
		if err != nil {
			return fmt.Errorf("buildpack: %s:%d: -r %s: %s", name, it.line, it.include, strings.TrimPrefix(err.Error(), "buildpack: "))
		}
		if err := readRequirements(a, inc, string(b), depth+1, seen, deps); err != nil {
			return err
		}
	}
	return nil
}

// dirOf is path.Dir with "" for a file at the top.
func dirOf(name string) string {
	if i := strings.LastIndexByte(name, '/'); i >= 0 {
		return name[:i]
	}
	return ""
}

// reqItem is one line of a requirements file that matters here: a
// requirement's name or a -r file.
type reqItem struct {
	line    int
	name    string // as written
	extras  []string
	include string // the file a -r line names, as written
}

// parseRequirements reads a pip requirements file the way pip splits it:
// backslash continuations joined, comments ("#" at the start or after a
// space) dropped. Requirements give their name and extras; -r and
// --requirement give a file; other options, editable installs, URLs and
// paths are skipped, since they name no package corral could look for. A
// line that names nothing it knows is skipped too: pip reports it better.
func parseRequirements(file, src string) ([]reqItem, error) {
	lines := splitLines(src)
	var items []reqItem
	for n := 0; n < len(lines); n++ {
		// Joined as pip's join_lines does: a line ending in a backslash
		// goes on, unless it is a comment; the backslashes at either end
		// of a joined line go.
		first, line := n+1, lines[n]
		var b strings.Builder
		for isContinued(line) && n+1 < len(lines) {
			b.WriteString(strings.Trim(line, `\`))
			n++
			line = lines[n]
		}
		switch {
		case isContinued(line):
			line = strings.Trim(line, `\`) // the last line of the file
		case b.Len() > 0 && strings.HasPrefix(strings.TrimLeft(line, " \t\f\v\r"), "#"):
			line = " " + line // a comment ends a joined line, and stays one
		}
		b.WriteString(line)
		text := b.String()
		if i := commentAt(text); i >= 0 {
			text = text[:i]
		}
		text = strings.TrimSpace(text)
		if text == "" {
			continue
		}
		if text[0] == '-' {
			opt, arg := splitOption(text)
			if opt != "-r" && opt != "--requirement" {
				continue // -c, -e, -i, --hash…: nothing declared by name
			}
			if arg == "" {
				return nil, fmt.Errorf("buildpack: %s:%d: %s names no file", file, first, opt)
			}
			if !strings.Contains(arg, "://") {
				items = append(items, reqItem{line: first, include: arg})
			}
			continue
		}
		if name, extras, ok := parseRequirementName(text); ok {
			items = append(items, reqItem{line: first, name: name, extras: extras})
		}
	}
	return items, nil
}

// splitLines splits at \n, \r\n and a lone \r, as Python's splitlines.
func splitLines(s string) []string {
	var out []string
	for s != "" {
		i := strings.IndexAny(s, "\r\n")
		if i < 0 {
			out = append(out, s)
			break
		}
		out = append(out, s[:i])
		if s[i] == '\r' && i+1 < len(s) && s[i+1] == '\n' {
			i++
		}
		s = s[i+1:]
	}
	return out
}

// commentAt returns where a requirements comment starts, a "#" first on
// the line or after white space, or -1: "pkg @ https://…#egg=pkg" keeps
// its fragment.
func commentAt(s string) int {
	for i := 0; i < len(s); i++ {
		if s[i] == '#' && (i == 0 || strings.IndexByte(" \t\f\v\r", s[i-1]) >= 0) {
			return i
		}
	}
	return -1
}

// isContinued reports whether a requirements line goes on to the next:
// it ends in a backslash and is not a comment line.
func isContinued(line string) bool {
	return strings.HasSuffix(line, `\`) && !strings.HasPrefix(strings.TrimLeft(line, " \t\f\v\r"), "#")
}

// splitOption splits "-r file", "-rfile", "--requirement=file" and
// "--requirement file" into the option and its first argument.
func splitOption(s string) (opt, arg string) {
	if strings.HasPrefix(s, "--") {
		i := strings.IndexAny(s, "= \t")
		if i < 0 {
			return s, ""
		}
		opt, arg = s[:i], s[i+1:]
	} else if len(s) >= 2 {
		opt, arg = s[:2], s[2:]
	} else {
		return s, ""
	}
	arg = strings.TrimLeft(strings.TrimSpace(arg), "=")
	if f := strings.Fields(arg); len(f) > 0 {
		return opt, f[0]
	}
	return opt, ""
}

// parseRequirementName reads the name and extras at the start of a PEP 508
// requirement: "uvicorn[standard]>=0.20; python_version>'3.8'" gives
// uvicorn and standard. ok is false when s starts with no name, or with a
// URL or path ("git+https://…", "./pkg", "pkg.whl").
func parseRequirementName(s string) (name string, extras []string, ok bool) {
	s = strings.TrimSpace(s)
	j := 0
	for j < len(s) && (isAlnum(s[j]) || s[j] == '.' || s[j] == '_' || s[j] == '-') {
		j++
	}
	if j == 0 || !isAlnum(s[0]) || !isAlnum(s[j-1]) {
		return "", nil, false
	}
	name, rest := s[:j], s[j:]
	if rest != "" && strings.ContainsRune(`/\:+`, rune(rest[0])) {
		return "", nil, false
	}
	lower := strings.ToLower(name)
	for _, ext := range []string{".whl", ".zip", ".tar.gz", ".tgz", ".tar.bz2", ".tar.xz"} {
		if strings.HasSuffix(lower, ext) {
			return "", nil, false
		}
	}
	rest = strings.TrimLeft(rest, " \t")
	if strings.HasPrefix(rest, "[") {
		if end := strings.IndexByte(rest, ']'); end > 0 {
			for e := range strings.SplitSeq(rest[1:end], ",") {
				if e = normalizePyName(strings.TrimSpace(e)); e != "" {
					extras = append(extras, e)
				}
			}
		}
	}
	return name, extras, true
}

// isAlnum reports whether c is an ASCII letter or digit.
func isAlnum(c byte) bool { return isDigit(c) || (c|0x20 >= 'a' && c|0x20 <= 'z') }

// normalizePyName normalises a package name as PEP 503 does: lower case,
// each run of "-", "_" and "." one "-" (at the ends, none).
func normalizePyName(s string) string {
	var b strings.Builder
	sep := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '-' || c == '_' || c == '.' {
			sep = true
			continue
		}
		if sep && b.Len() > 0 {
			b.WriteByte('-')
		}
		sep = false
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		b.WriteByte(c)
	}
	return b.String()
}

// tomlKind is the kind of a TOML value, as far as detection tells them
// apart: numbers, booleans and dates are all "other".
type tomlKind uint8

// The kinds of TOML value.
const (
	tomlString tomlKind = iota + 1
	tomlArray
	tomlTable // an inline table; its keys are in the document's
	tomlOther
)

// tomlValue is one TOML value.
type tomlValue struct {
	kind  tomlKind
	str   string      // a string's value
	line  int         // where it starts
	items []tomlValue // an array's
}

// tomlKey is a key of a TOML document, with its whole path: the table
// header's, then the dotted key's.
type tomlKey struct {
	path []string
	line int
	val  tomlValue // none for a table header
}

// tomlDoc is what the TOML reader keeps of a document: every table header
// and every key, inline tables' included, in order.
type tomlDoc struct {
	tables []tomlKey
	keys   []tomlKey
}

// hasPrefix reports whether p starts with prefix.
func hasPrefix(p, prefix []string) bool {
	return len(p) >= len(prefix) && slices.Equal(p[:len(prefix)], prefix)
}

// has reports whether the document defines anything under prefix (a
// header or a key), with the line of the first.
func (d *tomlDoc) has(prefix ...string) (int, bool) {
	line := 0
	for _, k := range slices.Concat(d.tables, d.keys) {
		if hasPrefix(k.path, prefix) && (line == 0 || k.line < line) {
			line = k.line
		}
	}
	return line, line > 0
}

// get returns the key with exactly this path.
func (d *tomlDoc) get(path ...string) (tomlKey, bool) {
	for _, k := range d.keys {
		if slices.Equal(k.path, path) {
			return k, true
		}
	}
	return tomlKey{}, false
}

// children returns one key for each name directly under prefix, however
// it is written (fastapi = "…", fastapi.version = "…", a
// [tool.poetry.dependencies.fastapi] header), at its first line, in line
// order. The returned path is cut after that name.
func (d *tomlDoc) children(prefix ...string) []tomlKey {
	first := map[string]tomlKey{}
	for _, k := range slices.Concat(d.tables, d.keys) {
		if len(k.path) <= len(prefix) || !hasPrefix(k.path, prefix) {
			continue
		}
		name := k.path[len(prefix)]
		if old, ok := first[name]; !ok || k.line < old.line {
			first[name] = tomlKey{path: k.path[:len(prefix)+1], line: k.line}
		}
	}
	out := make([]tomlKey, 0, len(first))
	for _, k := range first {
		out = append(out, k)
	}
	slices.SortFunc(out, func(a, b tomlKey) int {
		if a.line != b.line {
			return a.line - b.line
		}
		return strings.Compare(a.path[len(a.path)-1], b.path[len(b.path)-1])
	})
	return out
}

// maxTOMLDepth bounds the nesting of arrays and inline tables.
const maxTOMLDepth = 64

// maxTOMLKeyParts bounds how many parts a key's whole path may have (the
// deepest a pyproject.toml goes is about 7: tool.poetry.group.dev.
// dependencies.x.version), so that each key's copy of its path stays
// small whatever the file holds.
const maxTOMLKeyParts = 16

// tomlParser reads TOML: enough of version 1.0 (and 1.1's multi-line inline
// tables) to find dependencies, checking the syntax so a broken file is an
// error at its line rather than a wrong answer.
type tomlParser struct {
	file      string
	src       string
	i         int
	line      int
	lineStart int
	doc       *tomlDoc
	defined   map[string]int // keys and tables already defined, to their lines
	scope     int            // counts [[array]] headers: each opens a fresh table
}

// parseTOML reads src, the TOML file named file; an error names the file,
// line and column.
func parseTOML(file, src string) (*tomlDoc, error) {
	p := &tomlParser{file: file, src: src, line: 1, doc: &tomlDoc{}, defined: map[string]int{}}
	if strings.HasPrefix(src, "\ufeff") {
		p.i, p.lineStart = 3, 3
	}
	table := []string{} // the root table; nil would mean "not recorded"
	for {
		p.skipSpace()
		if p.i >= len(p.src) {
			return p.doc, nil
		}
		switch c := p.src[p.i]; c {
		case '#':
			p.skipComment()
		case '\n', '\r':
			if !p.newline() {
				return nil, p.errorf("a carriage return with no line feed after it")
			}
		case '[':
			line := p.line
			array := strings.HasPrefix(p.src[p.i:], "[[")
			closing := "]"
			if array {
				closing = "]]"
			}
			p.i += len(closing)
			path, err := p.key()
			if err != nil {
				return nil, err
			}
			if len(path) > maxTOMLKeyParts {
				return nil, p.errorAt(line, 1, "table name more than %d parts deep", maxTOMLKeyParts)
			}
			p.skipSpace()
			if !strings.HasPrefix(p.src[p.i:], closing) {
				return nil, p.errorf("expected %q to close the table header, found %s", closing, p.found())
			}
			p.i += len(closing)
			id := "T" + quotePath(path)
			if array {
				p.scope++
			} else if old, ok := p.defined[id]; ok {
				return nil, p.errorAt(line, 1, "table [%s] is defined twice (first at line %d)", strings.Join(path, "."), old)
			} else {
				p.defined[id] = line
			}
			table = path
			p.doc.tables = append(p.doc.tables, tomlKey{path: path, line: line})
			if err := p.endOfLine(); err != nil {
				return nil, err
			}
		default:
			if err := p.keyValue(table); err != nil {
				return nil, err
			}
			if err := p.endOfLine(); err != nil {
				return nil, err
			}
		}
	}
}

// keyValue reads "key = value" in the table at (nil inside an array,
// whose inline tables' keys are not recorded).
func (p *tomlParser) keyValue(at []string) error {
	line, col := p.line, p.i-p.lineStart+1
	k, err := p.key()
	if err != nil {
		return err
	}
	p.skipSpace()
	if p.i >= len(p.src) || p.src[p.i] != '=' {
		return p.errorf("expected = after the key, found %s", p.found())
	}
	p.i++
	p.skipSpace()
	var full []string
	if at != nil {
		if full = slices.Concat(at, k); len(full) > maxTOMLKeyParts {
			return p.errorAt(line, col, "key more than %d parts deep", maxTOMLKeyParts)
		}
	}
	v, err := p.value(0, full)
	if err != nil {
		return err
	}
	if at == nil {
		return nil
	}
	id := "K" + strconv.Itoa(p.scope) + quotePath(full)
	if old, ok := p.defined[id]; ok {
		return p.errorAt(line, col, "key %s is defined twice (first at line %d)", strings.Join(k, "."), old)
	}
	p.defined[id] = line
	p.doc.keys = append(p.doc.keys, tomlKey{path: full, line: line, val: v})
	return nil
}

// quotePath makes a map key of a path that no other path shares.
func quotePath(path []string) string {
	var b strings.Builder
	for _, p := range path {
		b.WriteString(strconv.Quote(p))
	}
	return b.String()
}

// key reads a dotted key: bare, "basic" or 'literal' parts.
func (p *tomlParser) key() ([]string, error) {
	var parts []string
	for {
		p.skipSpace()
		if p.i >= len(p.src) {
			return nil, p.errorf("expected a key, found %s", p.found())
		}
		var part string
		switch c := p.src[p.i]; {
		case c == '"' || c == '\'':
			if strings.HasPrefix(p.src[p.i:], `"""`) || strings.HasPrefix(p.src[p.i:], "'''") {
				return nil, p.errorf("a key cannot be a multi-line string")
			}
			var err error
			if part, err = p.singleLineString(); err != nil {
				return nil, err
			}
		case isAlnum(c) || c == '_' || c == '-':
			j := p.i
			for j < len(p.src) && (isAlnum(p.src[j]) || p.src[j] == '_' || p.src[j] == '-') {
				j++
			}
			part, p.i = p.src[p.i:j], j
		default:
			return nil, p.errorf("expected a key, found %s", p.found())
		}
		parts = append(parts, part)
		p.skipSpace()
		if p.i >= len(p.src) || p.src[p.i] != '.' {
			return parts, nil
		}
		p.i++
	}
}

// value reads a value; at is its key's whole path, under which an inline
// table's keys are recorded (nil: not recorded).
func (p *tomlParser) value(depth int, at []string) (tomlValue, error) {
	if depth > maxTOMLDepth {
		return tomlValue{}, p.errorf("arrays and inline tables nested more than %d deep", maxTOMLDepth)
	}
	if p.i >= len(p.src) {
		return tomlValue{}, p.errorf("expected a value, found %s", p.found())
	}
	v := tomlValue{line: p.line}
	var err error
	switch c := p.src[p.i]; {
	case strings.HasPrefix(p.src[p.i:], `"""`) || strings.HasPrefix(p.src[p.i:], "'''"):
		v.kind = tomlString
		v.str, err = p.multiLineString()
	case c == '"' || c == '\'':
		v.kind = tomlString
		v.str, err = p.singleLineString()
	case c == '[':
		v.kind = tomlArray
		v.items, err = p.array(depth)
	case c == '{':
		v.kind = tomlTable
		err = p.inlineTable(depth, at)
	default:
		v.kind = tomlOther
		err = p.scalar()
	}
	return v, err
}

// array reads "[v, v, …]", across lines, comments and a trailing comma
// allowed.
func (p *tomlParser) array(depth int) ([]tomlValue, error) {
	p.i++
	var items []tomlValue
	for {
		if err := p.skipBlank(); err != nil {
			return nil, err
		}
		if p.accept(']') {
			return items, nil
		}
		item, err := p.value(depth+1, nil)
		if err != nil {
			return nil, err
		}
		items = append(items, item)
		if err := p.skipBlank(); err != nil {
			return nil, err
		}
		if p.accept(',') {
			continue
		}
		if p.accept(']') {
			return items, nil
		}
		return nil, p.errorf("expected , or ] in the array, found %s", p.found())
	}
}

// inlineTable reads "{ k = v, … }", recording its keys under at.
func (p *tomlParser) inlineTable(depth int, at []string) error {
	p.i++
	for {
		if err := p.skipBlank(); err != nil {
			return err
		}
		if p.accept('}') {
			return nil
		}
		line, col := p.line, p.i-p.lineStart+1
		k, err := p.key()
		if err != nil {
			return err
		}
		p.skipSpace()
		if !p.accept('=') {
			return p.errorf("expected = after the key, found %s", p.found())
		}
		p.skipSpace()
		var full []string
		if at != nil {
			if full = slices.Concat(at, k); len(full) > maxTOMLKeyParts {
				return p.errorAt(line, col, "key more than %d parts deep", maxTOMLKeyParts)
			}
		}
		v, err := p.value(depth+1, full)
		if err != nil {
			return err
		}
		if at != nil {
			id := "K" + strconv.Itoa(p.scope) + quotePath(full)
			if old, ok := p.defined[id]; ok {
				return p.errorAt(line, col, "key %s is defined twice (first at line %d)", strings.Join(k, "."), old)
			}
			p.defined[id] = line
			p.doc.keys = append(p.doc.keys, tomlKey{path: full, line: line, val: v})
		}
		if err := p.skipBlank(); err != nil {
			return err
		}
		if p.accept(',') {
			continue
		}
		if p.accept('}') {
			return nil
		}
		return p.errorf("expected , or } in the inline table, found %s", p.found())
	}
}

// scalar reads a number, boolean, date or time, whose value detection
// never needs: it only checks the value is one of those.
func (p *tomlParser) scalar() error {
	start := p.i
	p.scanScalar()
	// A date and a time may be separated by a space: 1979-05-27 07:32:00.
	if p.i-start == 10 && p.src[start+4] == '-' && p.src[start+7] == '-' &&
		p.i+1 < len(p.src) && p.src[p.i] == ' ' && isDigit(p.src[p.i+1]) {
		p.i++
		p.scanScalar()
	}
	s := p.src[start:p.i]
	switch {
	case s == "":
		return p.errorf("expected a value, found %s", p.found())
	case s == "true" || s == "false" || s == "inf" || s == "nan" || isDigit(s[0]) || s[0] == '+' || s[0] == '-':
		return nil
	}
	return p.errorAt(p.line, start-p.lineStart+1, "invalid value %q (a string needs quotes)", s)
}

// scanScalar moves past the bytes a number, boolean, date or time can hold.
func (p *tomlParser) scanScalar() {
	for p.i < len(p.src) {
		c := p.src[p.i]
		if !isAlnum(c) && !strings.ContainsRune("_+-.:", rune(c)) {
			return
		}
		p.i++
	}
}

// singleLineString reads a "basic" or 'literal' string on one line.
func (p *tomlParser) singleLineString() (string, error) {
	q := p.src[p.i]
	line, col := p.line, p.i-p.lineStart+1
	p.i++
	var b strings.Builder
	for p.i < len(p.src) {
		c := p.src[p.i]
		switch {
		case c == q:
			p.i++
			return b.String(), nil
		case c == '\n' || c == '\r':
			return "", p.errorAt(line, col, "string not closed on its line")
		case c == '\\' && q == '"':
			if err := p.escape(&b); err != nil {
				return "", err
			}
		default:
			b.WriteByte(c)
			p.i++
		}
	}
	return "", p.errorAt(line, col, "string not closed on its line")
}

// multiLineString reads a """basic""" or ”'literal”' string: a newline
// right after the opening quotes is dropped, a backslash at the end of a
// line of a basic one joins the next line, and up to two quotes may sit
// before the closing three.
func (p *tomlParser) multiLineString() (string, error) {
	q := p.src[p.i]
	line, col := p.line, p.i-p.lineStart+1
	p.i += 3
	if p.i < len(p.src) && (p.src[p.i] == '\n' || p.src[p.i] == '\r') && !p.newline() {
		return "", p.errorf("a carriage return with no line feed after it")
	}
	var b strings.Builder
	for p.i < len(p.src) {
		c := p.src[p.i]
		switch {
		case c == q && strings.HasPrefix(p.src[p.i:], strings.Repeat(string(q), 3)):
			n := 3
			for p.i+n < len(p.src) && p.src[p.i+n] == q {
				n++
			}
			if n > 5 {
				return "", p.errorf("more than two quotes before the closing ones")
			}
			b.WriteString(strings.Repeat(string(q), n-3))
			p.i += n
			return b.String(), nil
		case c == '\n' || c == '\r':
			if !p.newline() {
				return "", p.errorf("a carriage return with no line feed after it")
			}
			b.WriteByte('\n')
		case c == '\\' && q == '"':
			j := p.i + 1
			for j < len(p.src) && (p.src[j] == ' ' || p.src[j] == '\t') {
				j++
			}
			if j < len(p.src) && (p.src[j] == '\n' || p.src[j] == '\r') {
				// A line-ending backslash: drop it and the white space
				// after it, newlines included.
				p.i = j
				for p.i < len(p.src) && strings.ContainsRune(" \t\r\n", rune(p.src[p.i])) {
					if p.src[p.i] == ' ' || p.src[p.i] == '\t' {
						p.i++
					} else if !p.newline() {
						return "", p.errorf("a carriage return with no line feed after it")
					}
				}
				continue
			}
			if err := p.escape(&b); err != nil {
				return "", err
			}
		default:
			b.WriteByte(c)
			p.i++
		}
	}
	return "", p.errorAt(line, col, "multi-line string not closed")
}

// escape reads a basic string's escape sequence at p.i into b.
func (p *tomlParser) escape(b *strings.Builder) error {
	col := p.i - p.lineStart + 1
	if p.i+1 >= len(p.src) {
		return p.errorAt(p.line, col, "string not closed")
	}
	c := p.src[p.i+1]
	if i := strings.IndexByte("btnfre\"\\", c); i >= 0 {
		b.WriteByte("\b\t\n\f\r\x1b\"\\"[i])
		p.i += 2
		return nil
	}
	n := 0
	switch c {
	case 'u':
		n = 4
	case 'U':
		n = 8
	default:
		r, _ := utf8.DecodeRuneInString(p.src[p.i+1:])
		return p.errorAt(p.line, col, "invalid escape \\%c", r)
	}
	if p.i+2+n > len(p.src) {
		return p.errorAt(p.line, col, "\\%c needs %d hex digits", c, n)
	}
	hex := p.src[p.i+2 : p.i+2+n]
	v, err := strconv.ParseUint(hex, 16, 32)
	if err != nil || strings.ContainsAny(hex, "+-_") || !utf8.ValidRune(rune(v)) {
		return p.errorAt(p.line, col, "invalid escape \\%c%s", c, strings.ToValidUTF8(hex, "?"))
	}
	b.WriteRune(rune(v))
	p.i += 2 + n
	return nil
}

// endOfLine checks that nothing but white space and a comment follows a
// value or a header on its line, and moves past the line end.
func (p *tomlParser) endOfLine() error {
	p.skipSpace()
	if p.i < len(p.src) && p.src[p.i] == '#' {
		p.skipComment()
	}
	if p.i >= len(p.src) {
		return nil
	}
	if p.src[p.i] != '\n' && p.src[p.i] != '\r' {
		return p.errorf("expected the end of the line, found %s", p.found())
	}
	if !p.newline() {
		return p.errorf("a carriage return with no line feed after it")
	}
	return nil
}

// skipSpace moves past spaces and tabs.
func (p *tomlParser) skipSpace() {
	for p.i < len(p.src) && (p.src[p.i] == ' ' || p.src[p.i] == '\t') {
		p.i++
	}
}

// skipComment moves to the end of the line, leaving the line end.
func (p *tomlParser) skipComment() {
	for p.i < len(p.src) && p.src[p.i] != '\n' && !strings.HasPrefix(p.src[p.i:], "\r\n") {
		p.i++
	}
}

// skipBlank moves past white space, line ends and comments, inside an
// array or inline table.
func (p *tomlParser) skipBlank() error {
	for p.i < len(p.src) {
		switch p.src[p.i] {
		case ' ', '\t':
			p.i++
		case '#':
			p.skipComment()
		case '\n', '\r':
			if !p.newline() {
				return p.errorf("a carriage return with no line feed after it")
			}
		default:
			return nil
		}
	}
	return nil
}

// newline moves past the \n or \r\n at p.i, counting the line; false for
// a lone \r, which TOML does not allow.
func (p *tomlParser) newline() bool {
	switch {
	case p.src[p.i] == '\n':
		p.i++
	case strings.HasPrefix(p.src[p.i:], "\r\n"):
		p.i += 2
	default:
		return false
	}
	p.line++
	p.lineStart = p.i
	return true
}

// accept moves past c if it is next.
func (p *tomlParser) accept(c byte) bool {
	if p.i < len(p.src) && p.src[p.i] == c {
		p.i++
		return true
	}
	return false
}

// found says what is at p.i, for an error.
func (p *tomlParser) found() string {
	if p.i >= len(p.src) {
		return "the end of the file"
	}
	r, _ := utf8.DecodeRuneInString(p.src[p.i:])
	return strconv.QuoteRune(r)
}

// errorf is an error at p.i.
func (p *tomlParser) errorf(format string, args ...any) error {
	return p.errorAt(p.line, p.i-p.lineStart+1, format, args...)
}

// errorAt is an error at a line and column, in the form compilers use.
func (p *tomlParser) errorAt(line, col int, format string, args ...any) error {
	return fmt.Errorf("buildpack: %s:%d:%d: %s", p.file, line, col, fmt.Sprintf(format, args...))
}
