//go:build !linux

package edge

import "errors"

// parker is off here: cold connections wait in goroutines.
type parker struct{}

func (p *parker) start() error                  { return errors.New("no parker on this system") }
func (p *parker) stop()                         {}
func (p *parker) park(c *conn, first bool) bool { return false }
func (p *parker) unpark(c *conn) bool           { return false }
