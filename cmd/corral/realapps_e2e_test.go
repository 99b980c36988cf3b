package main

// End-to-end tests of the platforms' own sample apps (issue 15), run as
// the platform would with what this machine has: corral build, the
// platform's build command, then corral start, through the edge, with
// the Procfile as shipped, replaced by web: corral start, and removed.
//
// Tests never reach the network, so the samples' package managers are
// kept off it (offlineEnv) and read only the caches .ci/run's prefetch
// step fills; a cache that lacks what a sample needs skips the test, and
// fails it in CI. Python packages come from Debian alone: this machine
// reaches no PyPI, so a sample whose requirements only PyPI has shows
// that corral build fails in pip's words, and its start is not checked.

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// realForm is one way to run a sample: with its Procfile as shipped,
// changed, or removed, started by corral start or by the platform's
// start command wrapped in corral start --.
type realForm struct {
	name string
	// procfile makes the Procfile from the one shipped ("" for none);
	// "" removes it.
	procfile func(shipped string) string
	// wrap is the platform's own start command, which the platform runs
	// as corral start -- wrap; "" for corral start alone.
	wrap string
}

var (
	asShipped  = realForm{name: "as shipped", procfile: func(s string) string { return s }}
	ownLine    = realForm{name: "web: corral start", procfile: ownWebLine}
	noProcfile = realForm{name: "no Procfile", procfile: func(string) string { return "" }}
)

// ownWebLine is a Procfile whose web line is corral start, the shipped
// one's other lines (and comments) kept.
func ownWebLine(shipped string) string {
	lines := strings.SplitAfter(shipped, "\n")
	for i, l := range lines {
		if strings.HasPrefix(l, "web:") {
			lines[i] = "web: corral start\n"
			return strings.Join(lines, "")
		}
	}
	return "web: corral start\n" + shipped
}

// webLine is the command of a Procfile's web line.
func webLine(procfile string) string {
	for l := range strings.Lines(procfile) {
		if cmd, ok := strings.CutPrefix(strings.TrimSpace(l), "web:"); ok {
			return strings.TrimSpace(cmd)
		}
	}
	return ""
}

// realSample is a sample app and what running it needs and shows.
type realSample struct {
	name  string   // its folder in realapps
	tools []string // the programs it needs on PATH
	// python, when set, names the Debian packages that bring modules,
	// which the sample needs from Debian's Python: its requirements are
	// met by the site packages that corral build's virtualenv sees.
	python  string
	modules []string
	env     []string // the platform's environment
	// detected is the web command detection gives the sample, which
	// runs when the Procfile names none or names corral start.
	detected string
	forms    []realForm
	pages    [][2]string // a path and what its page must contain: the sample's own
	// cacheMiss matches the line in which the sample's package manager,
	// kept offline, says its cache lacks something; prefetch is the
	// .ci/run step that fills that cache.
	cacheMiss, prefetch string
	// pypi, when set, says which requirements only PyPI has: corral
	// build must fail in pip, which names one, and start is not checked.
	pypi string
}

// renderForms are the forms of a sample of Render's, which reads no
// Procfile: as shipped, with none, started by corral start; started by
// Render's start command for it, start, wrapped in corral start --; and
// with a Procfile whose web line is corral start.
func renderForms(start string) []realForm {
	return []realForm{
		{name: "as shipped, no Procfile", procfile: noProcfile.procfile},
		{name: "Render's start command in corral start --", procfile: noProcfile.procfile, wrap: start},
		ownLine,
	}
}

// herokuDyno is what Heroku sets that corral's platform detection reads.
var herokuDyno = []string{"DYNO=web.1"}

// renderService is what Render sets that corral's platform detection
// reads, for the service named name.
func renderService(name string) []string {
	return []string{"RENDER=true", "RENDER_SERVICE_NAME=" + name, "RENDER_EXTERNAL_HOSTNAME=" + name + ".onrender.com"}
}

// realSamples are the platforms' samples in ../shared/realapps.
var realSamples = []realSample{
	{
		name: "heroku-go-getting-started", tools: []string{"go"}, env: herokuDyno,
		detected: "bin/go-getting-started",
		forms:    []realForm{asShipped, ownLine, noProcfile},
		// templates and static files are read from the app's directory
		pages:     [][2]string{{"/", "Getting Started with Go on Heroku"}, {"/static/main.css", ".jumbotron"}},
		cacheMiss: `module lookup disabled by GOPROXY=off`,
		prefetch:  "go mod download, in a copy of the sample, fills the module cache",
	},
	{
		name: "heroku-python-getting-started", tools: []string{"gunicorn"}, env: herokuDyno,
		python: "python3-django python3-venv", modules: []string{"django", "ensurepip"},
		detected: "gunicorn gettingstarted.wsgi --bind ${HOST:-0.0.0.0}:$PORT",
		forms:    []realForm{asShipped, ownLine, noProcfile},
		pages:    [][2]string{{"/", "Getting Started with Python on Heroku"}},
		pypi:     "its requirements.txt pins django>=6.0,<6.1 (Debian has 3.2), whitenoise and dj-database-url",
	},
	{
		// Render reads no Procfile: its start command for this sample is
		// gunicorn app:app, its build command pip install -r
		// requirements.txt (https://render.com/docs/deploy-flask).
		name: "render-examples-flask-hello-world", tools: []string{"gunicorn"}, env: renderService("flask-hello-world"),
		python: "python3-flask python3-venv", modules: []string{"flask", "ensurepip"},
		detected: "gunicorn app:app --bind ${HOST:-0.0.0.0}:$PORT",
		forms:    renderForms("gunicorn app:app"),
		pages:    [][2]string{{"/", "Hello, World!"}},
	},
	renderExpress,
}

