package edge

import (
	"bufio"
	"context"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
)

// ProbeUserAgent is the User-Agent of the edge's readiness checks, so that
// an app's access log can tell them from its users' requests.
const ProbeUserAgent = "corral (readiness check)"

// AnswerProbe is the balancer's usual readiness check: an instance is
// ready when it answers an HTTP request, whatever the status. A port that
// accepts connections is not enough: gunicorn's master (puma's, a Node
// cluster's) accepts them while its workers are still importing the app,
// and a request routed there waits seconds while another instance is idle.
// A request answered at all, even with a 400 or a 404, means a worker is
// serving.
//
// The probe waits for the answer until its context is done (the
// Balancer's ProbeTimeout): the request sits in the instance's listen
// queue until a worker takes it, and is better waited for than sent again
// on another connection.
type AnswerProbe struct {
	// Path, if set, is asked with GET and must answer below 500
	// (--health-path); else the probe sends HEAD /, the cheapest request
	// every framework answers.
	Path string
	// Host gives the Host header (see Proxy.RecentHost); nil or "" means
	// localhost. An app that checks it (Django's ALLOWED_HOSTS) logs an
	// error for a Host it does not serve.
	Host func() string
	// Accept, if not nil, is asked once a connection to addr is open and
	// before any request is sent on it: false ends the probe (something
	// other than the instance answers there, say).
	Accept func(addr string) bool
}

// Probe is the AnswerProbe as a Prober.
func (a AnswerProbe) Probe(ctx context.Context, addr string) bool {
	method, path, minBad := http.MethodHead, "/", 1000 // any status will do
	if a.Path != "" {
		method, path, minBad = http.MethodGet, a.Path, http.StatusInternalServerError
	}
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return false
	}
	defer c.Close()
	if a.Accept != nil && !a.Accept(addr) {
		return false
	}
	stop := context.AfterFunc(ctx, func() { c.SetDeadline(aLongTimeAgo()) })
	defer stop()
	host := "localhost"
	if a.Host != nil {
		if h := a.Host(); h != "" && validHost(h) {
			host = h
		}
	}
	req := method + " " + path + " HTTP/1.1\r\nHost: " + host + "\r\nUser-Agent: " + ProbeUserAgent + "\r\nConnection: close\r\n\r\n"
	if _, err := c.Write([]byte(req)); err != nil {
		return false
	}
	resp, err := http.ReadResponse(bufio.NewReaderSize(c, 4<<10), &http.Request{Method: method})
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode < minBad
}

// recentHost keeps the Host of the latest request the proxy forwarded.
type recentHost struct{ v atomic.Pointer[string] }

// see records host; a store (and a copy) only when it changed, so the
// hot path pays a load and a comparison.
func (h *recentHost) see(host string) {
	if p := h.v.Load(); p != nil && *p == host {
		return
	}
	s := new(string)
	*s = strings.Clone(host) // not a substring pinning the whole request head
	h.v.Store(s)
}

func (h *recentHost) get() string {
	if p := h.v.Load(); p != nil {
		return *p
	}
	return ""
}
