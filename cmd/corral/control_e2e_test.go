package main

// End-to-end tests of the control verbs (corral ps, restart, scale,
// reload, stop) against a running corral, through its control socket.

import (
	"encoding/json"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// psRow is one process of corral ps --json.
type psRow struct {
	Name   string `json:"name"`
	Pid    int    `json:"pid"`
	State  string `json:"state"`
	RSS    int64  `json:"rss_bytes"`
	Port   int    `json:"port"`
	Served int64  `json:"requests_served"`
	// InFlight is the requests the edge has sent it and not had answered.
	InFlight int64 `json:"requests_in_flight"`
	// Restarts counts crashes, exits and recycles, not corral restart.
	Restarts int `json:"restarts"`
	// WebConcurrency is the WEB_CONCURRENCY a web instance was given.
	WebConcurrency int `json:"web_concurrency"`
}

// ps runs corral ps --json in dir.
func ps(t *testing.T, dir string) map[string]psRow {
	t.Helper()
	code, out, errOut := corral(t, dir, nil, "ps", "--json")
	if code != 0 {
		t.Fatalf("corral ps: status %d\n%s\n%s", code, out, errOut)
	}
	var rows []psRow
	if err := json.Unmarshal([]byte(out), &rows); err != nil {
		t.Fatalf("corral ps --json: %v\n%s", err, out)
	}
	m := map[string]psRow{}
	for _, r := range rows {
		m[r.Name] = r
	}
	return m
}

// verb runs a control verb in dir and wants it to succeed.
func verb(t *testing.T, dir string, args ...string) string {
	t.Helper()
	code, out, errOut := corral(t, dir, nil, args...)
	if code != 0 {
		t.Fatalf("corral %s: status %d\n%s\n%s", strings.Join(args, " "), code, out, errOut)
	}
	return out
}

func TestControlVerbs(t *testing.T) {
	dir := app(t, map[string]string{"Procfile": "" +
		"web: CORRAL_TEST_HELPER=http exec " + helperBin + "\n" +
		"worker: echo worker up; exec sleep 60\n"})
	port := freePort(t)
	base := "http://127.0.0.1:" + strconv.Itoa(port)
	r := start(t, dir, nil, "start", "-p", strconv.Itoa(port), "--no-access-log")
	r.waitFor(`web\.1 is ready`)
	r.waitFor(`worker\.1 +\| worker up`)

	t.Run("ps", func(t *testing.T) {
		get(t, base+"/", nil)
		rows := ps(t, dir)
		web, worker := rows["web.1"], rows["worker.1"]
		if len(rows) != 2 || web.Pid == 0 || worker.Pid == 0 || web.State != "up" || web.RSS == 0 || web.Port == 0 || web.Served != 1 {
			t.Errorf("ps: %+v", rows)
		}
		if out := verb(t, dir, "ps"); !strings.Contains(out, "NAME") || !strings.Contains(out, "worker.1") {
			t.Errorf("ps table:\n%s", out)
		}
	})

	t.Run("restart worker", func(t *testing.T) {
		before := ps(t, dir)
		verb(t, dir, "restart", "worker")
		r.waitForNth(`worker\.1 +\| worker up`, 2)
		after := ps(t, dir)
		if after["worker.1"].Pid == before["worker.1"].Pid || after["web.1"].Pid != before["web.1"].Pid {
			t.Errorf("before %+v, after %+v: want a new worker.1 and the same web.1", before, after)
		}
	})

	t.Run("restart web", func(t *testing.T) {
		before := ps(t, dir)
		verb(t, dir, "restart", "web")
		r.waitFor(`restart: the replaced web\.1 \(pid ` + strconv.Itoa(before["web.1"].Pid) + `\) `)
		r.waitFor(`restart: done`)
		after := ps(t, dir)
		if after["web.1"].Pid == before["web.1"].Pid || after["worker.1"].Pid != before["worker.1"].Pid {
			t.Errorf("before %+v, after %+v: want a new web.1 and the same worker.1", before, after)
		}
	})

	t.Run("scale web=3 under load", func(t *testing.T) {
		stop := make(chan struct{})
		counts, wait := load(base, "/", 8, stop)
		time.Sleep(200 * time.Millisecond)
		verb(t, dir, "scale", "web=3")
		r.waitFor(`web\.3 is ready`)
		time.Sleep(200 * time.Millisecond)
		verb(t, dir, "scale", "web=1")
		r.waitFor(`scale: web\.2 \(pid \d+\)`)
		r.waitFor(`scale: web\.3 \(pid \d+\)`)
		time.Sleep(200 * time.Millisecond)
		close(stop)
		wait()
		if counts[200] == 0 || len(counts) != 1 {
			t.Errorf("answers by status while scaling: %v; want only 200s", counts)
		}
		// Scaling back may replace web.1 to grow its share of the
		// workers' budget again (TestScaleSharesWebConcurrency): wait for
		// its replacement, if any, to be up.
		var rows map[string]psRow
		for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
			if rows = ps(t, dir); len(rows) == 2 && rows["web.1"].Pid != 0 && rows["web.1"].State == "up" {
				break
			}
		}
		if len(rows) != 2 || rows["web.1"].Pid == 0 || rows["web.1"].State != "up" {
			t.Errorf("after scaling back: %+v", rows)
		}
	})

	// Flags after the arguments are read, as before them: run from
	// elsewhere, each verb reaches this corral only through its --dir.
	t.Run("flags after the arguments", func(t *testing.T) {
		elsewhere := t.TempDir()
		for _, args := range [][]string{
			{"restart", "worker", "-d", dir},
			{"scale", "worker=1", "--dir", dir},
			{"scale", "worker=1", "--dir=" + dir},
			{"ps", "--json", "-d", dir},
			{"ps", "-d", dir, "--json"},
		} {
			code, out, errOut := corral(t, elsewhere, nil, args...)
			if code != 0 {
				t.Errorf("corral %s: status %d\n%s\n%s", strings.Join(args, " "), code, out, errOut)
			}
			if args[0] == "ps" && !strings.HasPrefix(out, "[") {
				t.Errorf("corral %s: not JSON:\n%s", strings.Join(args, " "), out)
			}
		}
		r.waitForNth(`worker\.1 +\| worker up`, 3) // the restart's
		for _, tt := range []struct {
			args []string
			want string
		}{
			{[]string{"restart", "worker", "--bogus"}, "corral: flag provided but not defined: -bogus (see corral restart --help)"},
			{[]string{"scale", "web=1", "-d"}, "corral: flag needs an argument: -d (see corral scale --help)"},
			{[]string{"stop", "now"}, `corral: stop takes no arguments, not "now" (see corral stop --help)`},
		} {
			code, out, errOut := corral(t, dir, nil, tt.args...)
			if code != 2 || !strings.Contains(errOut, tt.want) || out != "" {
				t.Errorf("corral %s: status %d, stdout %q, stderr %q; want 2 and %q", strings.Join(tt.args, " "), code, out, errOut, tt.want)
			}
		}
	})

	t.Run("bad requests", func(t *testing.T) {
		for _, tt := range []struct {
			args []string
			want string
		}{
			{[]string{"restart", "nope"}, `no process or type "nope" is running (running: web.1, worker.1)`},
			{[]string{"scale", "web=x"}, `count "x" for "web" must be a whole number`},
			{[]string{"scale", "nope=2"}, `unknown process type "nope" (the Procfile defines web, worker)`},
			{[]string{"scale", "web=0,worker=0"}, "would leave nothing running"},
		} {
			code, _, errOut := corral(t, dir, nil, tt.args...)
			if code != 1 || !strings.Contains(errOut, tt.want) {
				t.Errorf("corral %v: status %d, stderr %q; want 1 and %q", tt.args, code, errOut, tt.want)
			}
		}
	})

	t.Run("a second corral here refuses to start", func(t *testing.T) {
		// On another port, and on the first one's: its busy port is
		// explained by the corral that holds it, not "address in use".
		for _, p := range []int{freePort(t), port} {
			code, out, errOut := corral(t, dir, nil, "start", "-p", strconv.Itoa(p))
			if code != 1 || !strings.Contains(errOut, "another corral is running this app") || out != "" {
				t.Errorf("second corral on port %d: status %d, stdout %q, stderr %q", p, code, out, errOut)
			}
		}
		if rows := ps(t, dir); rows["web.1"].Pid == 0 {
			t.Errorf("the first corral's socket was clobbered: %+v", rows)
		}
	})

	verb(t, dir, "stop")
	if code := r.wait(10 * time.Second); code != 0 {
		t.Errorf("exit status %d after corral stop\n%s", code, r.output())
	}
	if _, err := os.Stat(filepath.Join(dir, ".corral", "control.sock")); err == nil {
		t.Errorf("the control socket is left behind")
	}
}

// TestControlNamesDuringReload: while a reload replaces web.1, the old
// and the new one run side by side; an unknown name's error lists the
// running processes each once.
func TestControlNamesDuringReload(t *testing.T) {
	// The new web.1 takes its time to listen: the reload waits for it.
	dir := app(t, map[string]string{"Procfile": "" +
		"web: if [ -f started ]; then sleep 30; fi; touch started; CORRAL_TEST_HELPER=http exec " + helperBin + "\n" +
		"worker: echo worker up; exec sleep 60\n"})
	r := start(t, dir, nil, "start", "-p", strconv.Itoa(freePort(t)))
	r.waitFor(`web\.1 is ready`)
	r.waitFor(`worker\.1 +\| worker up`)
	verb(t, dir, "reload")
	r.waitForNth(`web\.1 started`, 2)
	if rows := ps(t, dir); len(rows) != 2 {
		t.Logf("ps: %+v", rows) // ps lists both web.1s; the map keeps one
	}
	code, _, errOut := corral(t, dir, nil, "restart", "nope")
	if want := `no process or type "nope" is running (running: web.1, worker.1)`; code != 1 || !strings.Contains(errOut, want) {
		t.Errorf("restart nope during a reload: status %d, stderr %q; want 1 and %q", code, errOut, want)
	}
	r.stop()
}

