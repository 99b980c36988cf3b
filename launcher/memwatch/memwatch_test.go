package memwatch

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/corral-run/corral/internal/proctest"
)

func TestMain(m *testing.M) {
	// The test binary doubles as a process that grows until the kernel
	// kills it.
	if os.Getenv("MEMWATCH_TEST_HOG") != "" {
		hog()
	}
	os.Exit(m.Run())
}

// hog takes 4 MiB more every 10 ms, and touches it, until it is killed.
func hog() {
	var held [][]byte
	for {
		b := make([]byte, 4<<20)
		for i := 0; i < len(b); i += 4096 {
			b[i] = 1
		}
		held = append(held, b)
		time.Sleep(10 * time.Millisecond)
	}
}

// wakeUp waits until w has woken its owner with every kind in want, and
// returns everything taken meanwhile.
func wakeUp(t *testing.T, w *Watch, want Signal) Signal {
	t.Helper()
	var got Signal
	deadline := time.After(20 * time.Second)
	for got&want != want {
		select {
		case <-w.C():
			got |= w.Take()
		case <-deadline:
			t.Fatalf("no %v signal (got %v)", want, got)
		}
	}
	return got
}

const events = "low 0\nhigh %d\nmax %d\noom %d\noom_kill %d\noom_group_kill 0\n"

// TestWatchV2: cgroup v2's memory.events is watched through the
// modifications the kernel notifies: a change of the OOM counters wakes
// the owner with OOM, of high or max with Usage; OOMKills reads the
// count.
func TestWatchV2(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "memory.events")
	set := func(high, max, oom, kill int) {
		t.Helper()
		// Written in place in one write, as the kernel's counters change
		// (one digit each, so the length stays): a modification, never
		// an empty file.
		f, err := os.OpenFile(file, os.O_WRONLY|os.O_CREATE, 0o644)
		if err != nil {
			t.Fatal(err)
		}
		f.WriteAt(fmt.Appendf(nil, events, high, max, oom, kill), 0)
		f.Close()
	}
	set(0, 0, 0, 0)
	w, err := Open(Options{Root: dir, Dir: "/", Version: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if n, err := w.OOMKills(); n != 0 || err != nil {
		t.Fatalf("OOMKills() = %d, %v; want 0", n, err)
	}

	set(0, 4, 0, 0)
	if got := wakeUp(t, w, Usage); got&OOM != 0 {
		t.Errorf("max 4: woke with %v; want usage alone", got)
	}
	set(0, 9, 1, 1)
	wakeUp(t, w, OOM)
	if n, err := w.OOMKills(); n != 1 || err != nil {
		t.Errorf("OOMKills() = %d, %v; want 1", n, err)
	}
	if _, err := w.Pressure(); err == nil || !strings.Contains(err.Error(), "memory.pressure") {
		t.Errorf("Pressure() with no memory.pressure: %v; want an error naming it", err)
	}
}

// TestWatchV2Pressure: the PSI trigger is one the kernel accepts (the
// system's own memory pressure file takes the same triggers as a
// cgroup's).
func TestWatchV2Pressure(t *testing.T) {
	const psi = "/proc/pressure/memory"
	if _, err := os.Stat(psi); err != nil {
		t.Skipf("no PSI here (%v)", err)
	}
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "memory.events"), fmt.Appendf(nil, events, 0, 0, 0, 0), 0o644)
	if err := os.Symlink(psi, filepath.Join(dir, "memory.pressure")); err != nil {
		t.Fatal(err)
	}
	w, err := Open(Options{Root: dir, Dir: "/", Version: 2, Pressure: true})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if len(w.Notes()) > 0 || len(w.sources) != 2 {
		t.Errorf("notes %q, %d sources; want the trigger set", w.Notes(), len(w.sources))
	}
	if p, err := w.Pressure(); err != nil || !p.HasFull {
		t.Errorf("Pressure() = %+v, %v", p, err)
	}
}

// TestOpenNothing: a cgroup with none of the files is an error that says
// what was missing; an unknown version too.
func TestOpenNothing(t *testing.T) {
	for _, v := range []int{1, 2} {
		_, err := Open(Options{Root: t.TempDir(), Dir: "/a", Version: v, Thresholds: []int64{1 << 20}, Pressure: true})
		if err == nil || !strings.Contains(err.Error(), "nothing to watch in /a") || !strings.Contains(err.Error(), "no such file") {
			t.Errorf("v%d: %v", v, err)
		}
	}
	if _, err := Open(Options{Root: t.TempDir(), Version: 3}); err == nil || !strings.Contains(err.Error(), "version 3") {
		t.Errorf("v3: %v", err)
	}
}

// TestWatchV1: in a real cgroup v1 of 64 MiB, a process that grows makes
// its usage cross the threshold (Usage), then the kernel kill it (OOM),
// which OOMKills counts.
func TestWatchV1(t *testing.T) {
	dir := proctest.MemoryCgroup(t, 64<<20)
	w, err := Open(Options{Root: "/", Dir: dir, Version: 1, Thresholds: []int64{24 << 20}})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if len(w.Notes()) > 0 {
		t.Errorf("notes: %q", w.Notes())
	}
	self, _ := os.Executable()
	cmd := exec.Command("/bin/sh", "-c", `echo $$ > "$1/cgroup.procs" && exec "$2"`, "sh", dir, self)
	cmd.Env = append(os.Environ(), "MEMWATCH_TEST_HOG=1")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer cmd.Process.Kill()

	wakeUp(t, w, Usage|OOM)
	select {
	case err := <-exited:
		if !strings.Contains(fmt.Sprint(err), "killed") {
			t.Errorf("the hog ended with %v; want killed", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the hog outlived its OOM")
	}
	// The notification comes as the OOM begins; the kill is counted a
	// moment later.
	deadline := time.Now().Add(10 * time.Second)
	for {
		n, err := w.OOMKills()
		if err != nil {
			t.Fatal(err)
		}
		if n == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("OOMKills() = %d; want 1", n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
