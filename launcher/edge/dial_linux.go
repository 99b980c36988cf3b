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

// dialTCP starts connecting to ap and returns the connection without
// waiting for the handshake: its first use does (see fileConn), for at
// most timeout. A refused connect is seen at once when the kernel knows
// it then.
func dialTCP(ap netip.AddrPort, timeout time.Duration) (net.Conn, error) {
	raddr := net.TCPAddrFromAddrPort(ap)
	a := ap.Addr().Unmap()
	family := syscall.AF_INET6
	var sa syscall.Sockaddr = &syscall.SockaddrInet6{Port: int(ap.Port()), Addr: a.As16()}
	if a.Is4() {
		family = syscall.AF_INET
		sa = &syscall.SockaddrInet4{Port: int(ap.Port()), Addr: a.As4()}
	}
	fd, err := syscall.Socket(family, syscall.SOCK_STREAM|syscall.SOCK_NONBLOCK|syscall.SOCK_CLOEXEC, syscall.IPPROTO_TCP)
	if err != nil {
		return nil, dialError(raddr, "socket", err)
	}
	err = syscall.Connect(fd, sa)
	if err != nil && err != syscall.EINPROGRESS && err != syscall.EINTR {
		syscall.Close(fd)
		return nil, dialError(raddr, "connect", err)
	}
	pending := err != nil
	f := os.NewFile(uintptr(fd), "tcp "+raddr.String()) // non-blocking: served by the poller
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return nil, dialError(raddr, "connect", err)
	}
	return &fileConn{File: f, rc: rc, raddr: raddr, timeout: timeout, pending: pending}, nil
}

// dialError is how a failed dial is told, to isDialError among others.
func dialError(raddr *net.TCPAddr, call string, err error) error {
	return &net.OpError{Op: "dial", Net: "tcp", Addr: raddr, Err: os.NewSyscallError(call, err)}
}

// fileConn is a TCP socket served by the runtime's poller through os.File,
// which has everything net.Conn needs but the addresses.
//
// Two per-request costs of an app that closes every connection are put
// off until they are needed. The handshake is not waited for after the
// connect (on loopback it is over by then): the first write finds out, and
// a failure there is a dial error, for nothing was sent. And TCP_NODELAY
// is set only before a second write: the first, with nothing unacknowledged
// before it, is never held back by Nagle's algorithm, and a request
// without a body goes in one write.
type fileConn struct {
	*os.File
	rc      syscall.RawConn
	raddr   *net.TCPAddr
	timeout time.Duration // for the handshake
	pending bool          // the handshake has not been seen to complete; nothing was written
	wrote   bool          // something was: the next write needs TCP_NODELAY
	nodelay bool          // TCP_NODELAY is set
}

func (c *fileConn) LocalAddr() net.Addr  { return &net.TCPAddr{} }
func (c *fileConn) RemoteAddr() net.Addr { return c.raddr }

func (c *fileConn) Write(p []byte) (int, error) {
	if err := c.confirm(); err != nil {
		return 0, err
	}
	if c.wrote && !c.nodelay {
		c.rc.Control(c.setNoDelay)
	}
	c.wrote = true
	return c.File.Write(p)
}

func (c *fileConn) setNoDelay(fd uintptr) {
	// A failure leaves Nagle on: later writes may be slower, not wrong.
	syscall.SetsockoptInt(int(fd), syscall.IPPROTO_TCP, syscall.TCP_NODELAY, 1)
	c.nodelay = true
}

// confirm waits until a pending handshake is over, for at most timeout,
// and returns a dial error if it failed.
func (c *fileConn) confirm() error {
	if !c.pending {
		return nil
	}
	c.File.SetWriteDeadline(time.Now().Add(c.timeout))
	// rc.Write forgets readiness that came before it, so each call looks
	// at the socket itself: failed, connected, or not yet (then it waits
	// for the next change).
	var soErr error
	werr := c.rc.Write(func(fd uintptr) bool {
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
	c.File.SetWriteDeadline(time.Time{})
	switch {
	case werr != nil && os.IsTimeout(werr):
		return &net.OpError{Op: "dial", Net: "tcp", Addr: c.raddr, Err: werr}
	case werr != nil:
		return dialError(c.raddr, "connect", werr)
	case soErr != nil:
		return dialError(c.raddr, "connect", soErr)
	}
	c.pending = false
	return nil
}

// ask writes p, a whole request, and waits until the response begins to
// come (or the read deadline, or an error): the first read of it then
// finds it, where a read right after the write would find nothing yet and
// wait after all. The write is made inside the wait, for a wait begun
// after it could miss a response come before.
func (c *fileConn) ask(p []byte) error {
	var werr error
	blocked := false
	sent := 0
	err := c.rc.Read(func(fd uintptr) bool {
		if sent == len(p) {
			return true // woken: something to read
		}
		if c.wrote && !c.nodelay {
			c.setNoDelay(fd)
		}
		for sent < len(p) {
			n, err := syscall.Write(int(fd), p[sent:])
			switch {
			case err == syscall.EINTR:
				continue
			case err == syscall.EAGAIN:
				// The handshake is under way, or the socket's buffer
				// is full: the rest goes through the poller's write.
				blocked = true
				return true
			case err != nil:
				werr = err
				return true
			}
			sent += n
			c.wrote, c.pending = true, false
		}
		return false
	})
	switch {
	case werr != nil && c.pending:
		return dialError(c.raddr, "connect", werr) // the handshake failed: nothing was sent
	case werr != nil:
		return &net.OpError{Op: "write", Net: "tcp", Addr: c.raddr, Err: os.NewSyscallError("write", werr)}
	case blocked:
		_, err = c.Write(p[sent:]) // confirms a pending handshake first
		return err
	}
	// A failed wait (deadline, cut) is left to the read that follows,
	// which fails the same way.
	return nil
}
