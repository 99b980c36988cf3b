package main

import (
	"os"
	"syscall"

	"github.com/corral-run/corral/internal/environ"
	"golang.org/x/sys/unix"
)

// stopWithParent makes the death of corral's parent a SIGTERM to corral,
// when npm started it (npm start, npx corral start: npm's variables say
// so). npm runs a command through sh -c, which does not exec it, and
// passes the platform's SIGTERM on to that shell alone, which dies of
// it and leaves corral running, orphaned, until the platform's SIGKILL:
// the app would get no graceful stop. The caller must handle SIGTERM
// already, or the signal would kill corral outright.
func stopWithParent(env []string) error {
	if _, ok := environ.Lookup(env, "npm_lifecycle_event"); !ok {
		return nil
	}
	parent := os.Getppid()
	if err := unix.Prctl(unix.PR_SET_PDEATHSIG, uintptr(syscall.SIGTERM), 0, 0, 0); err != nil {
		return err
	}
	if os.Getppid() != parent { // it died before the kernel was asked
		return syscall.Kill(os.Getpid(), syscall.SIGTERM)
	}
	return nil
}
