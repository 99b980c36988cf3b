package main

// End-to-end tests of apps with no Procfile (issue: zero-config): corral
// detects each example, builds what is missing and serves a page through
// its edge; corral init, build and check say the same.

import (
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/corral-run/corral/launcher/sockets"
)

// needTool skips the test when a program is missing, except in CI, where
// it fails.
func needTool(t *testing.T, names ...string) {
	t.Helper()
	for _, name := range names {
		if _, err := exec.LookPath(name); err != nil {
			if os.Getenv("CORRAL_REQUIRE_INTEGRATION") != "" {
				t.Fatalf("needs %s: %v", name, err)
			}
			t.Skipf("needs %s: %v", name, err)
		}
	}
}

// needPython skips the test, or fails it under CORRAL_REQUIRE_INTEGRATION,
// when the python3 that runs in dir (pyenv reads .python-version there)
// cannot import every module named; pkg is the Debian package that brings them.
func needPython(t *testing.T, dir, pkg string, modules ...string) {
	t.Helper()
	for _, m := range modules {
		cmd := exec.Command("python3", "-c", "import "+m)
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			msg := fmt.Sprintf("needs python3's %s (apt-get install %s): %v %s", m, pkg, err, out)
			if os.Getenv("CORRAL_REQUIRE_INTEGRATION") != "" {
				t.Fatal(msg)
			}
			t.Skip(msg)
		}
	}
}

// startDetected starts corral on dir (which has no Procfile) and waits for
// pattern, the line that says the app is up.
func startDetected(t *testing.T, dir, pattern string, args ...string) (*session, string) {
	t.Helper()
	if _, err := os.Stat(filepath.Join(dir, "Procfile")); err == nil {
		t.Fatalf("%s has a Procfile", dir)
	}
	port := freePort(t)
	r := start(t, dir, []string{"PORT=" + strconv.Itoa(port)}, append([]string{"start", "-t", "10"}, args...)...)
	r.waitFor(pattern)
	return r, "http://127.0.0.1:" + strconv.Itoa(port)
}

// stop sends SIGTERM and expects a clean exit.
func (r *session) stop() {
	r.t.Helper()
	r.signal(syscall.SIGTERM)
	if code := r.wait(15 * time.Second); code != 0 {
		r.t.Errorf("exit status %d after SIGTERM\n%s\n%s", code, r.output(), r.stderr())
	}
}

// wantLoopbackOnly wants the web.1 instance of the corral running dir to
// listen on its port, and on loopback only (HOST=127.0.0.1 behind the
// edge): read from /proc, as nothing here may reach beyond loopback.
func wantLoopbackOnly(t *testing.T, dir string) {
	t.Helper()
	web := ps(t, dir)["web.1"]
	ls, err := sockets.GroupListeners(web.Pid)
	if err != nil {
		t.Fatalf("the listeners of web.1 (pid %d): %v", web.Pid, err)
	}
	onPort := false
	for _, l := range ls {
		if !l.Addr.Addr().IsLoopback() {
			t.Errorf("web.1 (pid %d) listens on %v, beyond loopback", l.Pid, l.Addr)
		}
		onPort = onPort || int(l.Addr.Port()) == web.Port
	}
	if !onPort {
		t.Errorf("web.1 does not listen on its port %d: %v", web.Port, ls)
	}
}

// wantPage GETs url and wants status and a body containing want.
func wantPage(t *testing.T, url string, status int, want string) *http.Response {
	t.Helper()
	resp, body := get(t, url, nil)
	if resp.StatusCode != status || !strings.Contains(string(body), want) {
		t.Fatalf("GET %s: status %d, body %.300q; want %d and %q", url, resp.StatusCode, body, status, want)
	}
	return resp
}

func TestDetectedDjango(t *testing.T) {
	notUnderRace(t)
	dir := copyExample(t, "django", "Procfile")
	needDjango(t, dir)
	code, out, errOut := corral(t, dir, nil, "check")
	if code != 0 || !strings.Contains(out, "detected: Python (Django) (no Procfile)") || !strings.Contains(out, "web: gunicorn mysite.wsgi") {
		t.Fatalf("check: status %d\n%s\n%s", code, out, errOut)
	}
	// staticfiles/ is missing, so start runs collectstatic first.
	r, base := startDetected(t, dir, `web\.1 is ready`)
	if !strings.Contains(r.output(), "collectstatic") {
		t.Errorf("no collectstatic before the start:\n%s", r.output())
	}
	_, page := get(t, base+"/", nil)
	hashed := regexp.MustCompile(`/static/css/site\.[0-9a-f]{12}\.css`).Find(page)
	if hashed == nil {
		t.Fatalf("no hashed stylesheet link in %.300s", page)
	}
	resp := wantPage(t, base+string(hashed), 200, "")
	if cc := resp.Header.Get("Cache-Control"); !strings.Contains(cc, "immutable") {
		t.Errorf("the edge did not serve %s (Cache-Control %q)", hashed, cc)
	}
	wantLoopbackOnly(t, dir)
	r.stop()
}

func TestDetectedNode(t *testing.T) {
	notUnderRace(t)
	needTool(t, "node", "npm")
	dir := copyExample(t, "node")
	r, base := startDetected(t, dir, `web\.1 is ready`)
	wantPage(t, base+"/", 200, "Node, run by corral")
	r.waitFor(`worker\.1 +\| worker: started`)
	wantLoopbackOnly(t, dir)
	r.stop()
}

func TestDetectedGo(t *testing.T) {
	notUnderRace(t)
	needTool(t, "go")
	dir := copyExample(t, "go")
	// bin/web is missing: start builds it first.
	r, base := startDetected(t, dir, `web\.1 is ready`)
	wantPage(t, base+"/", 200, "Go, run by corral: served by web.1")
	wantLoopbackOnly(t, dir)
	if !regexp.MustCompile(`build\.1 .*go build -o bin/web ./cmd/web`).MatchString(r.output()) {
		t.Errorf("no go build before the start:\n%s", r.output())
	}
	r.stop()

	// Now it is built: start runs it as it is.
	r, base = startDetected(t, dir, `web\.1 is ready`)
	wantPage(t, base+"/", 200, "Go, run by corral")
	if strings.Contains(r.output(), "build.1") {
		t.Errorf("start built again with bin/web there:\n%s", r.output())
	}
	r.stop()

	// corral build always builds, its output prefixed.
	code, out, errOut := corral(t, dir, nil, "build")
	if code != 0 || !strings.Contains(out, "build: 1 step(s) done") {
		t.Fatalf("build: status %d\n%s\n%s", code, out, errOut)
	}
}

func TestDetectedStatic(t *testing.T) {
	notUnderRace(t)
	dir := copyExample(t, "static")
	r, base := startDetected(t, dir, `edge: listening`)
	wantPage(t, base+"/", 200, "A static site, served by corral's edge")
	wantPage(t, base+"/about/", 200, "about/index.html")
	wantPage(t, base+"/css/site.css", 200, "font-family")
	wantPage(t, base+"/_corral/health", 200, "ok")
	wantPage(t, base+"/users/42", 404, "")
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, _, err := fetch(noRedirect, base+"/about", nil)
	if err != nil || resp.StatusCode/100 != 3 || resp.Header.Get("Location") != "/about/" {
		t.Errorf("GET /about: %v %v, want a redirect to /about/", resp, err)
	}
	r.stop()

	r, base = startDetected(t, dir, `edge: listening`, "--spa")
	wantPage(t, base+"/users/42", 200, "A static site")
	wantPage(t, base+"/missing.js", 404, "")
	r.stop()
}

func TestDetectedFlask(t *testing.T) {
	notUnderRace(t)
	needTool(t, "gunicorn")
	dir := copyExample(t, "flask")
	needPython(t, dir, "python3-flask", "flask") // examples/flask/.python-version: pyenv's system Python
	r, base := startDetected(t, dir, `web\.1 is ready`)
	wantPage(t, base+"/", 200, "Flask, run by corral")
	// static/ is Flask's: the edge serves what is there (nosniff is its
	// mark) and passes the rest to Flask.
	if resp := wantPage(t, base+"/static/site.css", 200, "font-family"); resp.Header.Get("X-Content-Type-Options") != "nosniff" {
		t.Errorf("/static/site.css came from the app, not the edge: %v", resp.Header)
	}
	if resp := wantPage(t, base+"/static/missing.css", 404, ""); resp.Header.Get("X-Content-Type-Options") == "nosniff" {
		t.Errorf("a missing static file was answered by the edge, not Flask: %v", resp.Header)
	}
	r.stop()
}

// TestDetectedBelow: a repository with no app at its top and a Flask app
// in backend/ (a monorepo's layout): corral check says where the app is,
// corral start runs it there behind the edge (its working directory,
// its static folder), the control verbs still answer at the top, and
// corral run runs in backend/ too.
func TestDetectedBelow(t *testing.T) {
	notUnderRace(t)
	needTool(t, "gunicorn")
	dir := app(t, map[string]string{
		"README.md":                "# A monorepo\n",
		"docker-compose.yml":       "services:\n  api:\n    build: ./backend\n",
		"frontend/package.json":    `{"scripts": {"dev": "vite", "build": "vite build"}}`,
		"backend/.python-version":  "system\n",
		"backend/requirements.txt": "flask\ngunicorn\n",
		"backend/static/site.css":  "body { font-family: serif }\n",
		"backend/app.py": "import os\n\nfrom flask import Flask\n\napp = Flask(__name__)\n\n\n" +
			"@app.get(\"/\")\ndef index():\n    return \"cwd=\" + os.path.basename(os.getcwd())\n",
	})
	needPython(t, filepath.Join(dir, "backend"), "python3-flask", "flask")
	backend := filepath.Join(dir, "backend")
	code, out, errOut := corral(t, dir, nil, "check")
	for _, want := range []string{
		"app:      " + backend,
		"detected below " + dir + ", which has no app at its top: every command runs in " + backend,
		"web: gunicorn app:app --bind ${HOST:-0.0.0.0}:$PORT",
		"note: no app at the top of " + dir + ": corral runs the one in backend/",
	} {
		if code != 0 || !strings.Contains(out, want) {
			t.Fatalf("check: status %d, no %q in\n%s\n%s", code, want, out, errOut)
		}
	}
	r, base := startDetected(t, dir, `web\.1 is ready`)
	wantPage(t, base+"/", 200, "cwd=backend")
	if resp := wantPage(t, base+"/static/site.css", 200, "font-family"); resp.Header.Get("X-Content-Type-Options") != "nosniff" {
		t.Errorf("/static/site.css came from the app, not the edge: %v", resp.Header)
	}
	if rows := ps(t, dir); rows["web.1"].Pid == 0 {
		t.Errorf("corral ps at the top finds no web.1: %v", rows)
	}
	r.stop()
	code, out, errOut = corral(t, dir, nil, "run", "--", "pwd")
	if code != 0 || strings.TrimSpace(out) != backend {
		t.Errorf("corral run -- pwd: status %d, %q; want %s\n%s", code, out, backend, errOut)
	}
}

// TestBuildPythonVenv: corral build installs requirements.txt into a
// virtualenv in .venv, which a Debian Python needs (PEP 668), and start
// then runs with it. Offline here: the virtualenv sees Debian's Flask
// and gunicorn, so pip finds every requirement already satisfied.
func TestBuildPythonVenv(t *testing.T) {
	notUnderRace(t)
	needTool(t, "gunicorn")
	dir := copyExample(t, "flask")
	needPython(t, dir, "python3-flask python3-venv", "flask", "ensurepip")
	env := []string{"PIP_DISABLE_PIP_VERSION_CHECK=1"}
	for run := 1; run <= 2; run++ { // the second finds .venv there
		code, out, errOut := corral(t, dir, env, "build")
		if code != 0 || !strings.Contains(out, "Requirement already satisfied: flask") {
			t.Fatalf("build #%d: status %d\n%s\n%s", run, code, out, errOut)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, ".venv", "bin", "python")); err != nil {
		t.Fatalf("no virtualenv after corral build: %v", err)
	}
	if code, out, _ := corral(t, dir, nil, "check"); code != 0 || !strings.Contains(out, ".venv/bin first in PATH (the app's virtualenv)") {
		t.Errorf("check after build: status %d\n%s", code, out)
	}
	r, base := startDetected(t, dir, `web\.1 is ready`)
	wantPage(t, base+"/", 200, "Flask, run by corral")
	r.stop()
}

func TestInitAndBuildErrors(t *testing.T) {
	dir := copyExample(t, "node")
	code, out, errOut := corral(t, dir, nil, "init")
	if code != 0 {
		t.Fatalf("init: status %d\n%s\n%s", code, out, errOut)
	}
	pf, err := os.ReadFile(filepath.Join(dir, "Procfile"))
	if err != nil || !strings.Contains(string(pf), "\nweb: npm start\n") || !strings.Contains(string(pf), "\nworker: npm run worker\n") {
		t.Fatalf("Procfile written: %q %v", pf, err)
	}
	code, _, errOut = corral(t, dir, nil, "init")
	if code != 1 || !strings.Contains(errOut, "already exists") {
		t.Errorf("second init: status %d, stderr %q; want 1 and already exists", code, errOut)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "Procfile")); string(b) != string(pf) {
		t.Errorf("the second init changed the Procfile")
	}

	empty := t.TempDir()
	for _, cmd := range []string{"start", "check", "init"} {
		code, _, errOut := corral(t, empty, nil, cmd)
		if code != 1 || !strings.Contains(errOut, "no Procfile, and no app corral knows how to run") || !strings.Contains(errOut, "Write a Procfile") {
			t.Errorf("%s in an empty dir: status %d, stderr %q", cmd, code, errOut)
		}
	}

	// A build that fails stops at its step, with its status, and start
	// does not start the app.
	needTool(t, "go")
	broken := app(t, map[string]string{
		"go.mod":  "module example.com/broken\n\ngo 1.22\n",
		"main.go": "package main\n\nfunc main() { undefined() }\n",
	})
	code, out, _ = corral(t, broken, nil, "build")
	if code != 1 || !strings.Contains(out, "build: step 1 of 1 failed with status 1") || !strings.Contains(out, "undefined") {
		t.Errorf("build of broken code: status %d\n%s", code, out)
	}
	code, out, _ = corral(t, broken, []string{"PORT=" + strconv.Itoa(freePort(t))}, "start")
	if code != 1 || !strings.Contains(out, "failed with status 1, so the app is not started") || strings.Contains(out, "web.1 started") {
		t.Errorf("start of broken code: status %d\n%s", code, out)
	}
}
