package process

import (
	"os"
	"strconv"

	"github.com/corral-run/corral/internal/procstat"
	"golang.org/x/sys/unix"
)

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
