package edge

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/corral-run/corral/internal/httpbench"
	"github.com/corral-run/corral/launcher/httpcache"
)

// benchBackend serves h on loopback as web.1 of a balancer, ready, until
// the benchmark ends.
func benchBackend(b *testing.B, h http.HandlerFunc) *Balancer {
	backend := &http.Server{Handler: h}
	bln, _ := net.Listen("tcp", "127.0.0.1:0")
	go backend.Serve(bln)
	b.Cleanup(func() { backend.Close() })
	bal := NewBalancer(TCPProber, 10*time.Millisecond, nil)
	b.Cleanup(bal.Close)
	bal.Add("web.1", bln.Addr().String())
	for bal.ReadyCount() == 0 {
		time.Sleep(time.Millisecond)
	}
	return bal
}

// BenchmarkProxySmall measures the edge's cost per small proxied request,
// client, edge and backend all on loopback in this process.
func BenchmarkProxySmall(b *testing.B) {
	bal := benchBackend(b, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, "hello, world\n")
	})
	httpbench.ParallelGets(b, serveBench(b, NewProxy(bal, Options{}))+"/")
}

// serveBench serves proxy on loopback until the benchmark ends, and
// returns its URL.
func serveBench(b *testing.B, proxy *Proxy) string {
	srv := NewServer(Config{Proxy: proxy})
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	go srv.Serve(ln)
	b.Cleanup(func() {
		srv.Shutdown(context.Background())
		proxy.Close()
	})
	return "http://" + ln.Addr().String()
}

// BenchmarkProxyCacheHit is BenchmarkProxySmall answered from the
// response cache: the backend marks its page cacheable, and after the
// first request it is not asked again.
func BenchmarkProxyCacheHit(b *testing.B) {
	var served atomic.Int64
	bal := benchBackend(b, func(w http.ResponseWriter, r *http.Request) {
		served.Add(1)
		w.Header().Set("Content-Type", "text/plain")
		w.Header().Set("Cache-Control", "public, max-age=600")
		io.WriteString(w, "hello, world\n")
	})
	proxy := NewProxy(bal, Options{Cache: httpcache.New(httpcache.Options{MaxBytes: 1 << 20})})
	httpbench.ParallelGets(b, serveBench(b, proxy)+"/")
	if n := served.Load(); n != 1 {
		b.Fatalf("the backend served %d requests, want 1", n)
	}
}

// benchWriter is a ResponseWriter that keeps nothing but its header map,
// reused as the edge's own server reuses a connection's.
type benchWriter struct{ h http.Header }

func (w *benchWriter) Header() http.Header         { return w.h }
func (w *benchWriter) WriteHeader(int)             {}
func (w *benchWriter) Write(b []byte) (int, error) { return len(b), nil }

// BenchmarkCacheHitHandler is the proxy's own work for a hit, without
// the HTTP client and server around it: what a hit costs on top of
// reading the request and writing the response.
func BenchmarkCacheHitHandler(b *testing.B) {
	bal := benchBackend(b, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "public, max-age=600")
		io.WriteString(w, strings.Repeat("<p>a small page</p>\n", 200))
	})
	proxy := NewProxy(bal, Options{Cache: httpcache.New(httpcache.Options{MaxBytes: 1 << 20}), AccessLog: func(Access) {}})
	defer proxy.Close()
	req := httptest.NewRequest(http.MethodGet, "/page", nil)
	req.RemoteAddr = "127.0.0.1:40000"
	req.RequestURI = "/page"
	req.Header.Set("Accept-Encoding", "gzip, deflate, br, zstd")
	req.Header.Set("User-Agent", "Mozilla/5.0")
	w := &benchWriter{h: make(http.Header)}
	proxy.ServeHTTP(w, req) // the miss that stores it
	if w.h.Get("Content-Encoding") != "gzip" {
		b.Fatalf("not compressed: %v", w.h)
	}
	b.ReportAllocs()
	for b.Loop() {
		clear(w.h)
		proxy.ServeHTTP(w, req)
	}
	if w.h.Get("Cache-Status") != "corral; hit" {
		b.Fatalf("Cache-Status %q", w.h.Get("Cache-Status"))
	}
}

// BenchmarkMissHandler is the proxy's own work for a request the cache
// cannot answer (the page is not marked cacheable), with the cache off
// and on: what the cache adds to every such request.
func BenchmarkMissHandler(b *testing.B) {
	bal := benchBackend(b, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, "hello, world\n")
	})
	for _, on := range []bool{false, true} {
		b.Run(map[bool]string{false: "off", true: "on"}[on], func(b *testing.B) {
			opts := Options{AccessLog: func(Access) {}}
			if on {
				opts.Cache = httpcache.New(httpcache.Options{MaxBytes: 1 << 20})
			}
			proxy := NewProxy(bal, opts)
			defer proxy.Close()
			req := httptest.NewRequest(http.MethodGet, "/page", nil)
			req.RemoteAddr = "127.0.0.1:40000"
			req.RequestURI = "/page"
			w := &benchWriter{h: make(http.Header)}
			b.ReportAllocs()
			for b.Loop() {
				clear(w.h)
				proxy.ServeHTTP(w, req)
			}
		})
	}
}

// BenchmarkProxyH2C is BenchmarkProxySmall over HTTP/2 (h2c, prior
// knowledge): many streams on a few connections.
func BenchmarkProxyH2C(b *testing.B) {
	bal := benchBackend(b, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, "hello, world\n")
	})
	var p http.Protocols
	p.SetUnencryptedHTTP2(true)
	httpbench.ParallelGetsOver(b, &http.Transport{Protocols: &p}, serveBench(b, NewProxy(bal, Options{}))+"/")
}
