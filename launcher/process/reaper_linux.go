package process

import (
	"bytes"
	"os"
	"strconv"

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
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// The command name in parentheses may hold spaces; fields after it:
		// state, ppid, pgrp, …
		i := bytes.LastIndexByte(b, ')')
		if i < 0 {
			continue
		}
		f := bytes.Fields(b[i+1:])
		if len(f) < 3 {
			continue
		}
		if ppid, err := strconv.Atoi(string(f[1])); err == nil && ppid == self {
			pgrp, _ := strconv.Atoi(string(f[2]))
			kids = append(kids, child{pid: pid, pgid: pgrp})
		}
	}
	return kids
}
