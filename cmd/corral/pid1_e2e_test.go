package main

// corral as PID 1, as in a container whose CMD is corral start (Docker,
// and the platforms that run an image: Render, Railway, Cloud Run, Koyeb).
// unshare(1) gives corral a PID namespace of its own, where it is process
// 1, with a /proc of its own as a container has. There the kernel
// delivers a signal to PID 1 only if it handles it, and every orphan in the
// namespace becomes its child: the app's, and those of processes that
// came in from outside (docker exec).

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/corral-run/corral/internal/procstat"
	"golang.org/x/sys/unix"
)

// needPIDNamespace skips the test where unshare cannot make a PID
// namespace for want of privilege, but fails it as root under
// CORRAL_REQUIRE_INTEGRATION, where nothing should stop it.
func needPIDNamespace(t *testing.T) {
	t.Helper()
	needTool(t, "unshare", "nsenter")
	out, err := exec.Command("unshare", "--pid", "--fork", "--mount-proc", "true").CombinedOutput()
	if err == nil {
		return
	}
	msg := fmt.Sprintf("unshare --pid --fork --mount-proc true: %v: %s", err, bytes.TrimSpace(out))
	if os.Getenv("CORRAL_REQUIRE_INTEGRATION") != "" && os.Geteuid() == 0 {
		t.Fatal(msg)
	}
	t.Skip(msg + " (a PID namespace needs root, or user namespaces allowed)")
}

// startPID1 starts corral with args in dir as PID 1 of a new PID
// namespace. It returns the session, whose process is unshare (which exits
// with corral's status), and corral's pid outside the namespace, to signal
// it from there and read its children in /proc.
func startPID1(t *testing.T, dir string, env []string, args ...string) (*session, int) {
	t.Helper()
	needPIDNamespace(t)
	// --kill-child: when the test kills unshare, corral goes too, and
	// with it the namespace.
	unshare := append([]string{"--pid", "--fork", "--mount-proc", "--kill-child", "--", corralBin}, args...)
	r := startCmd(t, exec.Command("unshare", unshare...), dir, env)
	return r, nsInit(t, r)
}

