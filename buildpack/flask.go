package buildpack

import (
	"fmt"
	"path"
	"strings"
)

// dotenvLookup returns the value a dotenv file (python-dotenv's syntax,
// which Flask reads .flaskenv and .env with) gives name, and its line:
// KEY=value lines, an optional "export " before the key, values in single
// or double quotes or bare (a " #" starting a comment), the last
// assignment winning. Lines it cannot read are skipped, as python-dotenv
// does with a warning.
func dotenvLookup(src, name string) (value string, line int, ok bool) {
	for i, l := range splitLines(src) {
		l = strings.TrimSpace(l)
		l = strings.TrimPrefix(l, "export ")
		key, v, found := strings.Cut(l, "=")
		if !found || strings.TrimSpace(key) != name {
			continue
		}
		v = strings.TrimSpace(v)
		switch {
		case len(v) >= 2 && (v[0] == '"' || v[0] == '\'') && strings.IndexByte(v[1:], v[0]) >= 0:
			end := 1 + strings.IndexByte(v[1:], v[0])
			if v[0] == '"' {
				// Only \" and \\ matter in a module path.
				for end < len(v) && v[end-1] == '\\' {
					next := strings.IndexByte(v[end+1:], '"')
					if next < 0 {
						break
					}
					end += 1 + next
				}
				v = strings.NewReplacer(`\"`, `"`, `\\`, `\`).Replace(v[1:end])
			} else {
				v = v[1:end]
			}
		default:
			if j := strings.Index(v, " #"); j >= 0 {
				v = strings.TrimSpace(v[:j])
			}
		}
		value, line, ok = v, i+1, true
	}
	return value, line, ok
}

// flaskApp is what FLASK_APP names: a module, or the file of one, and
// optionally the app's name in it or the factory call that makes it.
type flaskApp struct {
	module  string // "shop", "blog.web"
	pathDir string // a directory the module is found in, "" for the app's
	attr    string // "", "app", "create_app('production')"
	at      Evidence
}

// target is what gunicorn loads for an attr that FLASK_APP names.
func (f flaskApp) target() string { return f.module + ":" + f.attr }

// parseFlaskApp reads FLASK_APP as Flask does (flask.cli's prepare_import
// and locate_app): "module", "module:name", "module:factory(args)", or a
// file, "path/to/app.py", whose directories that hold an __init__.py are
// packages above the module. isPkg says whether a directory of the app
// is a package. ok is false for a value Flask could not load either.
func parseFlaskApp(v string, isPkg func(dir string) bool) (flaskApp, bool) {
	var f flaskApp
	mod, attr, _ := strings.Cut(v, ":")
	if strings.HasPrefix(attr, "/") || strings.HasPrefix(attr, `\`) {
		return f, false // C:\… on Windows: no app here
	}
	if attr != "" && !validFlaskAttr(attr) {
		return f, false
	}
	f.attr = attr
	if strings.HasSuffix(mod, ".py") || strings.Contains(mod, "/") {
		p := path.Clean(strings.TrimSuffix(mod, ".py"))
		if path.IsAbs(p) || p == "." || p == ".." || strings.HasPrefix(p, "../") {
			return f, false
		}
		dir, base := path.Split(p)
		dir = strings.TrimSuffix(dir, "/")
		parts := []string{base}
		for dir != "" && isPkg(dir) {
			d, b := path.Split(dir)
			parts = append([]string{b}, parts...)
			dir = strings.TrimSuffix(d, "/")
		}
		if base == "__init__" {
			parts = parts[:len(parts)-1]
		}
		f.module, f.pathDir = strings.Join(parts, "."), dir
	} else {
		f.module = mod
	}
	return f, validModule(f.module)
}

// validFlaskAttr reports whether s is a name or a call of one, which
// locate_app takes (it parses the call with Python's ast), with nothing
// a shell's double quotes would change: it goes into gunicorn's command
// as written.
func validFlaskAttr(s string) bool {
	if s == "" || strings.ContainsAny(s, "\"\\$`!\r\n") {
		return false
	}
	stmts := pyStatements(s)
	if len(stmts) != 1 {
		return false
	}
	t := stmts[0].toks
	if t[0].kind != tokName || t[0].off != 0 || isPyKeyword(t[0].text) || !validModule(t[0].text) {
		return false
	}
	if len(t) == 1 {
		return t[0].end == len(s)
	}
	depth := 0
	for _, tok := range t[1:] {
		switch {
		case tok.is(tokOp, "("):
			depth++
		case tok.is(tokOp, ")"):
			depth--
		}
		if depth < 0 {
			return false
		}
	}
	last := t[len(t)-1]
	return depth == 0 && t[1].is(tokOp, "(") && t[1].off == t[0].end && last.is(tokOp, ")") && last.end == len(s)
}

// readFlaskApp reads FLASK_APP from .flaskenv, else .env, the files the
// flask command loads (with python-dotenv); nil when neither sets it. A
// value Flask could not load either is a note.
func readFlaskApp(a *appFiles) (*flaskApp, []string) {
	for _, file := range []string{".flaskenv", ".env"} {
		src, err := a.readOptional(file)
		if err != nil || src == nil {
			continue
		}
		v, line, ok := dotenvLookup(string(src), "FLASK_APP")
		if !ok || v == "" {
			continue
		}
		at := Evidence{File: file, Line: line, Says: fmt.Sprintf("sets FLASK_APP to %q", v)}
		f, ok := parseFlaskApp(v, func(dir string) bool { return a.isFile(dir + "/__init__.py") })
		if !ok {
			return nil, []string{fmt.Sprintf("%s, which names no module corral can find (FLASK_APP is a module, module:name or module:factory(), or a .py file)", at)}
		}
		f.at = at
		return &f, nil
	}
	return nil, nil
}
