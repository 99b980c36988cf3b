package buildpack

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
)

// maxFileSize caps every file detection reads. Manifests are a few KB; a
// package.json of megabytes is a mistake (or an attack on a build server)
// and is refused with its size rather than read.
const maxFileSize = 1 << 20

// detector looks for one family of apps (Python, Node, …) in the app
// directory. It returns nil, nil when the directory is none of its kinds,
// and an error only when a file it needs is there but unreadable or
// malformed.
type detector struct {
	looks string // what it looks for, for the message when nothing matches
	find  func(a *appFiles) (*Plan, error)
}

// detectors returns the detectors, tried in this order; the order only
// decides the order of candidates in an error, never which one wins.
func detectors() []detector {
	return []detector{
		{"manage.py (Django); app.py, wsgi.py, main.py or asgi.py with a WSGI or ASGI app (Flask, FastAPI, Starlette…)", detectPython},
		{"package.json with a start script or a server.js (Node)", detectNode},
		{"config.ru (Rails, Rack)", detectRuby},
		{"go.mod with a main package at the root or in a single cmd/* (Go)", detectGo},
	}
}

// staticLooks is what detectStatic looks for, tried only when no server
// code is found.
const staticLooks = "index.html at the root or in public/, dist/ or build/ (a static site)"

// Detect decides how to run the app in dir when it has no Procfile: its
// kind, the commands of its process types, the build steps, the static
// files the edge can serve, and the evidence for each decision. It reads
// files and nothing else: it runs no command, so it is as quick on a
// platform's start as on a laptop.
//
// Every file is read through an os.Root of dir, so a symbolic link out of
// the app (or a loop of them) is an error naming the file, never a read
// elsewhere. A directory with no kind Detect knows, or with more than one
// (a Go server and a Node one), is an error that lists what was found and
// how to write a Procfile instead.
func Detect(dir string) (*Plan, error) { return DetectOn(dir, nil) }

// Tools reports whether a program is on the PATH the app's commands run
// with.
type Tools func(name string) bool

// DetectOn is Detect for a machine whose programs have reports: a Node
// app's yarn or pnpm that is not there runs through corepack, and a
// package manager neither can run is in the plan's Missing. With have nil
// every program is taken to be there (corral init: a Procfile for any
// machine). have is all DetectOn learns of the machine.
func DetectOn(dir string, have Tools) (*Plan, error) {
	return detectIn(dir, have, true)
}

// detectIn is DetectOn; down says whether to look in the directories
// below dir when there is no app at its top.
func detectIn(dir string, have Tools, down bool) (*Plan, error) {
	a, err := openAppFiles(dir)
	if err != nil {
		return nil, err
	}
	defer a.Close()
	a.have = have
	return detectApp(a, down)
}

// detectApp is detectIn on the app's files.
func detectApp(a *appFiles, down bool) (*Plan, error) {
	dir, have := a.dir, a.have
	var servers []*Plan
	var assets *Plan
	var errs []error
	for _, d := range detectors() {
		p, err := d.find(a)
		switch {
		case err != nil:
			errs = append(errs, err)
		case p == nil:
		case p.Kind == Assets:
			assets = p
		default:
			servers = append(servers, p)
		}
	}
	if len(errs) > 0 && (len(servers) == 0 || !allUnread(errs)) {
		return nil, errors.Join(errs...)
	}
	switch len(servers) {
	case 0:
		var below []error
		if down {
			p, unread, err := detectBelow(a, have, assets)
			if p != nil || err != nil {
				return p, err
			}
			below = unread
		}
		p, err := detectStatic(a, assets)
		if err != nil {
			return nil, err
		}
		if p == nil {
			return nil, &NotFoundError{Dir: dir, Assets: assets, Below: below}
		}
		return p, nil
	case 1:
		p := servers[0]
		if assets != nil {
			// The front end is built first: collectstatic and friends
			// pick up what it writes.
			p.Build = append(slices.Clip(assets.Build), p.Build...)
			p.Evidence = append(p.Evidence, assets.Evidence...)
			p.Missing = append(p.Missing, assets.Missing...)
		}
		for _, err := range errs {
			p.Notes = append(p.Notes, unreadNote(err))
		}
		p.Env = runEnv(p.Kind)
		return p, nil
	default:
		return nil, &AmbiguousError{Dir: dir, Candidates: servers}
	}
}

// maxBelow bounds the directories detectBelow looks in at each depth: a
// monorepo has a handful; thousands are no app's layout.
const maxBelow = 64

// detectBelow looks for the app one directory down (backend/, app/,
// server/, api/…), then two (services/web/), when there is none at the
// top: the layouts of monorepos and Docker-first repositories. Exactly
// one directory holding a server is the app, its plan's Dir saying
// where; several are an *AmbiguousError naming each. Directories whose
// names say they hold no app (tests, docs, examples, deploy files…) are
// passed over, and so are front ends (a static site, assets), which the
// edge cannot serve beside an app it does not run. unread is what could
// not be read below, for the NotFoundError. top is the front-end build
// at the top, if any, which the plan then notes it does not run.
func detectBelow(a *appFiles, have Tools, top *Plan) (plan *Plan, unread []error, err error) {
	level := []string{"."}
	for depth := 1; depth <= 2; depth++ {
		var dirs []string
		for _, parent := range level {
			entries, err := a.list(parent)
			if err != nil {
				continue
			}
			for _, de := range entries {
				if name := de.Name(); len(dirs) < maxBelow && de.IsDir() && !skipBelow(name) {
					dirs = append(dirs, join(parent, name))
				}
			}
		}
		var found []*Plan
		for _, rel := range dirs {
			p, err := detectSub(a, rel, have)
			var nf *NotFoundError
			switch {
			case errors.As(err, &nf):
			case err != nil:
				unread = append(unread, fmt.Errorf("%s/: %s", rel, strings.TrimPrefix(err.Error(), "buildpack: ")))
			case p.Kind == Static || p.Kind == Assets:
			default:
				p.Dir = rel
				found = append(found, p)
			}
		}
		switch len(found) {
		case 0:
			level = dirs
			continue
		case 1:
			p := found[0]
			note := fmt.Sprintf("no app at the top of %s: corral runs the one in %s/, every command there, as --dir %s would", a.dir, p.Dir, p.Dir)
			if top != nil {
				note += fmt.Sprintf("; the package.json at the top builds front-end assets (%s), which corral does not run from %s/: run it in the platform's build", top.Build[len(top.Build)-1].Command, p.Dir)
			}
			p.Notes = append([]string{note}, p.Notes...)
			if w := depsAbove(a, p); w != "" {
				p.Warnings = append(p.Warnings, w)
			}
			return p, nil, nil
		default:
			return nil, nil, &AmbiguousError{Dir: a.dir, Candidates: found}
		}
	}
	return nil, unread, nil
}

// depsAbove warns of a Python app below whose dependencies are declared
// at the top instead (a pyproject.toml beside backend/, as some
// templates have it): corral installs nothing for it, and says where
// the file is; "" when the app has its own, or there is none above.
func depsAbove(a *appFiles, p *Plan) string {
	if p.Kind != Django && p.Kind != Flask && p.Kind != ASGI {
		return ""
	}
	for _, s := range p.Build {
		switch s.Why.File {
		case "requirements.txt", "Pipfile", "pyproject.toml", "uv.lock":
			return ""
		}
	}
	for _, f := range []string{"requirements.txt", "Pipfile", "pyproject.toml"} {
		if a.isFile(f) {
			return fmt.Sprintf("the app in %s/ declares no dependencies, and %s at the top does: corral installs nothing from there; "+
				"install them in the platform's build, or give %s/ its own %s", p.Dir, f, p.Dir, f)
		}
	}
	return ""
}

// detectSub detects the app in rel, a directory below a's, through a's
// os.Root, so that nothing below is read outside the app directory.
func detectSub(a *appFiles, rel string, have Tools) (*Plan, error) {
	root, err := a.root.OpenRoot(rel)
	if err != nil {
		return nil, a.fileError(rel, err)
	}
	sub := &appFiles{dir: filepath.Join(a.dir, filepath.FromSlash(rel)), root: root, have: have}
	defer sub.Close()
	return detectApp(sub, false)
}

