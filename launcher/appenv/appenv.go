// Package appenv decides what the app's processes find in their
// environment beyond corral's own: which env files a run reads (a
// repository's .env is not for a platform), the app's own directories of
// commands first in PATH, and the production defaults a platform's
// buildpack would set. It reads the app directory and nothing else.
package appenv

import (
	"os"
	"path/filepath"
	"strings"

	"github.com/corral-run/corral/buildpack"
	"github.com/corral-run/corral/internal/environ"
)

// DotEnv is the env file read when none is named.
const DotEnv = ".env"

// Files returns the env files to read from dir, in order: those named
// (relative to dir), else .env if there is one, unless onPlatform. A
// repository's .env is a local file, heroku local's and foreman's: Heroku
// and Render never read it, and what it holds (ENVIRONMENT=development,
// which turns on gunicorn's reload in Heroku's Python sample) must not
// reach production. ignored is the .env left unread, "" for none.
func Files(dir string, named []string, onPlatform bool) (files []string, ignored string) {
	if named != nil {
		for _, n := range named {
			if n != "" && !filepath.IsAbs(n) {
				n = filepath.Join(dir, n)
			}
			files = append(files, n)
		}
		return files, ""
	}
	dotenv := filepath.Join(dir, DotEnv)
	if _, err := os.Lstat(dotenv); err != nil {
		return nil, ""
	}
	if onPlatform {
		return nil, dotenv
	}
	return []string{dotenv}, ""
}

// Dir is one of the app's directories of commands that go first in PATH.
type Dir struct {
	Rel string // relative to the app directory, slash-separated
	Why string // what it holds, for people
	// venv marks the virtualenv, which goes in PATH only when it has a
	// python and no VIRTUAL_ENV names another one.
	venv bool
}

// Dirs are the app's directories of commands, in the order they go first
// in PATH: the virtualenv in .venv (where corral build's pip, pipenv,
// poetry and uv install gunicorn and friends), the commands of the Node
// packages (node_modules/.bin: next, vite…, as npm run puts them first),
// and the app's own bin/ (where Heroku's Go buildpack and corral build put
// a Go app's binary, for a Procfile's `web: go-getting-started`). Each
// comes before the system's directories, so a name the app installs or
// ships (Rails' bin/rails) is the app's own.
func Dirs() []Dir {
	return []Dir{
		{Rel: ".venv/bin", Why: "the app's virtualenv", venv: true},
		{Rel: "node_modules/.bin", Why: "the commands of the app's Node packages"},
		{Rel: "bin", Why: "the app's own commands"},
	}
}

// Present returns the directories of Dirs that go in PATH for an app in
// dir with environment env, as things are now: those that exist (the
// virtualenv, when it has a python and env names no VIRTUAL_ENV).
func Present(dir string, env []string) []Dir {
	var out []Dir
	for _, d := range Dirs() {
		p := filepath.Join(dir, filepath.FromSlash(d.Rel))
		if d.venv {
			if _, ok := environ.Lookup(env, "VIRTUAL_ENV"); ok {
				continue
			}
			if fi, err := os.Stat(filepath.Join(p, "python")); err != nil || fi.IsDir() {
				continue
			}
		} else if fi, err := os.Stat(p); err != nil || !fi.IsDir() {
			continue
		}
		out = append(out, d)
	}
	return out
}

// WithPath returns env with the directories Present finds put first in
// its PATH (before the default search path, when env has no PATH), and
// VIRTUAL_ENV set to a virtualenv put there, as activating it would. It
// looks at the disk each time: a build step may have made a directory
// since the last process started. env is returned as it is when there is
// nothing to add.
func WithPath(dir string, env []string) []string {
	dirs := Present(dir, env)
	if len(dirs) == 0 {
		return env
	}
	var path []string
	var venv string
	for _, d := range dirs {
		p := filepath.Join(dir, filepath.FromSlash(d.Rel))
		path = append(path, p)
		if d.venv {
			venv = filepath.Dir(p)
		}
	}
	old, ok := environ.Lookup(env, "PATH")
	if !ok {
		old = environ.DefaultPath
	}
	if old != "" {
		path = append(path, old)
	}
	out := make([]string, 0, len(env)+2)
	for _, kv := range env {
		if !strings.HasPrefix(kv, "PATH=") {
			out = append(out, kv)
		}
	}
	out = append(out, "PATH="+strings.Join(path, string(os.PathListSeparator)))
	if venv != "" {
		out = append(out, "VIRTUAL_ENV="+venv)
	}
	return out
}

// Defaults is what Default decided for each of a kind's production
// defaults: those set, and those the app's environment sets otherwise.
type Defaults struct {
	Set  []buildpack.Var
	Kept []Kept
}

// Kept is a production default the app's environment overrides.
type Kept struct {
	buildpack.Var
	Own string // the app's value
}

// Default decides which of a kind's production defaults vars the app's
// environment env leaves to set. A default never overrides: a variable
// env sets, even to "", is the app's, as HOST is.
func Default(env []string, vars []buildpack.Var) Defaults {
	var d Defaults
	for _, v := range vars {
		if own, ok := environ.Lookup(env, v.Name); ok {
			d.Kept = append(d.Kept, Kept{Var: v, Own: own})
			continue
		}
		d.Set = append(d.Set, v)
	}
	return d
}

// Environ returns the defaults to set, as "KEY=value" strings.
func (d Defaults) Environ() []string {
	out := make([]string, len(d.Set))
	for i, v := range d.Set {
		out[i] = v.Name + "=" + v.Value
	}
	return out
}
