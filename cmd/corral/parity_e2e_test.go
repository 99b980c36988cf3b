package main

// End-to-end tests of what a platform does that corral must do too,
// found by running Heroku's and Render's sample apps under corral.

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// realApp copies the sample app name from /work/shared/realapps (or
// $CORRAL_REALAPPS): apps platforms publish, run here as the platform
// would. Without the folder the test skips, and fails in CI.
func realApp(t *testing.T, name string) string {
	t.Helper()
	root := os.Getenv("CORRAL_REALAPPS")
	if root == "" {
		root = "/work/shared/realapps"
	}
	src := filepath.Join(root, name)
	if _, err := os.Stat(src); err != nil {
		integrationMissing(t, "needs the sample app %s: %v", name, err)
	}
	return copyTree(t, src)
}

// integrationMissing skips the test for want of what the message says,
// except in CI (CORRAL_REQUIRE_INTEGRATION), where it fails.
func integrationMissing(t *testing.T, format string, args ...any) {
	t.Helper()
	if os.Getenv("CORRAL_REQUIRE_INTEGRATION") != "" {
		t.Fatalf(format, args...)
	}
	t.Skipf(format, args...)
}

// startWeb starts corral on dir with env added to the test's, on a free
// port, and waits until web.1 is ready; it fails the test if web.1 ends
// first.
func startWeb(t *testing.T, dir string, env []string, args ...string) (*session, string) {
	t.Helper()
	return startWebCmd(t, exec.Command(corralBin, append([]string{"start", "-t", "10"}, args...)...), dir, env)
}

// startWebCmd is startWeb for a command that runs corral start: a
// platform's start command, run through its shell (platformShell).
func startWebCmd(t *testing.T, cmd *exec.Cmd, dir string, env []string) (*session, string) {
	t.Helper()
	port := freePort(t)
	r := startCmd(t, cmd, dir, append(env, "PORT="+strconv.Itoa(port)))
	if l := r.waitFor(`web\.1 is ready|web\.1 exited`); !strings.Contains(l, "is ready") {
		t.Fatalf("%s\n%s", l, r.output())
	}
	return r, "http://127.0.0.1:" + strconv.Itoa(port)
}

// buildAndServe runs corral build in dir, as a platform's build command,
// then corral start, and wants want in the page it serves at /.
func buildAndServe(t *testing.T, dir string, env []string, want string) {
	t.Helper()
	if code, out, errOut := corral(t, dir, env, "build"); code != 0 {
		t.Fatalf("build: status %d\n%s\n%s", code, out, errOut)
	}
	r, base := startWeb(t, dir, env)
	wantPage(t, base+"/", 200, want)
	r.stop()
}

// goSampleFiles is a Go app laid out as Heroku's Go sample
// (heroku/go-getting-started): a main package at the root of module
// …/go-getting-started, which Heroku's Go buildpack and corral build
// install as bin/go-getting-started, and a Procfile naming it bare.
var goSampleFiles = map[string]string{
	"go.mod": "module example.com/go-getting-started\n\ngo 1.22\n",
	"main.go": `package main

import (
	"fmt"
	"net"
	"net/http"
	"os"
)

func main() {
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "hello from go-getting-started")
	})
	panic(http.ListenAndServe(net.JoinHostPort(os.Getenv("HOST"), os.Getenv("PORT")), nil))
}
`,
	"Procfile": "web: go-getting-started\n",
}

// TestBinOnPath: the app's bin/ is on PATH, as on Heroku, where Heroku's
// Go sample's Procfile says `web: go-getting-started`: once corral build
// (which builds an app with a Procfile too) has made
// bin/go-getting-started, corral start runs it, and corral run finds it
// too. Before, check and start say to run corral build first: with a
// Procfile, start builds nothing.
func TestBinOnPath(t *testing.T) {
	needTool(t, "go")
	dir := app(t, goSampleFiles)
	const first = "web runs bin/go-getting-started, which is missing: with a Procfile corral start runs what it says and builds nothing, as heroku local does; run corral build first"
	_, out, _ := corral(t, dir, nil, "check")
	if !strings.Contains(out, "  build: go build -o bin/go-getting-started . (corral build)\n") || !strings.Contains(out, first) {
		t.Errorf("check before the build:\n%s", out)
	}
	if code, out, _ := corral(t, dir, []string{"PORT=" + strconv.Itoa(freePort(t))}, "start"); code == 0 || !strings.Contains(out, "corral | warning: "+filepath.Join(dir, "Procfile")+":1: "+first) {
		t.Errorf("start before the build: status %d\n%s", code, out)
	}
	buildAndServe(t, dir, nil, "hello from go-getting-started")
	cmd := exec.Command(corralBin, "run", "--", "command -v go-getting-started")
	cmd.Dir, cmd.Env = dir, baseEnv()
	if out, err := cmd.Output(); err != nil || strings.TrimSpace(string(out)) != filepath.Join(dir, "bin", "go-getting-started") {
		t.Errorf("corral run finds %q (%v), want bin/go-getting-started", out, err)
	}
	if _, out, _ := corral(t, dir, nil, "check"); strings.Contains(out, "run corral build first") {
		t.Errorf("check after the build:\n%s", out)
	}
}

