package edge

// Idle connections: a connection waiting for its next request costs
// memory and a file descriptor, and on a small machine many of them (a
// flood of keep-alive clients, or of connections that never send) could
// leave the edge unable to accept a new one: "accept4: too many open
// files" until one of them times out, with the service up but serving
// nothing. As nginx does (ngx_drain_connections), the edge closes the
// connections idle the longest when accepting fails for want of
// descriptors, or when MaxConns are open, and keeps accepting. And it
// keeps an idle connection cheap: a tender tells the connections that
// waited coolAfter holding their buffers to give them back, and those
// waiting in a goroutine to park (conn.goCold, park_linux.go), and has
// the runtime collect the memory a burst of them gave back (freeMemory).

import (
	"cmp"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"runtime"
	"slices"
	"sync"
	"syscall"
	"time"
)

const (
	// fdReserve is how many file descriptors MaxConnsFor leaves for the
	// rest of corral: its listeners, logs, control socket, the pipes of
	// its children's output.
	fdReserve = 64
	// drainMax is the most idle connections one makeRoom closes.
	drainMax = 32
	// burstQuiet is how long makeRoom must rest before the closes it
	// made are logged, in one line; a longer burst is logged each
	// burstMax.
	burstQuiet = 5 * time.Second
	burstMax   = time.Minute
	// hotKeep is how many hot states hotPool keeps.
	hotKeep = 128
	// freeAfter is how many connections must have gone cold since
	// freeMemory last ran for it to run again, once they stop going
	// cold, or freeEvery while they go on.
	freeAfter = 256
	freeEvery = 30 * time.Second
)

// MaxConnsFor returns the MaxConns of a process allowed limit open files
// (0: unknown, then -1, no bound): fdReserve are kept for the rest of
// corral, and each client connection may need a second descriptor while
// its request is served (the connection to an instance, a static file, a
// body spilled to a file).
func MaxConnsFor(limit uint64) int {
	if limit == 0 || limit > 1<<30 { // unknown, or RLIM_INFINITY
		return -1
	}
	return max(int(limit)-fdReserve, 2) / 2
}

// tcpConn returns the TCP connection under nc, which may be TLS's.
func tcpConn(nc net.Conn) (*net.TCPConn, bool) {
	if tc, ok := nc.(*tls.Conn); ok {
		nc = tc.NetConn()
	}
	c, ok := nc.(*net.TCPConn)
	return c, ok
}

// outOfFDs reports whether an accept error is for want of file
// descriptors.
func outOfFDs(err error) bool {
	return errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE)
}

// idleConns is the server's care of its idle connections. Its fields but
// park (which has its own lock) are guarded by Server.mu.
type idleConns struct {
	park   parker
	stop   chan struct{} // closed to stop the tender; nil when none runs
	done   chan struct{} // closed when the tender has returned
	oldest []idleConn    // makeRoom's scratch
	burst  roomBurst
	cooled int       // connections told to go cold or park since freeMemory last ran
	freed  time.Time // when it last ran
}

type idleConn struct {
	c  *conn
	at int64 // c.idleAt when it was looked at
}

// roomBurst counts the idle connections closed to make room, for one
// log line.
type roomBurst struct {
	closed      int
	open        int  // the most connections open when makeRoom closed some
	fds         bool // accepting failed for want of descriptors (else MaxConns were open)
	first, last time.Time
}

// startTending starts the tender and the parker, unless they run; s.mu
// is held.
func (s *Server) startTending() {
	if s.idle.stop != nil {
		return
	}
	if err := s.idle.park.start(); err != nil {
		s.cfg.Log.Debug("edge: idle connections wait in goroutines: " + err.Error())
	}
	s.idle.stop, s.idle.done = make(chan struct{}), make(chan struct{})
	go s.tend(s.idle.stop, s.idle.done)
}

// stopTending stops the tender and the parker and waits for them (for
// Shutdown).
func (s *Server) stopTending() {
	s.mu.Lock()
	stop, done := s.idle.stop, s.idle.done
	s.idle.stop = nil
	s.mu.Unlock()
	if stop != nil {
		close(stop)
		<-done
		s.idle.park.stop()
	}
}

