//go:build !unix

package static

import "errors"

func mkfifo(string) error { return errors.New("no FIFOs here") }
