package edge

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Options configures a Proxy. Zero values take the defaults noted.
type Options struct {
	// BootWait is how long a request waits for a ready instance before it
	// gets a 503 (default 30s).
	BootWait time.Duration
	// MaxBody is the largest request body accepted; larger gets 413
	// (default 32 MiB).
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
	// AccessLog, if not nil, is called once per request.
	AccessLog func(Access)
}

// Access describes one proxied request, for the access log.
type Access struct {
	Method, Path string
	Status       int
	Bytes        int64
	Duration     time.Duration
	Instance     string // "" if no instance served it
	RequestID    string
}

func (o *Options) defaults() {
	if o.BootWait == 0 {
		o.BootWait = 30 * time.Second
	}
	if o.MaxBody == 0 {
		o.MaxBody = 32 << 20
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
	bufs      sync.Pool // *bytes.Buffer for bodies
}

// NewProxy returns a Proxy routing to bal.
func NewProxy(bal *Balancer, opts Options) *Proxy {
	opts.defaults()
	p := &Proxy{
		bal:  bal,
		opts: opts,
		transport: &http.Transport{
			Proxy:                 nil,
			DialContext:           (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			MaxIdleConns:          1024,
			MaxIdleConnsPerHost:   256,
			IdleConnTimeout:       60 * time.Second,
			ResponseHeaderTimeout: opts.UpstreamTimeout,
			DisableCompression:    true, // the client's Accept-Encoding decides, end to end
			WriteBufferSize:       32 << 10,
			ReadBufferSize:        32 << 10,
		},
	}
	p.bufs.New = func() any { return new(bytes.Buffer) }
	return p
}

// Close closes idle upstream connections.
func (p *Proxy) Close() { p.transport.CloseIdleConnections() }

// statusClientGone is logged, as nginx does, when the client left before
// the response.
const statusClientGone = 499

func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	acc := Access{Method: r.Method, Path: r.URL.Path}
	defer func() {
		if p.opts.AccessLog != nil {
			acc.Duration = time.Since(start)
			p.opts.AccessLog(acc)
		}
	}()

	out := r.Header.Clone()
	if isUpgrade(r) {
		acc.RequestID = p.forwardHeaders(out, r)
		acc.Status, acc.Instance = p.serveUpgrade(w, r, out)
		return
	}
	removeHopHeaders(out)
	delete(out, "Expect") // the body is read here; the instance gets it whole
	acc.RequestID = p.forwardHeaders(out, r)
	w.Header().Set("X-Request-Id", acc.RequestID)

	var body *spill
	if r.ContentLength != 0 && r.Body != nil && r.Body != http.NoBody {
		if r.ContentLength > p.opts.MaxBody {
			acc.Status = p.fail(w, r, http.StatusRequestEntityTooLarge, "request body larger than the limit of "+sizeString(p.opts.MaxBody))
			return
		}
		body = newSpill(&p.bufs, p.opts.MemBuffer, p.opts.TempDir)
		defer body.release()
		err := body.fill(&deadlineReader{r: r.Body, rc: http.NewResponseController(w), idle: p.opts.BodyTimeout}, p.opts.MaxBody)
		switch {
		case errors.Is(err, errTooLarge):
			acc.Status = p.fail(w, r, http.StatusRequestEntityTooLarge, "request body larger than the limit of "+sizeString(p.opts.MaxBody))
			return
		case err != nil:
			// The client went away or stalled: nobody to answer.
			acc.Status = statusClientGone
			return
		}
	}

	ctx := r.Context()
	deadline := time.NewTimer(p.opts.BootWait)
	defer deadline.Stop()
	var tried []*Backend
	for {
		be := p.bal.Pick(tried)
		if be == nil {
			if p.bal.ReadyCount() > 0 {
				// Every ready instance failed this request.
				acc.Status = p.fail(w, r, http.StatusBadGateway, "no instance could answer this request")
				return
			}
			// None ready (booting, restarting, or all just failed): wait at
			// the boot gate.
			select {
			case <-p.bal.Ready():
				tried = tried[:0] // the ready ones may be new or back
				continue
			case <-deadline.C:
				acc.Status = p.fail(w, r, http.StatusServiceUnavailable, "the app is not ready yet")
				return
			case <-ctx.Done():
				acc.Status = statusClientGone
				return
			}
		}
		acc.Instance = be.Name
		status, n, retry := p.forward(w, r, out, body, be)
		if !retry {
			acc.Status, acc.Bytes = status, n
			return
		}
		tried = append(tried, be)
	}
}

// forward sends the request to be and relays the answer. It returns the
// status and body size sent to the client, or retry if nothing was sent and
// the request may go to another instance.
func (p *Proxy) forward(w http.ResponseWriter, r *http.Request, h http.Header, body *spill, be *Backend) (status int, n int64, retry bool) {
	req := &http.Request{
		Method:     r.Method,
		URL:        &url.URL{Scheme: "http", Host: be.Addr, Path: r.URL.Path, RawPath: r.URL.RawPath, RawQuery: r.URL.RawQuery},
		Proto:      "HTTP/1.1",
		ProtoMajor: 1,
		ProtoMinor: 1,
		Header:     h,
		Host:       r.Host,
	}
	if body != nil {
		req.ContentLength = body.Len()
		req.Body = io.NopCloser(body.reader())
		req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(body.reader()), nil }
	}
	req = req.WithContext(r.Context())

	be.inflight.Add(1)
	resp, err := p.transport.RoundTrip(req)
	if err != nil {
		be.inflight.Add(-1)
		switch {
		case r.Context().Err() != nil:
			return statusClientGone, 0, false
		case isDialError(err):
			// Nothing was sent: safe to try another instance, whatever the method.
			p.opts.Log.Warn(fmt.Sprintf("edge: cannot reach %s (%s): %v; taking it out of rotation", be.Name, be.Addr, unwrapDial(err)))
			p.bal.MarkDown(be)
			return 0, 0, true
		case isTimeout(err):
			p.opts.Log.Warn(fmt.Sprintf("edge: %s did not answer %s %s within %v", be.Name, r.Method, r.URL.Path, p.opts.UpstreamTimeout))
			return p.fail(w, r, http.StatusGatewayTimeout, "the app did not answer in time"), 0, false
		case idempotent(r.Method):
			// The instance died mid-request; a GET can safely be asked again.
			p.opts.Log.Warn(fmt.Sprintf("edge: %s failed %s %s: %v; retrying elsewhere", be.Name, r.Method, r.URL.Path, err))
			return 0, 0, true
		default:
			p.opts.Log.Warn(fmt.Sprintf("edge: %s failed %s %s: %v", be.Name, r.Method, r.URL.Path, err))
			return p.fail(w, r, http.StatusBadGateway, "the app failed to answer"), 0, false
		}
	}
	be.served.Add(1)

	if streaming(resp) {
		defer be.inflight.Add(-1)
		defer resp.Body.Close()
		p.writeHeader(w, resp, -1)
		return resp.StatusCode, flushCopy(w, resp.Body), false
	}

	// Read the whole response, then free the instance, then send it.
	buf := newSpill(&p.bufs, p.opts.MemBuffer, p.opts.TempDir)
	defer buf.release()
	err = buf.fill(resp.Body, -1)
	resp.Body.Close()
	be.inflight.Add(-1)
	if err != nil {
		if r.Context().Err() != nil {
			return statusClientGone, 0, false
		}
		p.opts.Log.Warn(fmt.Sprintf("edge: %s broke off the response to %s %s: %v", be.Name, r.Method, r.URL.Path, err))
		return p.fail(w, r, http.StatusBadGateway, "the app broke off its response"), 0, false
	}
	p.writeHeader(w, resp, buf.Len())
	if r.Method != http.MethodHead {
		n, _ = io.Copy(w, buf.reader())
	}
	return resp.StatusCode, n, false
}