// nsInit waits for unshare's child to be corral, checks that it is PID 1
// in its namespace, and returns its pid outside.
func nsInit(t *testing.T, r *session) int {
	t.Helper()
	bin, err := filepath.EvalSymlinks(corralBin)
	if err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(20 * time.Second); ; {
		for _, c := range childrenOf(t, r.cmd.Process.Pid) {
			if exe, _ := os.Readlink(fmt.Sprintf("/proc/%d/exe", c.pid)); exe != bin {
				continue // unshare's child before it execs corral
			}
			// NSpid: its pid in each namespace it is in, the innermost last.
			status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", c.pid))
			if err != nil {
				t.Fatal(err)
			}
			_, rest, _ := strings.Cut(string(status), "\nNSpid:")
			nspid, _, _ := strings.Cut(rest, "\n")
			if f := strings.Fields(nspid); len(f) < 2 || f[len(f)-1] != "1" {
				t.Fatalf("corral (pid %d) is not PID 1 of a namespace of its own: NSpid %q", c.pid, nspid)
			}
			return c.pid
		}
		if time.Now().After(deadline) {
			t.Fatalf("unshare (pid %d) never ran corral\n%s", r.cmd.Process.Pid, r.stderr())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// procChild is a child process, as /proc sees it.
type procChild struct {
	pid   int
	state byte
}

// childrenOf lists pid's children.
func childrenOf(t *testing.T, pid int) []procChild {
	t.Helper()
	var kids []procChild
	err := procstat.Each("/proc", func(p int, st procstat.Stat) {
		if st.PPid == pid {
			kids = append(kids, procChild{p, st.State})
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	return kids
}

// waitChildren waits until pid has n children and none is a zombie: the
// orphans it adopted have exited and it has reaped them.
func waitChildren(t *testing.T, pid, n int) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); ; {
		kids := childrenOf(t, pid)
		zombies := 0
		for _, c := range kids {
			if c.state == 'Z' {
				zombies++
			}
		}
		if len(kids) == n && zombies == 0 {
			return
		}
		if time.Now().After(deadline) {
			var desc []string
			for _, c := range kids {
				cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", c.pid))
				desc = append(desc, fmt.Sprintf("pid %d state %c %q", c.pid, c.state, bytes.ReplaceAll(cmdline, []byte{0}, []byte{' '})))
			}
			t.Fatalf("corral (pid %d) has %d children, %d of them zombies, 20s on; want %d and none:\n%s", pid, len(kids), zombies, n, strings.Join(desc, "\n"))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestPID1Stops: as PID 1, corral stops the app gracefully on SIGTERM and
// SIGINT, whether they come from outside the namespace (docker stop, Fly.io's
// kill_signal, Ctrl-C under docker run -it) or from inside (kill -TERM 1),
// and exits 0, as after any requested stop.
func TestPID1Stops(t *testing.T) {
	for _, tc := range []struct {
		name   string
		sig    syscall.Signal
		inside bool
	}{
		{"SIGTERM from outside", syscall.SIGTERM, false},
		{"SIGINT from outside", syscall.SIGINT, false},
		{"SIGTERM from inside", syscall.SIGTERM, true},
		{"SIGINT from inside", syscall.SIGINT, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			name := unix.SignalName(tc.sig)
			procfile := "" +
				"web: CORRAL_TEST_HELPER=http exec " + helperBin + "\n" +
				"worker: trap 'echo worker got TERM; exit 0' TERM; echo \"worker's parent is pid $PPID\"; while :; do sleep 0.05; done\n"
			if tc.inside {
				// Running on after the kill: its exit must not be what
				// stops corral.
				procfile += "signaller: while [ ! -e go ]; do sleep 0.05; done; kill -" + strings.TrimPrefix(name, "SIG") + " 1; exec sleep 1000\n"
			}
			dir := app(t, map[string]string{"Procfile": procfile})
			port := freePort(t)
			r, pid := startPID1(t, dir, nil, "start", "-p", strconv.Itoa(port), "-t", "10")
			r.waitFor(`worker's parent is pid 1$`)
			r.waitFor(`web\.1 is ready`)
			wantPage(t, "http://127.0.0.1:"+strconv.Itoa(port)+"/", 200, "hello from web.1")

			if tc.inside {
				if err := os.WriteFile(filepath.Join(dir, "go"), nil, 0o644); err != nil {
					t.Fatal(err)
				}
			} else if err := syscall.Kill(pid, tc.sig); err != nil {
				t.Fatal(err)
			}
			r.waitFor(`received ` + name + `: the edge stops taking requests`)
			if code := r.wait(20 * time.Second); code != 0 {
				t.Errorf("exit status %d, want 0 after %s", code, name)
			}
			out := r.output()
			if !strings.Contains(out, "worker got TERM") || strings.Contains(out, "SIGKILL") {
				t.Errorf("not a graceful stop:\n%s", out)
			}
		})
	}
}

// TestPID1ExitStatus: as PID 1, corral exits with the status of the first
// process to end, as it does elsewhere: the container's exit status.
func TestPID1ExitStatus(t *testing.T) {
	for _, tc := range []struct {
		worker string
		want   int
	}{
		{"exit 3", 3},
		{"kill -KILL $$", 128 + int(syscall.SIGKILL)},
	} {
		t.Run(tc.worker, func(t *testing.T) {
			// The worker ends once the test has seen corral as PID 1:
			// ending at once, it could take corral and the namespace
			// with it before nsInit looks (seen on a loaded machine).
			dir := app(t, map[string]string{"Procfile": "web: exec sleep 1000\n" +
				"worker: while [ ! -e go ]; do sleep 0.05; done; " + tc.worker + "\n"})
			r, _ := startPID1(t, dir, nil, "start", "--no-edge", "-t", "10")
			if err := os.WriteFile(filepath.Join(dir, "go"), nil, 0o644); err != nil {
				t.Fatal(err)
			}
			if code := r.wait(20 * time.Second); code != tc.want {
				t.Errorf("exit status %d, want %d:\n%s", code, tc.want, r.output())
			}
			if !strings.Contains(r.output(), "web.1 killed by SIGTERM") {
				t.Errorf("web.1 was not stopped:\n%s", r.output())
			}
		})
	}
}

// TestPID1ReapsOrphans: as PID 1, corral reaps every orphan in its
// namespace: what a worker that forks and exits leaves behind, in its
// process group or out of it (setsid), and a process left by one that
// came in from outside (docker exec; here nsenter). None stays a zombie.
func TestPID1ReapsOrphans(t *testing.T) {
	dir := app(t, map[string]string{"Procfile": "" +
		"web: exec sleep 1000\n" +
		"worker: sleep 0.2 & setsid sh -c 'sleep 0.5' & sh -c 'sleep 0.3 &'; echo forked; exit 0\n"})
	// --restart: the worker's exit leaves web running.
	r, pid := startPID1(t, dir, nil, "start", "--no-edge", "--restart", "-t", "10")
	r.waitFor(`worker\.1 exited with code 0; finished`)
	// nsenter's shell, whose parent is outside, leaves its sleep to PID 1.
	out, err := exec.Command("nsenter", "--target", strconv.Itoa(pid), "--pid", "--", "sh", "-c", "sleep 0.3 & exit 0").CombinedOutput()
	if err != nil {
		t.Fatalf("nsenter: %v: %s", err, out)
	}
	waitChildren(t, pid, 1) // web.1's sleep
	syscall.Kill(pid, syscall.SIGTERM)
	if code := r.wait(20 * time.Second); code != 0 {
		t.Errorf("exit status %d after SIGTERM:\n%s", code, r.output())
	}
}

// TestPID1ForeignProc: under unshare --pid without --mount-proc, /proc is
// the host's, where corral, PID 1 to itself, has another number and
// cannot find its children: corral says so, and how to fix it, rather
// than leave the orphans that come to it as zombies without a word.
func TestPID1ForeignProc(t *testing.T) {
	needPIDNamespace(t)
	dir := app(t, map[string]string{"Procfile": "web: exec sleep 1000\n"})
	cmd := exec.Command("unshare", "--pid", "--fork", "--kill-child", "--", corralBin, "start", "--no-edge", "-t", "10")
	r := startCmd(t, cmd, dir, nil)
	pid := nsInit(t, r)
	r.waitFor(`web\.1 started`)
	syscall.Kill(pid, syscall.SIGTERM)
	if code := r.wait(20 * time.Second); code != 0 {
		t.Errorf("exit status %d after SIGTERM", code)
	}
	want := fmt.Sprintf("corral is pid 1 in its PID namespace and %d in /proc's", pid)
	if !strings.Contains(r.output(), want) || !strings.Contains(r.output(), "--mount-proc") {
		t.Errorf("no warning saying %q and what to do:\n%s", want, r.output())
	}
}
