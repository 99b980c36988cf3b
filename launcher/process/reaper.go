package process

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Reaper adopts what the app's processes leave behind outside their process
// groups, and reaps it.
//
// A daemon that double-forks and calls setsid (redis-server --daemonize,
// gunicorn --daemon, "setsid cmd &") leaves its process group, so stopping
// the group misses it; and when corral is PID 1 in a container, every
// orphan's exit status is corral's to collect, or it stays a zombie. A Reaper
// makes corral a child subreaper (Linux), so such orphans become corral's
// children: it reaps them as they exit and, when the app stops, stops them.
//
// While a Reaper runs, every child of corral must be started through Start
// with the Reaper in its Spec: any other child could be reaped here before
// its own Wait.
type Reaper struct {
	mu     sync.Mutex   // held while forking, so a new child is known before it can exit
	mine   map[int]bool // children started by Start; their Proc reaps them
	groups map[int]bool // process groups of Procs not done; their Proc stops them
}

// NewReaper makes corral a subreaper. It returns nil where that is not
// supported (outside Linux), and nil with an error that says why where it
// could not work; a nil *Reaper is valid and does nothing.
func NewReaper() (*Reaper, error) {
	if err := checkProc(); err != nil {
		return nil, err
	}
	if enableSubreaper() != nil {
		return nil, nil
	}
	return &Reaper{mine: make(map[int]bool), groups: make(map[int]bool)}, nil
}

// start runs startFn with the Reaper locked and records the child it starts.
func (r *Reaper) start(startFn func() (pid int, err error)) error {
	if r == nil {
		_, err := startFn()
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	pid, err := startFn()
	if err == nil {
		r.mine[pid] = true
		r.groups[pid] = true
	}
	return err
}

// RunCmd runs cmd to completion as a child the Reaper leaves to cmd.Wait:
// corral's own helper commands (Python asked for Django's settings) would
// otherwise be reaped here first, and their Wait would fail. A nil Reaper
// just runs cmd.
func (r *Reaper) RunCmd(cmd *exec.Cmd) error {
	if r == nil {
		return cmd.Run()
	}
	r.mu.Lock()
	err := cmd.Start()
	if err == nil {
		r.mine[cmd.Process.Pid] = true
	}
	r.mu.Unlock()
	if err != nil {
		return err
	}
	err = cmd.Wait()
	r.forget(cmd.Process.Pid)
	return err
}

// groupDone is called once a Proc has stopped what was left of its group.
func (r *Reaper) groupDone(pgid int) {
	if r == nil {
		return
	}
	r.mu.Lock()
	delete(r.groups, pgid)
	r.mu.Unlock()
}

// forget is called once a child started by Start has been reaped.
func (r *Reaper) forget(pid int) {
	if r == nil {
		return
	}
	r.mu.Lock()
	delete(r.mine, pid)
	r.mu.Unlock()
}

// Run reaps adopted orphans as they exit, until ctx is done.
func (r *Reaper) Run(ctx context.Context) {
	if r == nil {
		return
	}
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGCHLD)
	defer signal.Stop(sigs)
	// SIGCHLDs merge, and one may come between a scan and the next wait:
	// a slow tick catches whatever a signal did not.
	tick := time.NewTicker(5 * time.Second)
	defer tick.Stop()
	for {
		r.reap()
		select {
		case <-ctx.Done():
			return
		case <-sigs:
		case <-tick.C:
		}
	}
}

// reap collects the exit status of every adopted orphan that has exited and
// returns the pids of those still alive outside the groups of running
// Procs. (A shell killed before the server it started leaves that server
// to us too, but the server is still in the shell's group, which its Proc
// is stopping: that one is not an escaped daemon.)
func (r *Reaper) reap() []int {
	r.mu.Lock()
	defer r.mu.Unlock()
	var alive []int
	for _, c := range children() {
		if r.mine[c.pid] {
			continue
		}
		var ws syscall.WaitStatus
		got, err := syscall.Wait4(c.pid, &ws, syscall.WNOHANG, nil)
		if got == 0 && err == nil && !r.groups[c.pgid] {
			alive = append(alive, c.pid)
		}
	}
	return alive
}

// child is a child process of corral.
type child struct{ pid, pgid int }

// Signal sends sig to every adopted orphan and its process group, and
// returns the orphans it signalled.
func (r *Reaper) Signal(sig syscall.Signal) []Orphan {
	if r == nil {
		return nil
	}
	var found []Orphan
	for _, pid := range r.reap() {
		found = append(found, Orphan{Pid: pid, Command: command(pid)})
		signalTree(pid, sig)
	}
	return found
}

// signalTree signals pid's process group, which a daemon that called setsid
// leads, or else pid alone.
func signalTree(pid int, sig syscall.Signal) {
	if err := syscall.Kill(-pid, sig); errors.Is(err, syscall.ESRCH) {
		syscall.Kill(pid, sig)
	}
}

// Orphan is an adopted process still running.
type Orphan struct {
	Pid     int
	Command string
}

// StopOrphans stops every adopted orphan: SIGTERM to it and its process
// group, then, for those still running after grace, SIGKILL. It goes on
// until none is left (orphans of orphans are adopted in turn) or a second
// past the grace period, and returns the orphans it found at first.
func (r *Reaper) StopOrphans(grace time.Duration) []Orphan {
	if r == nil {
		return nil
	}
	pids := r.reap()
	found := make([]Orphan, 0, len(pids))
	for _, pid := range pids {
		found = append(found, Orphan{Pid: pid, Command: command(pid)})
	}
	killAt := time.Now().Add(grace)
	giveUp := killAt.Add(time.Second)
	sig := syscall.SIGTERM
	signalled := make(map[int]syscall.Signal)
	for len(pids) > 0 && time.Now().Before(giveUp) {
		if time.Now().After(killAt) {
			sig = syscall.SIGKILL
		}
		for _, pid := range pids {
			if signalled[pid] == sig {
				continue
			}
			signalled[pid] = sig
			signalTree(pid, sig)
		}
		time.Sleep(20 * time.Millisecond)
		pids = r.reap()
	}
	return found
}

// command returns the command line of pid, for messages.
func command(pid int) string {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	if err != nil || len(b) == 0 {
		return ""
	}
	return strings.TrimSpace(strings.ReplaceAll(string(b), "\x00", " "))
}
