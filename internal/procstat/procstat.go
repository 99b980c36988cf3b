// Package procstat reads the fields of Linux's /proc/PID/stat that corral
// needs: a process's state, parent and process group.
package procstat

import (
	"bytes"
	"os"
	"strconv"
)

// Stat is part of a process's /proc/PID/stat.
type Stat struct {
	State byte // 'R', 'S', 'Z' (zombie), …
	PPid  int
	Pgrp  int
}

// Parse parses the contents of /proc/PID/stat: "pid (comm) state ppid pgrp
// …". comm may hold spaces and parentheses, so the fields are counted from
// its last ')'.
func Parse(b []byte) (Stat, bool) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return Stat{}, false
	}
	f := bytes.Fields(b[i+1:])
	if len(f) < 3 || len(f[0]) != 1 || !isLetter(f[0][0]) { // states are letters
		return Stat{}, false
	}
	ppid, err1 := strconv.Atoi(string(f[1]))
	pgrp, err2 := strconv.Atoi(string(f[2]))
	if err1 != nil || err2 != nil {
		return Stat{}, false
	}
	return Stat{State: f[0][0], PPid: ppid, Pgrp: pgrp}, true
}

// Read reads and parses /proc/PID/stat.
func Read(pid int) (Stat, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return Stat{}, false
	}
	return Parse(b)
}

func isLetter(c byte) bool { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }
