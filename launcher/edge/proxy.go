package edge

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/corral-run/corral/internal/logesc"
	"github.com/corral-run/corral/launcher/httpcache"
)

// Options configures a Proxy. Zero values take the defaults noted.
type Options struct {
	// BootWait is how long a request waits for a ready instance before it
	// gets a 503 (default 30s).
	BootWait time.Duration
	// MaxBody is the largest request body accepted; larger gets 413. Zero
	// means no limit, as 0 does for nginx's client_max_body_size.
	MaxBody int64
	// MemBuffer is how much of one body is held in memory before the rest
	// goes to a temporary file (default 256 KiB).
	MemBuffer int
	// UpstreamTimeout bounds the wait for an instance's response headers;
	// past it the client gets 504 (default 60s).
	UpstreamTimeout time.Duration
	// BodyTimeout bounds the wait for each read of a client's request body
	// (default 60s, as nginx's client_body_timeout).
	BodyTimeout time.Duration
	// TrustedProxies are the peers whose X-Forwarded-* headers are believed.
	TrustedProxies []netip.Prefix
	// TempDir holds the temporary files of large bodies ("" = os.TempDir()).
	TempDir string
	// Log receives the proxy's own errors.
	Log *slog.Logger
	// AccessLog, if not nil, is called once per request: those the proxy
	// answers, and the static files the Server answers itself (not its
	// health path).
	AccessLog func(Access)
	// Observer, if not nil, is told of each request answered, of the
	// instances' failures, of retries and of waits at the boot gate.
	Observer Observer
	// Internal, if not nil, sends the files the app's responses name
	// (X-Accel-Redirect, X-Sendfile) in their place, and keeps clients
	// out of its directories.
	Internal InternalFiles
	// Cache, if not nil, answers the GETs and HEADs it may from what it
	// holds, and holds the responses the app marks for shared caches
	// (see cache.go).
	Cache *httpcache.Cache
}

// Access describes one request the edge answered, for the access log.
type Access struct {
	// Kind says what answered: the app (through the proxy) or the
	// static files.
	Kind   Kind
	Method string
	// Target is the request target as the client sent it (RequestURI),
	// raw: what a log writes of it must be escaped (internal/logesc).
	Target    string
	Status    int
	Bytes     int64
	Duration  time.Duration
	Instance  string // "" if no instance served it
	RequestID string
	// Cut says the response was broken off after it began (its status and
	// Bytes were sent): the instance stopped sending, Shutdown gave up on
	// it, or the client left. The client saw it incomplete.
	Cut bool
	// Cache is how the response cache answered the request (an
	// httpcache.Outcome's word: hit, miss, stale, revalidated), "" when
	// it had no part in it.
	Cache string
}