func (p *Proxy) writeHeader(w http.ResponseWriter, resp *http.Response, length int64) {
	h := w.Header()
	id := h.Get("X-Request-Id")
	removeHopHeaders(resp.Header)
	delete(resp.Header, "X-Accel-Buffering")
	for k, v := range resp.Header {
		h[k] = v
	}
	if h.Get("X-Request-Id") == "" {
		h.Set("X-Request-Id", id)
	}
	if length >= 0 && resp.Request.Method != http.MethodHead && !bodyless(resp.StatusCode) {
		h.Set("Content-Length", strconv.FormatInt(length, 10))
	}
	w.WriteHeader(resp.StatusCode)
}

// streaming reports whether a response must go to the client as it comes:
// server-sent events, a response the app marks with X-Accel-Buffering: no
// (nginx's convention), and one of unknown length, which an app sends in
// chunks as it produces them.
func streaming(resp *http.Response) bool {
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		return true
	}
	if strings.EqualFold(resp.Header.Get("X-Accel-Buffering"), "no") {
		return true
	}
	return resp.ContentLength < 0 && !bodyless(resp.StatusCode) && resp.Request.Method != http.MethodHead
}

func bodyless(status int) bool {
	return status == http.StatusNoContent || status == http.StatusNotModified || (status >= 100 && status < 200)
}

// flushCopy copies a streamed response, flushing after every read, and
// returns how many bytes it wrote.
func flushCopy(w http.ResponseWriter, r io.Reader) int64 {
	rc := http.NewResponseController(w)
	var buf [32 << 10]byte
	var total int64
	for {
		n, err := r.Read(buf[:])
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				return total
			}
			total += int64(n)
			rc.Flush()
		}
		if err != nil {
			return total
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