// TestDotEnvOnPlatform: a repository's .env (Heroku's Python sample has
// ENVIRONMENT=development, which turns on gunicorn's reload) is read on a
// laptop, as heroku local reads it, and not on a platform, which never
// reads it, unless -e names it; the log says so, and why.
func TestDotEnvOnPlatform(t *testing.T) {
	dir := app(t, map[string]string{
		".env":     "ENVIRONMENT=development\n",
		"Procfile": "web: echo ENVIRONMENT=$ENVIRONMENT; CORRAL_TEST_HELPER=http exec " + helperBin + "\n",
	})
	for _, tt := range []struct {
		name string
		env  []string
		args []string
		want string
		log  string // a line start logs; "" for none
	}{
		{"laptop", nil, nil, "ENVIRONMENT=development", ""},
		{"render", []string{"RENDER=true"}, nil, "ENVIRONMENT=", `corral +\| env: \.env is not read: on render a repository's \.env is a local file .*-e \.env \(CORRAL_ENV=\.env\) reads it`},
		{"heroku, -e .env", []string{"DYNO=web.1"}, []string{"-e", ".env"}, "ENVIRONMENT=development", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r, _ := startWeb(t, dir, tt.env, tt.args...)
			if got := r.waitFor(`web\.1 +\| ENVIRONMENT=`); !strings.HasSuffix(got, "| "+tt.want) {
				t.Errorf("web.1 says %q, want %q", got, tt.want)
			}
			if tt.log != "" {
				r.waitFor(tt.log)
			} else if strings.Contains(r.output(), "is not read") {
				t.Errorf(".env said to be unread:\n%s", r.output())
			}
			r.stop()

			cmd := exec.Command(corralBin, append(append([]string{"run"}, tt.args...), "--", "echo ENVIRONMENT=$ENVIRONMENT")...)
			cmd.Dir, cmd.Env = dir, append(baseEnv(), tt.env...)
			if out, err := cmd.Output(); err != nil || strings.TrimSpace(string(out)) != tt.want {
				t.Errorf("corral run: %q (%v), want %q", out, err, tt.want)
			}
		})
	}
}

// TestHerokuPythonSampleCheck: corral check on Heroku's Python sample says
// on a platform that its .env is not read and why, and which production
// default the detected Django app gets; on a laptop it reads .env.
func TestHerokuPythonSampleCheck(t *testing.T) {
	dir := realApp(t, "heroku-python-getting-started")
	code, out, errOut := corral(t, dir, []string{"DYNO=web.1"}, "check")
	if code != 0 {
		t.Fatalf("check: status %d\n%s\n%s", code, out, errOut)
	}
	unbuffered := "env:      PYTHONUNBUFFERED=1, a production default on heroku\n    because Heroku's Python buildpack sets it"
	if v, ok := os.LookupEnv("PYTHONUNBUFFERED"); ok { // the test's own environment sets it
		unbuffered = "env:      PYTHONUNBUFFERED=" + v + " is the app's own, over the production default 1"
	}
	for _, want := range []string{
		"env:      " + filepath.Join(dir, ".env") + " is not read: on heroku a repository's .env is a local file",
		unbuffered,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("check on heroku lacks %q:\n%s", want, out)
		}
	}
	_, out, _ = corral(t, dir, nil, "check")
	if !strings.Contains(out, "env:      "+filepath.Join(dir, ".env")+"\n") || !strings.Contains(out, "no production defaults off a platform") {
		t.Errorf("check on a laptop:\n%s", out)
	}
}

// TestProductionDefaults: on a platform an app gets the production
// defaults of its kind, as Heroku's buildpacks set them (a Node app,
// detected beside its Procfile: NODE_ENV=production), never over the
// app's own value; off a platform it gets none. corral start and corral
// run alike; corral check lists them.
func TestProductionDefaults(t *testing.T) {
	dir := app(t, map[string]string{
		"package.json": `{"scripts": {"start": "node server.js"}}`,
		"Procfile":     "web: echo NODE_ENV=$NODE_ENV; CORRAL_TEST_HELPER=http exec " + helperBin + "\n",
	})
	for _, tt := range []struct {
		name string
		env  []string
		want string
	}{
		{"laptop", nil, "NODE_ENV="},
		{"render", []string{"RENDER=true"}, "NODE_ENV=production"},
		{"render, the app's own", []string{"RENDER=true", "NODE_ENV=staging"}, "NODE_ENV=staging"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r, _ := startWeb(t, dir, tt.env)
			if got := r.waitFor(`web\.1 +\| NODE_ENV=`); !strings.HasSuffix(got, "| "+tt.want) {
				t.Errorf("web.1 says %q, want %q", got, tt.want)
			}
			r.stop()

			cmd := exec.Command(corralBin, "run", "--", "echo NODE_ENV=$NODE_ENV")
			cmd.Dir, cmd.Env = dir, append(baseEnv(), tt.env...)
			if out, err := cmd.Output(); err != nil || strings.TrimSpace(string(out)) != tt.want {
				t.Errorf("corral run: %q (%v), want %q", out, err, tt.want)
			}
		})
	}
	_, out, _ := corral(t, dir, []string{"RENDER=true"}, "check")
	if !strings.Contains(out, "env:      NODE_ENV=production, a production default on render\n    because Heroku's Node.js buildpack sets it") {
		t.Errorf("check on render:\n%s", out)
	}
}

// TestStaticAccessLogged: a static file the edge serves itself gets an
// `edge |` line, with kind static, and an X-Request-Id, as a request the
// app answers does; in text and in JSON.
func TestStaticAccessLogged(t *testing.T) {
	for _, format := range []string{"text", "json"} {
		t.Run(format, func(t *testing.T) {
			dir := app(t, map[string]string{
				"Procfile":       "web: CORRAL_TEST_HELPER=http exec " + helperBin + "\n",
				"public/app.css": "body { color: teal }\n",
			})
			port := freePort(t)
			base := "http://127.0.0.1:" + strconv.Itoa(port)
			r := start(t, dir, nil, "start", "-p", strconv.Itoa(port), "--static", "/static/=public", "--log-format", format)
			r.waitFor(`web\.1 is ready`)
			resp := wantPage(t, base+"/static/app.css?v=1", 200, "teal")
			id := resp.Header.Get("X-Request-Id")
			if id == "" {
				t.Fatalf("no X-Request-Id on a static file: %v", resp.Header)
			}
			wantPage(t, base+"/", 200, "hello from web.1")
			line := r.waitFor(regexp.QuoteMeta(id))
			r.waitFor(`(edge|"source":"edge").*(GET /|"uri":"/").*web\.1`)
			if format == "text" {
				if want := regexp.MustCompile(`^edge +\| GET /static/app\.css\?v=1 200 21B \S+ static id=` + id + `$`); !want.MatchString(line) {
					t.Errorf("access line %q, want one matching %s", line, want)
				}
			} else {
				objs := parseLogLines(t, []string{line})
				if o := objs[0]; o.Source != "edge" || o.URI != "/static/app.css?v=1" || o.Status != 200 || o.Bytes != 21 || o.Instance != "" || !strings.Contains(o.Raw, `"kind":"static"`) {
					t.Errorf("access object %s", o.Raw)
				}
			}
			r.signal(syscall.SIGTERM)
			r.wait(15 * time.Second)
		})
	}
}

// TestStartBeforeBuild: when a build step that corral start runs fails
// (collectstatic of a Django app whose dependencies are not installed: a
// long traceback), the step's output stays, and the last line says to run
// corral build first.
func TestStartBeforeBuild(t *testing.T) {
	const last = `^corral +\| error: build: build\.1 \(%s\) failed with status 1, so the app is not started\. ` +
		`corral start runs a build step only when what it makes is missing, and installs no dependencies: ` +
		`run corral build first \(on a platform, as its build command\), which runs every step in order$`
	for _, tt := range []struct {
		name    string
		dir     func(t *testing.T) string
		command string // the step, as a regexp
		output  string // a line of the step's own output
	}{
		{"go", func(t *testing.T) string {
			needTool(t, "go")
			return app(t, map[string]string{"go.mod": "module example.com/shop\n\ngo 1.22\n", "main.go": "package main\n\nfunc main() { oops }\n"})
		}, `go build -o bin/shop \.`, `build\.1 \| .*undefined: oops`},
		{"django without its dependencies", func(t *testing.T) string {
			dir := copyExample(t, "django", "Procfile")
			needDjango(t, dir)
			settings := filepath.Join(dir, "mysite", "settings.py")
			b, err := os.ReadFile(settings)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(settings, append(b, "\nimport whitenoise_not_installed\n"...), 0o644); err != nil {
				t.Fatal(err)
			}
			return dir
		}, `python3 manage.py collectstatic --noinput`, `build\.1 \| ModuleNotFoundError: No module named 'whitenoise_not_installed'`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := tt.dir(t)
			code, out, errOut := corral(t, dir, []string{"PORT=" + strconv.Itoa(freePort(t))}, "start")
			lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
			if code != 1 || !regexp.MustCompile(fmt.Sprintf(last, tt.command)).MatchString(lines[len(lines)-1]) {
				t.Fatalf("status %d; the last line is not the way out:\n%s\n%s", code, out, errOut)
			}
			if !regexp.MustCompile(`(?m)` + tt.output).MatchString(out) {
				t.Errorf("the step's own output is gone:\n%s", out)
			}
		})
	}
}