func (o *Options) defaults() {
	if o.BootWait == 0 {
		o.BootWait = 30 * time.Second
	}
	if o.MemBuffer == 0 {
		o.MemBuffer = 256 << 10
	}
	if o.UpstreamTimeout == 0 {
		o.UpstreamTimeout = 60 * time.Second
	}
	if o.BodyTimeout == 0 {
		o.BodyTimeout = 60 * time.Second
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
}

// Proxy forwards requests to the balancer's instances, the way nginx does
// for gunicorn: the request body is read whole before an instance is
// chosen, the response is read whole before it is sent, so a slow client
// never holds an app worker; a request that could not reach one instance is
// sent to another.
type Proxy struct {
	bal       *Balancer
	opts      Options
	transport *http.Transport
	bufs      sync.Pool // *spill for bodies
	up        *upstream // for requests
	comp      *compressor
	host      recentHost
	cache     *proxyCache // nil: no response cache
}

// NewProxy returns a Proxy routing to bal.
func NewProxy(bal *Balancer, opts Options) *Proxy {
	opts.defaults()
	p := &Proxy{
		bal:  bal,
		opts: opts,
		transport: &http.Transport{
			Proxy:               nil,
			DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			MaxIdleConns:        1024,
			MaxIdleConnsPerHost: 256,
			// Shorter than app servers' keep-alive (gunicorn 2s, uvicorn
			// and Node 5s), so the edge closes an idle connection before the
			// app does, and seldom sends on one the app is closing.
			IdleConnTimeout:       time.Second,
			ResponseHeaderTimeout: opts.UpstreamTimeout,
			DisableCompression:    true, // the client's Accept-Encoding decides, end to end
			WriteBufferSize:       32 << 10,
			ReadBufferSize:        32 << 10,
		},
	}
	p.bufs.New = newPooledSpill
	if opts.Cache != nil {
		p.cache = newProxyCache(opts.Cache)
	}
	p.up = newUpstream(opts.UpstreamTimeout)
	p.comp = newCompressor(0)
	// Kept-alive connections to an instance that left are dead; drop them
	// before a request is sent on one.
	bal.onLeave = func() {
		p.up.closeIdle()
		p.transport.CloseIdleConnections()
	}
	return p
}

// Close stops the cache's background revalidations and waits for them,
// and closes idle upstream connections.
func (p *Proxy) Close() {
	if p.cache != nil {
		p.cache.stop()
	}
	p.up.closeIdle()
	p.transport.CloseIdleConnections()
}

// RecentHost is the Host of the latest request forwarded to an instance,
// or "" before the first: the readiness probe's Host where nothing better
// is known (see AnswerProbe).
func (p *Proxy) RecentHost() string { return p.host.get() }

// statusClientGone is logged, as nginx does, when the client left before
// the response.
const statusClientGone = 499

func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	acc := Access{Method: r.Method, Target: r.RequestURI}
	defer func() {
		if p.opts.AccessLog == nil && p.opts.Observer == nil {
			return
		}
		acc.Duration = time.Since(start)
		if p.opts.AccessLog != nil {
			p.opts.AccessLog(acc)
		}
		if p.opts.Observer != nil {
			p.opts.Observer.Request(KindApp, acc.Status, acc.Duration)
		}
	}()

	p.host.see(r.Host)
	upgrade := isUpgrade(r)
	out := r.Header // the request is ours: its header is edited in place
	if upgrade {
		out = r.Header.Clone() // httputil.ReverseProxy reads the original
	}
	removeHopHeaders(out)
	delete(out, "Expect") // the body is read here; the instance gets it whole
	acc.RequestID = p.forwardHeaders(out, r)
	w.Header()["X-Request-Id"] = []string{acc.RequestID}
	if tunnelMethod(r.Method) {
		acc.Status = refuseTunnel(w, r)
		return
	}
	if upgrade {
		acc.Status, acc.Instance = p.serveUpgrade(w, r, out)
		return
	}

	if p.cache != nil && cacheable(r) {
		p.serveCached(w, r, &acc)
	} else {
		body, status := p.readBody(w, r)
		if body != nil {
			defer body.release()
		}
		if status != 0 {
			acc.Status = status
			return
		}
		if status := p.route(w, r, func(be *Backend) (again retry) {
			acc.Instance = be.Name
			acc.Status, acc.Bytes, again, acc.Cut = p.forward(w, r, body, be)
			return again
		}); status != 0 {
			acc.Status = status
		}
		p.invalidate(r, acc.Status)
	}
	if acc.Cut {
		// The response began and cannot end as it should: the client must
		// see it broken off, not complete. net/http's convention, which
		// the edge's server keeps too: the connection is closed (HTTP/2:
		// the stream is reset) without finishing the response.
		panic(http.ErrAbortHandler)
	}
}

// route sends r to instances until attempt is done with one: it picks an
// instance (waiting at the boot gate while none is ready, for at most
// BootWait), and picks another, not tried yet, when attempt asks to
// retry. It returns 0 once an attempt is done, or the status of the error
// it answered itself (502 when every instance failed, 503 when none was
// ready in time or none is coming as corral stops, 499 when the client
// left).
func (p *Proxy) route(w http.ResponseWriter, r *http.Request, attempt func(*Backend) retry) int {
	return p.routeWithin(w, r, p.opts.BootWait, attempt)
}

// routeWithin is route with a wait at the boot gate of at most wait.
func (p *Proxy) routeWithin(w http.ResponseWriter, r *http.Request, wait time.Duration, attempt func(*Backend) retry) int {
	var tried []*Backend
	gate := bootGate{wait: wait, obs: p.opts.Observer}
	defer gate.stop()
	deaths := 0
	for {
		be, status := p.choose(w, r, tried, &gate)
		if be == nil {
			return status
		}
		if len(tried) > 0 && p.opts.Observer != nil {
			p.opts.Observer.Retry()
		}
		switch attempt(be) {
		case retryNo:
			return 0
		case retryDied:
			if deaths++; deaths > maxResends {
				p.opts.Log.Warn(fmt.Sprintf("edge: %s %s: the instances it was sent to died with it %d times; not sending it again",
					logesc.String(r.Method), logesc.String(r.RequestURI), deaths))
				return p.fail(w, r, http.StatusBadGateway, "the app failed to answer this request")
			}
		}
		tried = append(tried, be)
	}
}

// retry says whether a request goes to another instance after an
// attempt, and why.
type retry uint8

const (
	retryNo        retry = iota // answered, or failed for good
	retryUnreached              // nothing reached the instance: safe whatever the method
	retryDied                   // the instance died with an idempotent request
)

// maxResends bounds how many times a request whose instance died with it
// is sent again. Once covers an instance that crashed or was killed for
// another reason; a request that kills every instance it reaches (a
// worker OOM-killed by the kernel, a segfault) would otherwise kill each
// restart in turn, as long as the client waits.
const maxResends = 1

// unreachable takes be out of rotation after a failed dial.
func (p *Proxy) unreachable(be *Backend, err error) {
	p.upstreamFailed()
	p.opts.Log.Warn(fmt.Sprintf("edge: cannot reach %s (%s): %v; taking it out of rotation", be.Name, be.Addr, unwrapDial(err)))
	p.bal.MarkDown(be)
}

// upstreamFailed tells the Observer an instance could not answer.
func (p *Proxy) upstreamFailed() {
	if p.opts.Observer != nil {
		p.opts.Observer.UpstreamError()
	}
}

// readBody reads the request body whole, so that no instance waits on a
// slow client. It returns a non-zero status if it answered the request
// itself (413, 408, 500), or statusClientGone if the client left.
func (p *Proxy) readBody(w http.ResponseWriter, r *http.Request) (*spill, int) {
	if r.ContentLength == 0 || r.Body == nil || r.Body == http.NoBody {
		return nil, 0
	}
	tooLarge := func() int {
		return p.fail(w, r, http.StatusRequestEntityTooLarge, "request body larger than the limit of "+sizeString(p.opts.MaxBody))
	}
	limit := p.opts.MaxBody
	if limit <= 0 {
		limit = -1
	}
	if limit >= 0 && r.ContentLength > limit {
		return nil, tooLarge()
	}
	body := newSpill(&p.bufs, p.opts.MemBuffer, p.opts.TempDir)
	err := body.fill(&deadlineReader{r: r.Body, rc: http.NewResponseController(w), idle: p.opts.BodyTimeout}, limit)
	var store *storeError
	var bad *headError
	switch {
	case err == nil:
		return body, 0
	case errors.As(err, &bad): // a malformed chunk, or an ambiguous trailer
		return body, p.fail(w, r, bad.status, bad.reason)
	case errors.Is(err, errTooLarge):
		return body, tooLarge()
	case errors.As(err, &store):
		p.opts.Log.Error("edge: " + err.Error())
		return body, p.fail(w, r, http.StatusInternalServerError, "the request body could not be buffered")
	case isTimeout(err):
		return body, p.fail(w, r, http.StatusRequestTimeout, fmt.Sprintf("no part of the request body came for %v", p.opts.BodyTimeout))
	default:
		return body, p.ended(w, r) // it went away, or Shutdown gave up on it
	}
}

// choose picks the instance for a request, skipping those tried. With none
// ready it waits at the boot gate until one is, or until the gate's wait
// expires or the gate is closed (503). It returns a nil Backend with the
// status it answered with.
func (p *Proxy) choose(w http.ResponseWriter, r *http.Request, tried []*Backend, gate *bootGate) (*Backend, int) {
	for {
		if be := p.bal.Pick(tried); be != nil {
			return be, 0
		}
		if p.bal.ReadyCount() > 0 {
			// Every ready instance has failed this request.
			return nil, p.fail(w, r, http.StatusBadGateway, "no instance could answer this request")
		}
		// None ready (booting, restarting, asleep, or all just failed).
		if p.bal.gateClosed() {
			return nil, p.stopping(w, r) // and none is coming
		}
		p.bal.want()
		began := time.Now()
		var expired, gone bool
		select {
		case <-p.bal.Ready():
			tried = nil // the ready ones may be new, or back
		case <-p.bal.closed: // answered above, unless one just got ready
		case <-gate.expired():
			expired = true
		case <-r.Context().Done():
			gone = true
		}
		gate.waited += time.Since(began)
		switch {
		case expired:
			return nil, p.fail(w, r, http.StatusServiceUnavailable, "the app is not ready yet")
		case gone:
			return nil, p.ended(w, r)
		}
	}
}

// bootGate is a request's wait for a ready instance: at most wait in all,
// counted from the first time it has to wait. Most requests never wait,
// and start no timer.
type bootGate struct {
	wait   time.Duration
	timer  *time.Timer
	waited time.Duration // in all, so far; 0 if it never waited
	obs    Observer      // told of the wait, if any, at stop
}

func (g *bootGate) expired() <-chan time.Time {
	if g.timer == nil {
		g.timer = time.NewTimer(g.wait)
	}
	return g.timer.C
}

func (g *bootGate) stop() {
	if g.timer != nil {
		g.timer.Stop()
	}
	if g.waited > 0 && g.obs != nil {
		g.obs.GateWait(g.waited)
	}
}

// forward sends the request, whose header is the one for the instance
// (see ServeHTTP), to be and relays the answer. It returns the
// status and body size sent to the client, or, when nothing was sent to
// the client and the request may go to another instance, why (again);
// cut if a streamed response broke off before its end.
func (p *Proxy) forward(w http.ResponseWriter, r *http.Request, body *spill, be *Backend) (status int, n int64, again retry, cut bool) {
	req := r // its header was made the instance's in ServeHTTP
	uri := r.RequestURI
	if uri == "" || uri[0] != '/' && uri != "*" {
		uri = r.URL.RequestURI() // absolute-form from the client: send origin-form
	}
	var length int64
	bodyFn := func() io.Reader { return nil }
	if body != nil && body.Len() > 0 {
		length = body.Len()
		bodyFn = body.reader
	}

	be.inflight.Add(1)
	resp, err := p.up.roundTrip(r.Context(), be.Addr, req, uri, bodyFn, length)
	if err != nil {
		be.inflight.Add(-1)
		switch {
		case r.Context().Err() != nil:
			return p.ended(w, r), 0, retryNo, false
		case isDialError(err):
			// Nothing was sent: safe to try another instance, whatever the method.
			p.unreachable(be, err)
			return 0, 0, retryUnreached, false
		case isTimeout(err):
			p.upstreamFailed()
			p.opts.Log.Warn(fmt.Sprintf("edge: %s did not answer %s %s within %v", be.Name, logesc.String(r.Method), logesc.String(r.RequestURI), p.opts.UpstreamTimeout))
			return p.fail(w, r, http.StatusGatewayTimeout, "the app did not answer in time"), 0, retryNo, false
		case idempotent(r.Method):
			// The instance died mid-request; a GET can safely be asked again.
			p.upstreamFailed()
			p.opts.Log.Warn(fmt.Sprintf("edge: %s failed %s %s: %v; retrying elsewhere", be.Name, logesc.String(r.Method), logesc.String(r.RequestURI), err))
			return 0, 0, retryDied, false
		default:
			p.upstreamFailed()
			p.opts.Log.Warn(fmt.Sprintf("edge: %s failed %s %s: %v", be.Name, logesc.String(r.Method), logesc.String(r.RequestURI), err))
			return p.fail(w, r, http.StatusBadGateway, "the app failed to answer"), 0, retryNo, false
		}
	}
	be.served.Add(1)

	if p.opts.Internal != nil && p.opts.Internal.Named(resp.Header) {
		status, n, cut = p.sendInternal(w, r, resp, be)
		return status, n, retryNo, cut
	}
	if streaming(resp) {
		defer be.inflight.Add(-1)
		defer resp.Body.Close()
		p.writeHeader(w, resp, -1)
		n, cut = flushCopy(w, resp.Body, nil)
		return resp.StatusCode, n, retryNo, cut
	}

	// Read the whole response, then free the instance, then send it. A
	// response of unknown length that stops coming for a moment is one the
	// app is flushing as it goes: it is passed on as it comes from then on.
	buf := newSpill(&p.bufs, p.opts.MemBuffer, p.opts.TempDir)
	defer buf.release()
	if resp.ContentLength < 0 && !bodyless(resp.StatusCode) && r.Method != http.MethodHead {
		pm := startPump(resp.Body)
		stalled, ferr := fillUntilStall(buf, pm, flushStall)
		if stalled {
			p.writeHeader(w, resp, -1)
			n, cut = flushCopy(w, pm, buf.reader())
		}
		resp.Body.Close()
		pm.close()
		be.inflight.Add(-1)
		if stalled {
			return resp.StatusCode, n, retryNo, cut
		}
		err = ferr
	} else {
		err = buf.fill(resp.Body, -1)
		resp.Body.Close()
		be.inflight.Add(-1)
	}
	if err != nil {
		if r.Context().Err() != nil {
			return p.ended(w, r), 0, retryNo, false
		}
		var store *storeError
		if !errors.As(err, &store) { // the instance's fault, not the disk's
			p.upstreamFailed()
		}
		if idempotent(r.Method) {
			// Nothing has reached the client yet: ask another instance.
			p.opts.Log.Warn(fmt.Sprintf("edge: %s broke off the response to %s %s: %v; retrying elsewhere", be.Name, logesc.String(r.Method), logesc.String(r.RequestURI), err))
			return 0, 0, retryDied, false
		}
		p.opts.Log.Warn(fmt.Sprintf("edge: %s broke off the response to %s %s: %v", be.Name, logesc.String(r.Method), logesc.String(r.RequestURI), err))
		return p.fail(w, r, http.StatusBadGateway, "the app broke off its response"), 0, retryNo, false
	}
	out := buf
	if r.Method != http.MethodHead && p.comp.compressible(resp.Header, resp.StatusCode, buf.Len()) {
		if acceptsGzip(r.Header["Accept-Encoding"]) {
			z := newSpill(&p.bufs, p.opts.MemBuffer, p.opts.TempDir)
			defer z.release()
			if zn, err := p.comp.compress(z, buf.reader()); err == nil {
				prepareHeader(resp.Header, zn)
				out = z
			}
		} else {
			addVary(resp.Header) // caches must know it varies anyway
		}
	}
	p.writeHeader(w, resp, out.Len())
	if r.Method != http.MethodHead {
		n, _ = io.Copy(w, out.reader())
	}
	return resp.StatusCode, n, retryNo, false
}

