package edge

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// upstream is the edge's HTTP/1.1 client to the web instances. It does
// what http.Transport does for this one case — keep-alive connections to
// a few loopback addresses — but in the calling goroutine: a request is
// written and its response read without the two goroutines and channel
// hand-offs per request that http.Transport uses, which on a small machine
// cost more than the proxying itself.
type upstream struct {
	dialer      net.Dialer
	idleTimeout time.Duration // an idle connection older than this is not reused
	maxIdle     int           // per address
	readTimeout time.Duration // for the response headers, and each read of the body

	mu      sync.Mutex
	idle    map[string][]*upConn // by address, most recent last
	bufs    sync.Pool            // *bufio.Writer
	readers sync.Pool            // *bufio.Reader
}

// upConn is one connection to an instance.
type upConn struct {
	net.Conn
	br       *bufio.Reader
	lastUsed time.Time
	deadline time.Time  // the read deadline last set
	readers  *sync.Pool // where br goes when the connection is closed
	scratch  []byte     // for readResponse
}

// readBy makes the next read fail if nothing comes within d.
func (c *upConn) readBy(d time.Duration) {
	now := time.Now()
	if recentDeadline(c.deadline, now, d) {
		return
	}
	c.deadline = now.Add(d)
	c.SetReadDeadline(c.deadline)
}

// recentDeadline reports whether set, a read deadline in force, may stand
// for one d from now: it was set for d very recently (a tenth of d, at
// most a second, ago), so it is late by at most that. Moving a deadline
// costs a lock and a timer update.
func recentDeadline(set, now time.Time, d time.Duration) bool {
	left := set.Sub(now)
	return left <= d && left > d-min(d/10, time.Second)
}

func newUpstream(readTimeout time.Duration) *upstream {
	return &upstream{
		// No TCP keep-alive: the instances are on loopback, their idle
		// connections are dropped after idleTimeout, and the four
		// setsockopt calls it costs per connection matter to an app that
		// closes every connection (gunicorn's sync workers).
		dialer:      net.Dialer{Timeout: 5 * time.Second, KeepAlive: -1},
		idleTimeout: time.Second,
		maxIdle:     256,
		readTimeout: readTimeout,
		idle:        make(map[string][]*upConn),
	}
}

// get returns an idle connection to addr that is young enough, or dials a
// new one (always, with fresh). reused says which. With check, an idle connection is first
// checked to be open (a syscall): for requests that cannot simply be sent
// again when the connection turns out closed.
func (u *upstream) get(ctx context.Context, addr string, check, fresh bool) (c *upConn, reused bool, err error) {
	now := time.Now()
	u.mu.Lock()
	for list := u.idle[addr]; len(list) > 0 && !fresh; list = u.idle[addr] {
		c = list[len(list)-1]
		u.idle[addr] = list[:len(list)-1]
		if now.Sub(c.lastUsed) < u.idleTimeout && (!check || c.open()) {
			u.mu.Unlock()
			return c, true, nil
		}
		c.Close() // closed by the app, or it may be closing it right now
	}
	u.mu.Unlock()
	nc, err := u.dial(ctx, addr)
	if err != nil {
		return nil, false, err
	}
	br, _ := u.readers.Get().(*bufio.Reader)
	if br == nil {
		br = bufio.NewReaderSize(nc, 16<<10)
	} else {
		br.Reset(nc)
	}
	return &upConn{Conn: nc, br: br, readers: &u.readers}, false, nil
}

// Close closes the connection and gives its buffer back. An app that
// closes every connection (gunicorn's sync workers) would otherwise cost
// a 16 KiB buffer of garbage per request.
func (c *upConn) Close() error {
	err := c.Conn.Close()
	if c.br != nil {
		c.br.Reset(nil)
		c.readers.Put(c.br)
		c.br = nil
	}
	return err
}

