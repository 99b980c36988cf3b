//go:build !linux

package main

// stopWithParent is Linux's (PR_SET_PDEATHSIG); elsewhere corral under npm
// stops only when it is signalled itself.
func stopWithParent([]string) error { return nil }
