package buildpack

import (
	"errors"
	"fmt"
	"io/fs"
	"strings"
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
	// unread is why file could not be read (not valid TOML, a -r file
	// missing…): detection goes on without it, and says so.
	unread error
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

// apply adds to p what the dependencies say of its server, tool: where
// it is declared (declared; File "" for nowhere) or a note that it is
// not, and the step that installs them; and, when they could not be read,
// a note that says so first.
func (d *pyDeps) apply(p *Plan, tool string, declared Evidence) {
	if n := d.unreadNote(tool); n != "" {
		p.Notes = append([]string{n}, p.Notes...)
	}
	switch {
	case declared.File != "":
		p.Evidence = append(p.Evidence, declared)
	case d.unread == nil:
		p.Notes = append(p.Notes, d.missingNote(tool))
	}
	if d.install != nil {
		p.Build = append(p.Build, *d.install)
	}
}

// pipInVenv begins the command that pip-installs the app's dependencies
// into .venv in the app directory, made first when missing: Debian's and
// Ubuntu's Python refuses installs into itself (PEP 668), and a platform's
// build keeps the app directory. The system's packages stay visible (apt's
// python3-django on a VPS), the virtualenv's own winning over them.
const pipInVenv = "test -d .venv || python3 -m venv --system-site-packages .venv && .venv/bin/python -m pip install "

// unreadNote says what corral could not read of the dependencies and
// what it decided without them, or "" when it read them.
func (d *pyDeps) unreadNote(server string) string {
	if d.unread == nil {
		return ""
	}
	return fmt.Sprintf("%s: corral could not read %s, and decided without it: no install step (pip, pipenv, poetry and uv would refuse the file too), "+
		"and %s as for an app that declares no server; fix %s for corral build to install the app's packages",
		strings.TrimPrefix(d.unread.Error(), "buildpack: "), d.file, server, d.file)
}

// readPyDeps reads the app's dependencies from the file a Python buildpack
// installs from, in the order Heroku's does: requirements.txt, then
// Pipfile, then pyproject.toml (poetry, uv, or a plain [project]). Only
// that file counts: it is what the build installs. A file that cannot be
// read (not valid TOML, a -r file missing, a link out of the app) leaves
// the dependencies unknown, with unread saying why: the app's source
// still says what to run.
func readPyDeps(a *appFiles) *pyDeps {
	d := &pyDeps{deps: map[string]pyDep{}}
	if err := d.read(a); err != nil {
		return &pyDeps{deps: map[string]pyDep{}, file: d.file, where: d.file, unread: err}
	}
	return d
}

// read is readPyDeps; d.file names the file when it returns an error.
func (d *pyDeps) read(a *appFiles) error {
	d.file = "requirements.txt"
	if reqs, err := a.readOptional("requirements.txt"); err != nil {
		return err
	} else if reqs != nil {
		d.file, d.where, d.add = "requirements.txt", "requirements.txt", "add it there (pip install %s)"
		d.install = &Step{Command: pipInVenv + "-r requirements.txt", Why: Evidence{File: "requirements.txt", Says: "lists the dependencies (pip, into the virtualenv in .venv, which corral puts first in PATH)"}}
		return readRequirements(a, "requirements.txt", string(reqs), 0, map[string]bool{}, d.deps)
	}
	d.file = "Pipfile"
	if pipfile, err := a.readOptional("Pipfile"); err != nil {
		return err
	} else if pipfile != nil {
		doc, err := parseTOML("Pipfile", pipfile)
		if err != nil {
			return err
		}
		d.file, d.where, d.add = "Pipfile", "Pipfile's [packages]", "pipenv install %s"
		d.install = &Step{Command: "PIPENV_VENV_IN_PROJECT=1 pipenv install --deploy", Why: Evidence{File: "Pipfile", Says: "lists the dependencies (pipenv; the virtualenv in .venv, which corral puts first in PATH)"}}
		for _, k := range doc.children("packages") {
			addPyDep(d.deps, k.path[1], nil, Evidence{File: "Pipfile", Line: k.line})
		}
		return nil
	}
	d.file = "pyproject.toml"
	pyproject, err := a.readOptional("pyproject.toml")
	if err != nil {
		return err
	}
	d.file = ""
	if pyproject == nil {
		return nil
	}
	doc, err := parseTOML("pyproject.toml", pyproject)
	if err != nil {
		d.file = "pyproject.toml"
		return err
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
		d.install = &Step{Command: "uv sync --frozen --no-dev", Why: Evidence{File: "uv.lock", Says: "pins the dependencies (uv, leaving out the dev group; the virtualenv in .venv, which corral puts first in PATH)"}}
	case project:
		d.add = "add %s to [project] dependencies"
		d.install = &Step{Command: pipInVenv + ".", Why: Evidence{File: "pyproject.toml", Line: projectLine, Says: "a [project] table (pip, into the virtualenv in .venv, which corral puts first in PATH)"}}
	default:
		return nil // tool settings only: black, ruff, pytest
	}
	d.file, d.where = "pyproject.toml", "pyproject.toml's dependencies"
	return nil
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
