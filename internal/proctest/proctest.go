// Package proctest helps tests check which processes are left alive.
package proctest

import (
	"syscall"
	"time"

	"github.com/corral-run/corral/internal/procstat"
)

// Alive reports whether pid is a live process. A zombie is not: it has
// exited and only waits for its parent (or init) to reap it.
func Alive(pid int) bool {
	st, ok := procstat.Read(pid)
	if !ok {
		return syscall.Kill(pid, 0) == nil
	}
	return st.State != 'Z'
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
