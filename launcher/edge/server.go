package edge

// The edge's own HTTP/1.1 server. net/http's server is general and
// correct, but on the hot path of a proxy on a small machine it does more
// than the edge needs: a background read (a goroutine and a syscall) for
// every request, a header clone on every WriteHeader, a chunk writer
// between the handler and the connection, and it quietly repairs request
// framing that a front proxy must refuse (see request.go). This server
// reads each connection in one goroutine, refuses ambiguous heads itself,
// writes a buffered response in one write, and watches for a client that
// left only when a request has been running for a while.

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Limits of the server, as nginx's defaults where it has one.
const (
	maxHeaderBytes = 64 << 10
	// watchDelay is how long a request runs before the server starts
	// watching its connection for the client leaving. Most requests are
	// done sooner, and watching costs a goroutine and a read.
	watchDelay = 100 * time.Millisecond
	// discardLimit is how much of a request body the handler left unread
	// is read and dropped to keep the connection (net/http's 256 KiB).
	discardLimit = 256 << 10
	// smallBody is how much of a response of undeclared length is held to
	// send it with a Content-Length rather than chunked.
	smallBody = 4 << 10
	// writeBuffer is the size of a busy connection's write buffer: a
	// response head with a body of up to 7 KiB or so (a small static file
	// held in memory, a 4 KiB one with room to spare) goes out in one
	// write. With 4 KiB, a 4 KiB file took two writes and a third more CPU
	// per request than a 2 KiB one. Only a connection serving a request
	// holds one (see conn).
	writeBuffer = 8 << 10
	// lingerTime is how long a connection closed after an error keeps
	// reading what the client still sends, so that the kernel does not
	// reset it before the client has read the answer.
	lingerTime = 500 * time.Millisecond
	// abandonGrace is how long the requests Shutdown gives up on have to
	// send their 503 and close: the answer takes microseconds once their
	// exchanges are cut, the linger after it a little more.
	abandonGrace = 2 * lingerTime
)

// Connection states, for Shutdown and for closing idle connections to
// make room (idle.go).
const (
	connIdle     int32 = iota // between requests, hot: Shutdown may close it
	connActive                // a request is being read or served
	connClosed                // closed by Shutdown: its goroutine must stop
	connHijacked              // taken over by its handler: not Shutdown's to wait for
	connCold                  // between requests, cold (see conn): Shutdown may close it
	connCooling               // idle, being told to go cold, or to park (idle.go's cool)
	connParked                // cold, in the parker (park_linux.go): no goroutine of its own
	connH2Idle                // HTTP/2's, with no stream open: makeRoom may close it, Shutdown leaves it to HTTP/2's server
)

// aLongTimeAgo returns a deadline in the past: it makes a blocked read return.
func aLongTimeAgo() time.Time { return time.Unix(1, 0) }

// conn is one client connection. Between requests it goes cold once it
// has waited coolAfter: it gives back its hot state (buffers, request and
// response storage) and a fresh goroutine, whose stack is the smallest,
// waits for the next request's first byte in place of the one that
// served, whose stack grew; or, a plain TCP connection, no goroutine at
// all: it parks (park_linux.go). A new connection starts cold, and parks
// if it sends nothing for coolAfter. So an idle connection costs little
// more than its socket, while a busy one keeps its hot state from one
// request to the next.
type conn struct {
	*hot     // nil while cold
	srv      *Server
	nc       net.Conn
	remote   string
	raw      rawReader
	state    atomic.Int32
	idleAt   atomic.Int64 // when it began to wait for a request, in UnixNano: the oldest idle are closed first
	until    atomic.Int64 // while parked: its read deadline, in UnixNano
	sendSet  time.Time    // when sendDeadline last moved the write deadline
	rdl      time.Time    // the read deadline set last (readDeadline)
	parkable bool         // over TCP: it can park
	epolled  bool         // the parker's: c has a registration in its epoll instance
	fd       int32        // the parker's: c's descriptor, once parked
	// abort cuts the upstream exchange of c's request: when its client
	// leaves, when c ends, or when Shutdown abandons it. It is c's, not
	// its hot state's, so that Shutdown can reach it whatever c's state.
	abort abortSlot
}

// hot is what a connection holds while it reads and serves requests. A
// connection that goes cold or ends gives it back (Server.hots).
type hot struct {
	c    *conn
	br   *bufio.Reader // reads from raw, not nc: see raw
	bw   *bufio.Writer
	hr   headReader
	ctx  context.Context // canceled when the client is seen gone, or the connection ends or goes cold
	stop context.CancelFunc
	x    exchange // the upstream exchange: to cut when the client leaves, its response's storage
	resp response // reused for each request: handlers do not keep it
	body *body    // the current request's body, if it has one

	// The watcher: see arm.
	wmu      sync.Mutex
	timer    *time.Timer
	armed    bool
	watching chan struct{} // not nil while a watch read runs; closed when it ends
	aborting atomic.Bool
}