// tend tells hot idle connections to go cold, and logs the bursts of
// makeRoom, until stop is closed.
func (s *Server) tend(stop <-chan struct{}, done chan<- struct{}) {
	defer close(done)
	t := time.NewTicker(s.cfg.coolAfter / 2)
	defer t.Stop()
	for {
		select {
		case <-stop:
			s.logBurst(time.Time{})
			return
		case now := <-t.C:
			told, busy := s.cool(now)
			s.freeMemory(now, told, busy)
			s.logBurst(now)
		}
	}
}

// cool tells the connections that have waited coolAfter for a request
// holding their hot state to go cold, and those waiting cold in a
// goroutine to park: their read deadline moves to the past, and
// conn.awaitHot or conn.awaitCold, finding them connCooling, does the
// rest. The deadline moves under s.mu, which they take to know it has
// moved. It closes the parked connections whose deadline has passed, as
// their read would have ended. It returns how many it told, and how
// many connections have a request in flight.
func (s *Server) cool(now time.Time) (told, busy int) {
	before := now.Add(-s.cfg.coolAfter).UnixNano()
	var expired []*conn
	s.mu.Lock()
	n := 0
	for c := range s.conns {
		switch c.state.Load() {
		case connActive:
			busy++
		case connIdle:
			if c.idleAt.Load() <= before && c.state.CompareAndSwap(connIdle, connCooling) {
				c.nc.SetReadDeadline(aLongTimeAgo())
				n++
			}
		case connCold:
			if c.parkable && c.idleAt.Load() <= before && c.state.CompareAndSwap(connCold, connCooling) {
				c.nc.SetReadDeadline(aLongTimeAgo())
				n++
			}
		case connParked:
			if c.until.Load() <= now.UnixNano() && s.closeIdle(c) {
				expired = append(expired, c)
			}
		}
	}
	s.idle.cooled += n
	s.mu.Unlock()
	for _, c := range expired {
		c.nc.Close()
	}
	return n, busy
}

// freeMemory lets the runtime return to the system what many
// connections gone cold gave back. A burst of connections, each with the
// stack that serving a request grew and its buffers, leaves that much
// garbage when they go idle: an idle server makes no collection to free
// it (the runtime forces one every two minutes), so the process would
// keep the burst's size, on a small machine and against its memory
// limit. nginx frees a request's memory as it ends; this collects once
// freeAfter connections went cold and the tender finds no more to tell
// (cooling, the number it just told, is 0: those before have given
// theirs back by now), or every freeEvery while they keep going cold;
// and only while no request is in flight (busy is 0): a server with
// requests in flight collects by itself. The runtime's scavenger then
// returns the freed pages in the background (10,000 idle connections:
// 3.5 KB each in RSS 5 s later, bench/idle.sh). debug.FreeOSMemory would
// return them at once (2.4 KB), but holds the heap while it does, which
// stalls every request allocating meanwhile: in a test of 200
// connections going cold and waking, its worst request took 0.2 s
// against 0.1 s with a collection alone, and 0.8 s under the race
// detector.
func (s *Server) freeMemory(now time.Time, cooling, busy int) {
	s.mu.Lock()
	due := s.idle.cooled >= freeAfter && busy == 0 && (cooling == 0 || now.Sub(s.idle.freed) >= freeEvery)
	if due {
		s.idle.cooled, s.idle.freed = 0, now
	}
	s.mu.Unlock()
	if due {
		runtime.GC()
	}
}

// closeIdle marks c closed if it is waiting for a request, hot, cold or
// parked, and reports whether it did; the caller closes c.nc. A parked
// connection, which no goroutine of its own will end, is forgotten here;
// s.mu is held.
func (s *Server) closeIdle(c *conn) bool {
	if !c.state.CompareAndSwap(connIdle, connClosed) && !c.state.CompareAndSwap(connCold, connClosed) &&
		!c.state.CompareAndSwap(connParked, connClosed) {
		return false
	}
	if s.idle.park.unpark(c) {
		delete(s.conns, c)
	}
	return true
}

