//go:build !linux

package process

import "errors"

func checkProc() error { return nil }

func enableSubreaper() error { return errors.New("child subreaper: Linux only") }

func children() []child { return nil }
