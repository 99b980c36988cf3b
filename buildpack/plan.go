package buildpack

import (
	"fmt"
	"strconv"
	"strings"
)

// Kind names the kind of app Detect found.
type Kind string

// The kinds of app Detect knows.
const (
	Django Kind = "django" // manage.py and a settings module
	Flask  Kind = "flask"  // a WSGI app: Flask, Bottle, Falcon, plain WSGI
	ASGI   Kind = "asgi"   // FastAPI, Starlette, other ASGI apps
	Node   Kind = "node"   // package.json with a start script
	Rails  Kind = "rails"  // config.ru of a Rails app
	Rack   Kind = "rack"   // config.ru of another Rack app (Sinatra, Hanami…)
	Go     Kind = "go"     // go.mod and a main package
	Static Kind = "static" // index.html and no server code: the edge serves it alone
	Assets Kind = "assets" // package.json with a build script and no start: front-end assets of another kind
)

// Evidence is what a decision rests on: a file (and line, when one line
// says it) and what corral read there, so a user can check it and see
// which file to change for another outcome.
type Evidence struct {
	File string // relative to the app directory, slash-separated; "" when no one file says it
	Line int    // 1-based; 0 when the whole file (or its presence) is the evidence
	Says string // what was found, in words: "sets DJANGO_SETTINGS_MODULE to mysite.settings"
}

// String gives "manage.py:9: sets …", the way compilers point at a line.
func (e Evidence) String() string {
	switch {
	case e.File == "":
		return e.Says
	case e.Line > 0:
		return e.File + ":" + strconv.Itoa(e.Line) + ": " + e.Says
	default:
		return e.File + ": " + e.Says
	}
}

// bindHost is the address the web servers corral names listen on, as a
// shell word: $HOST, which corral sets to 127.0.0.1 for a web instance
// behind its edge (nobody else need reach it), else every address, as a
// platform's router needs (Heroku and Render set no HOST).
const bindHost = "${HOST:-0.0.0.0}"

// Process is one process type of the plan, as a Procfile line would give it.
type Process struct {
	Type    string // "web", "worker", "release"
	Command string // a shell command, as in a Procfile; $PORT is the instance's port
	Why     Evidence
}

// Step is one build step: what a platform's build command would run once
// per deploy, before any process starts.
type Step struct {
	Command string // a shell command, run in the app directory
	// Creates is the file or directory the step makes, relative to the app
	// directory; when set, corral start with no Procfile runs the step if
	// it is missing (a laptop has no build phase). "" means only corral
	// build runs it (installing dependencies belongs to the build).
	Creates string
	Why     Evidence
}

// Mount is a directory the edge serves itself.
type Mount struct {
	Prefix string // URL path prefix, "/static/", or "/" for a whole site
	Dir    string // relative to the app directory, slash-separated
	// Fallthrough sends a request to the app when no file under Dir
	// matches it, as nginx's try_files $uri @app does for Rails' public/.
	Fallthrough bool
	// Index serves index.html for a directory's path: a static site.
	Index bool
	// FromApp marks a mount the app itself must confirm when it starts:
	// Django's settings are Python, so Dir is what the source suggests and
	// corral asks Django for the real STATIC_ROOT at start.
	FromApp bool
	Why     Evidence
}

// Where says in words where the mount's files are: "staticfiles/", "the
// app directory", or, for a mount the app names at start, its settings.
func (m Mount) Where() string {
	switch {
	case m.FromApp && m.Dir == "":
		return "the directory the app's settings name"
	case m.Dir == ".":
		return "the app directory"
	}
	return m.Dir + "/"
}

// Plan is what corral would run for an app with no Procfile, and why: the
// decisions a Heroku buildpack, nixpacks or railpack would make, with the
// evidence for each.
type Plan struct {
	Kind Kind
	// Dir is where the app is, relative to the directory Detect was
	// given, slash-separated: "" for that directory, "backend" for an
	// app one directory down (a monorepo's backend/). Every file, command
	// and mount of the plan is relative to it, and its commands run
	// there.
	Dir string
	// Title is the kind in words, with the framework: "Python (Django 4.2)".
	Title string
	// Evidence is why dir is this kind of app: the files that say so.
	Evidence []Evidence
	// Release runs once before the processes start (Heroku's release
	// phase); nil when there is none.
	Release *Process
	// Processes are the long-running process types, web first. A static
	// site has none: the edge serves it.
	Processes []Process
	Build     []Step
	Static    []Mount
	// Missing are the programs the plan's commands need that the machine
	// lacks (DetectOn's Tools), each with what to install.
	Missing []Missing
	// Env is what Heroku's buildpack for this kind sets in the
	// environment of the app's processes (NODE_ENV=production…): corral
	// sets it on a platform, never over the app's own setting.
	Env []Var
	// Warnings are what the user should fix before production, though
	// the plan runs: a start script that runs a development server.
	Warnings []string
	// Notes are things the user should know that change nothing here:
	// "gunicorn is not in requirements.txt", a second candidate passed over.
	Notes []string
}

// Missing is a program the plan's commands run that is not on PATH.
type Missing struct {
	Program string
	Why     Evidence // why the plan runs it
	Fix     string   // what to install, or change, in words
}

// String gives "yarn is not on PATH (yarn.lock: yarn's lock file): install …".
func (m Missing) String() string {
	return fmt.Sprintf("%s is not on PATH (%s): %s", m.Program, m.Why, m.Fix)
}

// Web returns the plan's web process, if it has one.
func (p *Plan) Web() (Process, bool) {
	for _, proc := range p.Processes {
		if proc.Type == "web" {
			return proc, true
		}
	}
	return Process{}, false
}

// Procfile gives the plan as Procfile text, release first, with the build
// steps and the evidence as comments, so a user can keep what corral
// decided and edit it (corral init).
func (p *Plan) Procfile() string {
	var b strings.Builder
	fmt.Fprintf(&b, "# %s, detected by corral from:\n", p.Title)
	for _, e := range p.Evidence {
		fmt.Fprintf(&b, "#   %s\n", oneLine(e.String()))
	}
	if len(p.Build) > 0 {
		b.WriteString("# Build steps (corral build runs them, in order):\n")
		for _, s := range p.Build {
			fmt.Fprintf(&b, "#   %s\n", oneLine(s.Command))
		}
	}
	for _, m := range p.Static {
		fmt.Fprintf(&b, "# Static files: %s from %s (served by corral's edge)\n", oneLine(m.Prefix), oneLine(m.Where()))
	}
	for _, w := range p.Warnings {
		fmt.Fprintf(&b, "# Warning: %s\n", oneLine(w))
	}
	for _, proc := range p.Entries() {
		fmt.Fprintf(&b, "%s: %s\n", proc.Type, proc.Command)
	}
	return b.String()
}

// Entries returns the plan's process types in Procfile order: release
// first, then the others.
func (p *Plan) Entries() []Process {
	var out []Process
	if p.Release != nil {
		out = append(out, *p.Release)
	}
	return append(out, p.Processes...)
}

// oneLine keeps a comment on one line whatever a file name holds.
func oneLine(s string) string {
	return strings.NewReplacer("\n", `\n`, "\r", `\r`).Replace(s)
}