// makeRoom closes the connections idle the longest, if accepting failed
// for want of file descriptors (fds) or MaxConns are open: as nginx does,
// max(1, min(drainMax, n/8)) of the n idle ones, so that a new
// connection costs a few at most. It returns how many it closed, their
// descriptors free.
func (s *Server) makeRoom(fds bool) int {
	s.mu.Lock()
	open := len(s.conns)
	if !fds && (s.cfg.MaxConns <= 0 || open < s.cfg.MaxConns) {
		s.mu.Unlock()
		return 0
	}
	old := s.idle.oldest[:0]
	idle := 0
	for c := range s.conns {
		if st := c.state.Load(); st != connIdle && st != connCold && st != connParked && st != connH2Idle {
			continue
		}
		idle++
		at := c.idleAt.Load()
		if len(old) == drainMax && at >= old[drainMax-1].at {
			continue
		}
		i, _ := slices.BinarySearchFunc(old, at, func(o idleConn, at int64) int { return cmp.Compare(o.at, at) })
		if len(old) == drainMax {
			old = old[:drainMax-1]
		}
		old = slices.Insert(old, i, idleConn{c, at})
	}
	var closed []*conn
	for _, o := range old[:min(len(old), max(1, min(drainMax, idle/8)))] {
		// HTTP/2's server forgets the connection once it sees it closed.
		if s.closeIdle(o.c) || o.c.state.CompareAndSwap(connH2Idle, connClosed) {
			closed = append(closed, o.c)
		}
	}
	clear(old)
	s.idle.oldest = old[:0]
	if len(closed) > 0 {
		b := &s.idle.burst
		if b.closed == 0 {
			b.first = time.Now()
		}
		b.closed += len(closed)
		b.open = max(b.open, open)
		b.fds = b.fds || fds
		b.last = time.Now()
	}
	s.mu.Unlock()
	for _, c := range closed {
		c.nc.Close() // returns once the descriptor is closed
	}
	return len(closed)
}

// logBurst logs the connections makeRoom closed, once it has rested
// burstQuiet (or after burstMax of closing); now zero logs what there is.
func (s *Server) logBurst(now time.Time) {
	s.mu.Lock()
	b := s.idle.burst
	due := b.closed > 0 && (now.IsZero() || now.Sub(b.last) >= burstQuiet || now.Sub(b.first) >= burstMax)
	if due {
		s.idle.burst = roomBurst{}
	}
	s.mu.Unlock()
	if !due {
		return
	}
	why := fmt.Sprintf("%d connections open, the most the file-descriptor limit allows", b.open)
	if b.fds {
		why = fmt.Sprintf("out of file descriptors (%d connections open)", b.open)
	}
	s.cfg.Log.Warn(fmt.Sprintf("edge: %s: closed %d idle connections, the oldest, to keep accepting", why, b.closed))
}

// hotPool keeps the hot states of connections that went cold or ended
// for the next ones to warm with, up to hotKeep: past that they are left
// to the collector, so that a burst's do not stay (see freeMemory).
type hotPool struct {
	mu   sync.Mutex
	free []*hot
}

func (p *hotPool) get() *hot {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := len(p.free)
	if n == 0 {
		return newHot()
	}
	h := p.free[n-1]
	p.free[n-1] = nil
	p.free = p.free[:n-1]
	return h
}

func (p *hotPool) put(h *hot) {
	p.mu.Lock()
	keep := len(p.free) < hotKeep
	if keep {
		p.free = append(p.free, h)
	}
	p.mu.Unlock()
	if !keep {
		h.drop()
	}
}

// drop lets go of what h holds, h being left to the collector: its
// watcher's timer, stopped, may stay in the runtime's timer heap a while,
// and with it h.
func (h *hot) drop() {
	h.br, h.bw, h.hr, h.resp, h.x.resp = nil, nil, headReader{}, response{}, respAlloc{}
}
