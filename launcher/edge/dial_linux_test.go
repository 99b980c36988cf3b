package edge

import (
	"errors"
	"io"
	"net"
	"net/netip"
	"syscall"
	"testing"
	"time"
)

// TestDialTCP proves that the edge's own dial connects over IPv4 and IPv6
// loopback (the connection carries bytes both ways and closes), and that a
// refused connect is a "dial" *net.OpError with ECONNREFUSED, which is what
// sends a request to another instance.
func TestDialTCP(t *testing.T) {
	for _, network := range []string{"tcp4", "tcp6"} {
		t.Run(network, func(t *testing.T) {
			ln, err := net.Listen(network, map[string]string{"tcp4": "127.0.0.1:0", "tcp6": "[::1]:0"}[network])
			if err != nil {
				t.Skipf("no %s loopback: %v", network, err)
			}
			defer ln.Close()
			go func() {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				defer c.Close()
				io.Copy(c, c) // echo until the edge closes
			}()
			ap := netip.MustParseAddrPort(ln.Addr().String())
			c, err := dialTCP(ap, time.Second)
			if err != nil {
				t.Fatal(err)
			}
			if got := c.RemoteAddr().String(); got != ln.Addr().String() {
				t.Errorf("RemoteAddr %s, want %s", got, ln.Addr())
			}
			c.SetDeadline(time.Now().Add(testTimeout))
			if _, err := c.Write([]byte("ping")); err != nil {
				t.Fatal(err)
			}
			b := make([]byte, 4)
			if _, err := io.ReadFull(c, b); err != nil || string(b) != "ping" {
				t.Fatalf("read %q, %v", b, err)
			}
			if err := c.Close(); err != nil {
				t.Fatal(err)
			}

			ln.Close() // nothing listens there now
			_, err = dialTCP(ap, time.Second)
			var op *net.OpError
			if !errors.As(err, &op) || op.Op != "dial" || !errors.Is(err, syscall.ECONNREFUSED) || !isDialError(err) {
				t.Fatalf("dial to a closed port: %v, want a dial OpError with ECONNREFUSED", err)
			}
		})
	}
}
