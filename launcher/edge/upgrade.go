package edge

import (
	"net/http"
	"net/http/httputil"
	"strings"
	"time"
)

// isUpgrade reports whether r asks to switch protocols (WebSocket).
func isUpgrade(r *http.Request) bool {
	return r.Header.Get("Upgrade") != "" && headerHasToken(r.Header, "Connection", "upgrade")
}

func headerHasToken(h http.Header, key, token string) bool {
	for _, v := range h[key] {
		for f := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(f), token) {
				return true
			}
		}
	}
	return false
}

// serveUpgrade relays a protocol upgrade (a WebSocket) to an instance and,
// once switched, copies bytes both ways unbuffered. out holds the forwarded
// headers. httputil.ReverseProxy already does the switching correctly, and
// upgrades are rare enough that its cost does not matter.
func (p *Proxy) serveUpgrade(w http.ResponseWriter, r *http.Request, out http.Header) (status int, instance string) {
	be := p.bal.Pick(nil)
	if be == nil {
		select {
		case <-p.bal.Ready():
			be = p.bal.Pick(nil)
		case <-time.After(p.opts.BootWait):
		case <-r.Context().Done():
			return statusClientGone, ""
		}
		if be == nil {
			return p.fail(w, r, http.StatusServiceUnavailable, "the app is not ready yet"), ""
		}
	}
	rec := &statusRecorder{ResponseWriter: w}
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.Out.URL.Scheme = "http"
			pr.Out.URL.Host = be.Addr
			pr.Out.Host = r.Host
			for k, v := range out {
				if k != "Connection" && k != "Upgrade" {
					pr.Out.Header[k] = v
				}
			}
		},
		Transport: p.transport,
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			p.opts.Log.Warn("edge: upgrade to " + be.Name + " failed: " + err.Error())
			p.fail(w, r, http.StatusBadGateway, "the app failed to answer")
		},
	}
	be.inflight.Add(1)
	defer be.inflight.Add(-1)
	rp.ServeHTTP(rec, r)
	return rec.status, be.Name
}

// statusRecorder remembers the status written through it.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

// Unwrap lets http.ResponseController reach Hijack and Flush.
func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }
