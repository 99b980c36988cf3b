//go:build unix

package edge

import "syscall"

// fdLimit returns the process's limit on open files (RLIMIT_NOFILE's soft
// limit, which Go's runtime raised to the hard one at start-up), or 0.
func fdLimit() uint64 {
	var rl syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl) != nil {
		return 0
	}
	return uint64(rl.Cur)
}