// skipBelow reports whether a directory's name says it holds no app to
// run: dependencies, tests, docs, examples, deploy and CI files, assets.
func skipBelow(name string) bool {
	if strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") {
		return true
	}
	switch strings.ToLower(name) {
	case "node_modules", "vendor", "venv", "env", "site-packages", "bower_components",
		"test", "tests", "spec", "specs", "e2e", "cypress", "playwright", "testdata", "fixtures", "__tests__",
		"doc", "docs", "documentation", "example", "examples", "sample", "samples", "demo", "demos",
		"scripts", "bin", "tools", "hack", "migrations", "static", "public", "assets", "media", "templates",
		"dist", "build", "out", "tmp", "log", "logs", "coverage", "img", "images",
		"infra", "deploy", "deployment", "deployments", "k8s", "kubernetes", "helm", "charts", "terraform",
		"nginx", "docker", "compose", "hooks", "etc", "config", "conf":
		return true
	}
	return false
}

// unreadManifest is a detector's error for a manifest it could not read
// (not valid JSON, a go.mod go build would refuse, a link out of the
// app): when another detector makes out the app, Detect runs that and
// says what it decided without the manifest.
type unreadManifest struct {
	file    string
	without string // what is not in the plan for want of it: "no Go binary"
	err     error
}

func (e *unreadManifest) Error() string { return e.err.Error() }
func (e *unreadManifest) Unwrap() error { return e.err }

// allUnread reports whether every error is an unreadManifest.
func allUnread(errs []error) bool {
	for _, err := range errs {
		var u *unreadManifest
		if !errors.As(err, &u) {
			return false
		}
	}
	return true
}

// unreadNote is the note for a manifest Detect went on without.
func unreadNote(err error) string {
	var u *unreadManifest
	errors.As(err, &u)
	return fmt.Sprintf("%s: corral could not read %s, and decided without it: %s", strings.TrimPrefix(err.Error(), "buildpack: "), u.file, u.without)
}

// NotFoundError is Detect's answer for a directory with no app it knows.
type NotFoundError struct {
	Dir    string
	Assets *Plan // package.json with a build script only, if there was one
	// Below is what could not be read in the directories below Dir,
	// where corral looked for the app too.
	Below []error
}

func (e *NotFoundError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: no Procfile, and no app corral knows how to run. Looked for:\n", e.Dir)
	for _, d := range detectors() {
		fmt.Fprintf(&b, "  - %s\n", d.looks)
	}
	fmt.Fprintf(&b, "  - %s\n", staticLooks)
	fmt.Fprintf(&b, "  - the same, one or two directories down (backend/, app/, server/, services/web/…)\n")
	if len(e.Below) > 0 {
		b.WriteString("Below, corral could not make out:\n")
		for _, err := range e.Below {
			fmt.Fprintf(&b, "  %s\n", strings.ReplaceAll(err.Error(), "\n", "\n  "))
		}
	}
	if e.Assets != nil {
		b.WriteString("Found only a front-end build, which starts no server and makes no site corral can find:\n")
		for _, ev := range e.Assets.Evidence {
			fmt.Fprintf(&b, "  %s\n", ev)
		}
	}
	b.WriteString(procfileHowTo)
	return b.String()
}

// AmbiguousError is Detect's answer for a directory holding more than one
// app it could run: corral will not guess which one is the web server.
type AmbiguousError struct {
	Dir        string
	Candidates []*Plan
}

func (e *AmbiguousError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: no Procfile, and more than one app corral could run:\n", e.Dir)
	for _, p := range e.Candidates {
		web, _ := p.Web()
		if p.Dir != "" {
			fmt.Fprintf(&b, "  - %s/ (--dir %s): %s: web: %s\n", p.Dir, p.Dir, p.Title, web.Command)
		} else {
			fmt.Fprintf(&b, "  - %s: web: %s\n", p.Title, web.Command)
		}
		for _, ev := range p.Evidence {
			fmt.Fprintf(&b, "      %s\n", ev)
		}
	}
	b.WriteString(procfileHowTo)
	return b.String()
}

