package edge

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// testTimeout bounds every wait in these tests: nothing here should take
// more than a fraction of it.
const testTimeout = 5 * time.Second

// probeInterval is the balancer's probe interval in tests.
const probeInterval = 10 * time.Millisecond

// testEdge is an edge served on a real loopback listener.
type testEdge struct {
	bal    *Balancer
	proxy  *Proxy
	srv    *Server
	addr   string // host:port of the edge
	url    string // http://addr
	client *http.Client

	access chan Access // every access record, if Options.AccessLog was not set
}

// newEdge starts an edge with opts (and a 10 ms TCP prober) on 127.0.0.1.
// Everything it starts is stopped when the test ends.
func newEdge(t *testing.T, opts Options) *testEdge {
	t.Helper()
	return newEdgeConfig(t, opts, Config{})
}

// newEdgeConfig is newEdge with the server's cfg (its Proxy is the edge's).
func newEdgeConfig(t *testing.T, opts Options, cfg Config) *testEdge {
	t.Helper()
	e := &testEdge{access: make(chan Access, 1024)}
	if opts.AccessLog == nil {
		opts.AccessLog = func(a Access) {
			select {
			case e.access <- a:
			default:
			}
		}
	}
	if opts.Log == nil && os.Getenv("EDGE_TEST_LOG") != "" {
		opts.Log = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	e.bal = NewBalancer(TCPProber, probeInterval, nil)
	e.proxy = NewProxy(e.bal, opts)
	cfg.Proxy = e.proxy
	e.srv = NewServer(cfg)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e.addr = ln.Addr().String()
	e.url = "http://" + e.addr
	served := make(chan error, 1)
	go func() { served <- e.srv.Serve(ln) }()
	tr := &http.Transport{DisableCompression: true, MaxIdleConnsPerHost: 64}
	e.client = &http.Client{Transport: tr, Timeout: testTimeout}
	t.Cleanup(func() {
		tr.CloseIdleConnections()
		ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
		defer cancel()
		if err := e.srv.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		if err := <-served; err != nil {
			t.Errorf("Serve: %v", err)
		}
		e.bal.Close()
	})
	return e
}

// add adds a backend at addr and waits until the balancer has it ready.
func (e *testEdge) add(t *testing.T, name, addr string) *Backend {
	t.Helper()
	be := e.bal.Add(name, addr)
	waitFor(t, "backend "+name+" ready", be.EverReady)
	return be
}

// get sends a GET with the given headers (key, value pairs) and returns the
// response and its body.
func (e *testEdge) get(t *testing.T, path string, kv ...string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, e.url+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(kv); i += 2 {
		req.Header.Set(kv[i], kv[i+1])
	}
	return e.do(t, req)
}

func (e *testEdge) do(t *testing.T, req *http.Request) (*http.Response, []byte) {
	t.Helper()
	resp, err := e.client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading body: %v", req.Method, req.URL, err)
	}
	return resp, b
}

// nextAccess returns the next access record.
func (e *testEdge) nextAccess(t *testing.T) Access {
	t.Helper()
	select {
	case a := <-e.access:
		return a
	case <-time.After(testTimeout):
		t.Fatal("no access record")
		return Access{}
	}
}

// waitFor polls cond until it holds, failing the test after testTimeout.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(testTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// testBackend is a web instance: an httptest server that counts its requests.
type testBackend struct {
	*httptest.Server
	addr string
	hits atomic.Int64 // every request served, the test's or not: see markHeader

	mu     sync.Mutex
	marked map[string]int  // requests served, by their markHeader
	served []servedRequest // the first maxServedLog requests served, for failure messages
}

type servedRequest struct{ mark, desc string }

const maxServedLog = 20

// markHeader carries a value unique to one test (testMark) on a request
// whose arrival at an instance the test checks. A backend may serve
// requests that are not the test's: it listens on 127.0.0.1:0, and the
// kernel may hand it a port another process still sends to. go test ./...
// runs packages at once, and the corral launchers of cmd/corral's tests
// pick their instances' ports the same way, then probe one, and route the
// requests waiting at their boot gate to it, as soon as anything listens
// there (some of those apps never do). So a check that a request did not
// reach an instance counts the requests with the test's mark.
const markHeader = "X-Edge-Test"

var markSeq atomic.Int64

// testMark returns a markHeader value no other test, or process, uses.
func testMark(t testing.TB) string {
	return fmt.Sprintf("%s%d", markPrefix(t), markSeq.Add(1))
}

// markPrefix begins every testMark of t.
func markPrefix(t testing.TB) string {
	return fmt.Sprintf("%s/%d/", t.Name(), os.Getpid())
}

// markRaw adds markHeader with mark to the head of a hand-written request.
func markRaw(req, mark string) string {
	i := strings.Index(req, "\r\n")
	return req[:i+2] + markHeader + ": " + mark + "\r\n" + req[i+2:]
}

// reached returns how many requests carrying mark the backend served.
func (b *testBackend) reached(mark string) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.marked[mark]
}

// checkNotReached fails the test with msg if a request carrying mark
// reached b. Requests without one of the test's marks are logged, not
// failed: see markHeader.
func (b *testBackend) checkNotReached(t *testing.T, mark, msg string) {
	t.Helper()
	b.mu.Lock()
	n := b.marked[mark]
	var all, strays []string
	for _, r := range b.served {
		all = append(all, r.desc)
		if !strings.HasPrefix(r.mark, markPrefix(t)) {
			strays = append(strays, r.desc)
		}
	}
	b.mu.Unlock()
	if n > 0 {
		t.Errorf("%s; the instance served:\n%s", msg, strings.Join(all, "\n"))
	} else if len(strays) > 0 {
		t.Logf("the instance served requests this test did not mark, from elsewhere (to a reused port?):\n%s", strings.Join(strays, "\n"))
	}
}

// newBackend starts a backend serving h on a fresh loopback port.
func newBackend(t *testing.T, h http.HandlerFunc) *testBackend {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return serveBackend(t, ln, h)
}

// newBackendAt starts a backend serving h on addr (used to bring a
// stopped instance back on its old address).
func newBackendAt(t *testing.T, addr string, h http.HandlerFunc) *testBackend {
	t.Helper()
	var ln net.Listener
	var err error
	waitFor(t, "listen on "+addr, func() bool {
		ln, err = net.Listen("tcp", addr)
		return err == nil
	})
	return serveBackend(t, ln, h)
}

func serveBackend(t *testing.T, ln net.Listener, h http.HandlerFunc) *testBackend {
	b := &testBackend{addr: ln.Addr().String()}
	b.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b.mu.Lock()
		mark := r.Header.Get(markHeader)
		if b.marked == nil {
			b.marked = make(map[string]int)
		}
		b.marked[mark]++
		if len(b.served) < maxServedLog {
			b.served = append(b.served, servedRequest{mark, fmt.Sprintf("  %s %s from %s, %s=%q User-Agent=%q X-Request-Id=%q X-Forwarded-For=%q",
				r.Method, r.RequestURI, r.RemoteAddr, markHeader, mark, r.UserAgent(), r.Header.Get("X-Request-Id"), r.Header.Get("X-Forwarded-For"))})
		}
		b.mu.Unlock()
		b.hits.Add(1)
		h(w, r)
	}))
	b.Server.Listener.Close()
	b.Server.Listener = ln
	b.Server.Start()
	t.Cleanup(b.Server.Close)
	return b
}

// named answers 200 with its name.
func named(name string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, name)
	}
}

// seen is what echoHeaders reports about a request.
type seen struct {
	Host          string
	Header        http.Header
	ContentLength int64
	Chunked       bool
	BodyLen       int
}

// echoHeaders answers with a JSON description of the request it got.
func echoHeaders(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(seen{
		Host:          r.Host,
		Header:        r.Header,
		ContentLength: r.ContentLength,
		Chunked:       len(r.TransferEncoding) > 0,
		BodyLen:       len(b),
	})
}

func decodeSeen(t *testing.T, b []byte) seen {
	t.Helper()
	var s seen
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatalf("backend answer %q: %v", b, err)
	}
	return s
}

// h2cClient is a client that speaks HTTP/2 over plain TCP from the first
// byte (prior knowledge). Close its idle connections before the edge's
// Shutdown, which waits for them.
func h2cClient() *http.Client {
	var p http.Protocols
	p.SetUnencryptedHTTP2(true)
	return &http.Client{Transport: &http.Transport{Protocols: &p}, Timeout: testTimeout}
}

// rawConn dials the edge for a hand-written request.
func rawConn(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, testTimeout)
	if err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(testTimeout))
	t.Cleanup(func() { c.Close() })
	return c
}

// rawRoundTrip writes req (a complete HTTP/1.1 request) on a new connection
// and reads one response.
func rawRoundTrip(t *testing.T, addr, req string) (*http.Response, []byte) {
	t.Helper()
	c := rawConn(t, addr)
	if _, err := io.WriteString(c, req); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("reading response: %v", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("reading body: %v", err)
	}
	return resp, b
}

// checkErrorPage checks that an edge error page is what a user should see:
// HTML, or JSON for a client that asked for it, and no Go error text.
func checkErrorPage(t *testing.T, resp *http.Response, body []byte, status int, wantJSON bool) {
	t.Helper()
	if resp.StatusCode != status {
		t.Fatalf("status %d, want %d; body %q", resp.StatusCode, status, body)
	}
	ct := resp.Header.Get("Content-Type")
	if wantJSON {
		if ct != "application/json" {
			t.Errorf("Content-Type %q, want application/json", ct)
		}
		var v struct {
			Error  string
			Status int
		}
		if err := json.Unmarshal(body, &v); err != nil {
			t.Errorf("body %q is not JSON: %v", body, err)
		}
		if v.Status != status || v.Error == "" {
			t.Errorf("JSON body %q: want status %d and an error message", body, status)
		}
	} else {
		if !strings.HasPrefix(ct, "text/html") {
			t.Errorf("Content-Type %q, want text/html", ct)
		}
		if !strings.Contains(string(body), "<html") || !strings.Contains(string(body), http.StatusText(status)) {
			t.Errorf("body %q is not an HTML error page for %d", body, status)
		}
	}
	for _, goErr := range []string{"dial tcp", "connection refused", "EOF", "net/http:", "context deadline", "127.0.0.1:"} {
		if strings.Contains(string(body), goErr) {
			t.Errorf("error page leaks a Go error (%q): %q", goErr, body)
		}
	}
	if resp.Header.Get("X-Request-Id") == "" {
		t.Errorf("error page has no X-Request-Id")
	}
}

// freeAddr returns a loopback address nothing listens on (yet).
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}
