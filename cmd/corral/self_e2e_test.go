package main

// End-to-end tests of corral's own start command (issue 15): a Procfile
// whose web line is corral start, as on Heroku, corral start -- CMD run
// through a shell as a platform runs it, and the lines that would run
// corral inside itself.

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// bindApp is the helper "bind": a web app that listens where its --bind
// ADDR says, as gunicorn does, and not on $PORT.
func bindApp(args []string) int {
	addr := ""
	for i, a := range args {
		if a == "--bind" && i+1 < len(args) {
			addr = args[i+1]
		}
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Println("listening on", addr)
	http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "hello from %s on %s\n", os.Getenv("PS"), addr)
	}))
	return 0
}

// goApp is an app detection takes for a Go module whose web process is
// bin/web, built already: a script that runs the helper web app. procfile
// is its Procfile ("" for none).
func goApp(t *testing.T, procfile string) string {
	t.Helper()
	files := map[string]string{
		"go.mod":  "module example.com/web\n\ngo 1.22\n",
		"main.go": "package main\n\nfunc main() {}\n",
		"bin/web": "#!/bin/sh\nCORRAL_TEST_HELPER=http exec " + helperBin + "\n",
	}
	if procfile != "" {
		files["Procfile"] = procfile
	}
	dir := app(t, files)
	if err := os.Chmod(filepath.Join(dir, "bin/web"), 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// pathWithCorral is a PATH with the corral under test first in it, named
// corral, as a platform's start command finds it.
func pathWithCorral(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.Symlink(corralBin, filepath.Join(dir, "corral")); err != nil {
		t.Fatal(err)
	}
	return "PATH=" + dir + string(os.PathListSeparator) + os.Getenv("PATH")
}

// platformShell runs a Procfile line as a platform does: with sh -c, which
// expands $PORT, and exec, which Heroku's bash does by itself for a
// single command (dash does not), so that the signals the test sends
// reach corral.
func platformShell(line string) *exec.Cmd {
	return exec.Command("/bin/sh", "-c", "exec "+line)
}

// TestOwnLine is the regression test of issue 15: a Procfile whose web
// line is corral start made corral run itself as web.1, which found the
// control socket taken and exited 1, restarted forever. corral now sees
// its own line: web comes from detection, and on a laptop the worker
// runs next to it.
func TestOwnLine(t *testing.T) {
	dir := goApp(t, "web: corral start\nworker: echo \"working as $PS\"; exec sleep 60\n")
	port := freePort(t)
	r := start(t, dir, []string{"PORT=" + strconv.Itoa(port), pathWithCorral(t)}, "start", "-t", "5")
	r.waitFor(`web\.1 is ready`)
	wantPage(t, "http://127.0.0.1:"+strconv.Itoa(port)+"/", 200, "hello from web.1")
	r.waitFor(`worker\.1 +\| working as worker\.1`)
	for _, want := range []string{
		filepath.Join(dir, "Procfile") + `:1: web: corral start is corral's own start command (named corral)`,
		`web comes from detection (Go), as with no Procfile`,
		`worker (` + filepath.Join(dir, "Procfile") + `:2) runs here, inside this web service, next to web: no platform detected`,
		`web.1 started (pid`,
	} {
		if !strings.Contains(r.output(), want) {
			t.Errorf("output lacks %q:\n%s", want, r.output())
		}
	}
	if strings.Contains(r.output(), "another corral") || regexp.MustCompile(`(?m)web\.1 started .*: corral start$`).MatchString(r.output()) {
		t.Errorf("corral ran itself:\n%s", r.output())
	}
	r.stop()
}

// TestOwnLineHeroku: on Heroku, which runs a Procfile's worker line in a
// dyno of its own, corral leaves the worker to it, and says why and how
// to run it here instead.
func TestOwnLineHeroku(t *testing.T) {
	dir := goApp(t, "web: corral start\nworker: echo \"working as $PS\"; exec sleep 60\n")
	port := freePort(t)
	env := []string{"PORT=" + strconv.Itoa(port), pathWithCorral(t), "DYNO=web.1"}
	r := start(t, dir, env, "start", "-t", "5")
	r.waitFor(`web\.1 is ready`)
	wantPage(t, "http://127.0.0.1:"+strconv.Itoa(port)+"/", 200, "hello from web.1")
	r.waitFor(`worker \(.*Procfile:2\) is left to Heroku, not run here, where it would do every job a second time: Heroku eco dynos can run a worker dyno of its own .*; --formation worker=1 runs it here instead`)
	r.stop()
	if strings.Contains(r.output(), "worker.1") {
		t.Errorf("the worker ran on Heroku:\n%s", r.output())
	}

	code, out, errOut := corral(t, dir, env, "check")
	if code != 0 || !strings.Contains(out, "services: worker ("+filepath.Join(dir, "Procfile")+":2) is left to Heroku") || !strings.Contains(out, "worker  0 ") {
		t.Errorf("check: status %d\n%s\n%s", code, out, errOut)
	}
	code, out, errOut = corral(t, dir, env, "check", "--formation", "worker=1")
	if code != 0 || strings.Contains(out, "left to Heroku") || !strings.Contains(out, "worker  1 ") {
		t.Errorf("check --formation worker=1: status %d\n%s\n%s", code, out, errOut)
	}
}

// TestStartDashDash: corral start -- CMD, run through sh -c as a platform
// runs a Procfile line, so $PORT is the public port by the time corral
// sees it: the instance gets its own port, answers through the edge, and
// the log says what was rewritten. The Procfile's worker still runs.
func TestStartDashDash(t *testing.T) {
	line := "corral start -t 5 -- env CORRAL_TEST_HELPER=bind " + helperBin + " --bind 127.0.0.1:$PORT"
	dir := app(t, map[string]string{"Procfile": "web: " + line + "\nworker: echo \"working as $PS\"; exec sleep 60\n"})
	port := freePort(t)
	r := startCmd(t, platformShell(line), dir, []string{"PORT=" + strconv.Itoa(port), pathWithCorral(t)})
	r.waitFor(`web\.1 is ready`)
	resp, body := get(t, "http://127.0.0.1:"+strconv.Itoa(port)+"/", nil)
	if resp.StatusCode != 200 || !strings.HasPrefix(string(body), "hello from web.1 on 127.0.0.1:") || strings.Contains(string(body), ":"+strconv.Itoa(port)+"\n") {
		t.Errorf("GET /: %d %q, want web.1 on a port of its own", resp.StatusCode, body)
	}
	r.waitFor(`worker\.1 +\| working as worker\.1`)
	for _, want := range []string{
		`web comes from the command after this corral's "--"`,
		fmt.Sprintf(`the web command's --bind 127.0.0.1:%d is now --bind 127.0.0.1:$PORT: %d is the public port`, port, port),
	} {
		if !strings.Contains(r.output(), want) {
			t.Errorf("output lacks %q:\n%s", want, r.output())
		}
	}
	r.stop()

	// Run as a user runs it on a laptop, corral start takes the command
	// from its line: $PORT there is each instance's own.
	r = start(t, dir, []string{"PORT=" + strconv.Itoa(port), pathWithCorral(t)}, "start", "-t", "5")
	r.waitFor(`web\.1 is ready`)
	wantPage(t, "http://127.0.0.1:"+strconv.Itoa(port)+"/", 200, "hello from web.1 on 127.0.0.1:")
	if want := `web comes from the command after "--" on ` + filepath.Join(dir, "Procfile") + ":1"; !strings.Contains(r.output(), want) {
		t.Errorf("output lacks %q:\n%s", want, r.output())
	}
	r.stop()
}

// TestRecursiveLines: a line that would start corral inside itself any
// other way than as the web line's own start command is an error that
// names the file and line, before anything starts.
func TestRecursiveLines(t *testing.T) {
	for _, tt := range []struct {
		procfile, want string
	}{
		{"web: corral start\nworker: corral start\n", `Procfile:2: worker: "corral start" would run corral inside itself`},
		{"web: ./setup && exec corral start\n", `Procfile:1: web: "corral start" after ./setup && would run corral inside itself`},
		{"web: sh -c 'corral start'\n", `Procfile:1: web: "corral start" in sh -c's script would run corral inside itself`},
		{"web: corral start -- corral start\n", `Procfile:1: web: "corral start" after corral start -- would run corral inside itself`},
	} {
		dir := goApp(t, tt.procfile)
		port := freePort(t)
		code, out, errOut := corral(t, dir, []string{"PORT=" + strconv.Itoa(port), pathWithCorral(t)}, "start")
		if code != 1 || !strings.Contains(errOut, filepath.Join(dir, tt.want)) || out != "" {
			t.Errorf("%q: status %d, output %q, stderr %q; want 1, nothing, and %q", tt.procfile, code, out, errOut, tt.want)
		}
	}
	code, _, errOut := corral(t, goApp(t, ""), nil, "start", "--", "corral", "start")
	if code != 1 || !strings.Contains(errOut, `the command after "corral start --" (corral start) is corral start, which would run corral inside itself`) {
		t.Errorf("corral start -- corral start: status %d, %s", code, errOut)
	}
	code, _, errOut = corral(t, goApp(t, ""), nil, "start", "--")
	if code != 2 || !strings.Contains(errOut, `nothing after "--"`) {
		t.Errorf("corral start --: status %d, %s", code, errOut)
	}
}

// TestNestedCorral: a corral start that corral cannot see in the Procfile
// (a script runs it) refuses to run inside the corral running the same
// app, and that corral stops, rather than start it again and again.
func TestNestedCorral(t *testing.T) {
	dir := goApp(t, "web: ./start.sh\n")
	if err := os.WriteFile(filepath.Join(dir, "start.sh"), []byte("#!/bin/sh\nexec corral start\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	r := start(t, dir, []string{"PORT=" + strconv.Itoa(freePort(t)), pathWithCorral(t)}, "start", "-t", "5")
	if code := r.wait(30 * time.Second); code != 126 {
		t.Errorf("exit status %d, want 126", code)
	}
	out := r.output()
	if want := "corral start runs as web.1 of the corral already running the app in " + dir; !strings.Contains(out, want) {
		t.Errorf("output lacks %q:\n%s", want, out)
	}
	if n := strings.Count(out, "web.1 started"); n != 1 {
		t.Errorf("web.1 started %d times:\n%s", n, out)
	}
}

// TestThreeForms: the example Flask app as shipped (no Procfile), with a
// normal web line, with web: corral start, and with corral start --
// gunicorn run through a shell: each serves its page through the edge.
func TestThreeForms(t *testing.T) {
	notUnderRace(t)
	needTool(t, "gunicorn")
	for _, tt := range []struct {
		name, procfile, shell string
	}{
		{name: "no Procfile"},
		{name: "a web line", procfile: "web: gunicorn app:app --bind ${HOST:-0.0.0.0}:$PORT\n"},
		{name: "web: corral start", procfile: "web: corral start\n"},
		{name: "corral start -- gunicorn", shell: "corral start -t 5 -- gunicorn app:app --bind 127.0.0.1:$PORT"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := copyExample(t, "flask")
			needPython(t, dir, "python3-flask", "flask")
			if tt.shell != "" {
				tt.procfile = "web: " + tt.shell + "\n"
			}
			if tt.procfile != "" {
				if err := os.WriteFile(filepath.Join(dir, "Procfile"), []byte(tt.procfile), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			port := freePort(t)
			env := []string{"PORT=" + strconv.Itoa(port), pathWithCorral(t)}
			var r *session
			if tt.shell != "" {
				r = startCmd(t, platformShell(tt.shell), dir, env)
			} else {
				r = start(t, dir, env, "start", "-t", "5")
			}
			r.waitFor(`web\.1 is ready`)
			wantPage(t, "http://127.0.0.1:"+strconv.Itoa(port)+"/", 200, "Served by web.1")
			r.stop()
		})
	}
}

// TestPublicPortClash: a web command that listens on the public port,
// which the edge holds, fails with "address in use" at each start; corral
// says why with each restart, rather than leave an obscure crash loop.
func TestPublicPortClash(t *testing.T) {
	port := freePort(t)
	dir := app(t, map[string]string{"Procfile": "web: env CORRAL_TEST_HELPER=bind " + helperBin + " --bind 127.0.0.1:" + strconv.Itoa(port) + "\n"})
	r := start(t, dir, []string{"PORT=" + strconv.Itoa(port)}, "start", "-t", "5")
	r.waitFor(`web\.1 +\| .*address already in use`)
	r.waitFor(regexp.QuoteMeta(fmt.Sprintf(`web.1's command names %d, the public port, in ["127.0.0.1:%d"]: corral's edge holds that port, so an instance that listens there fails with "address in use". Write $PORT there`, port, port)))
	r.stop()
}