// flushStall is how long a response of unknown length may pause before the
// edge takes it for one the app flushes on purpose (a progress stream, a
// long poll) and passes it on as it comes.
const flushStall = 100 * time.Millisecond

// fillUntilStall reads from pump into buf until EOF, or until pump has
// produced nothing for stall, in which case it reports stalled: the caller
// then streams buf and the rest of pump.
func fillUntilStall(buf *spill, pump *pump, stall time.Duration) (stalled bool, err error) {
	timer := time.NewTimer(stall)
	defer timer.Stop()
	for {
		select {
		case c := <-pump.chunks:
			if len(c.b) > 0 {
				if werr := buf.write(c.b); werr != nil {
					return false, &storeError{werr}
				}
				buf.size += int64(len(c.b))
			}
			if c.err != nil {
				if c.err == io.EOF {
					return false, nil
				}
				return false, c.err
			}
			pump.ack <- struct{}{}
			timer.Reset(stall)
		case <-timer.C:
			return true, nil
		}
	}
}

// pump reads a response body in a goroutine of its own, so that the proxy
// can wait for the next chunk and a timer at once. Its owner must call
// close, after closing the body it reads.
type pump struct {
	chunks  chan chunk
	ack     chan struct{}
	stop    chan struct{}
	done    chan struct{}
	pending []byte // for Read: the rest of the last chunk
	err     error
}

type chunk struct {
	b   []byte
	err error
}

func startPump(r io.Reader) *pump {
	p := &pump{chunks: make(chan chunk), ack: make(chan struct{}), stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(p.done)
		b := make([]byte, 32<<10)
		for {
			n, err := r.Read(b)
			select {
			case p.chunks <- chunk{b[:n], err}:
			case <-p.stop:
				return
			}
			if err != nil {
				return
			}
			select { // b is reused once the chunk is consumed
			case <-p.ack:
			case <-p.stop:
				return
			}
		}
	}()
	return p
}

