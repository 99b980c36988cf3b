package process

import (
	"fmt"
	"os"
	"strconv"

	"github.com/corral-run/corral/internal/procstat"
	"golang.org/x/sys/unix"
)

// checkProc checks that /proc numbers processes as corral's own PID
// namespace does: the reaper finds corral's children there by their
// parent's pid, then waits for and signals them by theirs. A container
// runtime mounts a /proc of the container's namespace, but `unshare --pid
// --fork` without --mount-proc leaves the host's in place, where corral,
// PID 1 to itself, has another number and finds no children at all.
func checkProc() error {
	self, err := os.Readlink("/proc/self")
	if err == nil && self == strconv.Itoa(os.Getpid()) {
		return nil
	}
	why := fmt.Sprintf("/proc is not mounted (%v)", err)
	if err == nil {
		why = fmt.Sprintf("/proc is another PID namespace's (corral is pid %d in its PID namespace and %s in /proc's)", os.Getpid(), self)
	}
	return fmt.Errorf("no subreaper: %s, where corral cannot find its children: a daemon that leaves its process group is not stopped with the app, and the orphans that come to corral as PID 1 are not reaped (they stay zombies); mount a /proc of corral's PID namespace (unshare --mount-proc; container runtimes do)", why)
}

func enableSubreaper() error {
	return unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
}

// children lists the pids of corral's child processes. It reads the parent
// of every process in /proc: /proc/self/task/*/children would be cheaper,
// but not every kernel has it.
func children() []child {
	self := os.Getpid()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var kids []child
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if st, ok := procstat.Read(pid); ok && st.PPid == self {
			kids = append(kids, child{pid: pid, pgid: st.Pgrp})
		}
	}
	return kids
}
