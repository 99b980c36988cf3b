package process

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/corral-run/corral/internal/procstat"
	"github.com/corral-run/corral/internal/proctest"
	"github.com/corral-run/corral/launcher/output"
)

func ppid(pid int) int {
	st, ok := procstat.Read(pid)
	if !ok {
		return -1
	}
	return st.PPid
}

// TestReaper: a daemon that leaves its process group (setsid) is adopted,
// survives its parent's group being stopped, and is stopped by
// StopOrphans, even when it ignores SIGTERM; an orphan that exits by itself
// is reaped, not left a zombie.
func TestReaper(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("subreaper is Linux only")
	}
	if _, err := os.Stat("/usr/bin/setsid"); err != nil {
		if os.Getenv("CORRAL_REQUIRE_INTEGRATION") != "" {
			t.Fatal("setsid (util-linux) is missing")
		}
		t.Skip("no setsid")
	}
	r, err := NewReaper()
	if r == nil {
		t.Fatalf("NewReaper failed on Linux: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { r.Run(ctx) })
	defer func() { cancel(); wg.Wait() }()

	dir := t.TempDir()
	var out syncBuffer
	p, err := Start(Spec{
		Command: `setsid sh -c 'echo $$ > daemon.pid; trap "" TERM; exec sleep 1000' </dev/null >/dev/null 2>&1 &
			setsid sh -c 'echo $$ > brief.pid; sleep 0.3' </dev/null >/dev/null 2>&1 &
			sleep 0.2`,
		Dir:    dir,
		Env:    []string{"PATH=" + os.Getenv("PATH")},
		Grace:  time.Second,
		Out:    output.New(&out, 0, output.Options{}).Prefix("t"),
		Reaper: r,
	})
	if err != nil {
		t.Fatal(err)
	}
	if st := p.Wait(); !st.Success() {
		t.Fatalf("status %v: %s", st, out.String())
	}
	daemon := readPid(t, filepath.Join(dir, "daemon.pid"))
	brief := readPid(t, filepath.Join(dir, "brief.pid"))
	defer proctestKill(daemon)
	if !proctest.Alive(daemon) {
		t.Fatal("the daemon did not survive its group (the test is broken)")
	}
	if got := ppid(daemon); got != os.Getpid() {
		t.Errorf("daemon's parent is %d, want corral (%d)", got, os.Getpid())
	}
	// The brief orphan exits by itself: Run must reap it.
	deadline := time.Now().Add(3 * time.Second)
	for {
		if _, err := os.Stat("/proc/" + strconv.Itoa(brief)); err != nil {
			break // reaped: not even a zombie
		}
		if time.Now().After(deadline) {
			t.Fatalf("orphan %d exited but was not reaped", brief)
		}
		time.Sleep(20 * time.Millisecond)
	}

	began := time.Now()
	found := r.StopOrphans(300 * time.Millisecond)
	if len(found) != 1 || found[0].Pid != daemon || found[0].Command != "sleep 1000" {
		t.Errorf("StopOrphans found %+v, want pid %d (sleep 1000)", found, daemon)
	}
	if took := time.Since(began); took < 250*time.Millisecond {
		t.Errorf("SIGKILL came after %v, before the grace period", took)
	}
	if _, err := os.Stat("/proc/" + strconv.Itoa(daemon)); err == nil {
		t.Errorf("daemon %d still exists (alive or zombie)", daemon)
	}
}

func proctestKill(pid int) {
	if proctest.Alive(pid) {
		p, _ := os.FindProcess(pid)
		p.Kill()
	}
}

func TestNilReaper(t *testing.T) {
	var r *Reaper
	r.Run(context.Background())
	if got := r.StopOrphans(time.Second); got != nil {
		t.Errorf("nil Reaper found %v", got)
	}
}