// open reports whether an idle connection is still open: the app has not
// closed it (nor sent anything unasked). It peeks without waiting, so a
// connection the app closed while idle — or whose process died — is never
// sent a request that would then fail.
func (c *upConn) open() bool {
	if c.br.Buffered() > 0 {
		return false
	}
	sc, ok := c.Conn.(syscall.Conn)
	if !ok {
		return true
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return true
	}
	alive := true
	var b [1]byte
	rc.Read(func(fd uintptr) bool {
		// Nothing to read yet (EAGAIN) is the only answer of an open,
		// idle connection; EOF, data or an error all mean it is done.
		_, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		alive = err == syscall.EAGAIN || err == syscall.EWOULDBLOCK
		return true // never wait
	})
	return alive
}

// put keeps c for reuse.
func (u *upstream) put(addr string, c *upConn) {
	c.lastUsed = time.Now() // its read deadline is left: the next use sets one first
	u.mu.Lock()
	if len(u.idle[addr]) < u.maxIdle {
		u.idle[addr] = append(u.idle[addr], c)
		c = nil
	}
	u.mu.Unlock()
	if c != nil {
		c.Close()
	}
}

// closeIdle closes every idle connection.
func (u *upstream) closeIdle() {
	u.mu.Lock()
	idle := u.idle
	u.idle = make(map[string][]*upConn)
	u.mu.Unlock()
	for _, list := range idle {
		for _, c := range list {
			c.Close()
		}
	}
}

// errStale marks a failure on a reused connection before any of the
// response came: the instance had closed it. The request is sent again on
// a new connection when that is safe.
type errStale struct {
	err  error
	sent bool // the request was written whole
}

func (e *errStale) Error() string { return e.err.Error() }
func (e *errStale) Unwrap() error { return e.err }

// roundTrip sends req (method, request URI, Host and headers taken from
// it; body and its length given) to addr and returns the response with its
// header read, which may come before the request's body is all written
// (an app refusing an upload). The caller must read the body to EOF and
// close it, which returns the connection to the pool when it can be
// reused, and stops writing a request body the app left unread.
//
// body returns the request body from its start; it is called again if the
// request has to be sent again. req and the body are read until the
// response's body is closed.
func (u *upstream) roundTrip(ctx context.Context, addr string, req *http.Request, uri string, body func() io.Reader, length int64) (*http.Response, error) {
	resp, err := u.try(ctx, addr, req, uri, body(), length, false)
	var stale *errStale
	if errors.As(err, &stale) && (idempotent(req.Method) || !stale.sent) {
		// Once more, on a new connection: the app never had this request,
		// or a GET may be asked again.
		resp, err = u.try(ctx, addr, req, uri, body(), length, true)
	}
	return resp, err
}

// try sends req once, on a new connection if fresh, else on an idle one
// if there is one.
func (u *upstream) try(ctx context.Context, addr string, req *http.Request, uri string, body io.Reader, length int64, fresh bool) (*http.Response, error) {
	// A request that may be sent twice skips the check: if the app closed
	// the connection, roundTrip sends it again on a new one.
	c, reused, err := u.get(ctx, addr, !idempotent(req.Method), fresh)
	if err != nil {
		return nil, err
	}
	// Cancel the exchange when the client leaves: wake any blocked I/O.
	x, _ := ctx.Value(exchangeKey{}).(*exchange)
	stop := abortOnDone(ctx, x, c)

	var bw *bodyWriter
	if length > 0 {
		// The handshake is seen through here, so that a failed one is
		// a dial error (the request may go elsewhere), not the body
		// writer's.
		if err := c.confirm(); err != nil {
			stop.stop()
			c.Close()
			return nil, err
		}
		// The body is written while the response is read: an app may
		// answer before it has read the body (a 400 or a 413 for an upload
		// it refuses), and then close the connection or stop reading.
		bw = u.startWrite(c, req, uri, body, length)
	} else {
		c.readBy(u.readTimeout) // before the write, which waits for the response
		if err := u.write(c, req, uri, nil, 0); err != nil {
			stop.stop()
			c.Close()
			if reused && ctx.Err() == nil {
				return nil, &errStale{err: err}
			}
			return nil, err
		}
	}

	var resp *http.Response
	var ra *respAlloc
	if x != nil {
		ra = &x.resp
	}
	for {
		resp, err = readResponse(c.br, &c.scratch, req, ra)
		if err != nil || resp.StatusCode >= 200 || resp.StatusCode == http.StatusSwitchingProtocols {
			break
		}
		// A 1xx before the real response (103 Early Hints): skip it.
	}
	if err != nil {
		stop.stop()
		sent := bw.end() == nil
		unread := c.br.Buffered()
		c.Close()
		if reused && ctx.Err() == nil && !isTimeout(err) && unread == 0 {
			return nil, &errStale{err: err, sent: sent}
		}
		return nil, err
	}
	if resp.StatusCode == http.StatusSwitchingProtocols {
		// This client sends no Upgrade (a WebSocket goes through
		// serveUpgrade): an app that switches anyway would have the
		// client's connection pass the edge from now on.
		stop.stop()
		c.Close()
		return nil, &errBadResponse{"101 Switching Protocols to a request that asked for no switch"}
	}
	var ub *upBody
	if ra != nil {
		ub = &ra.body
	} else {
		ub = new(upBody)
	}
	*ub = upBody{u: u, addr: addr, c: c, rc: resp.Body, stop: stop, keep: !resp.Close, bw: bw}
	resp.Body = ub
	return resp, nil
}

// write writes req's head and body to c. A request without a body goes
// in one write, which returns once the response begins to come (see
// upConn.ask).
func (u *upstream) write(c *upConn, req *http.Request, uri string, body io.Reader, length int64) error {
	bw, _ := u.bufs.Get().(*bufio.Writer)
	if bw == nil {
		bw = bufio.NewWriterSize(nil, 16<<10)
	}
	var err error
	if length > 0 {
		bw.Reset(c)
		err = writeRequest(bw, req, uri, body, length)
	} else {
		// The head is made in the writer's empty buffer, and sent from it.
		err = c.ask(appendHead(bw.AvailableBuffer(), req, uri, length))
	}
	bw.Reset(nil)
	u.bufs.Put(bw)
	return err
}

// An asker sends a whole request and waits for the response to begin
// (fileConn).
type asker interface{ ask(p []byte) error }

// A confirmer finishes a connect that may still be under way, and returns
// a dial error if it failed (fileConn).
type confirmer interface{ confirm() error }

// ask writes p, a whole request, and returns once the response may be
// read.
func (c *upConn) ask(p []byte) error {
	if a, ok := c.Conn.(asker); ok {
		return a.ask(p)
	}
	_, err := c.Conn.Write(p)
	return err
}

// confirm waits for c's handshake, if it may still be under way.
func (c *upConn) confirm() error {
	if cf, ok := c.Conn.(confirmer); ok {
		return cf.confirm()
	}
	return nil
}

// bodyWriter writes a request with a body in a goroutine of its own, so
// that the response can be read meanwhile. try owns it, then the body of
// the response it returns: end waits for it.
type bodyWriter struct {
	c     *upConn
	done  chan error
	err   error
	ended bool
}

// startWrite starts writing req with its body to c. The read deadline
// for the response is set once the body is in, as when it was written
// before the response was read: the app has readTimeout from then.
func (u *upstream) startWrite(c *upConn, req *http.Request, uri string, body io.Reader, length int64) *bodyWriter {
	c.deadline = time.Time{} // readBy sets the next one afresh
	c.SetReadDeadline(time.Time{})
	w := &bodyWriter{c: c, done: make(chan error, 1)}
	go func() {
		err := u.write(c, req, uri, body, length)
		c.SetReadDeadline(time.Now().Add(u.readTimeout))
		w.done <- err
	}()
	return w
}

// end stops the write if it still runs (the app answered without reading
// the whole body, or did not answer), waits for it, and returns its
// error: nil if the whole request was written. A nil w wrote nothing.
func (w *bodyWriter) end() error {
	if w == nil {
		return nil
	}
	if !w.ended {
		w.ended = true
		select {
		case w.err = <-w.done:
		default:
			w.c.SetWriteDeadline(aLongTimeAgo())
			if w.err = <-w.done; w.err == nil {
				w.c.SetWriteDeadline(time.Time{}) // done just before: the connection may be kept
			}
		}
	}
	return w.err
}

