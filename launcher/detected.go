package launcher

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/corral-run/corral/buildpack"
	"github.com/corral-run/corral/internal/environ"
	"github.com/corral-run/corral/launcher/appenv"
	"github.com/corral-run/corral/launcher/static"
	"github.com/corral-run/corral/procfile"
)

// BuildType names the build steps corral runs as processes ("build.1",
// "build.2"…), before the release phase.
const BuildType = "build"

// readProcfile reads the app's Procfile, or, when the app has none and
// --procfile does not name one, decides one with buildpack.Detect (p.App,
// p.Detected).
//
// A Procfile line that runs corral (web: corral start), and a web command
// given after "--", are readSelf's.
func (p *Plan) readProcfile(cfg Config) (*procfile.Procfile, error) {
	path := resolve(p.Dir, cfg.Procfile)
	if cfg.Procfile == "" {
		path = filepath.Join(p.Dir, "Procfile")
		if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
			if len(cfg.Command) > 0 {
				return p.readSelf(cfg, nil)
			}
			app, err := buildpack.DetectOn(p.Dir, p.tools())
			if err != nil {
				return nil, err
			}
			if app.Dir != "" {
				// The app is below: it runs there, as with --dir, and a
				// Procfile there (corral init writes one) is its own.
				p.Root, p.Dir = p.Dir, filepath.Join(p.Dir, filepath.FromSlash(app.Dir))
				if sub := filepath.Join(p.Dir, "Procfile"); fileExists(sub) {
					pf, err := procfile.ParseFile(sub)
					if err != nil {
						return nil, err
					}
					return p.readSelf(cfg, pf)
				}
			}
			p.App, p.Detected = app, true
			return detectedProcfile(app), nil
		}
	}
	pf, err := procfile.ParseFile(path)
	if err != nil {
		return nil, err
	}
	return p.readSelf(cfg, pf)
}

// detectBeside runs detection for an app that has a Procfile, for what
// the Procfile does not say: the build steps (corral build), the static
// files the edge may serve (Rails' public/) and the production defaults.
// An app detection cannot make out is nothing to report here (AppErr
// keeps why): the Procfile is enough to run it. Run calls it once the
// edge has bound the port, which a platform's port scan is waiting for,
// and detection is not.
func (p *Plan) detectBeside(cfg Config) {
	if !p.Detected && p.App == nil && p.AppErr == nil {
		p.App, p.AppErr = buildpack.DetectOn(p.Dir, p.tools())
		if p.App != nil && p.App.Dir != "" {
			// An app below the Procfile's directory is not the one the
			// Procfile runs here: its build steps would run in the wrong
			// place.
			p.App = nil
		}
		if len(cfg.Edge.Static) == 0 && p.Edge {
			p.Static = p.detectedStatic(cfg.Edge.SPA)
		}
	}
	p.setDefaults()
}

// tools reports which programs the app's commands find: those on the
// PATH they run with, the app's own directories first.
func (p *Plan) tools() buildpack.Tools {
	env := appenv.WithPath(p.Dir, p.Env)
	return func(name string) bool {
		_, err := environ.LookPath(name, env)
		return err == nil
	}
}

// missing is the error for the programs detection's commands run that
// are not on PATH (a yarn app with neither yarn nor corepack), each with
// what to install; nil when none is.
func (p *Plan) missing() error {
	if p.App == nil {
		return nil
	}
	var errs []error
	for _, m := range p.App.Missing {
		errs = append(errs, errors.New(m.String()))
	}
	return errors.Join(errs...)
}

// fileExists reports whether name is there (a file, or a link to one).
func fileExists(name string) bool {
	_, err := os.Stat(name)
	return err == nil
}

// detectedProcfile gives a detected plan as a Procfile, release first, its
// entries numbered 1, 2… where a Procfile's error messages give a line.
func detectedProcfile(app *buildpack.Plan) *procfile.Procfile {
	pf := &procfile.Procfile{Path: "the detected Procfile (" + app.Title + ", no Procfile on disk)"}
	for i, proc := range app.Entries() {
		pf.Entries = append(pf.Entries, procfile.Entry{Name: proc.Type, Command: proc.Command, Line: i + 1})
	}
	return pf
}

// detectedStatic returns the mounts the edge serves for a detected app
// when --static names none. With a Procfile only mounts that pass the
// requests they cannot answer to the app are taken (Rails' public/): a
// Procfile's web process may serve / itself. Mounts the app must confirm
// (Django's STATIC_ROOT) are left to the edge, which asks the app at start.
func (p *Plan) detectedStatic(spa bool) []static.Mount {
	if p.App == nil {
		return nil
	}
	var mounts []static.Mount
	for _, m := range p.App.Static {
		if m.FromApp || (!p.Detected && !m.Fallthrough) {
			continue
		}
		sm := static.Mount{Prefix: m.Prefix, Dir: resolve(p.Dir, filepath.FromSlash(m.Dir)), Index: m.Index, Fallthrough: m.Fallthrough}
		if spa && m.Index {
			sm.Fallback = "index.html"
		}
		mounts = append(mounts, sm)
	}
	return mounts
}

// staticSite reports whether the plan is a site the edge serves alone.
func (p *Plan) staticSite() bool {
	return p.Detected && p.App.Kind == buildpack.Static
}

// startBuild returns the build steps corral start runs before the release
// phase: for an app with no Procfile, those whose output is missing (a
// laptop has no build phase; on a platform the build command has run
// corral build, and they are skipped). With a Procfile, corral start runs
// what it says and nothing else, as heroku local does: a Procfile's
// `web: go run .` needs no bin/, and its release line may run
// collectstatic already (unbuilt says when a command needs the build).
func (p *Plan) startBuild() []Instance {
	if !p.Detected {
		return nil
	}
	var steps []Instance
	for _, s := range p.unmade() {
		steps = append(steps, Instance{Name: BuildType + "." + strconv.Itoa(len(steps)+1), Type: BuildType, Command: s.Command, Port: p.PublicPort})
	}
	return steps
}

// unmade returns the app's build steps that make something that is
// missing.
func (p *Plan) unmade() []buildpack.Step {
	var steps []buildpack.Step
	for _, s := range p.App.Build {
		if s.Creates == "" {
			continue
		}
		if _, err := os.Stat(filepath.Join(p.Dir, filepath.FromSlash(s.Creates))); err == nil {
			continue
		}
		steps = append(steps, s)
	}
	return steps
}

// unbuilt returns, for an app with a Procfile, a line for each command
// that names what a build step makes while it is missing (`web:
// go-getting-started` with no bin/go-getting-started yet): corral start
// builds nothing for a Procfile, so the command would fail.
func (p *Plan) unbuilt() []string {
	if p.Detected || p.App == nil {
		return nil
	}
	var lines []string
	for _, s := range p.unmade() {
		for _, e := range p.Procfile.Entries {
			if names(e.Command, s.Creates) {
				lines = append(lines, fmt.Sprintf("%s:%d: %s runs %s, which is missing: with a Procfile corral start runs what it says and builds nothing, "+
					"as heroku local does; run corral build first (on a platform, as its build command), which runs %s", p.Procfile.Path, e.Line, e.Name, s.Creates, s.Command))
				break
			}
		}
	}
	return lines
}

// names reports whether the shell command cmd names the file made: as a
// path (dist, ./dist/server.js) or, for one in bin/, which is in PATH, by
// its bare name.
func names(cmd, made string) bool {
	for w := range strings.FieldsFuncSeq(cmd, func(r rune) bool { return strings.ContainsRune(" \t\n;&|()<>", r) }) {
		w = strings.TrimPrefix(w, "./")
		if w == made || strings.HasPrefix(w, made+"/") || path.Dir(made) == "bin" && w == path.Base(made) {
			return true
		}
	}
	return false
}