// renderExpress is Render's Express sample. Render's build command for
// it is yarn, its start command node app.js (its README).
var renderExpress = realSample{
	name: "render-examples-express-hello-world", tools: []string{"node", "yarn"}, env: renderService("express-hello-world"),
	detected:  "yarn start",
	forms:     renderForms("node app.js"),
	pages:     [][2]string{{"/", "Hello from Render!"}},
	cacheMiss: `Can't make a request in offline mode`,
	prefetch:  "yarn install, in a copy of the sample, fills yarn's cache (npm install --global yarn@1 brings yarn)",
}

// corepackPrefetch is how .ci/run puts a yarn in corepack's cache: the
// version this corepack pins, which it then runs offline. (Its default,
// the npm registry's latest, it cannot verify here: "No compatible
// signature found in package metadata".)
const corepackPrefetch = "COREPACK_DEFAULT_TO_LATEST=0 corepack yarn --version, in a copy of the sample"

// offlineEnv keeps the samples' package managers off the network: Go
// reads only its module cache and never fetches a toolchain, pip no index,
// yarn only its cache, corepack only the versions it has.
func offlineEnv(t *testing.T) []string {
	t.Helper()
	yarnrc := filepath.Join(t.TempDir(), "yarnrc")
	// yarn 1 takes a command's flags from an rc file (YARN_CONFIG names
	// one), not from the environment.
	if err := os.WriteFile(yarnrc, []byte("--install.offline true\ndisable-self-update-check true\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return []string{
		"GOPROXY=off", "GOTOOLCHAIN=local",
		"PIP_NO_INDEX=1", "PIP_DISABLE_PIP_VERSION_CHECK=1",
		"YARN_CONFIG=" + yarnrc,
		"COREPACK_ENABLE_NETWORK=0", "COREPACK_DEFAULT_TO_LATEST=0",
	}
}

// TestRealApps runs each sample in each of its forms: corral build, then
// corral start on a free port, each page fetched through the edge, then
// a clean stop. The forms of a sample share its directory, so the first
// build's work (modules compiled, a virtualenv, packages linked) serves
// the others.
func TestRealApps(t *testing.T) {
	if raceEnabled {
		// What they check is corral's behaviour beside the platforms'
		// tools, which the plain run covers; under the race detector
		// they would only add their virtualenvs' and builds' minute.
		t.Skip("the sample apps run in the plain test run, not under -race")
	}
	for _, s := range realSamples {
		t.Run(s.name, func(t *testing.T) {
			needTool(t, s.tools...)
			dir := realApp(t, s.name)
			if s.python != "" {
				// Debian's Python, whatever pyenv would pick (the Heroku
				// sample's .python-version asks for 3.14).
				t.Setenv("PYENV_VERSION", "system")
				needPython(t, dir, s.python, s.modules...)
			}
			shipped, err := os.ReadFile(filepath.Join(dir, "Procfile"))
			if err != nil && !os.IsNotExist(err) {
				t.Fatal(err)
			}
			env := append(append(offlineEnv(t), s.env...), pathWithCorral(t))
			for _, f := range s.forms {
				t.Run(f.name, func(t *testing.T) {
					procfile := f.procfile(string(shipped))
					writeProcfile(t, dir, procfile)
					want := s.detected
					if c := webLine(procfile); c != "" && c != "corral start" {
						want = c
					}
					if f.wrap == "" { // check knows nothing of a command after corral start --
						code, out, errOut := corral(t, dir, env, "check")
						if !regexp.MustCompile(`(?m)^web +1 +internal +` + regexp.QuoteMeta(want) + `$`).MatchString(out) {
							t.Errorf("check: status %d, web is not %q:\n%s\n%s", code, want, out, errOut)
						}
					}
					s.build(t, dir, env)

					// The platform's start command, as it runs it: the
					// Procfile's web line is corral start too.
					line := "corral start"
					if f.wrap != "" {
						line, want = line+" -- "+f.wrap, f.wrap
					}
					r, base := startWebCmd(t, platformShell(line), dir, env)
					if !regexp.MustCompile(`(?m)^corral +\| web\.1 started \(pid \d+, PORT=\d+\): ` + regexp.QuoteMeta(want) + `$`).MatchString(r.output()) {
						t.Errorf("web.1 does not run %q:\n%s", want, r.output())
					}
					for _, p := range s.pages {
						wantPage(t, base+p[0], 200, p[1])
					}
					pid := webPid(t, r, "web.1")
					settleBoot(r, 500*time.Millisecond, 10*time.Second)
					r.stop()
					waitDead(t, []int{pid})
				})
			}
		})
	}
}

// settleBoot waits until the run's output has had no new gunicorn
// "Booting worker" line for quiet (at most limit). gunicorn 20 loses a
// SIGTERM that reaches a worker between its fork and its own signal
// handlers (until then the worker has the master's, which only queue the
// signal), and its master then waits graceful_timeout (30 s) for that
// worker: corral stops it within its shutdown budget, with SIGKILL. Seen
// twice here, with the SIGTERM a few milliseconds after the first page. A
// platform's SIGTERM comes at a deploy, long after the workers boot.
func settleBoot(r *session, quiet, limit time.Duration) {
	r.t.Helper()
	deadline := time.Now().Add(limit)
	last, since := -1, time.Now()
	for time.Now().Before(deadline) {
		n := strings.Count(r.output(), "Booting worker")
		if n != last {
			last, since = n, time.Now()
		} else if time.Since(since) >= quiet {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	r.t.Fatalf("gunicorn was still booting workers after %v:\n%s", limit, r.output())
}

// writeProcfile makes dir's Procfile procfile, or removes it for "".
func writeProcfile(t *testing.T, dir, procfile string) {
	t.Helper()
	p := filepath.Join(dir, "Procfile")
	if procfile == "" {
		if err := os.Remove(p); err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		return
	}
	if err := os.WriteFile(p, []byte(procfile), 0o644); err != nil {
		t.Fatal(err)
	}
}

// build runs corral build in dir as the platform's build command. A
// failure that is the sample's dependencies', not corral's, skips what
// follows: a cache .ci/run fills that lacks them (a failure in CI), or
// requirements only PyPI has, once corral build is seen to fail in pip's
// words and start nothing.
func (s realSample) build(t *testing.T, dir string, env []string) {
	t.Helper()
	r := start(t, dir, env, "build")
	code := r.wait(5 * time.Minute) // a first build compiles every module, or makes a virtualenv
	out := r.output()
	if code == 0 {
		return
	}
	if s.cacheMiss != "" {
		if miss := regexp.MustCompile(`(?m)^.*` + s.cacheMiss + `.*$`).FindString(out); miss != "" {
			integrationMissing(t, "the sample's dependencies are not in the cache it reads offline (%s); .ci/run's prefetch step: %s", miss, s.prefetch)
		}
	}
	if s.pypi != "" {
		req := wantPipMissing(t, dir, code, out)
		t.Skipf("corral start not checked: %s, which only PyPI has, and this machine reaches none; corral build failed in pip's words, naming %s", s.pypi, req)
	}
	t.Fatalf("corral build: status %d\n%s\n%s", code, out, r.stderr())
}

// wantPipMissing wants a failed corral build's output to show that the
// failure is pip's, which found no distribution of a requirement (it
// reaches no index here), and returns that requirement: pip's own words
// name it, corral's last line names the step and its status, and no step
// after it ran.
func wantPipMissing(t *testing.T, dir string, code int, out string) string {
	t.Helper()
	m := regexp.MustCompile(`(?m)^build\.1 +\| ERROR: No matching distribution found for (\S+)$`).FindStringSubmatch(out)
	lines := strings.Split(out, "\n")
	last := regexp.MustCompile(`^corral +\| error: build: step 1 of \d+ failed with status 1: .*pip install -r requirements\.txt$`)
	if code != 1 || m == nil || !last.MatchString(lines[len(lines)-1]) {
		t.Fatalf("corral build: status %d; want 1, pip naming the requirement it found no distribution of, and a last line naming the step:\n%s", code, out)
	}
	if strings.Contains(out, "build.2") || strings.Contains(out, "web.1") {
		t.Errorf("something ran after pip failed:\n%s", out)
	}
	reqs, err := os.ReadFile(filepath.Join(dir, "requirements.txt"))
	if err != nil {
		t.Fatal(err)
	}
	name := regexp.MustCompile(`^[A-Za-z0-9._-]+`).FindString(m[1])
	for l := range strings.Lines(strings.ToLower(string(reqs))) {
		if name != "" && strings.HasPrefix(l, strings.ToLower(name)) {
			return m[1]
		}
	}
	t.Errorf("pip names %q, which is not in requirements.txt:\n%s", m[1], reqs)
	return m[1]
}
