// Package procstat reads the fields of Linux's /proc/PID/stat that corral
// needs: a process's state, parent and process group, and its resident
// memory, of one process or of every process by process group.
package procstat

import (
	"bytes"
	"errors"
	"io"
	"os"
	"strconv"
)

// Stat is part of a process's /proc/PID/stat.
type Stat struct {
	State byte // 'R', 'S', 'Z' (zombie), …
	PPid  int
	Pgrp  int
	// RSS is the resident memory in bytes (field 24, in pages); 0 when
	// the line stops before it, and for zombies and kernel threads.
	// Pages shared with other processes (a forked worker's
	// copy-on-write pages) count in each.
	RSS int64
}

// pageSize converts stat's rss, in pages, to bytes.
var pageSize = int64(os.Getpagesize())

// Field numbers of /proc/PID/stat (proc(5)), counted from 1.
const (
	fieldState = 3
	fieldPPid  = 4
	fieldPgrp  = 5
	fieldRSS   = 24
)

// Parse parses the contents of /proc/PID/stat: "pid (comm) state ppid pgrp
// …". comm may hold spaces and parentheses, so the fields are counted from
// its last ')'. It does not allocate: the memory guard parses every
// process's line every second.
func Parse(b []byte) (Stat, bool) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return Stat{}, false
	}
	var st Stat
	rest := b[i+1:]
	for n := fieldState; n <= fieldRSS; n++ {
		var f []byte
		f, rest = nextField(rest)
		if f == nil {
			// Lines cut short still give what they have; only the
			// first three fields are required.
			if n <= fieldPgrp {
				return Stat{}, false
			}
			return st, true
		}
		switch n {
		case fieldState:
			if len(f) != 1 || !isLetter(f[0]) { // states are letters
				return Stat{}, false
			}
			st.State = f[0]
		case fieldPPid, fieldPgrp:
			v, ok := atoi(f)
			if !ok || v > maxInt || v < -maxInt {
				return Stat{}, false
			}
			if n == fieldPPid {
				st.PPid = int(v)
			} else {
				st.Pgrp = int(v)
			}
		case fieldRSS:
			v, ok := atoi(f)
			if !ok {
				return Stat{}, false
			}
			// The kernel sums per-CPU counters, which it clamps at
			// 0; be as lenient with a negative one.
			if v > 0 {
				st.RSS = v * pageSize
				if st.RSS/pageSize != v { // overflow: nonsense
					return Stat{}, false
				}
			}
		}
	}
	return st, true
}

const maxInt = int64(^uint(0) >> 1)

// Read reads and parses /proc/PID/stat.
func Read(pid int) (Stat, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return Stat{}, false
	}
	return Parse(b)
}

// GroupRSS returns the resident memory of every process under procRoot
// ("/proc" in production) summed by process group, in bytes. corral starts
// each child in a process group of its own, whose id is the child's pid,
// so the sum for that id is the memory of the child's whole tree: a
// gunicorn master and its workers. Shared pages count once per process,
// so the sum errs high, on the safe side for a guard against the OOM
// killer.
//
// Processes that exit during the scan are skipped; the error is only
// that procRoot cannot be listed.
func GroupRSS(procRoot string) (map[int]int64, error) {
	groups := make(map[int]int64)
	err := Each(procRoot, func(_ int, st Stat) { groups[st.Pgrp] += st.RSS })
	if err != nil {
		return nil, err
	}
	return groups, nil
}

// Each calls fn with the stat of every process under procRoot ("/proc" in
// production), in the order the directory lists them. Processes that exit
// during the scan are skipped; the error is only that procRoot cannot be
// listed.
func Each(procRoot string, fn func(pid int, st Stat)) error {
	d, err := os.Open(procRoot)
	if err != nil {
		return err
	}
	// Readdirnames neither sorts nor stats, unlike os.ReadDir.
	names, err := d.Readdirnames(-1)
	d.Close()
	if err != nil {
		return err
	}
	// One buffer for every process: a stat line is a few hundred bytes,
	// and rss comes in its first 200 or so.
	buf := make([]byte, 1024)
	for _, name := range names {
		if !isPid(name) {
			continue
		}
		b, ok := readStat(procRoot+"/"+name+"/stat", buf)
		if !ok {
			continue // gone, or not ours to read
		}
		if st, ok := Parse(b); ok {
			pid, _ := strconv.Atoi(name)
			fn(pid, st)
		}
	}
	return nil
}

// readStat reads the file at name into buf and returns what it read, up
// to len(buf) bytes: enough of a stat line for Parse.
func readStat(name string, buf []byte) ([]byte, bool) {
	f, err := os.Open(name)
	if err != nil {
		return nil, false
	}
	defer f.Close()
	n, err := io.ReadFull(f, buf)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return nil, false // ESRCH: the process exited after the open
	}
	return buf[:n], true
}

// isPid reports whether a /proc entry's name is a process id: only
// digits, not "self" or "sys".
func isPid(name string) bool {
	if name == "" {
		return false
	}
	for i := 0; i < len(name); i++ {
		if name[i] < '0' || name[i] > '9' {
			return false
		}
	}
	return true
}

// nextField returns the first space-separated field of b and what
// follows it, or nil when there is none.
func nextField(b []byte) (field, rest []byte) {
	i := 0
	for i < len(b) && isSpace(b[i]) {
		i++
	}
	if i == len(b) {
		return nil, nil
	}
	j := i
	for j < len(b) && !isSpace(b[j]) {
		j++
	}
	return b[i:j], b[j:]
}

// atoi parses a decimal integer with an optional '-', without the string
// strconv would need.
func atoi(b []byte) (int64, bool) {
	neg := len(b) > 0 && b[0] == '-'
	if neg {
		b = b[1:]
	}
	if len(b) == 0 || len(b) > 18 { // 18 digits cannot overflow an int64
		return 0, false
	}
	var v int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + int64(c-'0')
	}
	if neg {
		v = -v
	}
	return v, true
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'
}

func isLetter(c byte) bool { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }
