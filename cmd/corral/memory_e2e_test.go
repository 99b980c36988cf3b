package main

// End-to-end tests of the memory guard and the OOM kill reports in a real
// memory cgroup: corral runs inside one with a limit, as on a platform,
// and finds the limit itself. They need root and a writable cgroup v1
// memory hierarchy (proctest.MemoryCgroup skips the test otherwise).

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/corral-run/corral/internal/proctest"
	"github.com/corral-run/corral/launcher/memwatch"
)

// hogApp is a web app shaped like gunicorn: a master that answers HTTP on
// $PORT and keeps a worker running, which it starts again when it dies.
// With GROW_MB_PER_S set, the worker takes that much more memory a second
// (written to, so that it is resident) until it is killed.
const hogApp = `import os, sys, time, threading, warnings, http.server

warnings.simplefilter("ignore", DeprecationWarning)  # fork with a thread running
rate = int(os.environ.get("GROW_MB_PER_S", "0"))

def grow():
    held, step = [], max((rate << 20) // 50, 1)
    while True:
        held.append(b"x" * step)
        time.sleep(0.02)

def keep():
    while True:
        pid = os.fork()
        if pid == 0:
            grow()
        print("worker started: pid", pid, flush=True)
        _, status = os.waitpid(pid, 0)
        if os.WIFSIGNALED(status):
            print("worker", pid, "killed by signal", os.WTERMSIG(status), flush=True)
        time.sleep(0.5)

class Hello(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = ("hello from %s\n" % os.environ["PS"]).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass

srv = http.server.ThreadingHTTPServer((os.environ.get("HOST", "127.0.0.1"), int(os.environ["PORT"])), Hello)
if rate:
    threading.Thread(target=keep, daemon=True).start()
srv.serve_forever()
`

// startInCgroup starts corral with args in dir inside the memory cgroup
// cg: a shell moves itself there and execs corral, which so finds the
// cgroup's limit itself, as on a platform.
func startInCgroup(t *testing.T, cg, dir string, env []string, args ...string) *session {
	t.Helper()
	cmd := exec.Command("/bin/sh", append([]string{"-c", `echo $$ > "$0/cgroup.procs" && exec "$@"`, cg, corralBin}, args...)...)
	return startCmd(t, cmd, dir, env)
}

// cgroupOOMKills is the kernel's count of OOM kills in cgroup v1 cg.
func cgroupOOMKills(t *testing.T, cg string) uint64 {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(cg, "memory.oom_control"))
	if err != nil {
		t.Fatal(err)
	}
	c, err := memwatch.ParseOOMControl(b)
	if err != nil || !c.HasOOMKill {
		t.Fatalf("memory.oom_control: %+v, %v", c, err)
	}
	return c.OOMKill
}

// TestMemoryGuardBeatsTheKernel: in a real 512 MiB cgroup, an app whose
// worker grows at 250 MB/s is recycled by the guard again and again, each
// time before the kernel's OOM killer acts: the guard hears the kernel
// say usage crossed its threshold, samples faster near it, and has no
// blind window after a recycle (while the replacement settles, it acts
// at its hard line, 486 MiB).
func TestMemoryGuardBeatsTheKernel(t *testing.T) {
	needTool(t, "python3")
	cg := proctest.MemoryCgroup(t, 512<<20)
	dir := app(t, map[string]string{"Procfile": "web: exec python3 app.py\n", "app.py": hogApp})
	r := startInCgroup(t, cg, dir, []string{"GROW_MB_PER_S=250"}, "start", "-p", strconv.Itoa(freePort(t)), "--no-access-log")
	r.waitFor(`limits: 512 MiB \(cgroup v1 memory\.limit_in_bytes\)`)
	r.waitFor(`memory: listening to the kernel for OOM kills and memory use in cgroup v1 /`)
	for n := 1; n <= 3; n++ {
		r.waitForNth(`memory guard: the app's processes use \d+ MiB, \d+% of the 512 MiB limit \(guard at (460|486) MiB\): recycling web\.1`, n)
		r.waitForNth(`memory guard: web\.1 .*; starting it again`, n)
	}
	if n := cgroupOOMKills(t, cg); n != 0 || strings.Contains(r.output(), "OOM killer killed") {
		t.Errorf("the kernel's OOM killer killed %d process(es) while the guard recycled web.1 three times\n%s", n, r.output())
	}
	if rows := ps(t, dir); rows["web.1"].Restarts < 3 {
		t.Errorf("corral ps after three recycles: %+v", rows["web.1"])
	}
}

// TestOOMKillReported: with the guard off, the kernel's OOM killer kills
// the app's biggest process, a worker its master then starts again (as
// gunicorn's does), unseen by corral's own supervision: corral says so,
// naming the instance and the process, counts it in /metrics, and in
// corral ps's restarts.
func TestOOMKillReported(t *testing.T) {
	needTool(t, "python3")
	cg := proctest.MemoryCgroup(t, 256<<20)
	dir := app(t, map[string]string{"Procfile": "web: exec python3 app.py\n", "app.py": hogApp})
	ports := freeBase(t, 0, 1)
	admin := "http://127.0.0.1:" + strconv.Itoa(ports+1)
	r := startInCgroup(t, cg, dir, []string{"GROW_MB_PER_S=250"}, "start", "-p", strconv.Itoa(ports), "--no-access-log",
		"--memory-guard", "0", "--admin", strconv.Itoa(ports+1))
	r.waitFor(`memory: listening to the kernel for OOM kills and memory use in cgroup v1 /`)
	worker := regexp.MustCompile(`pid (\d+)`).FindStringSubmatch(r.waitFor(`web\.1 +\| worker started: pid \d+`))[1]
	r.waitFor(`web\.1 +\| worker ` + worker + ` killed by signal 9`)
	r.waitFor(`web\.1: the kernel's OOM killer killed pid ` + worker + `, a process of its group \(\d+ MiB at the last sample\): the app's processes reached the 256 MiB limit`)
	if n := cgroupOOMKills(t, cg); n == 0 {
		t.Fatalf("the kernel counts no OOM kill\n%s", r.output())
	}

	fams := scrapeMetrics(t, admin)
	if v, _ := metric(fams, "corral_oom_kills_total", "name=web.1", "type=web"); v < 1 {
		t.Errorf("corral_oom_kills_total{name=web.1} = %v, want at least 1", v)
	}
	if v, _ := metric(fams, "corral_instance_restarts_total", "type=web", "reason=oom_kill"); v < 1 {
		t.Errorf("corral_instance_restarts_total{reason=oom_kill} = %v, want at least 1", v)
	}
	if rows := ps(t, dir); rows["web.1"].Restarts < 1 {
		t.Errorf("corral ps after an OOM kill: %+v; want a restart counted", rows["web.1"])
	}
}
