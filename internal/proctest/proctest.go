// Package proctest helps tests check which processes are left alive.
package proctest

import (
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Alive reports whether pid is a live process. A zombie is not: it has
// exited and only waits for its parent (or init) to reap it.
func Alive(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return syscall.Kill(pid, 0) == nil
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i >= 0 && len(s) > i+2 && s[i+2] != 'Z'
}

// Gone waits up to limit for pid to stop being alive and reports whether it
// did. A killed process closes its files a moment before it is a zombie, so
// a check right after its output ends must allow for that.
func Gone(pid int, limit time.Duration) bool {
	deadline := time.Now().Add(limit)
	for Alive(pid) {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
	return true
}
