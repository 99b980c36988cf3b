package sockets

import (
	"bufio"
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/netip"
	"os"
	"slices"
	"strconv"

	"github.com/corral-run/corral/internal/procstat"
)

// GroupListeners returns the TCP sockets (IPv4 and IPv6) in the LISTEN state
// held by any process of process group pgid, so corral can find the port a
// web instance really serves on when its command ignored $PORT. corral runs
// each instance in its own group, which catches the sockets of every worker
// and grandchild a shell or a pre-forking server starts.
//
// It reads /proc: processes that exit mid-scan, and fds it may not read, are
// skipped. Each address appears once, with the lowest pid that holds it
// (pre-forked workers share their master's socket); the result is sorted by
// pid, then address. Only sockets in corral's own network namespace count,
// which are the only ones the edge could reach anyway. A group with no
// processes, or none listening, gives an empty result and no error.
func GroupListeners(pgid int) ([]Listener, error) {
	if pgid <= 0 {
		return nil, fmt.Errorf("sockets: invalid process group %d", pgid)
	}
	pids, err := groupPids(pgid)
	if err != nil {
		return nil, err
	}
	return listenersOf(pids)
}

// ProcessListeners is GroupListeners for one process: a look at its fds
// alone, without the scan of every process that finds a group's members.
// The leader of a web instance's group is often its server (a shell that
// execs gunicorn), so this answers most ownership checks at a tenth of
// the cost.
func ProcessListeners(pid int) ([]Listener, error) {
	if pid <= 0 {
		return nil, fmt.Errorf("sockets: invalid pid %d", pid)
	}
	return listenersOf([]int{pid})
}

// listenersOf returns the TCP sockets in the LISTEN state held by pids,
// which are in ascending order.
func listenersOf(pids []int) ([]Listener, error) {
	owner := make(map[uint64]int) // socket inode → lowest pid holding it
	for _, pid := range pids {    // ascending
		addSocketInodes(pid, owner)
	}
	if len(owner) == 0 {
		return nil, nil // the usual case while an app is still importing
	}

	var out []Listener
	for _, table := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		err := scanListeners(table, owner, &out)
		if errors.Is(err, fs.ErrNotExist) && table == "/proc/net/tcp6" {
			continue // IPv6 disabled in this kernel
		}
		if err != nil {
			return nil, err
		}
	}
	slices.SortFunc(out, func(a, b Listener) int {
		return cmp.Or(cmp.Compare(a.Pid, b.Pid), a.Addr.Compare(b.Addr))
	})
	seen := make(map[netip.AddrPort]bool, len(out))
	out = slices.DeleteFunc(out, func(l Listener) bool {
		dup := seen[l.Addr]
		seen[l.Addr] = true
		return dup
	})
	return out, nil
}

// groupPids lists, in ascending order, the processes whose process group is
// pgid.
func groupPids(pgid int) ([]int, error) {
	var pids []int
	err := procstat.Each("/proc", func(pid int, st procstat.Stat) {
		if st.Pgrp == pgid {
			pids = append(pids, pid)
		}
	})
	if err != nil {
		return nil, fmt.Errorf("sockets: reading /proc: %w", err)
	}
	slices.Sort(pids)
	return pids, nil
}

// addSocketInodes records in owner the socket inodes of pid's open fds that
// no lower pid holds. A process that exits, or an fd closed or unreadable
// mid-scan, is skipped.
func addSocketInodes(pid int, owner map[uint64]int) {
	dir := "/proc/" + strconv.Itoa(pid) + "/fd/"
	d, err := os.Open(dir)
	if err != nil {
		return
	}
	names, _ := d.Readdirnames(-1)
	d.Close()
	for _, name := range names {
		target, err := os.Readlink(dir + name)
		if err != nil {
			continue
		}
		if ino, ok := parseSocketLink(target); ok {
			if _, held := owner[ino]; !held {
				owner[ino] = pid
			}
		}
	}
}

// scanListeners appends to out the LISTEN sockets of one /proc/net table
// whose inode is in owner. The table lists every TCP socket of the network
// namespace (tens of thousands in TIME_WAIT behind a busy proxy), so lines
// in another state are skipped before anything is converted or allocated.
func scanListeners(table string, owner map[uint64]int, out *[]Listener) error {
	f, err := os.Open(table)
	if err != nil {
		return fmt.Errorf("sockets: %w", err)
	}
	defer f.Close()
	r := bufio.NewReaderSize(f, 64<<10)
	for {
		line, err := r.ReadSlice('\n')
		if err == bufio.ErrBufferFull {
			// No real line is this long; drop the rest of it.
			for err == bufio.ErrBufferFull {
				_, err = r.ReadSlice('\n')
			}
			continue
		}
		if len(line) > 0 && listenLine(line) {
			e, perr := parseProcNetTCP(string(line), binary.NativeEndian)
			if perr == nil && e.State == tcpListen {
				if pid, ok := owner[e.Inode]; ok {
					*out = append(*out, Listener{Addr: e.Local, Pid: pid})
				}
			}
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("sockets: reading %s: %w", table, err)
		}
	}
}