func newHot() *hot {
	h := &hot{br: bufio.NewReaderSize(nil, 4<<10), bw: bufio.NewWriterSize(nil, writeBuffer)}
	h.timer = time.AfterFunc(time.Hour, h.watch)
	h.timer.Stop()
	return h
}

// cancel cancels the requests' context and cuts the upstream exchange:
// the client is gone, or the connection ends.
func (h *hot) cancel() {
	h.stop()
	h.x.abort.abort()
}

// rawReader reads the connection for br, first giving back the byte read
// ahead: by the watcher, if it found the next request rather than the
// end, or by a cold connection's wait.
type rawReader struct {
	nc      net.Conn
	stash   [1]byte
	stashed bool
}

func (r *rawReader) Read(p []byte) (int, error) {
	if r.stashed && len(p) > 0 {
		p[0] = r.stash[0]
		r.stashed = false
		return 1, nil
	}
	return r.nc.Read(p)
}

func (s *Server) newConn(nc net.Conn) *conn {
	c := &conn{srv: s, nc: nc, remote: nc.RemoteAddr().String()}
	c.raw.nc = nc
	_, c.parkable = tcpConn(nc)
	c.state.Store(connCold)
	if _, ok := nc.(*tls.Conn); ok {
		// Not waiting for a request until the handshake is done: the
		// tender must not cut it, nor makeRoom take it for the oldest.
		c.idleAt.Store(math.MaxInt64)
	} else {
		c.idleAt.Store(time.Now().UnixNano())
	}
	return c
}

// start is a new connection's first goroutine: it does a TLS connection's
// handshake, and waits cold for the first request.
func (c *conn) start() {
	defer c.recoverPanic()
	tc, ok := c.nc.(*tls.Conn)
	if !ok {
		c.readDeadline(time.Now().Add(c.srv.cfg.HeaderTimeout)) // a new connection owes us a request at once
		c.awaitCold(true)
		return
	}
	switch c.handshake(tc) {
	case "h2":
		if c.state.CompareAndSwap(connCold, connHijacked) {
			c.toH2(tc, nil)
			return
		}
		c.end(false)
	case "http/1.1", "": // no h2c preface over TLS
		// The handshake grew this goroutine's stack: a fresh one waits.
		now := time.Now()
		c.idleAt.Store(now.UnixNano())
		c.readDeadline(now.Add(c.srv.cfg.HeaderTimeout))
		go c.awaitCold(false)
	default:
		c.end(false) // the ACME TLS-ALPN challenge, done with the handshake, or a failure
	}
}

// awaitCold is a cold connection's goroutine: it waits, holding nothing,
// for the first byte of a request (within the read deadline set), then
// takes a hot state and serves; or it parks if the tender says so. first
// says the connection is new.
func (c *conn) awaitCold(first bool) {
	defer c.recoverPanic()
	for {
		n, err := c.nc.Read(c.raw.stash[:])
		if !c.state.CompareAndSwap(connCold, connActive) {
			if c.state.Load() != connCooling {
				c.end(false) // closed by Shutdown or to make room
				return
			}
			// Told to park: see awaitHot.
			c.srv.mu.Lock()
			c.srv.mu.Unlock()
			c.state.Store(connActive)
			if n == 0 && isTimeout(err) {
				c.readDeadline(c.rdl) // the tender moved it
				if c.park(first) {
					return
				}
				c.state.Store(connCold)
				continue
			}
		}
		if n == 0 {
			c.end(false) // gone, or idle too long
			return
		}
		break
	}
	c.raw.stashed = true
	c.warm()
	c.serve(first)
}

// warm gives c a hot state.
func (c *conn) warm() {
	h := c.srv.hots.get()
	h.c = c
	h.br.Reset(&c.raw)
	h.bw.Reset(sendWriter{c})
	h.x.abort = &c.abort
	ctx, stop := context.WithCancel(c.srv.ctx)
	h.ctx, h.stop = context.WithValue(ctx, exchangeKey{}, &h.x), stop
	h.hr.base = new(http.Request).WithContext(h.ctx)
	h.hr.underscores = c.srv.cfg.AllowUnderscoreHeaders
	if tc, ok := c.nc.(*tls.Conn); ok {
		st := tc.ConnectionState()
		h.hr.base.TLS = &st
	}
	c.hot = h
}

// release gives c's hot state back to the pool; c is cold or ends.
func (c *conn) release() {
	h := c.hot
	c.hot = nil
	h.stop()
	h.c, h.ctx, h.body, h.hr.base, h.resp.c, h.x.abort = nil, nil, nil, nil, nil, nil
	h.br.Reset(nil)
	h.bw.Reset(nil)
	c.srv.hots.put(h)
}

// end closes the connection, unless its handler took it over, and
// forgets it.
func (c *conn) end(hijacked bool) {
	if c.hot != nil {
		c.disarm()
		c.cancel()
	}
	if !hijacked {
		c.nc.Close()
		if c.hot != nil {
			c.release()
		}
	}
	c.srv.forget(c)
}

// toH2 hands c to the HTTP/2 server, nc reading it (its first bytes in
// br, or br nil). c stays among the server's connections, which MaxConns
// counts, until that server is done with it (h2c.connState), and while
// it has no stream open makeRoom may close it, as nginx closes an idle
// HTTP/2 connection to reuse its slot: else connections that sent the
// HTTP/2 preface and nothing more would hold the descriptors makeRoom
// frees, until their IdleTimeout.
func (c *conn) toH2(nc net.Conn, br *bufio.Reader) {
	c.state.Store(connHijacked)
	if c.hot != nil {
		c.disarm()
		c.cancel()
	}
	if !c.srv.h2.serve(c, nc, br) {
		c.end(false) // HTTP/2's server is shut down
	}
}

// recoverPanic logs a panic of a connection's goroutine (a handler's):
// the connection ends.
func (c *conn) recoverPanic() {
	if err := recover(); err != nil {
		if err != http.ErrAbortHandler { // that one cuts the response short, on purpose
			c.srv.cfg.Log.Error(fmt.Sprintf("edge: panic serving %s: %v\n%s", c.remote, err, debug.Stack()))
		}
		c.end(false)
	}
}

// serve reads requests off c and answers them until the connection ends,
// or goes cold: then a fresh goroutine waits for the next request.
func (c *conn) serve(first bool) {
	for {
		if c.br.Buffered() == 0 && !c.raw.stashed { // wait for the next request
			switch c.awaitHot() {
			case awaitEnd:
				c.end(false)
				return
			case awaitCold:
				c.goCold()
				return
			}
		}
		if !headBuffered(c.br) { // the rest of the head is still to come
			c.readDeadline(time.Now().Add(c.srv.cfg.HeaderTimeout))
		}
		if first && isH2Preface(c.br) {
			c.readDeadline(time.Time{})
			c.toH2(c.nc, c.br)
			return
		}
		first = false
		req, fr, err := c.hr.read(c.br, maxHeaderBytes)
		if err != nil {
			var he *headError
			if errors.As(err, &he) {
				c.refuse(he)
			}
			c.end(false)
			return
		}
		// The head's deadline is left: the body's reads set their own, the
		// watcher takes a timeout for "no news", and a hijack clears it.
		keep, hj := c.serveRequest(req, fr)
		if hj {
			c.end(true)
			return
		}
		c.hr.recycle() // the handler has returned: the request is done with
		if !keep || c.srv.shutting.Load() {
			c.closeWrite()
			c.end(false)
			return
		}
	}
}

// What awaitHot found.
const (
	awaitRequest = iota // the first bytes of a request
	awaitEnd            // the end: the client left, IdleTimeout passed, or Shutdown or makeRoom closed it
	awaitCold           // nothing for coolAfter: go cold
)

// awaitHot waits for the next request holding c's hot state, until
// IdleTimeout, or until the server's tender tells it to go cold.
func (c *conn) awaitHot() int {
	now := time.Now()
	c.idleAt.Store(now.UnixNano())
	c.readWithin(now, c.srv.cfg.IdleTimeout)
	c.state.Store(connIdle)
	_, err := c.br.Peek(1)
	if c.state.CompareAndSwap(connIdle, connActive) {
		if err != nil {
			return awaitEnd
		}
		return awaitRequest
	}
	if c.state.Load() != connCooling {
		return awaitEnd
	}
	// The tender moved the read deadline to the past, under the server's
	// lock: once it is through, the deadline is ours again.
	c.srv.mu.Lock()
	c.srv.mu.Unlock()
	c.state.Store(connActive)
	if err == nil { // the request came first
		c.readDeadline(time.Now().Add(c.srv.cfg.HeaderTimeout))
		return awaitRequest
	}
	if !isTimeout(err) {
		return awaitEnd
	}
	return awaitCold
}

// goCold gives back c's hot state and parks c, or leaves the wait for
// the next request to a fresh goroutine; the caller's goroutine must
// return.
func (c *conn) goCold() {
	c.readDeadline(time.Unix(0, c.idleAt.Load()).Add(c.srv.cfg.IdleTimeout))
	c.release()
	if c.park(false) {
		return
	}
	c.state.Store(connCold)
	go c.awaitCold(false)
}

// park has c wait in the parker until its read deadline, if it can.
func (c *conn) park(first bool) bool {
	c.until.Store(c.rdl.UnixNano())
	return c.srv.idle.park.park(c, first)
}

// unparked is called by the parker when c, parked, has something to read
// or the parker closes: a fresh goroutine reads it, unless c was closed
// meanwhile by one that did not find it parked.
func (c *conn) unparked(first bool) {
	if c.state.CompareAndSwap(connParked, connCold) {
		go c.awaitCold(first)
		return
	}
	c.end(false)
}

// serveRequest runs the handler for one request and finishes its response.
// keep says whether the connection can carry another request.
func (c *conn) serveRequest(req *http.Request, fr reqFrame) (keep, hijacked bool) {
	req.RemoteAddr = c.remote
	var b *body
	if fr.chunked || fr.length > 0 {
		b = &body{c: c, req: req, expect: fr.expect, chunked: fr.chunked, fixed: fixedBody{r: c.br, left: fr.length}}
		if fr.chunked {
			b.cr = newChunkedReader(c.br, c.srv.cfg.Proxy.opts.MaxBody)
		}
		req.Body = b
	}
	c.body = b
	if b == nil {
		req.Body = http.NoBody
		c.arm()
	}
	w := &c.resp // req has c.ctx already: see warm
	w.reset(c, req, fr)

	c.srv.ServeHTTP(w, req)

	c.disarm()
	if w.hijacked {
		return false, true
	}
	w.finish()
	keep = !w.closeAfter && c.ctx.Err() == nil
	if keep && b != nil && !b.done() {
		// The handler left some of the body unread: read a little of it to
		// keep the connection, as net/http does, else close.
		keep = b.discard()
	}
	if err := c.bw.Flush(); err != nil {
		keep = false
	}
	return keep, false
}

// refuse answers a head that could not be accepted, and lets the
// connection close: what follows on it cannot be trusted.
func (c *conn) refuse(he *headError) {
	c.srv.cfg.Log.Debug(fmt.Sprintf("edge: refused a request from %s: %d %s", c.remote, he.status, he.reason))
	c.body = nil
	req := &http.Request{Method: http.MethodGet, Header: http.Header{}, ProtoMajor: 1, ProtoMinor: 1}
	w := &c.resp
	w.reset(c, req, reqFrame{close: true})
	w.Header().Set("Connection", "close")
	writeError(w, req, he.status, he.reason)
	w.finish()
	c.bw.Flush()
	c.closeWrite()
}

// handshake runs tc's TLS handshake within the head timeout and returns
// the protocol ALPN chose; "-" if it failed. The requests that follow
// carry its state (Request.TLS: see warm).
func (c *conn) handshake(tc *tls.Conn) string {
	tc.SetDeadline(time.Now().Add(c.srv.cfg.HeaderTimeout))
	if err := tc.HandshakeContext(c.srv.ctx); err != nil {
		c.srv.cfg.Log.Debug(fmt.Sprintf("edge: TLS handshake with %s: %v", c.remote, err))
		return "-"
	}
	tc.SetDeadline(time.Time{})
	return tc.ConnectionState().NegotiatedProtocol
}

// readDeadline sets the connection's read deadline, and remembers it for
// readWithin. Every read deadline of c is set through it.
func (c *conn) readDeadline(t time.Time) error {
	c.rdl = t
	return c.nc.SetReadDeadline(t)
}

// readWithin makes reads fail if nothing comes within d of now (see
// recentDeadline).
func (c *conn) readWithin(now time.Time, d time.Duration) {
	if recentDeadline(c.rdl, now, d) {
		return
	}
	c.readDeadline(now.Add(d))
}

// headBuffered reports whether br holds a whole request head already, so
// that reading it needs no deadline of its own.
func headBuffered(br *bufio.Reader) bool {
	b, _ := br.Peek(br.Buffered())
	return bytes.Contains(b, []byte("\r\n\r\n"))
}

// closeWrite half-closes the connection and reads what the client still
// sends for a moment, so that an answer written just before is read
// rather than lost to a reset (what net/http calls rstAvoidanceDelay).
func (c *conn) closeWrite() {
	tc, ok := c.nc.(interface{ CloseWrite() error })
	if !ok || tc.CloseWrite() != nil {
		return
	}
	c.readDeadline(time.Now().Add(lingerTime))
	io.Copy(io.Discard, io.LimitReader(c.nc, discardLimit))
}

// arm starts watching for the client leaving once the request has run
// for watchDelay: then a read of the connection tells whether it closed
// (the request's context is canceled) or sent the next request (its first
// byte is kept for it).
func (c *conn) arm() {
	c.wmu.Lock()
	c.armed = true
	c.timer.Reset(watchDelay)
	c.wmu.Unlock()
}

// watch runs in the timer's goroutine.
func (h *hot) watch() {
	h.wmu.Lock()
	if !h.armed || h.watching != nil {
		h.wmu.Unlock()
		return
	}
	c := h.c
	done := make(chan struct{})
	c.watching = done
	c.wmu.Unlock()
	defer close(done)
	var b [1]byte
	n, err := c.nc.Read(b[:])
	if n == 1 {
		c.raw.stash[0], c.raw.stashed = b[0], true // the next request: disarm waits for us
		return
	}
	if c.aborting.Load() {
		return
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return
	}
	c.cancel() // EOF or a reset: the client is gone
}

// disarm stops the watcher, waiting for its read to end: the connection
// is read by one goroutine at a time.
func (c *conn) disarm() {
	c.wmu.Lock()
	c.armed = false
	c.timer.Stop()
	done := c.watching
	c.watching = nil
	c.wmu.Unlock()
	if done == nil {
		return
	}
	c.aborting.Store(true)
	c.readDeadline(aLongTimeAgo())
	<-done
	c.readDeadline(time.Time{})
	c.aborting.Store(false)
}

// body is a request body read off the connection: Content-Length bytes,
// or chunks and their trailer.
type body struct {
	c       *conn
	req     *http.Request
	cr      io.Reader // the chunked reader, when chunked
	chunked bool
	fixed   fixedBody // the Content-Length bytes, when not chunked
	expect  bool      // the client waits for 100 Continue before sending
	sent100 bool
	eof     bool
	err     error
}

func (b *body) Read(p []byte) (int, error) {
	if b.eof {
		return 0, io.EOF
	}
	if b.err != nil {
		return 0, b.err
	}
	if b.expect && !b.sent100 {
		b.sent100 = true
		if !b.c.resp.headSent {
			b.c.bw.WriteString("HTTP/1.1 100 Continue\r\n\r\n")
			if err := b.c.bw.Flush(); err != nil {
				b.err = err
				return 0, err
			}
		}
	}
	var n int
	var err error
	if b.chunked {
		n, err = b.cr.Read(p)
		if err == io.EOF {
			err = b.trailer()
		} else if err != nil && err != errTooLarge && !isNetError(err) {
			err = &headError{status: http.StatusBadRequest, reason: "malformed chunked body"}
		}
	} else {
		n, err = b.fixed.Read(p)
	}
	if err == io.EOF {
		b.eof = true
		b.c.arm() // the whole request is in: watch for the client leaving
	} else if err != nil {
		b.err = err
	}
	return n, err
}

// trailer reads the trailer section after the last chunk into the
// request's Trailer; it returns io.EOF when all went well.
func (b *body) trailer() error {
	t, err := b.c.hr.readTrailer(b.c.br, maxHeaderBytes)
	if err != nil {
		return err
	}
	if len(t) > 0 {
		if b.req.Trailer == nil {
			b.req.Trailer = make(http.Header, len(t))
		}
		for k, v := range t {
			b.req.Trailer[k] = append(b.req.Trailer[k], v...)
		}
	}
	return io.EOF
}

func (b *body) Close() error { return nil }

// done reports whether the body was read to its end.
func (b *body) done() bool { return b.eof }

// discard reads and drops the rest of the body, up to discardLimit; it
// reports whether the end was reached, so the connection can be kept.
func (b *body) discard() bool {
	if b.err != nil || b.expect && !b.sent100 {
		return false // broken, or the client still waits to send it
	}
	b.c.readDeadline(time.Now().Add(time.Second))
	defer b.c.readDeadline(time.Time{})
	n, _ := io.Copy(io.Discard, io.LimitReader(b, discardLimit+1))
	return b.eof && n <= discardLimit
}

func isNetError(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) || errors.Is(err, net.ErrClosed) || errors.Is(err, io.ErrUnexpectedEOF)
}

// response is the http.ResponseWriter of this server. A response whose
// length is declared is written straight to the connection's buffer; one
// whose length is not is held until it passes smallBody (then chunked) or
// ends (then sent with its length).
type response struct {
	c          *conn
	req        *http.Request
	header     http.Header
	status     int
	length     int64 // the declared Content-Length, or -1
	written    int64
	wroteHead  bool // the handler called WriteHeader (or Write)
	headSent   bool // the head is in the connection's buffer
	chunked    bool
	noBody     bool // HEAD, or a status without a body
	closeAfter bool
	http10     bool
	keepAlive  bool // an HTTP/1.0 client asked for keep-alive
	hijacked   bool
	hold       []byte // the held body of undeclared length
}

func (w *response) reset(c *conn, req *http.Request, fr reqFrame) {
	hold := w.hold[:0]
	h := w.header
	if h == nil {
		h = make(http.Header, 8)
	} else {
		clear(h)
	}
	*w = response{c: c, req: req, header: h, length: -1, hold: hold}
	w.closeAfter = fr.close
	w.http10 = req.ProtoMajor == 1 && req.ProtoMinor == 0
	w.keepAlive = w.http10 && !fr.close
}

// Header returns the header map to set before WriteHeader.
func (w *response) Header() http.Header { return w.header }

// WriteHeader sends (or, for a body of undeclared length, prepares) the
// response head. Informational statuses are sent at once and may be
// followed by the real one.
func (w *response) WriteHeader(code int) {
	if w.wroteHead || w.hijacked {
		return
	}
	if code >= 100 && code < 200 && code != http.StatusSwitchingProtocols {
		w.c.bw.WriteString("HTTP/1.1 ")
		w.c.bw.WriteString(strconv.Itoa(code))
		w.c.bw.WriteString(" ")
		w.c.bw.WriteString(http.StatusText(code))
		w.c.bw.WriteString("\r\n")
		w.writeFields()
		w.c.bw.WriteString("\r\n")
		w.c.bw.Flush()
		return
	}
	w.wroteHead = true
	w.status = code
	w.noBody = w.req.Method == http.MethodHead || bodyless(code)
	if cl := w.header["Content-Length"]; len(cl) == 1 {
		if n, err := strconv.ParseInt(cl[0], 10, 64); err == nil && n >= 0 {
			w.length = n
		}
	}
	if headerHasToken(w.header, "Connection", "close") {
		w.closeAfter = true
	}
	if w.length >= 0 || w.noBody {
		w.sendHead()
	}
}

func (w *response) Write(p []byte) (int, error) {
	if w.hijacked {
		return 0, http.ErrHijacked
	}
	if !w.wroteHead {
		w.WriteHeader(http.StatusOK)
	}
	if w.noBody {
		if w.req.Method == http.MethodHead {
			return len(p), nil
		}
		return 0, http.ErrBodyNotAllowed
	}
	if w.length >= 0 && w.written+int64(len(p)) > w.length {
		return 0, http.ErrContentLength
	}
	w.written += int64(len(p))
	if !w.headSent {
		if len(w.hold)+len(p) <= smallBody {
			w.hold = append(w.hold, p...)
			return len(p), nil
		}
		w.startStream()
	}
	return w.writeBody(p)
}

// WriteString spares io.WriteString a copy.
func (w *response) WriteString(s string) (int, error) {
	if w.headSent && !w.chunked && !w.noBody && !w.hijacked && (w.length < 0 || w.written+int64(len(s)) <= w.length) {
		w.written += int64(len(s))
		return w.c.bw.WriteString(s)
	}
	return w.Write([]byte(s))
}

func (w *response) writeBody(p []byte) (int, error) {
	if !w.chunked {
		return w.c.bw.Write(p)
	}
	if len(p) == 0 {
		return 0, nil
	}
	var size [16]byte
	w.c.bw.Write(strconv.AppendInt(size[:0], int64(len(p)), 16))
	w.c.bw.WriteString("\r\n")
	n, err := w.c.bw.Write(p)
	w.c.bw.WriteString("\r\n")
	return n, err
}

// startStream sends the head of a body of undeclared length that is not
// going to fit in hold, and what hold has: chunked to an HTTP/1.1 client,
// to the connection's end for an HTTP/1.0 one.
func (w *response) startStream() {
	if w.http10 {
		w.closeAfter = true
	} else {
		w.chunked = true
	}
	w.sendHead()
	if len(w.hold) > 0 {
		w.writeBody(w.hold)
		w.hold = w.hold[:0]
	}
}

// ReadFrom sends a file with sendfile when the length is declared (static
// files), else copies.
func (w *response) ReadFrom(src io.Reader) (int64, error) {
	if !w.wroteHead {
		w.WriteHeader(http.StatusOK)
	}
	if w.headSent && !w.chunked && !w.noBody && !w.hijacked && w.length >= 0 {
		rf, ok := w.c.nc.(io.ReaderFrom)
		if ok {
			if err := w.c.bw.Flush(); err != nil {
				return 0, err
			}
			// sendfile needs the file itself, or one *io.LimitedReader
			// around it (what io.CopyN passes): do not wrap a second time.
			left := w.length - w.written
			lr, ok := src.(*io.LimitedReader)
			if !ok || lr.N > left {
				lr = &io.LimitedReader{R: src, N: left}
			}
			n, err := w.c.sendFile(rf, lr)
			w.written += n
			return n, err
		}
	}
	return io.Copy(writerOnly{w}, src)
}

// writerOnly hides ReadFrom, so that io.Copy does not call it again.
type writerOnly struct{ io.Writer }

// Flush sends what is buffered, starting a chunked body if its length is
// not known.
func (w *response) Flush() {
	w.FlushError()
}

// FlushError is Flush that reports the write error, for
// http.ResponseController.
func (w *response) FlushError() error {
	if w.hijacked {
		return http.ErrHijacked
	}
	if !w.wroteHead {
		w.WriteHeader(http.StatusOK)
	}
	if !w.headSent {
		w.startStream()
	}
	return w.c.bw.Flush()
}

