//go:build unix

package static

import (
	"os"
	"syscall"
)

// openFlags opens without blocking, so a FIFO left in a static directory
// cannot hang a request before the regular-file check refuses it.
const openFlags = os.O_RDONLY | syscall.O_NONBLOCK
