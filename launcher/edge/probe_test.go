package edge

import (
	"context"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// AnswerProbe: any answer makes an instance ready, a port that only
// accepts does not; with a path, an answer below 500.
func TestAnswerProbe(t *testing.T) {
	status := func(code int) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(code) }
	}
	// A listener nobody accepts from: the kernel completes the handshake
	// and queues the connection, as for gunicorn's master while its
	// workers import the app.
	mute, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer mute.Close()
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refused := closed.Addr().String()
	closed.Close()

	tests := []struct {
		name, path, addr string
		want             bool
	}{
		{"200", "", newBackend(t, status(200)).addr, true},
		{"400, say a Host the app refuses", "", newBackend(t, status(400)).addr, true},
		{"500: still an answer", "", newBackend(t, status(500)).addr, true},
		{"accepted, never answered", "", mute.Addr().String(), false},
		{"refused", "", refused, false},
		{"health path 404", "/up", newBackend(t, status(404)).addr, true},
		{"health path 503", "/up", newBackend(t, status(503)).addr, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
			defer cancel()
			probe := AnswerProbe{Path: tt.path, Host: func() string { return "example.com" }}
			if got := probe.Probe(ctx, tt.addr); got != tt.want {
				t.Errorf("ready = %v, want %v", got, tt.want)
			}
		})
	}
}

// The probe says who it is and asks for a Host the app serves.
func TestAnswerProbeRequest(t *testing.T) {
	var mu sync.Mutex
	var got []*http.Request
	be := newBackend(t, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got = append(got, r)
		mu.Unlock()
	})
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	for _, tt := range []struct{ path, host, method, uri, wantHost string }{
		{"", "app.example.com", http.MethodHead, "/", "app.example.com"},
		{"/healthz", "", http.MethodGet, "/healthz", "localhost"},
		{"", "bad\r\nX-Injected: 1", http.MethodHead, "/", "localhost"},
	} {
		probe := AnswerProbe{Path: tt.path, Host: func() string { return tt.host }}
		if !probe.Probe(ctx, be.addr) {
			t.Fatalf("probe of %q failed", tt.path)
		}
		mu.Lock()
		r := got[len(got)-1]
		mu.Unlock()
		if r.Method != tt.method || r.RequestURI != tt.uri || r.Host != tt.wantHost || r.UserAgent() != ProbeUserAgent || r.Header.Get("X-Injected") != "" {
			t.Errorf("host %q: the app got %s %s Host %q User-Agent %q %v", tt.host, r.Method, r.RequestURI, r.Host, r.UserAgent(), r.Header)
		}
	}
}

// A connection that Accept refuses carries no request: a stranger on the
// instance's port is never sent the probe.
func TestAnswerProbeAccept(t *testing.T) {
	var hits atomic.Int64
	be := newBackend(t, func(http.ResponseWriter, *http.Request) { hits.Add(1) })
	var asked string
	probe := AnswerProbe{Accept: func(addr string) bool { asked = addr; return false }}
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	if probe.Probe(ctx, be.addr) || asked != be.addr || hits.Load() != 0 {
		t.Errorf("Accept said no: ready, asked %q (want %q), the backend served %d", asked, be.addr, hits.Load())
	}
}

// RecentHost is the Host of the latest request forwarded.
func TestRecentHost(t *testing.T) {
	e := newEdge(t, Options{})
	e.add(t, "web.1", newBackend(t, func(http.ResponseWriter, *http.Request) {}).addr)
	if h := e.proxy.RecentHost(); h != "" {
		t.Errorf("before any request: %q", h)
	}
	for _, host := range []string{"a.example.com", "b.example.com", "b.example.com"} {
		req, _ := http.NewRequest(http.MethodGet, e.url+"/", nil)
		req.Host = host
		resp, err := e.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if h := e.proxy.RecentHost(); h != host {
			t.Errorf("after a request for %s: %q", host, h)
		}
	}
}