// TestScaleSharesWebConcurrency: corral scale shares the web workers'
// budget between the web instances. 512 MiB and 2 CPUs give 2 workers:
// web=1 runs 2; after scale web=2 the new instance starts with 1 and the
// first is replaced by one with 1 (no request fails meanwhile); at web=3
// each still runs 1, over the budget, and corral says so.
func TestScaleSharesWebConcurrency(t *testing.T) {
	dir := app(t, map[string]string{"Procfile": "web: echo WEB_CONCURRENCY=$WEB_CONCURRENCY; CORRAL_TEST_HELPER=http exec " + helperBin + "\n"})
	port := freePort(t)
	base := "http://127.0.0.1:" + strconv.Itoa(port)
	r := start(t, dir, nil, "start", "-p", strconv.Itoa(port), "--no-access-log", "--memory-limit", "512MiB", "--cpus", "2")
	r.waitFor(`web\.1 +\| WEB_CONCURRENCY=2$`)
	r.waitFor(`web\.1 is ready`)
	if rows := ps(t, dir); rows["web.1"].WebConcurrency != 2 {
		t.Errorf("ps before scaling: %+v; want web.1 with WEB_CONCURRENCY 2", rows)
	}

	stop := make(chan struct{})
	counts, wait := load(base, "/", 4, stop)
	if out := verb(t, dir, "scale", "web=2"); !strings.Contains(out, "WEB_CONCURRENCY=1 for each of 2 web instances") {
		t.Errorf("scale web=2 says %q; want the new share", out)
	}
	r.waitFor(`web\.2 +\| WEB_CONCURRENCY=1$`)
	r.waitFor(`web\.1 +\| WEB_CONCURRENCY=1$`)
	r.waitFor(`scale: done`)
	close(stop)
	wait()
	if counts[200] == 0 || len(counts) != 1 {
		t.Errorf("answers by status while scaling: %v; want only 200s", counts)
	}
	rows := ps(t, dir)
	if len(rows) != 2 || rows["web.1"].WebConcurrency != 1 || rows["web.2"].WebConcurrency != 1 {
		t.Errorf("ps after scale web=2: %+v; want web.1 and web.2, 1 worker each (a budget of 2)", rows)
	}

	out := verb(t, dir, "scale", "web=3")
	if !strings.Contains(out, "3 web instances run 1 worker each, over the budget of 2") {
		t.Errorf("scale web=3 says %q; want the budget exceeded", out)
	}
	r.waitFor(`web\.3 +\| WEB_CONCURRENCY=1$`)
	r.waitFor(`3 web instances run 1 worker each, over the budget of 2`)
	verb(t, dir, "stop")
	r.wait(10 * time.Second)
}