// Read makes the pump a reader, for streaming what is left.
func (p *pump) Read(b []byte) (int, error) {
	if len(p.pending) == 0 {
		if p.err != nil {
			return 0, p.err
		}
		c := <-p.chunks
		p.pending, p.err = c.b, c.err
		if len(p.pending) == 0 {
			if p.err == nil {
				p.ack <- struct{}{}
			}
			return 0, p.err
		}
	}
	n := copy(b, p.pending)
	p.pending = p.pending[n:]
	if len(p.pending) == 0 && p.err == nil {
		p.ack <- struct{}{}
	}
	return n, nil
}

// close stops the pump and waits for its goroutine; the body it reads must
// be closed first, so that a blocked read returns.
func (p *pump) close() {
	close(p.stop)
	<-p.done
}

func (p *Proxy) writeHeader(w http.ResponseWriter, resp *http.Response, length int64) {
	h := w.Header()
	id := first(h, "X-Request-Id")
	removeHopHeaders(resp.Header)
	delete(resp.Header, "X-Accel-Buffering")
	for k, v := range resp.Header {
		h[k] = v
	}
	if first(h, "X-Request-Id") == "" {
		h.Set("X-Request-Id", id)
	}
	if length >= 0 && resp.Request.Method != http.MethodHead && !bodyless(resp.StatusCode) {
		h.Set("Content-Length", strconv.FormatInt(length, 10))
	}
	w.WriteHeader(resp.StatusCode)
}

// streaming reports whether a response must go to the client as it comes:
// server-sent events, and a response the app marks with X-Accel-Buffering:
// no (nginx's convention). (A chunked response the app flushes is found
// while it is read: see fillUntilStall.)
func streaming(resp *http.Response) bool {
	if strings.HasPrefix(first(resp.Header, "Content-Type"), "text/event-stream") {
		return true
	}
	return strings.EqualFold(first(resp.Header, "X-Accel-Buffering"), "no")
}

func bodyless(status int) bool {
	return status == http.StatusNoContent || status == http.StatusNotModified || (status >= 100 && status < 200)
}

// flushCopy copies a streamed response, flushing after every read, and
// returns how many bytes it wrote, and whether r broke off before its end
// (not when the client left: there is nobody to show it to). head, if not
// nil, is what was buffered before streaming began; it goes first.
func flushCopy(w http.ResponseWriter, r io.Reader, head io.Reader) (total int64, broken bool) {
	rc := http.NewResponseController(w)
	if head != nil {
		n, err := io.Copy(w, head)
		total += n
		if err != nil {
			return total, false
		}
		rc.Flush()
	}
	var buf [32 << 10]byte
	for {
		n, err := r.Read(buf[:])
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				return total, false
			}
			total += int64(n)
			rc.Flush()
		}
		if err != nil {
			return total, err != io.EOF
		}
	}
}

func idempotent(method string) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace:
		return true
	}
	return false
}

func isDialError(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

func unwrapDial(err error) error {
	var op *net.OpError
	if errors.As(err, &op) && op.Err != nil {
		return op.Err
	}
	return err
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout() || errors.Is(err, context.DeadlineExceeded)
}

// deadlineReader reads a request body, giving the client idle time for
// each read rather than for the whole body, as nginx's client_body_timeout.
type deadlineReader struct {
	r    io.Reader
	rc   *http.ResponseController
	idle time.Duration
}

func (d *deadlineReader) Read(p []byte) (int, error) {
	d.rc.SetReadDeadline(time.Now().Add(d.idle))
	return d.r.Read(p)
}

func sizeString(n int64) string {
	switch {
	case n >= 1<<30 && n%(1<<30) == 0:
		return strconv.FormatInt(n>>30, 10) + " GiB"
	case n >= 1<<20 && n%(1<<20) == 0:
		return strconv.FormatInt(n>>20, 10) + " MiB"
	case n >= 1<<10 && n%(1<<10) == 0:
		return strconv.FormatInt(n>>10, 10) + " KiB"
	}
	return strconv.FormatInt(n, 10) + " bytes"
}
