//go:build !linux

package sockets

import (
	"errors"
	"fmt"
)

// GroupListeners would return the TCP sockets in the LISTEN state held by
// process group pgid. Finding them needs Linux's /proc; elsewhere it reports
// errors.ErrUnsupported, and callers fall back to waiting on $PORT alone.
func GroupListeners(pgid int) ([]Listener, error) {
	return nil, fmt.Errorf("sockets: listing the listeners of process group %d is Linux only: %w", pgid, errors.ErrUnsupported)
}

// ProcessListeners would return the TCP sockets in the LISTEN state held by
// pid; like GroupListeners it is Linux only.
func ProcessListeners(pid int) ([]Listener, error) {
	return nil, fmt.Errorf("sockets: listing the listeners of process %d is Linux only: %w", pid, errors.ErrUnsupported)
}