func TestControlErrors(t *testing.T) {
	dir := app(t, map[string]string{"Procfile": "web: sleep 60\n"})
	code, _, errOut := corral(t, dir, nil, "ps")
	if code != 1 || !strings.Contains(errOut, "no corral is running this app (no control socket at") {
		t.Errorf("ps with nothing running: status %d, stderr %q", code, errOut)
	}
	// A socket left by a corral that was killed: the verbs say so, and
	// the next start replaces it.
	sock := filepath.Join(dir, ".corral", "control.sock")
	os.MkdirAll(filepath.Dir(sock), 0o700)
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	ln.(*net.UnixListener).SetUnlinkOnClose(false)
	ln.Close()
	code, _, errOut = corral(t, dir, nil, "stop")
	if code != 1 || !strings.Contains(errOut, "stale control socket") {
		t.Errorf("stop with a stale socket: status %d, stderr %q", code, errOut)
	}
	r := start(t, dir, nil, "start", "-p", strconv.Itoa(freePort(t)))
	r.waitFor(`web\.1 started`)
	if rows := ps(t, dir); rows["web.1"].Pid == 0 {
		t.Errorf("ps after replacing the stale socket: %+v", rows)
	}
	r.stop()
}

// TestControlPermissionDenied runs corral ps as someone who may not use
// the running corral's socket: as root, the verb runs as nobody (root
// itself passes every permission check); otherwise the socket's mode
// keeps its own owner out.
func TestControlPermissionDenied(t *testing.T) {
	dir := app(t, map[string]string{"Procfile": "web: sleep 60\n"})
	r := start(t, dir, nil, "start", "--no-edge", "-p", strconv.Itoa(freePort(t)))
	defer r.stop()
	r.waitFor(`web\.1 started`)
	sock := filepath.Join(dir, ".corral", "control.sock")
	if _, err := os.Stat(sock); err != nil {
		t.Fatalf("the control socket: %v", err)
	}

	cmd := exec.Command(corralBin, "ps")
	if os.Geteuid() == 0 {
		// nobody must reach the binary and the app directory, though not
		// .corral inside it (0700): copy the binary beside the app, and
		// open the directories above it.
		bin := filepath.Join(filepath.Dir(dir), "corral-as-nobody")
		copyFile(t, corralBin, bin, 0o755)
		tmp := filepath.Clean(os.TempDir()) + string(filepath.Separator)
		for d := dir; strings.HasPrefix(d, tmp); d = filepath.Dir(d) { // t.TempDir's, not the temporary directory itself
			if err := os.Chmod(d, 0o755); err != nil {
				t.Fatal(err)
			}
		}
		cmd = exec.Command(bin, "ps")
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	} else {
		if err := os.Chmod(sock, 0); err != nil {
			t.Fatal(err)
		}
		defer os.Chmod(sock, 0o600)
	}
	cmd.Dir = dir
	cmd.Env = baseEnv()
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 || !strings.Contains(string(out), "ps: permission denied on "+sock+": the corral running this app belongs to another user") {
		t.Errorf("corral ps without permission: %v\n%s", err, out)
	}
	// The corral itself is untouched.
	if rows := ps(t, dir); rows["web.1"].Pid == 0 {
		t.Errorf("ps after the refusal: %+v", rows)
	}
}

// copyFile copies src to dst with mode perm.
func copyFile(t *testing.T, src, dst string, perm os.FileMode) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, b, perm); err != nil {
		t.Fatal(err)
	}
}
