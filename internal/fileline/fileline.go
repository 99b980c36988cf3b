// Package fileline is the error type for a problem at a line of a file the
// user wrote (a Procfile, an env file), printed as "path:line: message" the
// way compilers and editors expect.
package fileline

import "fmt"

// Error is a problem at one line of a file. Line is 0 when the problem is
// with the file as a whole (missing, unreadable).
type Error struct {
	Path string
	Line int
	Msg  string
}

func (e *Error) Error() string {
	if e.Line == 0 {
		return e.Path + ": " + e.Msg
	}
	return fmt.Sprintf("%s:%d: %s", e.Path, e.Line, e.Msg)
}
