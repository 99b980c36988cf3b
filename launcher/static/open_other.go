//go:build !unix

package static

import "os"

// openFlags opens files read-only; there are no FIFOs to guard against here.
const openFlags = os.O_RDONLY