// pathOf returns a PATH of one new directory holding links to the
// programs named, as found on the test's PATH: a machine with those and
// no others.
func pathOf(t *testing.T, programs ...string) string {
	t.Helper()
	dir := t.TempDir()
	for _, name := range programs {
		p, err := exec.LookPath(name)
		if err != nil {
			t.Fatalf("needs %s: %v", name, err)
		}
		if err := os.Symlink(p, filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	return "PATH=" + dir
}

// TestYarnThroughCorepack: Render's Express sample has a yarn.lock. With
// no yarn on PATH but corepack (Node 16.9 to 24 ship it), corral runs
// corepack yarn; with neither, check says what to install, and build and
// start refuse with the same words instead of failing with "yarn: command
// not found".
func TestYarnThroughCorepack(t *testing.T) {
	notUnderRace(t)
	needTool(t, "node", "npm", "corepack")
	dir := realApp(t, "render-examples-express-hello-world")
	corepack := []string{pathOf(t, "node", "npm", "corepack")}
	neither := []string{pathOf(t, "node", "npm")}

	t.Run("check, corepack", func(t *testing.T) {
		code, out, errOut := corral(t, dir, corepack, "check")
		for _, want := range []string{
			"  web: corepack yarn start\n",
			"  build: corepack yarn install --frozen-lockfile (corral build; corral start too when node_modules is missing)\n",
			"  note: yarn is not on PATH, but corepack is: corral runs corepack yarn",
		} {
			if code != 0 || !strings.Contains(out, want) {
				t.Errorf("status %d, no %q:\n%s\n%s", code, want, out, errOut)
			}
		}
	})

	t.Run("neither", func(t *testing.T) {
		const missing = "yarn is not on PATH (yarn.lock: yarn's lock file): neither is corepack, through which corral would run it; " +
			"install yarn (npm install --global yarn) or a Node.js that comes with corepack (16.9 to 24), or delete yarn.lock to use npm"
		if code, out, errOut := corral(t, dir, neither, "check"); code != 0 || !strings.Contains(out, "  missing: "+missing+"\n") {
			t.Errorf("check: status %d\n%s\n%s", code, out, errOut)
		}
		for _, args := range [][]string{{"build"}, {"start", "-p", strconv.Itoa(freePort(t))}} {
			code, out, errOut := corral(t, dir, neither, args...)
			if code != 1 || !strings.Contains(errOut, missing) || strings.Contains(out+errOut, "command not found") {
				t.Errorf("%s: status %d\n%s\n%s", args[0], code, out, errOut)
			}
		}
	})

	t.Run("build and start through corepack", func(t *testing.T) {
		// Offline, as every test: corepack runs the yarn in its cache
		// and yarn takes the sample's packages from its own.
		env := append(offlineEnv(t), corepack...)
		probe := exec.Command("corepack", "yarn", "--version")
		probe.Dir, probe.Env = dir, append(baseEnv(), env...)
		if b, err := probe.CombinedOutput(); err != nil {
			why := bytes.TrimSpace(b)
			if line := regexp.MustCompile(`(?m)^Error: .*$`).Find(b); line != nil { // the line that says why, among a stack trace
				why = line
			}
			integrationMissing(t, "corepack has no yarn it can run offline (%v: %s); .ci/run's prefetch step: %s", err, why, corepackPrefetch)
		}
		renderExpress.build(t, dir, env)
		r, base := startWeb(t, dir, env)
		wantPage(t, base+"/", 200, "Hello from Render!")
		r.stop()
	})
}