// writeRequest writes an HTTP/1.1 request head and body to bw and flushes.
func writeRequest(bw *bufio.Writer, req *http.Request, uri string, body io.Reader, length int64) error {
	bw.Write(appendHead(bw.AvailableBuffer(), req, uri, length))
	if length > 0 {
		if _, err := io.Copy(bw, body); err != nil {
			return err
		}
	}
	return bw.Flush()
}

// appendHead appends the HTTP/1.1 request head of req, for a body of
// length bytes, to b.
func appendHead(b []byte, req *http.Request, uri string, length int64) []byte {
	b = append(b, req.Method...)
	b = append(b, ' ')
	b = append(b, uri...)
	b = append(b, " HTTP/1.1\r\nHost: "...)
	b = append(b, req.Host...)
	b = append(b, "\r\n"...)
	for k, vs := range req.Header {
		if k == "Host" || k == "Content-Length" {
			continue
		}
		for _, v := range vs {
			b = append(b, k...)
			b = append(b, ": "...)
			b = append(b, v...)
			b = append(b, "\r\n"...)
		}
	}
	if length > 0 || req.Method == http.MethodPost || req.Method == http.MethodPut || req.Method == http.MethodPatch {
		b = append(b, "Content-Length: "...)
		b = strconv.AppendInt(b, length, 10)
		b = append(b, "\r\n"...)
	}
	return append(b, "\r\n"...)
}

// upBody is a response body that gives its connection back to the pool
// once read to the end, or closes it otherwise.
type upBody struct {
	u    *upstream
	addr string
	c    *upConn
	rc   io.ReadCloser
	stop stopFunc
	bw   *bodyWriter // nil if the request had no body
	keep bool
	eof  bool
	done bool
}

func (b *upBody) Read(p []byte) (int, error) {
	if b.done {
		return 0, io.EOF
	}
	b.c.readBy(b.u.readTimeout)
	n, err := b.rc.Read(p)
	if err == io.EOF {
		b.eof = true
	}
	return n, err
}

func (b *upBody) Close() error {
	if b.done {
		return nil
	}
	b.done = true
	canceled := !b.stop.stop()
	b.rc.Close()
	// An app that answered before it read the whole body has the rest of
	// it still to come on this connection: it is not used again.
	whole := b.bw.end() == nil
	if b.eof && b.keep && whole && !canceled && b.c.br.Buffered() == 0 {
		b.u.put(b.addr, b.c)
		return nil
	}
	return b.c.Close()
}

// An abortSlot is where the edge's server lets its client's connection
// reach the upstream connection serving it: when the client leaves, the
// exchange is cut at once (see conn.watch). It spares every request a
// context.AfterFunc registration, which costs allocations and the
// context's lock.
type abortSlot struct {
	mu      sync.Mutex
	c       net.Conn
	aborted bool
}

// exchange is what the edge's server keeps per client connection for the
// exchanges of its requests with the instances, found through a request's
// context (exchangeKey): the slot that cuts an exchange when the client
// leaves, and the storage of the response, reused from one request to the
// next since a connection carries one request at a time.
type exchange struct {
	abort *abortSlot // the client connection's
	resp  respAlloc
}

type exchangeKey struct{}

// set makes c the connection to cut; nil clears it. It reports false if
// the client had already left.
func (s *abortSlot) set(c net.Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.c = c
	return !s.aborted
}

// abort cuts the connection set, and any set later.
func (s *abortSlot) abort() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.aborted = true
	if s.c != nil {
		s.c.SetDeadline(aLongTimeAgo())
	}
}

// stopFunc undoes abortOnDone; stop reports false if the cut happened.
type stopFunc struct {
	slot  *abortSlot
	after func() bool
}

func (f stopFunc) stop() bool {
	if f.slot != nil {
		return f.slot.set(nil)
	}
	return f.after()
}

// abortOnDone cuts c when ctx is done: through x's abortSlot when the
// edge's own server serves the request, else (x nil) with
// context.AfterFunc.
func abortOnDone(ctx context.Context, x *exchange, c net.Conn) stopFunc {
	if x != nil {
		if !x.abort.set(c) {
			c.SetDeadline(aLongTimeAgo())
		}
		return stopFunc{slot: x.abort}
	}
	return stopFunc{after: context.AfterFunc(ctx, func() { c.SetDeadline(aLongTimeAgo()) })}
}