// procfileHowTo ends both errors: the way out is always a Procfile.
const procfileHowTo = `Write a Procfile in the app directory naming the command of each process type, e.g.
  web: gunicorn mysite.wsgi
  worker: python worker.py
(the web process must listen on $PORT), or point --dir at the app.`

// appFiles reads the app's files for the detectors, confined to the app
// directory and bounded in size.
type appFiles struct {
	dir  string
	root *os.Root
	have Tools // nil: every program is there
}

func openAppFiles(dir string) (*appFiles, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("buildpack: app directory: %w", err)
	}
	return &appFiles{dir: dir, root: root}, nil
}

func (a *appFiles) Close() error { return a.root.Close() }

// read returns the contents of the regular file name (slash-separated,
// relative to the app directory). A missing file is an error matching
// fs.ErrNotExist; anything else wrong (a directory, a link leaving the
// app, a loop, no permission, too big) is an error naming the file.
func (a *appFiles) read(name string) ([]byte, error) {
	f, err := a.root.Open(name)
	if err != nil {
		return nil, a.fileError(name, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, a.fileError(name, err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("buildpack: %s: not a regular file", name)
	}
	if fi.Size() > maxFileSize {
		return nil, fmt.Errorf("buildpack: %s: %d bytes, more than the %d corral reads to detect an app", name, fi.Size(), maxFileSize)
	}
	b, err := io.ReadAll(io.LimitReader(f, maxFileSize+1))
	if err != nil {
		return nil, a.fileError(name, err)
	}
	if len(b) > maxFileSize {
		return nil, fmt.Errorf("buildpack: %s: more than the %d bytes corral reads to detect an app", name, maxFileSize)
	}
	return b, nil
}

// readOptional is read with a missing file as nil, nil.
func (a *appFiles) readOptional(name string) ([]byte, error) {
	b, err := a.read(name)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	return b, err
}

// stat follows links within the app directory; a missing file is an error
// matching fs.ErrNotExist.
func (a *appFiles) stat(name string) (fs.FileInfo, error) {
	fi, err := a.root.Stat(name)
	if err != nil {
		return nil, a.fileError(name, err)
	}
	return fi, nil
}

// isFile and isDir report whether name is a regular file or a directory.
// Anything unreadable counts as absent: they answer "is there one", and
// the detector that needs the file reads it and reports the error.
func (a *appFiles) isFile(name string) bool {
	fi, err := a.stat(name)
	return err == nil && fi.Mode().IsRegular()
}

func (a *appFiles) isDir(name string) bool {
	fi, err := a.stat(name)
	return err == nil && fi.IsDir()
}

// list returns the names in directory name, sorted; a missing directory is
// an empty list. At most maxEntries are returned: detection looks near the
// top of a tree, never through a node_modules.
func (a *appFiles) list(name string) ([]fs.DirEntry, error) {
	f, err := a.root.Open(name)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, a.fileError(name, err)
	}
	defer f.Close()
	entries, err := f.ReadDir(maxEntries)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, a.fileError(name, err)
	}
	slices.SortFunc(entries, func(x, y fs.DirEntry) int { return strings.Compare(x.Name(), y.Name()) })
	return entries, nil
}

// maxEntries bounds a directory listing.
const maxEntries = 4096

// fileError names the file in a read error, keeping fs.ErrNotExist
// matchable and saying why a link could not be followed.
func (a *appFiles) fileError(name string, err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("buildpack: %s: %w", name, fs.ErrNotExist)
	}
	if strings.Contains(err.Error(), "escapes from parent") || strings.Contains(err.Error(), "path escapes") {
		return fmt.Errorf("buildpack: %s: a symbolic link out of the app directory (%v)", name, err)
	}
	return fmt.Errorf("buildpack: %s: %w", name, err)
}

// join is path.Join for the slash-separated names appFiles takes.
func join(elem ...string) string { return path.Join(elem...) }
