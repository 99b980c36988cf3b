//go:build !linux

package edge

import (
	"context"
	"net"
)

// dial connects to an instance.
func (u *upstream) dial(ctx context.Context, addr string) (net.Conn, error) {
	return u.dialer.DialContext(ctx, "tcp", addr)
}
