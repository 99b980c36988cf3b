package edge

import (
	"bufio"
	"net"
	"net/http"
	"net/http/httputil"
	"strings"
)

// tunnelMethod reports whether method is one the edge never forwards, as
// nginx does not: CONNECT asks for a tunnel to anywhere (an app that
// answers it 200 makes the edge an open proxy's front), TRACE for an echo
// of the request, cookies and the edge's own headers included (cross-site
// tracing).
func tunnelMethod(method string) bool {
	return method == http.MethodConnect || method == http.MethodTrace
}

// allowedMethods is the Allow of the edge's 405: the methods apps serve.
// It cannot know a resource's own; it knows these are not refused.
const allowedMethods = "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS"

// refuseTunnel answers a tunnelMethod with 405, and returns it. An HTTP/1
// connection closes after a CONNECT: the client may already be sending
// the tunnel's bytes, which must not be read as the next request.
func refuseTunnel(w http.ResponseWriter, r *http.Request) int {
	h := w.Header()
	h.Set("Allow", allowedMethods)
	h.Set("Cache-Control", "no-store")
	if r.Method == http.MethodConnect && r.ProtoMajor == 1 {
		h.Set("Connection", "close")
	}
	writeError(w, r, http.StatusMethodNotAllowed, "the edge does not forward "+r.Method+" requests")
	return http.StatusMethodNotAllowed
}

// isUpgrade reports whether r asks to switch to WebSocket, the one
// protocol the edge lets a connection switch to. Any other Upgrade (h2c,
// TLS) is dropped with the hop-by-hop headers and the request proxied as
// a plain one: an app that switched to h2c would take the connection past
// the edge, its later requests reaching the app without the edge's
// headers or checks.
func isUpgrade(r *http.Request) bool {
	up := r.Header["Upgrade"]
	return len(up) == 1 && asciiEqualFold(strings.Trim(up[0], " \t"), "websocket") && headerHasToken(r.Header, "Connection", "upgrade")
}

// headerHasToken reports whether a field key of h lists token, a
// lower-case literal (see hasToken).
func headerHasToken(h http.Header, key, token string) bool {
	for _, v := range h[key] {
		if hasToken(v, token) {
			return true
		}
	}
	return false
}

// serveUpgrade relays a protocol upgrade (a WebSocket) to an instance and,
// once switched, copies bytes both ways unbuffered. out holds the forwarded
// headers. httputil.ReverseProxy already does the switching correctly, and
// upgrades are rare enough that its cost does not matter.
func (p *Proxy) serveUpgrade(w http.ResponseWriter, r *http.Request, out http.Header) (status int, instance string) {
	failed := p.route(w, r, func(be *Backend) retry {
		var dialErr error
		rec := &statusRecorder{ResponseWriter: w}
		rp := &httputil.ReverseProxy{
			Rewrite: func(pr *httputil.ProxyRequest) {
				pr.Out.URL.Scheme = "http"
				pr.Out.URL.Host = be.Addr
				pr.Out.Host = r.Host
				// out has no hop-by-hop headers; ReverseProxy adds back
				// Connection and Upgrade for the switch.
				for k, v := range out {
					pr.Out.Header[k] = v
				}
			},
			Transport: p.transport,
			ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
				if isDialError(err) {
					dialErr = err // nothing written: try another instance
					return
				}
				if r.Context().Err() == nil {
					p.upstreamFailed()
				}
				p.opts.Log.Warn("edge: upgrade to " + be.Name + " failed: " + err.Error())
				p.fail(w, r, http.StatusBadGateway, "the app failed to answer")
			},
		}
		be.inflight.Add(1)
		rp.ServeHTTP(rec, r)
		be.inflight.Add(-1)
		if dialErr != nil {
			p.unreachable(be, dialErr)
			return retryUnreached
		}
		if rec.status == 0 && rec.hijacked {
			rec.status = http.StatusSwitchingProtocols // written on the hijacked connection
		}
		status, instance = rec.status, be.Name
		return retryNo
	})
	if failed != 0 {
		return failed, ""
	}
	return status, instance
}

// statusRecorder remembers the status and the body bytes written through
// it, and whether the connection was taken over.
type statusRecorder struct {
	http.ResponseWriter
	status   int
	written  int64 // body bytes, for the access log
	hijacked bool
}

func (s *statusRecorder) Write(p []byte) (int, error) {
	n, err := s.ResponseWriter.Write(p)
	s.written += int64(n)
	return n, err
}

func (s *statusRecorder) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	c, rw, err := http.NewResponseController(s.ResponseWriter).Hijack()
	if err == nil {
		s.hijacked = true
	}
	return c, rw, err
}

// Unwrap lets http.ResponseController reach Flush and deadlines.
func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }
