package edge

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"
)

// recorder is an Observer that remembers what it was told.
type recorder struct {
	mu        sync.Mutex
	requests  map[string]int // "kind status" → count
	durations []time.Duration
	upstream  int
	retries   int
	waits     []time.Duration
}

// Request counts a request by kind and status text.
func (o *recorder) Request(kind Kind, status int, d time.Duration) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.requests == nil {
		o.requests = map[string]int{}
	}
	o.requests[kind.String()+" "+http.StatusText(status)]++
	o.durations = append(o.durations, d)
}

// UpstreamError counts an upstream error.
func (o *recorder) UpstreamError() { o.mu.Lock(); o.upstream++; o.mu.Unlock() }

// Retry counts a retry.
func (o *recorder) Retry() { o.mu.Lock(); o.retries++; o.mu.Unlock() }

// GateWait keeps a wait.
func (o *recorder) GateWait(d time.Duration) {
	o.mu.Lock()
	o.waits = append(o.waits, d)
	o.mu.Unlock()
}

// snapshot copies what o was told, under its lock.
func (o *recorder) snapshot() (requests map[string]int, upstream, retries int, waits []time.Duration) {
	o.mu.Lock()
	defer o.mu.Unlock()
	requests = map[string]int{}
	for k, v := range o.requests {
		requests[k] = v
	}
	return requests, o.upstream, o.retries, append([]time.Duration(nil), o.waits...)
}

// observedEdge serves an edge whose server and proxy report to obs, with
// static files under /static/ answering 200 for /static/ok and 404
// otherwise.
func observedEdge(t *testing.T, obs Observer, opts Options) (*Balancer, string) {
	t.Helper()
	bal := NewBalancer(TCPProber, probeInterval, nil)
	opts.Observer = obs
	static := handlerStatic{"/static/", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/static/ok" {
			http.NotFound(w, r)
			return
		}
		io.WriteString(w, "file")
	}}
	srv := NewServer(Config{Proxy: NewProxy(bal, opts), Static: static, Observer: obs})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan struct{})
	go func() { srv.Serve(ln); close(served) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
		defer cancel()
		srv.Shutdown(ctx)
		<-served
		bal.Close()
	})
	return bal, "http://" + ln.Addr().String()
}

// getStatus sends a GET with client and returns the status.
func getStatus(t *testing.T, client *http.Client, url string) int {
	t.Helper()
	resp, err := client.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// TestObserver: each request is reported once, with its kind and the
// status the client got, over HTTP/1.1 and HTTP/2 alike; a dead instance
// is an upstream error and a retry; a request that waited for an instance
// is a gate wait.
func TestObserver(t *testing.T) {
	obs := &recorder{}
	bal, url := observedEdge(t, obs, Options{BootWait: 5 * time.Second})
	b1 := newBackend(t, named("web.1"))
	dead := freeAddr(t) // nothing listens: every dial is refused

	var h2 http.Protocols
	h2.SetUnencryptedHTTP2(true)
	h2tr := &http.Transport{Protocols: &h2}
	h1tr := &http.Transport{}
	t.Cleanup(h1tr.CloseIdleConnections)
	t.Cleanup(h2tr.CloseIdleConnections)
	clients := map[string]*http.Client{"HTTP/1.1": {Transport: h1tr, Timeout: testTimeout}, "h2c": {Transport: h2tr, Timeout: testTimeout}}

	// No instance yet: the health check says 503, and a request waits at
	// the gate until web.1 is added.
	if got := getStatus(t, clients["HTTP/1.1"], url+"/_corral/health"); got != 503 {
		t.Fatalf("health with no instance: %d", got)
	}
	waited := make(chan int)
	go func() {
		resp, err := http.Get(url + "/first")
		if err != nil {
			waited <- 0
			return
		}
		resp.Body.Close()
		waited <- resp.StatusCode
	}()
	time.Sleep(50 * time.Millisecond)
	bal.Add("web.1", b1.addr)
	if got := <-waited; got != 200 {
		t.Fatalf("request at the gate: %d", got)
	}
	waitFor(t, "web.1 ready", func() bool { return bal.ReadyCount() == 1 })

	for _, name := range []string{"HTTP/1.1", "h2c"} {
		c := clients[name]
		for path, want := range map[string]int{"/app": 200, "/static/ok": 200, "/static/nope": 404, "/_corral/health": 200} {
			if got := getStatus(t, c, url+path); got != want {
				t.Fatalf("%s %s: %d, want %d", name, path, got, want)
			}
		}
	}

	// A second instance that refuses connections: a request sent to it
	// is an upstream error and goes to web.1 (a retry). The balancer
	// rotates ties, so one of two requests picks it.
	bad := bal.Add("web.2", dead)
	bal.promote(bad)
	for range 2 {
		if got := getStatus(t, clients["HTTP/1.1"], url+"/again"); got != 200 {
			t.Fatalf("with a dead instance: %d", got)
		}
	}

	requests, upstream, retries, waits := obs.snapshot()
	want := map[string]int{
		"health Service Unavailable": 1,
		"health OK":                  2,
		"app OK":                     1 + 2 + 2,
		"static OK":                  2,
		"static Not Found":           2,
	}
	for k, n := range want {
		if requests[k] != n {
			t.Errorf("%q: %d, want %d (all: %v)", k, requests[k], n, requests)
		}
	}
	if len(requests) != len(want) {
		t.Errorf("requests %v, want %v", requests, want)
	}
	if upstream != 1 || retries != 1 {
		t.Errorf("upstream errors %d, retries %d; want 1 and 1 (the dead web.2, tried once)", upstream, retries)
	}
	if len(waits) != 1 || waits[0] < 40*time.Millisecond || waits[0] > testTimeout {
		t.Errorf("gate waits %v, want one of about 50ms", waits)
	}
}

// TestObserverNil: without an Observer nothing is reported and nothing
// breaks (the default, and the benchmark's case).
func TestObserverNil(t *testing.T) {
	_, url := observedEdge(t, nil, Options{})
	if got := getStatus(t, http.DefaultClient, url+"/static/ok"); got != 200 {
		t.Fatalf("static: %d", got)
	}
}

// TestStaticAccessLog: a static file the edge serves itself gets an access
// record and an X-Request-Id, as a proxied request does (nginx logs the
// files it serves too), over HTTP/1.1 and HTTP/2 alike, with its kind, the
// status and the bytes the client got; a trusted proxy's request id is
// kept. The health path, which a platform asks every few seconds, is not
// logged.
func TestStaticAccessLog(t *testing.T) {
	body := strings.Repeat("a", 3000) // more than one write's worth
	static := handlerStatic{"/static/", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/static/app.css" {
			http.NotFound(w, r)
			return
		}
		io.WriteString(w, body[:1000])
		io.WriteString(w, body[1000:])
	}}
	var h2 http.Protocols
	h2.SetUnencryptedHTTP2(true)
	for _, tt := range []struct {
		name    string
		trusted []netip.Prefix
		proto   *http.Protocols
		path    string
		sendID  string
		status  int
		bytes   int64
		keepID  bool
	}{
		{name: "HTTP/1.1", path: "/static/app.css?v=2", status: 200, bytes: 3000},
		{name: "HTTP/1.1, missing file", path: "/static/nope.css", status: 404, bytes: int64(len("404 page not found\n"))},
		{name: "h2c", proto: &h2, path: "/static/app.css", status: 200, bytes: 3000},
		{name: "untrusted client's id replaced", path: "/static/app.css", sendID: "abc-123", status: 200, bytes: 3000},
		{name: "trusted proxy's id kept", trusted: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}, path: "/static/app.css", sendID: "abc-123", status: 200, bytes: 3000, keepID: true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := newEdgeConfig(t, Options{TrustedProxies: tt.trusted}, Config{Static: static})
			if tt.proto != nil {
				tr := &http.Transport{Protocols: tt.proto}
				t.Cleanup(tr.CloseIdleConnections)
				e.client = &http.Client{Transport: tr, Timeout: testTimeout}
			}
			resp, got := e.get(t, tt.path, "X-Request-Id", tt.sendID)
			if resp.StatusCode != tt.status || tt.status == 200 && string(got) != body {
				t.Fatalf("status %d, %d bytes; want %d", resp.StatusCode, len(got), tt.status)
			}
			id := resp.Header.Get("X-Request-Id")
			if !validRequestID(id) || tt.keepID != (id == tt.sendID) {
				t.Errorf("X-Request-Id %q (sent %q, kept: %v)", id, tt.sendID, id == tt.sendID)
			}
			a := e.nextAccess(t)
			want := Access{Kind: KindStatic, Method: "GET", Target: tt.path, Status: tt.status, Bytes: tt.bytes, RequestID: id}
			a.Duration = 0
			if a != want {
				t.Errorf("access record %+v, want %+v", a, want)
			}
			if a, _ := e.get(t, "/_corral/health"); a.StatusCode != 503 {
				t.Errorf("health: %d", a.StatusCode)
			}
			select {
			case a := <-e.access:
				t.Errorf("the health path was logged: %+v", a)
			default:
			}
		})
	}
}