// SetReadDeadline and SetWriteDeadline are for http.ResponseController.
func (w *response) SetReadDeadline(t time.Time) error  { return w.c.readDeadline(t) }
func (w *response) SetWriteDeadline(t time.Time) error { return w.c.nc.SetWriteDeadline(t) }

// Hijack hands the connection to the handler (a protocol upgrade).
func (w *response) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	if w.hijacked {
		return nil, nil, http.ErrHijacked
	}
	if w.headSent {
		return nil, nil, errors.New("edge: hijack after the response head was sent")
	}
	w.c.disarm()
	w.hijacked = true
	c := w.c
	c.state.Store(connHijacked)
	if err := c.bw.Flush(); err != nil {
		return nil, nil, err
	}
	// The upgraded connection is its handler's: no head's deadline, and
	// no send timeout on what it writes.
	c.bw.Reset(c.nc)
	c.nc.SetDeadline(time.Time{})
	c.rdl = time.Time{}
	var nc net.Conn = c.nc
	if c.br.Buffered() > 0 || c.raw.stashed {
		// The client sent more after the request without waiting for
		// the switch (its first WebSocket frames): handlers that read
		// the connection itself, as httputil.ReverseProxy does, must
		// get those bytes first.
		nc = &bufferedConn{Conn: c.nc, br: c.br}
	}
	return nc, bufio.NewReadWriter(c.br, c.bw), nil
}

// finish completes the response after the handler returned.
func (w *response) finish() {
	if !w.wroteHead && w.c.ctx.Err() != nil {
		// The handler gave up on a request whose context ended, and wrote
		// nothing: no 200 is made up for it. A client that left gets
		// nothing; one Shutdown abandoned still waits, and gets a 503.
		w.closeAfter = true
		if !abandoned(w.c.ctx) {
			return
		}
		w.header["Retry-After"] = []string{retryAfter}
		writeError(w, w.req, http.StatusServiceUnavailable, "the server is stopping")
	}
	if !w.wroteHead {
		w.WriteHeader(http.StatusOK)
	}
	if !w.headSent {
		// Undeclared, and short enough to have been held: send it with its
		// length, so the connection can be kept.
		w.length = int64(len(w.hold))
		w.header["Content-Length"] = []string{strconv.Itoa(len(w.hold))}
		w.sendHead()
		w.c.bw.Write(w.hold)
		w.hold = w.hold[:0]
		return
	}
	if w.chunked {
		w.c.bw.WriteString("0\r\n\r\n")
		return
	}
	if w.length >= 0 && w.written < w.length && !w.noBody {
		w.closeAfter = true // the client waits for bytes that will not come
	}
}

// sendHead writes the status line and fields to the connection's buffer.
func (w *response) sendHead() {
	w.headSent = true
	bw := w.c.bw
	b := append(bw.AvailableBuffer(), "HTTP/1.1 "...) // in place, when it fits
	b = strconv.AppendInt(b, int64(w.status), 10)
	b = append(b, ' ')
	b = append(b, http.StatusText(w.status)...)
	b = append(b, "\r\n"...)
	bw.Write(b)
	if _, ok := w.header["Date"]; !ok {
		bw.WriteString("Date: ")
		bw.Write(w.c.srv.date.get())
		bw.WriteString("\r\n")
	}
	if w.chunked {
		delete(w.header, "Content-Length")
		bw.WriteString("Transfer-Encoding: chunked\r\n")
	}
	if w.status == http.StatusNotModified || w.status == http.StatusNoContent {
		delete(w.header, "Content-Length")
	}
	if w.c.srv.shutting.Load() || w.unreadBody() {
		w.closeAfter = true
	}
	switch {
	case w.closeAfter:
		bw.WriteString("Connection: close\r\n") // writeFields skips the handler's
	case w.keepAlive:
		bw.WriteString("Connection: keep-alive\r\n")
	}
	w.writeFields()
	bw.WriteString("\r\n")
}

// unreadBody reports whether the request has a body the handler left
// unread that the server will not read either: a client still waiting for
// 100 Continue, or more than discardLimit. The connection then closes
// after the response, and the response says so. (A chunked body's size is
// not known: it is discarded after the response, or the connection closes
// without notice, as net/http does.)
func (w *response) unreadBody() bool {
	b := w.c.body
	if b == nil || b.eof {
		return false
	}
	return b.expect && !b.sent100 || !b.chunked && b.fixed.left > discardLimit
}

// writeFields writes the header map, dropping fields the server decides
// and keeping values on one line whatever the handler put in them.
func (w *response) writeFields() {
	bw := w.c.bw
	for k, vs := range w.header {
		switch k {
		case "Transfer-Encoding":
			continue
		case "Connection":
			if w.keepAlive || w.closeAfter {
				continue // written by sendHead
			}
		}
		for _, v := range vs {
			if v == "" && k == "Date" {
				continue // a nil or empty Date suppresses it, as in net/http
			}
			bw.WriteString(k)
			bw.WriteString(": ")
			if strings.ContainsAny(v, "\r\n") {
				v = strings.NewReplacer("\r", " ", "\n", " ").Replace(v)
			}
			bw.WriteString(v)
			bw.WriteString("\r\n")
		}
	}
}

// dateCache keeps the Date header's text for the current second.
type dateCache struct {
	v atomic.Pointer[dateText]
}

type dateText struct {
	sec int64
	b   []byte
}

func (d *dateCache) get() []byte {
	now := time.Now()
	if t := d.v.Load(); t != nil && t.sec == now.Unix() {
		return t.b
	}
	t := &dateText{sec: now.Unix(), b: now.UTC().AppendFormat(nil, http.TimeFormat)}
	d.v.Store(t)
	return t.b
}

// Serve accepts connections on ln and serves them until Shutdown; it
// returns nil after Shutdown, or the listener's error.
func (s *Server) Serve(ln net.Listener) error {
	if !s.track(ln) {
		ln.Close()
		return nil
	}
	defer s.untrack(ln)
	var backoff time.Duration
	for {
		nc, err := ln.Accept()
		if err != nil {
			if s.shutting.Load() {
				return nil
			}
			if outOfFDs(err) && s.makeRoom(true) > 0 {
				continue // accept again at once: their descriptors are free
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() || isTemporary(err) {
				// Out of file descriptors, say: wait and try again, as
				// net/http does, rather than spin or stop serving.
				backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
				s.cfg.Log.Warn(fmt.Sprintf("edge: accept: %v; retrying in %v", err, backoff))
				time.Sleep(backoff)
				continue
			}
			return err
		}
		backoff = 0
		s.makeRoom(false) // if MaxConns are open
		c := s.newConn(nc)
		if !s.add(c) {
			nc.Close()
			return nil
		}
		go c.start()
	}
}

// isTemporary reports whether an accept error is one to wait out (no
// file descriptors left), as net/http's Serve decides.
func isTemporary(err error) bool {
	var t interface{ Temporary() bool }
	return errors.As(err, &t) && t.Temporary()
}

func (s *Server) track(ln net.Listener) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.shutting.Load() {
		return false
	}
	s.listen[ln] = struct{}{}
	s.startTending()
	return true
}

func (s *Server) untrack(ln net.Listener) {
	s.mu.Lock()
	delete(s.listen, ln)
	s.mu.Unlock()
}

func (s *Server) add(c *conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.shutting.Load() {
		return false
	}
	s.conns[c] = struct{}{}
	return true
}

func (s *Server) forget(c *conn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
}

// Shutdown stops accepting connections, closes idle ones, and waits until
// ctx is done for the requests in flight to finish; connections that
// carried one are closed after it. What is still in flight then is
// abandoned (see abandon) and has abandonGrace more to answer. Upgraded
// connections are their handler's. It returns ctx's error if ctx ended
// before it was done.
func (s *Server) Shutdown(ctx context.Context) (err error) {
	s.mu.Lock()
	s.shutting.Store(true)
	for ln := range s.listen {
		ln.Close()
	}
	s.mu.Unlock()
	s.stopTending()
	defer s.cfg.Proxy.Close()
	abandoned := make(chan struct{})
	stopAbandon := context.AfterFunc(ctx, func() {
		defer close(abandoned)
		s.abandon()
	})
	defer func() {
		if !stopAbandon() {
			<-abandoned
		}
	}()
	h2done := make(chan error, 1)
	go func() { h2done <- s.h2.shutdown(ctx) }()
	defer func() {
		if h2err := <-h2done; err == nil {
			err = h2err
		}
	}()

	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	done := ctx.Done()
	var graceOver <-chan time.Time
	for {
		s.mu.Lock()
		n := 0
		for c := range s.conns {
			if s.closeIdle(c) {
				c.nc.Close()
			}
			if st := c.state.Load(); st != connHijacked && st != connH2Idle {
				n++
			}
		}
		s.mu.Unlock()
		if n == 0 {
			return ctx.Err()
		}
		select {
		case <-done: // what is still in flight is abandoned
			done = nil
			grace := time.NewTimer(abandonGrace)
			defer grace.Stop()
			graceOver = grace.C
		case <-graceOver:
			return ctx.Err()
		case <-tick.C:
		}
	}
}

// abandon gives up on the requests still in flight when Shutdown's
// deadline has passed: their contexts end with errShutdown as the cause,
// so that the proxy answers them 503 rather than take them for requests
// whose client left, and their exchanges with the instances are cut, so
// that none waits for an answer that would come too late.
func (s *Server) abandon() {
	s.cancel(errShutdown)
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.conns {
		c.abort.abort()
	}
}
