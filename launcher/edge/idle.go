package edge

// Idle connections: a connection waiting for its next request should cost
// little, so that many of them (a flood of keep-alive clients, or of
// connections that never send) do not take a small machine's memory. A
// tender tells the connections that waited coolAfter holding their
// buffers to give them back, and those waiting in a goroutine to park
// (conn.goCold, park_linux.go), and returns the memory a burst of them
// gave back (freeMemory).

import (
	"crypto/tls"
	"net"
	"runtime/debug"
	"sync"
	"time"
)

const (
	// hotKeep is how many hot states hotPool keeps.
	hotKeep = 128
	// freeAfter is how many connections must have gone cold since
	// freeMemory last ran for it to run again, once they stop going
	// cold, or freeEvery while they go on.
	freeAfter = 256
	freeEvery = 30 * time.Second
)

// tcpConn returns the TCP connection under nc, which may be TLS's.
func tcpConn(nc net.Conn) (*net.TCPConn, bool) {
	if tc, ok := nc.(*tls.Conn); ok {
		nc = tc.NetConn()
	}
	c, ok := nc.(*net.TCPConn)
	return c, ok
}

// idleConns is the server's care of its idle connections. Its fields but
// park (which has its own lock) are guarded by Server.mu.
type idleConns struct {
	park   parker
	stop   chan struct{} // closed to stop the tender; nil when none runs
	done   chan struct{} // closed when the tender has returned
	cooled int           // connections told to go cold or park since freeMemory last ran
	freed  time.Time     // when it last ran
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

// tend tells idle connections to go cold or to park, and closes parked
// ones past their deadline, until stop is closed.
func (s *Server) tend(stop <-chan struct{}, done chan<- struct{}) {
	defer close(done)
	t := time.NewTicker(s.cfg.coolAfter / 2)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case now := <-t.C:
			s.freeMemory(now, s.cool(now))
		}
	}
}

// cool tells the connections that have waited coolAfter for a request
// holding their hot state to go cold, and those waiting cold in a
// goroutine to park: their read deadline moves to the past, and
// conn.awaitHot or conn.awaitCold, finding them connCooling, does the
// rest. The deadline moves under s.mu, which they take to know it has
// moved. It closes the parked connections whose deadline has passed, as
// their read would have ended. It returns how many it told.
func (s *Server) cool(now time.Time) int {
	before := now.Add(-s.cfg.coolAfter).UnixNano()
	var expired []*conn
	s.mu.Lock()
	n := 0
	for c := range s.conns {
		switch c.state.Load() {
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
	return n
}

// freeMemory returns to the system what many connections gone cold
// gave back. A burst of connections, each with the stack that serving a
// request grew and its buffers, leaves that much garbage when they go
// idle: an idle server makes no collection to free it (the runtime forces
// one every two minutes) and the runtime returns freed memory later
// still, so the process would keep the burst's size, on a small machine
// and against its memory limit. nginx frees a request's memory as it
// ends; this collects once freeAfter connections went cold and the
// tender finds no more to tell (cooling, the number it just told, is
// 0: those before have given theirs back by now), or every freeEvery
// while they keep going cold.
func (s *Server) freeMemory(now time.Time, cooling int) {
	s.mu.Lock()
	due := s.idle.cooled >= freeAfter && (cooling == 0 || now.Sub(s.idle.freed) >= freeEvery)
	if due {
		s.idle.cooled, s.idle.freed = 0, now
	}
	s.mu.Unlock()
	if due {
		debug.FreeOSMemory()
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
