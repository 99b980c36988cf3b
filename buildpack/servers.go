package buildpack

import (
	"fmt"
	"slices"
	"strings"
)

// pyServer is the command that serves a Python app with the server it
// declares, and why.
type pyServer struct {
	cmd  string
	tool string // the program: "gunicorn", "uwsgi"
	// declared is where the dependencies declare tool; File "" for
	// nowhere (a note then says to add it).
	declared Evidence
	// why is the file that configures the server (uwsgi.ini), when it,
	// more than the app's entry, says what runs; nil otherwise.
	why   *Evidence
	notes []string
}

// wsgiServer serves a WSGI target ("app:app", "mysite.wsgi:application")
// with the server the app declares: gunicorn; else uWSGI (with the app's
// uwsgi .ini when it ships one); else waitress; and gunicorn when none
// is, as Heroku's and Render's guides do.
func wsgiServer(a *appFiles, target string, deps *pyDeps) pyServer {
	quoted := target
	if strings.ContainsAny(target, "()'") {
		quoted = `"` + target + `"` // parentheses are the shell's
	}
	gunicorn := pyServer{cmd: "gunicorn " + quoted + " --bind " + bindHost + ":$PORT", tool: "gunicorn"}
	if d, ok := deps.get("gunicorn"); ok {
		gunicorn.declared = d.at
		return gunicorn
	}
	if d, ok := deps.get("uwsgi"); ok {
		if s, ok := uwsgiServer(a, target, d.at); ok {
			return s
		}
	}
	if d, ok := deps.get("waitress"); ok {
		fn, args, call := strings.Cut(target, "(")
		switch {
		case !call:
			return pyServer{cmd: "waitress-serve --listen=" + bindHost + ":$PORT " + target, tool: "waitress-serve", declared: d.at}
		case args == ")":
			// waitress calls a factory that takes no arguments itself.
			return pyServer{cmd: "waitress-serve --listen=" + bindHost + ":$PORT --call " + fn, tool: "waitress-serve", declared: d.at}
		}
		gunicorn.notes = append(gunicorn.notes, fmt.Sprintf("%s, but waitress-serve cannot pass arguments to a factory (%s): gunicorn instead; a wsgi.py with app = %s serves it with waitress", d.at, target, target[strings.IndexByte(target, ':')+1:]))
	}
	return gunicorn
}

// uwsgiServer runs uWSGI with the app's configuration, when it ships one
// (uwsgi.ini, or any .ini with a [uwsgi] section at the top or one
// directory down): it names the app and the workers, and corral adds the
// port, unless the file binds $(PORT) itself. With no configuration,
// uWSGI is told the module; a factory it cannot call (ok false).
func uwsgiServer(a *appFiles, target string, declared Evidence) (pyServer, bool) {
	file, keys, line := uwsgiConfig(a)
	if file == "" {
		if strings.Contains(target, "(") {
			return pyServer{}, false
		}
		return pyServer{cmd: "uwsgi --master --http-socket " + bindHost + ":$PORT --module " + target, tool: "uwsgi", declared: declared}, true
	}
	why := Evidence{File: file, Line: line, Says: "configures uWSGI"}
	s := pyServer{cmd: "uwsgi --ini " + file, tool: "uwsgi", declared: declared, why: &why}
	port, app := false, false
	for _, k := range keys {
		switch k.key {
		case "http", "http-socket", "socket", "uwsgi-socket", "https", "shared-socket", "fastcgi-socket":
			if strings.Contains(k.value, "$(PORT)") {
				port = true
				continue
			}
			s.notes = append(s.notes, fmt.Sprintf("%s:%d: %s = %s: uWSGI listens there too; corral's edge reaches it on --http-socket $PORT", file, k.line, k.key, k.value))
		case "module", "wsgi", "wsgi-file", "file", "mount", "wsgi-file-name":
			app = true
		}
	}
	if !port {
		s.cmd += " --http-socket " + bindHost + ":$PORT"
	}
	if !app {
		if strings.Contains(target, "(") {
			return pyServer{}, false
		}
		s.cmd += " --module " + target
	}
	return s, true
}

// uwsgiConfig finds the app's uWSGI configuration file and its [uwsgi]
// keys: uwsgi.ini first, then any .ini at the top or in a directory one
// down (etc/, deploy/, config/) whose [uwsgi] section says something; ""
// for none.
func uwsgiConfig(a *appFiles) (file string, keys []iniKey, line int) {
	var candidates []string
	dirs := []string{"."}
	if entries, err := a.list("."); err == nil {
		for _, de := range entries {
			if n := de.Name(); de.IsDir() && !strings.HasPrefix(n, ".") && n != "node_modules" && n != "venv" {
				dirs = append(dirs, n)
			}
		}
	}
	for _, dir := range dirs {
		entries, err := a.list(dir)
		if err != nil {
			continue
		}
		for _, de := range entries {
			if strings.HasSuffix(de.Name(), ".ini") && !de.IsDir() {
				candidates = append(candidates, join(dir, de.Name()))
			}
		}
	}
	// uwsgi.ini, then other names with uwsgi in them, then the rest.
	slices.SortStableFunc(candidates, func(x, y string) int {
		rank := func(f string) int {
			switch base := f[strings.LastIndexByte(f, '/')+1:]; {
			case base == "uwsgi.ini":
				return 0
			case strings.Contains(base, "uwsgi"):
				return 1
			}
			return 2
		}
		return rank(x) - rank(y)
	})
	for _, f := range candidates {
		src, err := a.read(f)
		if err != nil {
			continue
		}
		var section []iniKey
		at := 0
		for _, k := range parseINI(string(src)) {
			if k.section == "uwsgi" {
				section = append(section, k)
			}
		}
		if len(section) == 0 {
			continue
		}
		at = iniSectionLine(string(src), "uwsgi")
		return f, section, at
	}
	return "", nil, 0
}

// iniKey is one "key = value" of an INI file.
type iniKey struct {
	section, key, value string
	line                int
}

// parseINI reads an INI file as uWSGI and Alembic (Python's configparser)
// do: [section] headers, key = value or key: value lines, ; and #
// comments on lines of their own; keys lower case. Lines it cannot read
// are skipped.
func parseINI(src string) []iniKey {
	var out []iniKey
	section := ""
	for i, l := range splitLines(src) {
		l = strings.TrimSpace(l)
		switch {
		case l == "" || l[0] == ';' || l[0] == '#':
		case l[0] == '[':
			if end := strings.IndexByte(l, ']'); end > 0 {
				section = strings.ToLower(strings.TrimSpace(l[1:end]))
			}
		default:
			j := strings.IndexAny(l, "=:")
			if j <= 0 {
				continue
			}
			out = append(out, iniKey{section: section, key: strings.ToLower(strings.TrimSpace(l[:j])), value: strings.TrimSpace(l[j+1:]), line: i + 1})
		}
	}
	return out
}

// iniSectionLine is the line of a section's header, 0 for none.
func iniSectionLine(src, section string) int {
	for i, l := range splitLines(src) {
		l = strings.TrimSpace(l)
		if strings.HasPrefix(l, "[") && strings.HasSuffix(l, "]") && strings.EqualFold(strings.TrimSpace(l[1:len(l)-1]), section) {
			return i + 1
		}
	}
	return 0
}