// buildSteps returns every build step of the app, for corral build.
func (p *Plan) buildSteps() []Instance {
	if p.App == nil {
		return nil
	}
	steps := make([]Instance, len(p.App.Build))
	for i, s := range p.App.Build {
		steps[i] = Instance{Name: BuildType + "." + strconv.Itoa(i+1), Type: BuildType, Command: s.Command, Port: p.PublicPort}
	}
	return steps
}

// runsWhen says which commands run the build step s.
func (p *Plan) runsWhen(s buildpack.Step) string {
	if s.Creates == "" || !p.Detected {
		return "corral build"
	}
	return "corral build; corral start too when " + s.Creates + " is missing"
}

// describeApp writes what detection found, for corral check.
func (p *Plan) describeApp(w io.Writer) {
	if p.App == nil {
		return
	}
	switch {
	case p.Self != nil && p.Detected:
		fmt.Fprintf(w, "detected: %s (web, and any type the Procfile has no line for)\n", p.App.Title)
	case p.Detected:
		fmt.Fprintf(w, "detected: %s (no Procfile)\n", p.App.Title)
	default:
		fmt.Fprintf(w, "detected: %s (the Procfile names the processes)\n", p.App.Title)
	}
	for _, e := range p.App.Evidence {
		fmt.Fprintf(w, "  because %s\n", e)
	}
	for _, proc := range p.App.Entries() {
		if p.Detected && (p.Self == nil || slices.Contains(p.Self.Detected, proc.Type)) {
			fmt.Fprintf(w, "  %s: %s\n    because %s\n", proc.Type, proc.Command, proc.Why)
		}
	}
	for _, s := range p.App.Build {
		fmt.Fprintf(w, "  build: %s (%s)\n    because %s\n", s.Command, p.runsWhen(s), s.Why)
	}
	for _, m := range p.App.Static {
		asked := ""
		if m.FromApp {
			asked = " (the app is asked at start)"
		}
		fmt.Fprintf(w, "  static: %s from %s%s\n    because %s\n", m.Prefix, m.Where(), asked, m.Why)
	}
	for _, n := range p.App.Warnings {
		fmt.Fprintf(w, "  warning: %s\n", n)
	}
	for _, n := range p.App.Notes {
		fmt.Fprintf(w, "  note: %s\n", n)
	}
	for _, n := range p.unbuilt() {
		fmt.Fprintf(w, "  note: %s\n", n)
	}
	for _, m := range p.App.Missing {
		fmt.Fprintf(w, "  missing: %s\n", m)
	}
}

// Init writes the Procfile buildpack.Detect decides for the app in dir
// (corral init) and returns its path. It never replaces a Procfile: the
// app's own is what corral runs, and an edit would be lost.
func Init(dir string) (string, error) {
	dir, err := appDir(dir)
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, "Procfile")
	if _, err := os.Lstat(path); err == nil {
		return "", fmt.Errorf("%s already exists: corral runs it as it is (corral check shows what it would run); remove it first to write the detected one", path)
	}
	app, err := buildpack.Detect(dir)
	if err != nil {
		return "", err
	}
	if app.Dir != "" {
		// Beside the app, where corral start finds it.
		path = filepath.Join(dir, filepath.FromSlash(app.Dir), "Procfile")
		if _, err := os.Lstat(path); err == nil {
			return "", fmt.Errorf("%s already exists: corral runs it as it is; remove it first to write the detected one", path)
		}
	}
	if len(app.Entries()) == 0 {
		return "", fmt.Errorf("%s: a %s has no process to write in a Procfile: corral start serves it with no Procfile", dir, app.Title)
	}
	// O_EXCL: a Procfile that appeared since the check is not replaced.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return "", err
	}
	if _, err := f.WriteString(app.Procfile()); err != nil {
		f.Close()
		os.Remove(path)
		return "", err
	}
	return path, f.Close()
}
