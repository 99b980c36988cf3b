package main

// End-to-end tests of the release artifacts (issue 16): packaging/build
// makes them once per test run, and each test installs one with the real
// package manager, offline, as a user or a platform's build would, then
// runs the corral it installed.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// release is what packaging/build made.
type release struct {
	dir     string // the artifacts
	version string // the Go version every artifact carries
	commit  string
}

// buildRelease runs packaging/build once per test binary, into the
// end-to-end tests' temporary directory (TestMain removes it).
var buildRelease = sync.OnceValues(func() (release, error) {
	r := release{dir: filepath.Join(filepath.Dir(corralBin), "dist")}
	out, err := exec.Command("../../packaging/build", "-o", r.dir).CombinedOutput()
	if err != nil {
		return r, fmt.Errorf("packaging/build: %v\n%s", err, out)
	}
	m := regexp.MustCompile(`(?m)^corral (v\S+) \(commit ([0-9a-f]{40}),`).FindSubmatch(out)
	if m == nil {
		return r, fmt.Errorf("packaging/build did not say the version:\n%s", out)
	}
	r.version, r.commit = string(m[1]), string(m[2])
	return r, nil
})

// dist builds the release artifacts, or fetches those built already.
// Under the race detector it skips: the artifacts are the same, and
// building them again would only cost time.
func dist(t *testing.T) release {
	t.Helper()
	if raceEnabled {
		t.Skip("the release artifacts are tested without -race")
	}
	needTool(t, "git")
	r, err := buildRelease()
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// artifact is the one file of r.dir whose name matches pattern.
func (r release) artifact(t *testing.T, pattern string) string {
	t.Helper()
	entries, err := os.ReadDir(r.dir)
	if err != nil {
		t.Fatal(err)
	}
	var found []string
	re := regexp.MustCompile(pattern)
	for _, e := range entries {
		if re.MatchString(e.Name()) {
			found = append(found, filepath.Join(r.dir, e.Name()))
		}
	}
	if len(found) != 1 {
		t.Fatalf("%d artifacts match %s, want 1: %q", len(found), pattern, found)
	}
	return found[0]
}

// runOut runs a command to completion and returns its stdout; a failure
// fails the test with everything the command said.
func runOut(t *testing.T, dir string, env []string, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = append(baseEnv(), env...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s%s", name, strings.Join(args, " "), err, out, stderr.Bytes())
	}
	return string(out)
}

// wantVersion wants out to be corral version's line for r, built for
// linux/amd64.
func (r release) wantVersion(t *testing.T, out string) {
	t.Helper()
	want := fmt.Sprintf("corral %s (commit %s, ", r.version, r.commit[:12])
	if !strings.HasPrefix(out, want) || !strings.HasSuffix(out, ", linux/amd64)\n") {
		t.Errorf("corral version printed %q, want %q…, linux/amd64)", out, want)
	}
}

func TestReleaseBinaries(t *testing.T) {
	r := dist(t)
	needTool(t, "file", "sha256sum")
	for _, tt := range []struct{ goos, goarch, file string }{
		{"linux", "amd64", "ELF 64-bit LSB executable, x86-64, version 1 (SYSV), statically linked"},
		{"linux", "arm64", "ELF 64-bit LSB executable, ARM aarch64, version 1 (SYSV), statically linked"},
		{"darwin", "amd64", "Mach-O 64-bit x86_64 executable"},
		{"darwin", "arm64", "Mach-O 64-bit arm64 executable"},
	} {
		bin := filepath.Join(r.dir, "corral-"+tt.goos+"-"+tt.goarch)
		if out := runOut(t, "", nil, "file", "-b", bin); !strings.HasPrefix(out, tt.file) {
			t.Errorf("file %s: %q, want %q…", filepath.Base(bin), out, tt.file)
		}
		info := runOut(t, "", nil, "go", "version", "-m", bin)
		for _, want := range []string{"\tbuild\tGOOS=" + tt.goos + "\n", "\tbuild\tGOARCH=" + tt.goarch + "\n", "\tbuild\tCGO_ENABLED=0\n", "\tbuild\t-trimpath=true\n"} {
			if !strings.Contains(info, want) {
				t.Errorf("go version -m %s has no %q:\n%s", filepath.Base(bin), strings.TrimSpace(want), info)
			}
		}
		// Go records the version itself only where it reads git (not in
		// a git worktree, nor with -buildvcs=false): then it must agree
		// with packaging/build's. The version set at link time is in the
		// binary in any case.
		if m := regexp.MustCompile(`\tmod\tgithub.com/corral-run/corral\t(\S+)`).FindStringSubmatch(info); m != nil && strings.Contains(info, "\tbuild\tvcs=git\n") && m[1] != r.version {
			t.Errorf("go version -m %s: Go says version %s, packaging/build %s", filepath.Base(bin), m[1], r.version)
		}
		if b, err := os.ReadFile(bin); err != nil || !bytes.Contains(b, []byte(r.version)) {
			t.Errorf("%s does not hold its version %s (%v)", filepath.Base(bin), r.version, err)
		}
	}
	bin := filepath.Join(r.dir, "corral-linux-amd64")
	r.wantVersion(t, runOut(t, "", nil, bin, "version"))
	r.wantVersion(t, runOut(t, "", nil, bin, "--version"))

	sums := runOut(t, r.dir, nil, "sha256sum", "--check", "--strict", "SHA256SUMS")
	entries, _ := os.ReadDir(r.dir)
	for _, e := range entries {
		if e.Name() != "SHA256SUMS" && !strings.Contains(sums, e.Name()+": OK\n") {
			t.Errorf("SHA256SUMS does not vouch for %s:\n%s", e.Name(), sums)
		}
	}
}

// debianPython is Debian's python3 (the one with python3-venv and
// Django), which may not be the first python3 on PATH.
func debianPython(t *testing.T) string {
	t.Helper()
	const python = "/usr/bin/python3"
	if out, err := exec.Command(python, "-c", "import venv, ensurepip").CombinedOutput(); err != nil {
		msg := fmt.Sprintf("needs Debian's python3 with venv and ensurepip (apt-get install python3-venv): %v %s", err, out)
		if os.Getenv("CORRAL_REQUIRE_INTEGRATION") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return python
}

func TestWheelInVirtualenv(t *testing.T) {
	r := dist(t)
	python := debianPython(t)
	whl := r.artifact(t, `^corral_launcher-.*-py3-none-manylinux_2_17_x86_64\.manylinux2014_x86_64\.musllinux_1_1_x86_64\.whl$`)
	venv := filepath.Join(t.TempDir(), "venv")
	runOut(t, "", nil, python, "-m", "venv", venv)
	runOut(t, "", nil, filepath.Join(venv, "bin", "pip"), "install", "--no-index", "--disable-pip-version-check", whl)
	r.wantVersion(t, runOut(t, "", nil, filepath.Join(venv, "bin", "corral"), "version"))
	// pip uninstalls what RECORD lists: corral goes with it.
	runOut(t, "", nil, filepath.Join(venv, "bin", "pip"), "uninstall", "--yes", pythonDist)
	if _, err := os.Stat(filepath.Join(venv, "bin", "corral")); !os.IsNotExist(err) {
		t.Errorf("pip uninstall left bin/corral: %v", err)
	}
}

// pythonDist is the wheel's distribution name, as requirements.txt names it.
const pythonDist = "corral-launcher"

// TestRenderPythonFlow is a Django app deployed as on Render's native
// Python runtime: requirements.txt names corral, the build pip-installs
// it into the app's .venv, and the start command is corral start.
func TestRenderPythonFlow(t *testing.T) {
	r := dist(t)
	python := debianPython(t)
	dir := djangoApp(t)
	if err := os.WriteFile(filepath.Join(dir, "requirements.txt"), []byte(pythonDist+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// Django and gunicorn come from Debian's packages: there is no PyPI.
	venv := filepath.Join(dir, ".venv")
	runOut(t, dir, nil, python, "-m", "venv", "--system-site-packages", venv)
	runOut(t, dir, nil, filepath.Join(venv, "bin", "pip"), "install", "--no-index", "--disable-pip-version-check", "--find-links", r.dir, "-r", "requirements.txt")
	port := freePort(t)
	s := startCmd(t, exec.Command(filepath.Join(venv, "bin", "corral"), "start", "-t", "10"), dir,
		[]string{"PORT=" + strconv.Itoa(port), "PATH=" + filepath.Join(venv, "bin") + ":" + os.Getenv("PATH")})
	s.waitFor(`web\.1 is ready`)
	resp, body := get(t, "http://127.0.0.1:"+strconv.Itoa(port)+"/", nil)
	if resp.StatusCode != http.StatusOK || !bytes.Contains(body, []byte("Hello from Django under corral")) {
		t.Errorf("GET /: %d\n%s", resp.StatusCode, body)
	}
	s.stop()
}

// TestNPMPackage installs the npm packages offline into a fresh project
// whose start script is corral start, as a Node app on Render or Railway
// would: npx corral runs, npm start serves the app through corral's edge,
// and the platform's SIGTERM to npm stops corral gracefully.
func TestNPMPackage(t *testing.T) {
	r := dist(t)
	needTool(t, "npm", "node")
	dir := copyExample(t, "node")
	pkg := map[string]any{"name": "corral-npm-test", "version": "1.0.0", "private": true, "scripts": map[string]string{"start": "corral start"}}
	b, _ := json.Marshal(pkg)
	files := map[string]string{
		// No Procfile: detection takes the start script for corral's
		// own, and runs npm's default start, server.js, as the web
		// process.
		"package.json": string(b),
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// Offline, with a cache of its own: npm installs the tarballs and
	// leaves out the other platforms' optional packages, which it
	// cannot fetch.
	npmEnv := []string{"npm_config_cache=" + filepath.Join(t.TempDir(), "npm-cache"), "npm_config_offline=true",
		"npm_config_audit=false", "npm_config_fund=false", "npm_config_update_notifier=false"}
	runOut(t, dir, npmEnv, "npm", "install",
		r.artifact(t, `^corral-run-linux-x64-.*\.tgz$`), r.artifact(t, `^corral-\d.*\.tgz$`))
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "@corral-run", "darwin-arm64")); !os.IsNotExist(err) {
		t.Errorf("npm installed the darwin-arm64 package on linux: %v", err)
	}
	r.wantVersion(t, runOut(t, dir, npmEnv, "npx", "corral", "version"))

	port := freePort(t)
	npmStart := exec.Command("npm", "start")
	npmStart.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	s := startCmd(t, npmStart, dir, append(npmEnv, "PORT="+strconv.Itoa(port)))
	t.Cleanup(func() {
		if t.Failed() { // a corral left running would hold the output pipe open
			syscall.Kill(-npmStart.Process.Pid, syscall.SIGKILL)
		}
	})
	started := s.waitFor(`web\.1 started \(pid \d+`)
	s.waitFor(`web\.1 is ready`)
	resp, body := get(t, "http://127.0.0.1:"+strconv.Itoa(port)+"/", nil)
	if resp.StatusCode != http.StatusOK || !bytes.Contains(body, []byte("Node, run by corral")) {
		t.Errorf("GET /: %d\n%s", resp.StatusCode, body)
	}
	// npm passes SIGTERM on to the shell its script runs in, not to
	// corral, and exits: corral must stop all the same, gracefully.
	web, _ := strconv.Atoi(regexp.MustCompile(`pid (\d+)`).FindStringSubmatch(started)[1])
	s.signal(syscall.SIGTERM)
	s.wait(15 * time.Second)
	waitDead(t, []int{web})
	deadline := time.Now().Add(15 * time.Second)
	for !slices.ContainsFunc(s.lines(), func(l string) bool { return strings.Contains(l, "web.1 exited with code 0") }) {
		if time.Now().After(deadline) {
			t.Fatalf("corral did not stop web.1 gracefully after npm's SIGTERM; output:\n%s", s.output())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestDebPackage checks the .debs with dpkg-deb, and installs the amd64
// one with dpkg into a directory of its own (--root), where its corral runs.
func TestDebPackage(t *testing.T) {
	r := dist(t)
	needTool(t, "dpkg-deb", "dpkg")
	for _, arch := range []string{"amd64", "arm64"} {
		deb := r.artifact(t, `^corral_.*_`+arch+`\.deb$`)
		info := runOut(t, "", nil, "dpkg-deb", "--info", deb)
		fields := map[string]string{}
		for _, f := range []string{"Package", "Version", "Architecture", "Maintainer", "Installed-Size", "Section", "Priority", "Homepage", "Description"} {
			m := regexp.MustCompile(`(?m)^ ` + f + `: (.+)$`).FindStringSubmatch(info)
			if m == nil {
				t.Errorf("%s: no %s field:\n%s", filepath.Base(deb), f, info)
				continue
			}
			fields[f] = m[1]
		}
		// semver's "-" before the pre-release is "~" in Debian's order.
		debVersion, build, _ := strings.Cut(strings.TrimPrefix(r.version, "v"), "+")
		if core, pre, ok := strings.Cut(debVersion, "-"); ok {
			debVersion = core + "~" + strings.ReplaceAll(pre, "-", ".")
		}
		if build != "" {
			debVersion += "+" + build
		}
		if fields["Package"] != "corral" || fields["Architecture"] != arch || fields["Version"] != debVersion || !strings.Contains(filepath.Base(deb), "_"+debVersion+"_") {
			t.Errorf("%s: control fields %q; want corral, %s, version %s", filepath.Base(deb), fields, arch, debVersion)
		}
		bin, _ := os.Stat(filepath.Join(r.dir, "corral-linux-"+arch))
		if size, _ := strconv.ParseInt(fields["Installed-Size"], 10, 64); bin == nil || size != (bin.Size()+1023)/1024 {
			t.Errorf("%s: Installed-Size %s KiB for a binary of %v bytes", filepath.Base(deb), fields["Installed-Size"], bin)
		}
		contents := runOut(t, "", nil, "dpkg-deb", "--contents", deb)
		if !regexp.MustCompile(`(?m)^-rwxr-xr-x root/root +\d+ \S+ \S+ \./usr/bin/corral$`).MatchString(contents) {
			t.Errorf("%s: no executable ./usr/bin/corral owned by root:\n%s", filepath.Base(deb), contents)
		}
		for _, l := range strings.Split(strings.TrimSpace(contents), "\n") {
			if f := strings.Fields(l); len(f) != 6 || f[1] != "root/root" || f[5] != "./" && !strings.HasPrefix(f[5], "./usr/") {
				t.Errorf("%s: %q is not root's, under /usr", filepath.Base(deb), l)
			}
		}
	}

	// dpkg installs into root as into /, with its database under root.
	root := t.TempDir()
	for _, d := range []string{"var/lib/dpkg/info", "var/lib/dpkg/updates", "var/lib/dpkg/triggers"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(root, "var/lib/dpkg/status"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	deb := r.artifact(t, `^corral_.*_amd64\.deb$`)
	runOut(t, "", nil, "dpkg", "--root="+root, "--force-not-root", "--force-script-chrootless", "--log=/dev/null", "--install", deb)
	if status := runOut(t, "", nil, "dpkg", "--root="+root, "--status", "corral"); !strings.Contains(status, "Status: install ok installed") {
		t.Errorf("dpkg --status corral:\n%s", status)
	}
	r.wantVersion(t, runOut(t, "", nil, filepath.Join(root, "usr/bin/corral"), "version"))
}
