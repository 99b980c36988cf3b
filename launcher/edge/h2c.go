package edge

// h2c: HTTP/2 over plain TCP with prior knowledge (RFC 9113 3.3), which
// gRPC clients and `curl --http2-prior-knowledge` speak, and which some
// platforms' front proxies use towards the app. A connection that opens
// with the HTTP/2 preface is handed to net/http's server, which has a
// complete HTTP/2 implementation; the edge's handler serves its requests
// as it serves HTTP/1's. HTTP/2 frames its messages without ambiguity, so
// the smuggling checks of request.go have nothing to do there.

import (
	"bufio"
	"context"
	"log"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"
)

// h2Preface opens every HTTP/2 connection.
const h2Preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"

// h2c serves the connections handed to it with net/http's HTTP/2 server.
type h2c struct {
	srv     *http.Server
	ln      *handoffListener
	start   sync.Once
	started bool          // set in start: read after start.Do
	done    chan struct{} // closed when Serve has returned

	mu    sync.Mutex
	conns map[net.Conn]*conn // by what Serve got: the connections it has
}

func newH2C(s *Server) *h2c {
	var p http.Protocols
	p.SetUnencryptedHTTP2(true)
	p.SetHTTP2(true) // over TLS, when ALPN chose h2
	h := &h2c{
		srv: &http.Server{
			Handler:           s,
			Protocols:         &p,
			ReadHeaderTimeout: s.cfg.HeaderTimeout,
			IdleTimeout:       s.cfg.IdleTimeout,
			HTTP2:             &http.HTTP2Config{WriteByteTimeout: s.cfg.SendTimeout},
			ErrorLog:          log.New(slogWriter{s.cfg.Log}, "", 0),
			// Shutdown abandons HTTP/2's requests as it does HTTP/1's
			// (Server.abandon): the cause of their contexts tells.
			BaseContext: func(net.Listener) context.Context { return s.ctx },
		},
		ln:    &handoffListener{conns: make(chan net.Conn), closed: make(chan struct{})},
		done:  make(chan struct{}),
		conns: make(map[net.Conn]*conn),
	}
	h.srv.ConnState = h.connState
	return h
}

// serve hands c to the HTTP/2 server: nc reads it, its first bytes
// buffered in br (br nil: none read, as with a TLS connection that chose
// h2). It reports false if that server is shut down.
func (h *h2c) serve(c *conn, nc net.Conn, br *bufio.Reader) bool {
	if br != nil {
		nc = &bufferedConn{Conn: nc, br: br}
	}
	h.mu.Lock()
	h.conns[nc] = c
	h.mu.Unlock()
	h.start.Do(func() {
		h.started = true
		go func() {
			defer close(h.done)
			h.srv.Serve(h.ln)
		}()
	})
	select {
	case h.ln.conns <- nc:
		return true
	case <-h.ln.closed:
		h.mu.Lock()
		delete(h.conns, nc)
		h.mu.Unlock()
		return false
	}
}

// connState follows what the HTTP/2 server says of the connections it
// has: one with no stream open is idle, for makeRoom to close if it must
// (the server's own IdleTimeout closes it otherwise), and one it has
// closed leaves the edge's count. An idle connection whose client opens a
// stream as makeRoom closes it loses that stream, as an idle HTTP/1
// connection closed as a request arrives loses the request; clients
// retry those.
func (h *h2c) connState(nc net.Conn, st http.ConnState) {
	h.mu.Lock()
	c := h.conns[nc]
	if st == http.StateClosed {
		delete(h.conns, nc)
	}
	h.mu.Unlock()
	if c == nil {
		return
	}
	switch st {
	case http.StateIdle:
		c.idleAt.Store(time.Now().UnixNano())
		c.state.CompareAndSwap(connHijacked, connH2Idle)
	case http.StateActive:
		c.state.CompareAndSwap(connH2Idle, connHijacked)
	case http.StateClosed:
		c.srv.forget(c)
	}
}

// shutdown stops the HTTP/2 server the way Server.Shutdown stops the
// HTTP/1 one: no new connections, in-flight streams finish until ctx is
// done, then have abandonGrace to answer. It waits for Serve to return if
// it ever started.
func (h *h2c) shutdown(ctx context.Context) error {
	h.ln.Close()
	h.start.Do(func() {}) // never start from now on
	if !h.started {
		return nil
	}
	err := h.srv.Shutdown(ctx)
	if err != nil {
		grace, cancel := context.WithTimeout(context.Background(), abandonGrace)
		h.srv.Shutdown(grace)
		cancel()
		h.srv.Close()
	}
	<-h.done
	return err
}

// isH2Preface reports whether br starts with the HTTP/2 preface. It reads
// more only while what it has could still begin one: an HTTP/1 request
// shorter than the preface ("POST / HTTP/1.0") must not wait for bytes
// that will not come.
func isH2Preface(br *bufio.Reader) bool {
	for n := max(br.Buffered(), 1); ; n = max(br.Buffered(), n+1) {
		b, err := br.Peek(min(n, len(h2Preface)))
		if string(b) != h2Preface[:len(b)] {
			return false
		}
		if len(b) == len(h2Preface) {
			return true
		}
		if err != nil {
			return false
		}
	}
}

// bufferedConn is a connection whose first bytes were read into br: an
// HTTP/2 preface, or what a client sent after its upgrade request.
type bufferedConn struct {
	net.Conn
	br *bufio.Reader
}

func (c *bufferedConn) Read(p []byte) (int, error) { return c.br.Read(p) }

// handoffListener is a net.Listener whose connections are handed to it.
type handoffListener struct {
	conns     chan net.Conn
	closed    chan struct{}
	closeOnce sync.Once
}

func (l *handoffListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.closed:
		return nil, net.ErrClosed
	}
}

func (l *handoffListener) Close() error {
	l.closeOnce.Do(func() { close(l.closed) })
	return nil
}

func (l *handoffListener) Addr() net.Addr { return handoffAddr{} }

type handoffAddr struct{}

func (handoffAddr) Network() string { return "tcp" }
func (handoffAddr) String() string  { return "h2c" }

// slogWriter turns net/http's internal error log into debug records: they
// are client-side noise (bad frames, resets) that nginx logs at info.
type slogWriter struct{ log *slog.Logger }

func (w slogWriter) Write(p []byte) (int, error) {
	w.log.Debug(string(p))
	return len(p), nil
}
