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
// sends a request to another instance, whichever use of the connection
// finds it: the dial does not wait for the handshake.
func TestDialTCP(t *testing.T) {
	uses := map[string]func(c *fileConn) error{
		"Write":   func(c *fileConn) error { _, err := c.Write([]byte("ping")); return err },
		"ask":     func(c *fileConn) error { return c.ask([]byte("ping")) },
		"confirm": func(c *fileConn) error { return c.confirm() },
	}
	for _, network := range []string{"tcp4", "tcp6"} {
		t.Run(network, func(t *testing.T) {
			ln, err := net.Listen(network, map[string]string{"tcp4": "127.0.0.1:0", "tcp6": "[::1]:0"}[network])
			if err != nil {
				t.Skipf("no %s loopback: %v", network, err)
			}
			defer ln.Close()
			ap := netip.MustParseAddrPort(ln.Addr().String())
			for name, use := range uses {
				t.Run(name, func(t *testing.T) {
					go func() {
						c, err := ln.Accept()
						if err != nil {
							return
						}
						defer c.Close()
						io.Copy(c, c) // echo until the edge closes
					}()
					nc, err := dialTCP(ap, time.Second)
					if err != nil {
						t.Fatal(err)
					}
					c := nc.(*fileConn)
					if got := c.RemoteAddr().String(); got != ln.Addr().String() {
						t.Errorf("RemoteAddr %s, want %s", got, ln.Addr())
					}
					c.SetDeadline(time.Now().Add(testTimeout))
					if err := use(c); err != nil {
						t.Fatal(err)
					}
					if _, err := c.Write([]byte("ping")); err != nil {
						t.Fatal(err)
					}
					want := "pingping"
					if name == "confirm" {
						want = "ping"
					}
					b := make([]byte, len(want))
					if _, err := io.ReadFull(c, b); err != nil || string(b) != want {
						t.Fatalf("read %q, %v; want %q", b, err, want)
					}
					if err := c.Close(); err != nil {
						t.Fatal(err)
					}
				})
			}

			ln.Close() // nothing listens there now
			for name, use := range uses {
				t.Run("refused/"+name, func(t *testing.T) {
					c, err := dialTCP(ap, time.Second)
					if err == nil {
						defer c.Close()
						c.SetDeadline(time.Now().Add(testTimeout))
						err = use(c.(*fileConn))
					}
					var op *net.OpError
					if !errors.As(err, &op) || op.Op != "dial" || !errors.Is(err, syscall.ECONNREFUSED) || !isDialError(err) {
						t.Fatalf("dial to a closed port, then %s: %v, want a dial OpError with ECONNREFUSED", name, err)
					}
				})
			}
		})
	}
}

// TestAskWaitsForResponse proves that ask returns once the response can be
// read, whether it comes later or at once (a response come before the wait
// began must still end it), and not before: after ask, the response is in
// the socket.
func TestAskWaitsForResponse(t *testing.T) {
	for _, delay := range []time.Duration{0, 50 * time.Millisecond} {
		t.Run(delay.String(), func(t *testing.T) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			go func() {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				defer c.Close()
				b := make([]byte, 4)
				if _, err := io.ReadFull(c, b); err != nil {
					return
				}
				time.Sleep(delay)
				c.Write([]byte("pong"))
				io.Copy(io.Discard, c)
			}()
			nc, err := dialTCP(netip.MustParseAddrPort(ln.Addr().String()), time.Second)
			if err != nil {
				t.Fatal(err)
			}
			c := nc.(*fileConn)
			defer c.Close()
			deadline := time.Now().Add(testTimeout)
			c.SetReadDeadline(deadline)
			if err := c.ask([]byte("ping")); err != nil {
				t.Fatal(err)
			}
			if time.Now().After(deadline) {
				t.Fatal("ask returned at the read deadline, not when the response came")
			}
			var b [4]byte
			var n int
			var rerr error
			c.rc.Control(func(fd uintptr) {
				n, _, rerr = syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
			})
			if rerr != nil || n == 0 {
				t.Fatalf("after ask, a peek finds %d bytes (%v): ask returned before the response came", n, rerr)
			}
		})
	}
}

// TestNoDelayOnSecondWrite proves that TCP_NODELAY is left off for a
// connection's first write (a request in one write, which Nagle's
// algorithm never holds back) and set before any later one, through
// either way of writing.
func TestNoDelayOnSecondWrite(t *testing.T) {
	writes := map[string]func(c *fileConn) error{
		"Write": func(c *fileConn) error { _, err := c.Write([]byte("ping")); return err },
		"ask":   func(c *fileConn) error { return c.ask([]byte("ping")) },
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				io.Copy(c, c)
			}()
		}
	}()
	ap := netip.MustParseAddrPort(ln.Addr().String())
	for first, w1 := range writes {
		for second, w2 := range writes {
			t.Run(first+"+"+second, func(t *testing.T) {
				nc, err := dialTCP(ap, time.Second)
				if err != nil {
					t.Fatal(err)
				}
				c := nc.(*fileConn)
				defer c.Close()
				c.SetDeadline(time.Now().Add(testTimeout))
				nodelay := func() int {
					var v int
					c.rc.Control(func(fd uintptr) {
						v, err = syscall.GetsockoptInt(int(fd), syscall.IPPROTO_TCP, syscall.TCP_NODELAY)
					})
					if err != nil {
						t.Fatal(err)
					}
					return v
				}
				if err := w1(c); err != nil {
					t.Fatal(err)
				}
				if v := nodelay(); v != 0 {
					t.Errorf("TCP_NODELAY %d after the first write, want it left off", v)
				}
				if err := w2(c); err != nil {
					t.Fatal(err)
				}
				if v := nodelay(); v == 0 {
					t.Error("TCP_NODELAY off after a second write")
				}
			})
		}
	}
}
