package edge

// The parker: cold connections waiting in one epoll instance for their
// next request, watched by one goroutine, rather than each in a goroutine
// of its own. A goroutine blocked in a read costs its stack (2 KiB, or
// 4 KiB when the runtime starts goroutines larger, as it does when the
// goroutines it scans are deep) and its descriptor, most of what an idle
// connection would cost; a parked one costs its conn and its socket. Its
// epoll registration is one-shot: the first byte, or the client closing,
// wakes the connection once, into a fresh goroutine (conn.awaitCold).
//
// A TLS connection parks too, on its TCP socket: it parks only once a read
// of it has waited for the socket (the tender's timeout ended that read),
// so crypto/tls holds no record it could give out without more bytes from
// the socket, and those wake it. The socket stays in the runtime's own
// poller as well; that is harmless, the runtime only notes it readable.

import (
	"errors"
	"sync"

	"golang.org/x/sys/unix"
)

// parker waits for the parked connections. The zero parker is off: park
// fails, and connections wait in goroutines.
type parker struct {
	mu     sync.Mutex
	epfd   int // with on: the epoll instance
	wakefd int // an eventfd in it: written to stop the waiter
	on     bool
	gen    uint32 // numbers each park, so that an event for a closed socket whose number is reused is told apart
	parked map[int32]parkedConn
	done   chan struct{} // closed when the waiter has returned
}

type parkedConn struct {
	c     *conn
	gen   uint32
	first bool
}

// start makes the epoll instance and starts its waiter; if that fails,
// the parker stays off.
func (p *parker) start() error {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return err
	}
	wakefd, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		unix.Close(epfd)
		return err
	}
	ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(wakefd)}
	if err := unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, wakefd, &ev); err != nil {
		unix.Close(wakefd)
		unix.Close(epfd)
		return err
	}
	p.epfd, p.wakefd, p.on = epfd, wakefd, true
	p.parked = make(map[int32]parkedConn)
	p.done = make(chan struct{})
	go p.wait()
	return nil
}

// stop stops the waiter and waits for it; the connections still parked
// go on waiting in goroutines.
func (p *parker) stop() {
	p.mu.Lock()
	on := p.on
	p.on = false // no more parking
	if on {
		unix.Write(p.wakefd, []byte{1, 0, 0, 0, 0, 0, 0, 0})
	}
	p.mu.Unlock()
	if on {
		<-p.done
	}
}

// park has the cold connection c wait in the parker, with c.until as its
// deadline (the tender enforces it: Server.cool), and reports whether it
// does; then c is connParked and no goroutine of c's may touch it. first
// says the request to come is c's first. c must be connActive: no one
// else changes its state until it is parked.
func (p *parker) park(c *conn, first bool) bool {
	tc, ok := tcpConn(c.nc)
	if !ok {
		return false
	}
	rc, err := tc.SyscallConn()
	if err != nil {
		return false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.on {
		return false
	}
	p.gen++
	var cerr error
	err = rc.Control(func(fd uintptr) {
		ev := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLRDHUP | unix.EPOLLONESHOT, Fd: int32(fd), Pad: int32(p.gen)}
		op := unix.EPOLL_CTL_ADD
		if c.epolled { // the one-shot registration of its last park stays, disarmed
			op = unix.EPOLL_CTL_MOD
		}
		if cerr = unix.EpollCtl(p.epfd, op, int(fd), &ev); errors.Is(cerr, unix.ENOENT) || errors.Is(cerr, unix.EEXIST) {
			op ^= unix.EPOLL_CTL_ADD ^ unix.EPOLL_CTL_MOD
			cerr = unix.EpollCtl(p.epfd, op, int(fd), &ev)
		}
		c.fd = int32(fd)
	})
	if err != nil || cerr != nil {
		return false
	}
	c.epolled = true
	p.parked[c.fd] = parkedConn{c: c, gen: p.gen, first: first}
	c.state.Store(connParked)
	return true
}

// unpark takes c out of the parker if it is there, and reports whether it
// was: then no one will wake it, and the caller, which has marked it
// connClosed, ends it.
func (p *parker) unpark(c *conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if e, ok := p.parked[c.fd]; ok && e.c == c {
		delete(p.parked, c.fd)
		return true
	}
	return false
}

// wait is the parker's goroutine: it wakes each connection whose socket
// has something to read, until stop.
func (p *parker) wait() {
	defer close(p.done)
	defer p.wakeAll()
	events := make([]unix.EpollEvent, 128)
	for {
		n, err := unix.EpollWait(p.epfd, events, -1)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return
		}
		for _, ev := range events[:n] {
			if ev.Fd == int32(p.wakefd) {
				return
			}
			p.mu.Lock()
			e, ok := p.parked[ev.Fd]
			if ok = ok && e.gen == uint32(ev.Pad); ok {
				delete(p.parked, ev.Fd)
			}
			p.mu.Unlock()
			if ok {
				e.c.unparked(e.first)
			}
		}
	}
}

// wakeAll wakes every parked connection, for the parker is closing.
func (p *parker) wakeAll() {
	p.mu.Lock()
	p.on = false
	parked := p.parked
	p.parked = nil
	unix.Close(p.wakefd)
	unix.Close(p.epfd)
	p.mu.Unlock()
	for _, e := range parked {
		e.c.unparked(e.first)
	}
}
