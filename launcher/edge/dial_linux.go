package edge

import (
	"context"
	"net"
	"net/netip"
	"os"
	"syscall"
	"time"
)

// dial connects to an instance. An app server that closes every
// connection (gunicorn's sync workers) makes this a per-request cost, and
// net.Dialer's general path (address resolution, happy eyeballs, a
// context per dial, getsockname and getpeername after the connect) was a
// fifth of the edge's time with Django. An IP literal is connected here
// with a socket, a connect and the poller's registration; anything else
// goes to net.Dialer.
func (u *upstream) dial(ctx context.Context, addr string) (net.Conn, error) {
	ap, err := netip.ParseAddrPort(addr)
	if err != nil || ap.Addr().Zone() != "" {
		return u.dialer.DialContext(ctx, "tcp", addr)
	}
	return dialTCP(ap, u.dialer.Timeout)
}

// dialTCP connects to ap, waiting at most timeout for the handshake.
func dialTCP(ap netip.AddrPort, timeout time.Duration) (net.Conn, error) {
	raddr := net.TCPAddrFromAddrPort(ap)
	fail := func(call string, err error) error {
		return &net.OpError{Op: "dial", Net: "tcp", Addr: raddr, Err: os.NewSyscallError(call, err)}
	}
	a := ap.Addr().Unmap()
	family := syscall.AF_INET6
	var sa syscall.Sockaddr = &syscall.SockaddrInet6{Port: int(ap.Port()), Addr: a.As16()}
	if a.Is4() {
		family = syscall.AF_INET
		sa = &syscall.SockaddrInet4{Port: int(ap.Port()), Addr: a.As4()}
	}
	fd, err := syscall.Socket(family, syscall.SOCK_STREAM|syscall.SOCK_NONBLOCK|syscall.SOCK_CLOEXEC, syscall.IPPROTO_TCP)
	if err != nil {
		return nil, fail("socket", err)
	}
	// Requests are written whole, but a body larger than the write buffer
	// goes in pieces, whose last must not wait for an ACK.
	if err := syscall.SetsockoptInt(fd, syscall.IPPROTO_TCP, syscall.TCP_NODELAY, 1); err != nil {
		syscall.Close(fd)
		return nil, fail("setsockopt", err)
	}
	err = syscall.Connect(fd, sa)
	if err != nil && err != syscall.EINPROGRESS && err != syscall.EINTR {
		syscall.Close(fd)
		return nil, fail("connect", err)
	}
	if err != nil {
		// On loopback the handshake has usually completed within connect
		// itself: then one getpeername says so, and there is nothing to
		// wait for.
		if _, perr := syscall.Getpeername(fd); perr == nil {
			err = nil
		}
	}
	f := os.NewFile(uintptr(fd), "tcp "+raddr.String()) // non-blocking: served by the poller
	if err != nil {
		// The handshake is under way: wait until the socket is writable,
		// then ask how it went.
		f.SetWriteDeadline(time.Now().Add(timeout))
		rc, rerr := f.SyscallConn()
		if rerr != nil {
			f.Close()
			return nil, fail("connect", rerr)
		}
		// rc.Write forgets readiness that came before it, so each call
		// looks at the socket itself: failed, connected, or not yet (then
		// it waits for the next change).
		var soErr error
		werr := rc.Write(func(fd uintptr) bool {
			n, gerr := syscall.GetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_ERROR)
			switch {
			case gerr != nil:
				soErr = gerr
				return true
			case n != 0:
				soErr = syscall.Errno(n)
				return true
			}
			_, perr := syscall.Getpeername(int(fd))
			if perr == syscall.ENOTCONN {
				return false
			}
			soErr = perr
			return true
		})
		if werr != nil {
			f.Close()
			if os.IsTimeout(werr) {
				return nil, &net.OpError{Op: "dial", Net: "tcp", Addr: raddr, Err: werr}
			}
			return nil, fail("connect", werr)
		}
		if soErr != nil {
			f.Close()
			return nil, fail("connect", soErr)
		}
		f.SetWriteDeadline(time.Time{})
	}
	return &fileConn{File: f, raddr: raddr}, nil
}

// fileConn is a connected TCP socket served by the runtime's poller
// through os.File, which has everything net.Conn needs but the addresses.
type fileConn struct {
	*os.File
	raddr *net.TCPAddr
}

func (c *fileConn) LocalAddr() net.Addr  { return &net.TCPAddr{} }
func (c *fileConn) RemoteAddr() net.Addr { return c.raddr }
