package edge

// End-to-end tests of the edge's own HTTP/1.1 server (server.go), over
// real loopback TCP: raw clients write bytes and read answers with
// http.ReadResponse, so that what is tested is what a client sees.

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"mime"
	"mime/multipart"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/corral-run/corral/internal/httpbench"
)

// handlerStatic is a StaticFiles that answers every path under prefix
// with h, so that a test controls exactly what the handler does.
type handlerStatic struct {
	prefix string
	h      http.HandlerFunc
}

func (s handlerStatic) Match(p string) bool { return strings.HasPrefix(p, s.prefix) }

func (s handlerStatic) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.h(w, r) }

// testServer is a Server of ours on a loopback listener.
type testServer struct {
	srv      *Server
	addr     string
	done     chan struct{} // closed when Serve returned
	serveErr error         // what Serve returned, once done is closed
	shut     atomic.Bool   // shutdown was called
}

// startServer serves cfg on 127.0.0.1, with a Proxy on an empty balancer
// if cfg has none (Shutdown needs one). When the test ends it shuts the
// server down and checks that Shutdown and Serve return nil.
func startServer(t testing.TB, cfg Config) *testServer {
	t.Helper()
	if cfg.Proxy == nil {
		bal := NewBalancer(TCPProber, probeInterval, nil)
		t.Cleanup(bal.Close)
		cfg.Proxy = NewProxy(bal, Options{})
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ts := &testServer{srv: NewServer(cfg), addr: ln.Addr().String(), done: make(chan struct{})}
	go func() {
		ts.serveErr = ts.srv.Serve(ln)
		close(ts.done)
	}()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
		defer cancel()
		if ts.shut.Load() {
			// The test shut it down; a second Shutdown is
			// TestServerShutdownTwice's business.
		} else if err := ts.shutdown(ctx, 2*time.Second); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		if err := ts.wait(); err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return ts
}

// shutdown calls Shutdown(ctx), giving up on it after d so that a hung
// Shutdown fails the test rather than stalls it.
func (ts *testServer) shutdown(ctx context.Context, d time.Duration) error {
	ts.shut.Store(true)
	done := make(chan error, 1)
	go func() { done <- ts.srv.Shutdown(ctx) }()
	select {
	case err := <-done:
		return err
	case <-time.After(d):
		return fmt.Errorf("did not return in %v", d)
	}
}

// wait returns what Serve returned, failing if it does not return soon.
func (ts *testServer) wait() error {
	select {
	case <-ts.done:
		return ts.serveErr
	case <-time.After(testTimeout):
		return errors.New("Serve did not return")
	}
}

// startStatic serves h for every path under "/" of a fresh server.
func startStatic(t testing.TB, h http.HandlerFunc) *testServer {
	t.Helper()
	return startServer(t, Config{Static: handlerStatic{"/", h}})
}

// clientConn is a raw client connection and its reader.
type clientConn struct {
	net.Conn
	br *bufio.Reader
}

func dialClient(t *testing.T, addr string) *clientConn {
	t.Helper()
	c := rawConn(t, addr)
	return &clientConn{Conn: c, br: bufio.NewReaderSize(c, 128<<10)}
}

// readResponse reads the next response head and returns it with the
// values of its Connection fields as sent: http.ReadResponse deletes a
// "Connection: close" from the Header it returns.
func (c *clientConn) readResponse(method string) (*http.Response, string, error) {
	var conn []string
	for {
		b, _ := c.br.Peek(c.br.Buffered())
		if i := bytes.Index(b, []byte("\r\n\r\n")); i >= 0 {
			for _, line := range strings.Split(string(b[:i]), "\r\n")[1:] {
				if name, v, ok := strings.Cut(line, ":"); ok && strings.EqualFold(name, "Connection") {
					conn = append(conn, strings.TrimSpace(v))
				}
			}
			break
		}
		if _, err := c.br.Peek(len(b) + 1); err != nil {
			break // ReadResponse reports it
		}
	}
	resp, err := http.ReadResponse(c.br, &http.Request{Method: method})
	return resp, strings.Join(conn, ", "), err
}

// send writes s, failing the test on an error.
func (c *clientConn) send(t *testing.T, s string) {
	t.Helper()
	if _, err := io.WriteString(c, s); err != nil {
		t.Fatalf("writing %.40q: %v", s, err)
	}
}

// read reads one response to a request of method, and its whole body.
func (c *clientConn) read(t *testing.T, method string) (*http.Response, []byte) {
	t.Helper()
	resp, conn, err := c.readResponse(method)
	if err != nil {
		t.Fatalf("reading the response to %s: %v", method, err)
	}
	defer resp.Body.Close()
	resp.Header["Connection"] = nil // what was sent, not what ReadResponse left
	if conn != "" {
		resp.Header["Connection"] = []string{conn}
	}
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("reading the body of %s %d: %v (got %d bytes)", method, resp.StatusCode, err, len(b))
	}
	return resp, b
}

// get sends a GET of path and checks that it is answered 200 with
// want.
func (c *clientConn) get(t *testing.T, path, want string) {
	t.Helper()
	c.send(t, "GET "+path+" HTTP/1.1\r\nHost: app\r\n\r\n")
	resp, body := c.read(t, http.MethodGet)
	if resp.StatusCode != http.StatusOK || string(body) != want {
		t.Fatalf("GET %s: %d %q, want 200 %q", path, resp.StatusCode, body, want)
	}
}

// closedWithin checks that the server closes the connection within d,
// sending nothing more, and returns how long that took.
func (c *clientConn) closedWithin(t *testing.T, d time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	c.SetReadDeadline(start.Add(d))
	defer c.SetReadDeadline(time.Now().Add(testTimeout))
	b, err := io.ReadAll(c.br)
	elapsed := time.Since(start)
	if len(b) > 0 {
		t.Errorf("got %q, want the connection closed", b)
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Errorf("connection still open after %v", d)
	}
	// EOF (nil from ReadAll) or a reset: closed either way.
	return elapsed
}

// checkDate checks that resp has a current Date.
func checkDate(t *testing.T, resp *http.Response) {
	t.Helper()
	d, err := http.ParseTime(resp.Header.Get("Date"))
	if err != nil {
		t.Errorf("Date %q: %v", resp.Header.Get("Date"), err)
		return
	}
	if off := time.Since(d); off < -2*time.Second || off > 2*time.Second {
		t.Errorf("Date %v is %v off", d, off)
	}
}

// pathBackend is an instance that answers with the request's path, after
// sleeping on /slow, and records the paths it was asked.
type pathBackend struct {
	*testBackend
	mu    sync.Mutex
	paths []string
}

func newPathBackend(t *testing.T, slow time.Duration) *pathBackend {
	pb := &pathBackend{}
	pb.testBackend = newBackend(t, func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		pb.mu.Lock()
		pb.paths = append(pb.paths, r.URL.Path)
		pb.mu.Unlock()
		if strings.HasPrefix(r.URL.Path, "/slow") {
			time.Sleep(slow)
		}
		io.WriteString(w, r.URL.Path)
	})
	return pb
}

func (pb *pathBackend) seen() []string {
	pb.mu.Lock()
	defer pb.mu.Unlock()
	return slices.Clone(pb.paths)
}

// testBytes returns n bytes that do not repeat in any short period, so
// that a misplaced piece shows.
func testBytes(n int) []byte {
	b := make([]byte, n)
	rand.NewChaCha8([32]byte{'e', 'd', 'g', 'e'}).Read(b)
	return b
}

// TestServerKeepAliveAndPipelining proves that requests on one connection, sent one by one or pipelined in one write, are all answered in order.
func TestServerKeepAliveAndPipelining(t *testing.T) {
	e := newEdge(t, Options{})
	pb := newPathBackend(t, 0)
	e.add(t, "web.1", pb.addr)

	tests := []struct {
		name      string
		n         int
		pipelined bool
		pad       int // bytes of an extra header in each request
	}{
		{"keep-alive", 5, false, 0},
		{"pipelined 2", 2, true, 0},
		{"pipelined 10", 10, true, 0},
		// More than the server's 4 KiB read buffer: heads cross its fills.
		{"pipelined 10 of 1 KiB", 10, true, 1 << 10},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := dialClient(t, e.addr)
			pad := strings.Repeat("p", tt.pad)
			req := func(i int) string {
				return fmt.Sprintf("GET /%s/%d HTTP/1.1\r\nHost: app\r\nX-Pad: %s\r\n\r\n", strings.ReplaceAll(tt.name, " ", "-"), i, pad)
			}
			if tt.pipelined {
				var all strings.Builder
				for i := range tt.n {
					all.WriteString(req(i))
				}
				c.send(t, all.String())
			}
			for i := range tt.n {
				if !tt.pipelined {
					c.send(t, req(i))
				}
				resp, body := c.read(t, http.MethodGet)
				want := fmt.Sprintf("/%s/%d", strings.ReplaceAll(tt.name, " ", "-"), i)
				if resp.StatusCode != http.StatusOK || string(body) != want {
					t.Fatalf("response %d: %d %q, want 200 %q", i, resp.StatusCode, body, want)
				}
				if resp.Close {
					t.Fatalf("response %d closes the connection", i)
				}
			}
		})
	}
}

// TestServerHTTP10 proves that an HTTP/1.0 connection is closed after its request unless the client asked for keep-alive.
func TestServerHTTP10(t *testing.T) {
	e := newEdge(t, Options{})
	pb := newPathBackend(t, 0)
	e.add(t, "web.1", pb.addr)

	tests := []struct {
		name     string
		conn     string // the request's Connection header
		wantConn string
	}{
		{"no keep-alive", "", "close"},
		{"keep-alive", "keep-alive", "keep-alive"},
		{"Keep-Alive", "Keep-Alive", "keep-alive"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := dialClient(t, e.addr)
			h := ""
			if tt.conn != "" {
				h = "Connection: " + tt.conn + "\r\n"
			}
			for i := range 2 {
				c.send(t, fmt.Sprintf("GET /ten/%d HTTP/1.0\r\nHost: app\r\n%s\r\n", i, h))
				resp, body := c.read(t, http.MethodGet)
				want := fmt.Sprintf("/ten/%d", i)
				if resp.StatusCode != http.StatusOK || string(body) != want {
					t.Fatalf("request %d: %d %q, want 200 %q", i, resp.StatusCode, body, want)
				}
				if got := resp.Header.Get("Connection"); got != tt.wantConn {
					t.Errorf("request %d: Connection %q, want %q", i, got, tt.wantConn)
				}
				if resp.Header.Get("Content-Length") != strconv.Itoa(len(want)) {
					t.Errorf("request %d: Content-Length %q, want %d", i, resp.Header.Get("Content-Length"), len(want))
				}
				if tt.wantConn == "close" {
					c.closedWithin(t, time.Second)
					return
				}
			}
			// And a last one that does not ask for keep-alive closes it.
			c.send(t, "GET /ten/last HTTP/1.0\r\nHost: app\r\n\r\n")
			if resp, _ := c.read(t, http.MethodGet); resp.Header.Get("Connection") != "close" {
				t.Errorf("last request: Connection %q, want close", resp.Header.Get("Connection"))
			}
			c.closedWithin(t, time.Second)
		})
	}
}

// framingBody is the body of the framing handler's large responses.
var framingBody = testBytes(10 << 10)

// framingHandler answers /t/NAME as the framing tests need.
func framingHandler(w http.ResponseWriter, r *http.Request) {
	// pieces writes b in pieces of 3000 bytes, with Write or WriteString.
	pieces := func(b []byte, str bool) {
		for len(b) > 0 {
			n := min(3000, len(b))
			if str {
				io.WriteString(w, string(b[:n]))
			} else {
				w.Write(b[:n])
			}
			b = b[n:]
		}
	}
	switch strings.TrimPrefix(r.URL.Path, "/t/") {
	case "small":
		io.WriteString(w, "hello")
	case "at-limit":
		w.Write(framingBody[:smallBody])
	case "over-limit":
		w.Write(framingBody[:smallBody+1])
	case "big":
		pieces(framingBody, false)
	case "bigstr":
		pieces(framingBody, true)
	case "declared":
		w.Header().Set("Content-Length", strconv.Itoa(len(framingBody)))
		pieces(framingBody, false)
	case "declaredstr":
		w.Header().Set("Content-Length", strconv.Itoa(len(framingBody)))
		pieces(framingBody, true)
	case "short": // declares more than it writes
		w.Header().Set("Content-Length", "10")
		io.WriteString(w, "hello")
	case "long": // writes more than it declares
		w.Header().Set("Content-Length", "5")
		io.WriteString(w, "hello, world")
	case "204":
		w.WriteHeader(http.StatusNoContent)
		io.WriteString(w, "not allowed")
	case "304":
		w.Header().Set("ETag", `"v1"`)
		w.Header().Set("Content-Length", "5")
		w.WriteHeader(http.StatusNotModified)
		io.WriteString(w, "not allowed")
	case "flush-small":
		w.(http.Flusher).Flush()
		io.WriteString(w, "hello")
	case "copy": // ReadFrom, undeclared (the reader hides its WriteTo)
		io.Copy(w, struct{ io.Reader }{bytes.NewReader(framingBody)})
	case "copy-declared": // ReadFrom to the connection's own ReadFrom
		w.Header().Set("Content-Length", strconv.Itoa(len(framingBody)))
		io.Copy(w, struct{ io.Reader }{bytes.NewReader(framingBody)})
	case "te-header": // the server, not the handler, decides the framing
		w.Header().Set("Transfer-Encoding", "chunked")
		io.WriteString(w, "hello")
	case "crlf": // a value must not add fields
		w.Header().Set("X-Evil", "a\r\nSet-Cookie: evil=1")
		io.WriteString(w, "hello")
	case "no-date": // a nil Date suppresses it, as in net/http
		w.Header()["Date"] = nil
		io.WriteString(w, "hello")
	default:
		http.NotFound(w, r)
	}
}

// TestServerResponseFraming proves that every kind of response a handler writes is framed so the client reads exactly its body, keeping the connection when it can.
func TestServerResponseFraming(t *testing.T) {
	ts := startServer(t, Config{Static: handlerStatic{"/t/", framingHandler}})
	const anyCL = "*"
	tests := []struct {
		name    string
		req     string
		status  int
		body    []byte
		cl      string   // the Content-Length, "" for none, anyCL for either
		te      []string // the Transfer-Encoding
		conn    string   // the Connection header
		closed  bool     // the server closes the connection after
		bodyErr bool     // the body cannot be read whole
		noDate  bool
		check   func(t *testing.T, h http.Header)
	}{
		{name: "small", req: "GET /t/small HTTP/1.1", status: 200, body: []byte("hello"), cl: "5"},
		{name: "undeclared at the hold limit", req: "GET /t/at-limit HTTP/1.1", status: 200, body: framingBody[:smallBody], cl: strconv.Itoa(smallBody)},
		{name: "undeclared over the hold limit", req: "GET /t/over-limit HTTP/1.1", status: 200, body: framingBody[:smallBody+1], te: []string{"chunked"}},
		{name: "big undeclared", req: "GET /t/big HTTP/1.1", status: 200, body: framingBody, te: []string{"chunked"}},
		{name: "big undeclared WriteString", req: "GET /t/bigstr HTTP/1.1", status: 200, body: framingBody, te: []string{"chunked"}},
		{name: "big undeclared to HTTP/1.0", req: "GET /t/big HTTP/1.0", status: 200, body: framingBody, conn: "close", closed: true},
		{name: "big undeclared WriteString to HTTP/1.0", req: "GET /t/bigstr HTTP/1.0", status: 200, body: framingBody, conn: "close", closed: true},
		{name: "big undeclared to HTTP/1.0 keep-alive", req: "GET /t/big HTTP/1.0\r\nConnection: keep-alive", status: 200, body: framingBody, conn: "close", closed: true},
		{name: "small to HTTP/1.0 keep-alive", req: "GET /t/small HTTP/1.0\r\nConnection: keep-alive", status: 200, body: []byte("hello"), cl: "5", conn: "keep-alive"},
		{name: "declared", req: "GET /t/declared HTTP/1.1", status: 200, body: framingBody, cl: strconv.Itoa(len(framingBody))},
		{name: "declared WriteString", req: "GET /t/declaredstr HTTP/1.1", status: 200, body: framingBody, cl: strconv.Itoa(len(framingBody))},
		{name: "declared to HTTP/1.0", req: "GET /t/declared HTTP/1.0", status: 200, body: framingBody, cl: strconv.Itoa(len(framingBody)), conn: "close", closed: true},
		{name: "declared, written short", req: "GET /t/short HTTP/1.1", status: 200, cl: "10", closed: true, bodyErr: true},
		// A Write past the declared length fails whole, as in net/http: the
		// response is short, and the connection cannot be kept.
		{name: "declared, written long", req: "GET /t/long HTTP/1.1", status: 200, cl: "5", closed: true, bodyErr: true},
		{name: "HEAD declared", req: "HEAD /t/declared HTTP/1.1", status: 200, cl: strconv.Itoa(len(framingBody))},
		{name: "HEAD small", req: "HEAD /t/small HTTP/1.1", status: 200, cl: anyCL},
		{name: "HEAD big undeclared", req: "HEAD /t/big HTTP/1.1", status: 200, cl: anyCL},
		{name: "204", req: "GET /t/204 HTTP/1.1", status: 204},
		{name: "304 with a Content-Length", req: "GET /t/304 HTTP/1.1", status: 304},
		{name: "flush then small", req: "GET /t/flush-small HTTP/1.1", status: 200, body: []byte("hello"), te: []string{"chunked"}},
		{name: "flush then small to HTTP/1.0", req: "GET /t/flush-small HTTP/1.0", status: 200, body: []byte("hello"), conn: "close", closed: true},
		{name: "io.Copy undeclared", req: "GET /t/copy HTTP/1.1", status: 200, body: framingBody, te: []string{"chunked"}},
		{name: "io.Copy undeclared to HTTP/1.0", req: "GET /t/copy HTTP/1.0", status: 200, body: framingBody, conn: "close", closed: true},
		{name: "io.Copy declared", req: "GET /t/copy-declared HTTP/1.1", status: 200, body: framingBody, cl: strconv.Itoa(len(framingBody))},
		{name: "HEAD io.Copy declared", req: "HEAD /t/copy-declared HTTP/1.1", status: 200, cl: strconv.Itoa(len(framingBody))},
		{name: "handler's Transfer-Encoding", req: "GET /t/te-header HTTP/1.1", status: 200, body: []byte("hello"), cl: "5"},
		{name: "CR LF in a value", req: "GET /t/crlf HTTP/1.1", status: 200, body: []byte("hello"), cl: "5", check: func(t *testing.T, h http.Header) {
			if len(h["Set-Cookie"]) > 0 || len(h["X-Evil"]) != 1 || !strings.HasPrefix(h.Get("X-Evil"), "a") {
				t.Errorf("X-Evil %q, Set-Cookie %q: want one X-Evil field and no Set-Cookie", h["X-Evil"], h["Set-Cookie"])
			}
		}},
		{name: "Date suppressed", req: "GET /t/no-date HTTP/1.1", status: 200, body: []byte("hello"), cl: "5", noDate: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := dialClient(t, ts.addr)
			c.send(t, tt.req+"\r\nHost: app\r\n\r\n")
			method, _, _ := strings.Cut(tt.req, " ")
			resp, conn, err := c.readResponse(method)
			if err != nil {
				t.Fatal(err)
			}
			body, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if tt.bodyErr != (err != nil) {
				t.Errorf("reading the body: %v (got %d bytes), want an error: %v", err, len(body), tt.bodyErr)
			}
			if resp.StatusCode != tt.status {
				t.Errorf("status %d, want %d", resp.StatusCode, tt.status)
			}
			if !tt.bodyErr && !bytes.Equal(body, tt.body) {
				t.Errorf("body of %d bytes (%.20q), want %d bytes (%.20q)", len(body), body, len(tt.body), tt.body)
			}
			if cl, ok := resp.Header["Content-Length"]; tt.cl != anyCL && (tt.cl == "") == ok || ok && tt.cl != anyCL && cl[0] != tt.cl {
				t.Errorf("Content-Length %q, want %q", cl, tt.cl)
			}
			if !slices.Equal(resp.TransferEncoding, tt.te) {
				t.Errorf("Transfer-Encoding %q, want %q", resp.TransferEncoding, tt.te)
			}
			if conn != tt.conn {
				t.Errorf("Connection %q, want %q", conn, tt.conn)
			}
			if tt.noDate {
				if d, ok := resp.Header["Date"]; ok {
					t.Errorf("Date %q, want none", d)
				}
			} else {
				checkDate(t, resp)
			}
			if tt.check != nil {
				tt.check(t, resp.Header)
			}
			if tt.closed {
				c.closedWithin(t, time.Second)
				return
			}
			c.get(t, "/t/small", "hello") // the framing left the connection sound
		})
	}
}

// TestServerInformational proves that a handler's 1xx reaches the client, with its fields, before a normally framed final response.
func TestServerInformational(t *testing.T) {
	ts := startStatic(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Link", "</style.css>; rel=preload; as=style")
		w.WriteHeader(http.StatusEarlyHints)
		w.WriteHeader(http.StatusEarlyHints)
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, "hello")
	})
	c := dialClient(t, ts.addr)
	for range 2 { // and the connection is kept
		c.send(t, "GET / HTTP/1.1\r\nHost: app\r\n\r\n")
		for range 2 {
			resp, body := c.read(t, http.MethodGet)
			if resp.StatusCode != http.StatusEarlyHints || len(body) > 0 || resp.Header.Get("Link") == "" {
				t.Fatalf("%d %q with Link %q, want 103 with a Link", resp.StatusCode, body, resp.Header.Get("Link"))
			}
		}
		resp, body := c.read(t, http.MethodGet)
		if resp.StatusCode != 200 || string(body) != "hello" || resp.Header.Get("Content-Type") != "text/plain" {
			t.Fatalf("%d %q (%q), want 200 hello", resp.StatusCode, body, resp.Header.Get("Content-Type"))
		}
	}
}

// TestServerShutdownLeavesUpgraded proves that Shutdown does not wait for
// a connection its handler took over (a WebSocket), as net/http's does not:
// it ends with its handler.
func TestServerShutdownLeavesUpgraded(t *testing.T) {
	hijacked, release := make(chan struct{}), make(chan struct{})
	ts := startStatic(t, func(w http.ResponseWriter, r *http.Request) {
		nc, _, err := w.(http.Hijacker).Hijack()
		if err != nil {
			t.Error(err)
			return
		}
		defer nc.Close()
		close(hijacked)
		<-release
	})
	defer close(release)
	c := dialClient(t, ts.addr)
	c.send(t, "GET / HTTP/1.1\r\nHost: app\r\nUpgrade: test\r\nConnection: Upgrade\r\n\r\n")
	<-hijacked
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	if err := ts.shutdown(ctx, time.Second); err != nil {
		t.Fatalf("Shutdown with an upgraded connection open: %v", err)
	}
}

// TestServerHijack proves that a hijacking handler gets the bytes sent after the head, even those read ahead or by the watcher.
func TestServerHijack(t *testing.T) {
	ts := startStatic(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/late" {
			time.Sleep(250 * time.Millisecond) // the watcher runs
		}
		nc, brw, err := w.(http.Hijacker).Hijack()
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		defer nc.Close()
		nc.SetDeadline(time.Now().Add(testTimeout))
		msg := make([]byte, 4)
		if _, err := io.ReadFull(brw, msg); err != nil {
			return
		}
		brw.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: test\r\nConnection: Upgrade\r\n\r\n")
		brw.WriteString(strings.ToUpper(string(msg)))
		brw.Flush()
	})
	const head = "Upgrade: test\r\nConnection: Upgrade\r\nHost: app\r\n\r\n"
	tests := []struct {
		name   string
		pieces []string
		gap    time.Duration
	}{
		{"read ahead", []string{"GET /now HTTP/1.1\r\n" + head + "ping"}, 0},
		{"first byte read by the watcher", []string{"GET /late HTTP/1.1\r\n" + head, "p", "ing"}, 100 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := dialClient(t, ts.addr)
			for i, p := range tt.pieces {
				if i > 0 {
					time.Sleep(tt.gap)
				}
				c.send(t, p)
			}
			resp, err := http.ReadResponse(c.br, nil)
			if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
				t.Fatalf("%v %v, want 101", resp, err)
			}
			got, err := io.ReadAll(c.br)
			if err != nil || string(got) != "PING" {
				t.Errorf("after the switch: %q (%v), want PING then the end", got, err)
			}
		})
	}
}

// TestServerFlush proves that what a handler flushes reaches the client while the handler is still running.
func TestServerFlush(t *testing.T) {
	tests := []struct {
		name   string
		req    string
		te     []string
		cl     int64
		closed bool
	}{
		{"HTTP/1.1 undeclared", "GET /flush HTTP/1.1", []string{"chunked"}, -1, false},
		{"HTTP/1.1 declared", "GET /flush?declared=1 HTTP/1.1", nil, 22, false},
		{"HTTP/1.0 undeclared", "GET /flush HTTP/1.0", nil, -1, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			release := make(chan struct{})
			var once sync.Once
			unblock := func() { once.Do(func() { close(release) }) }
			defer unblock()
			ts := startStatic(t, func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Query().Get("declared") != "" {
					w.Header().Set("Content-Length", "22")
				}
				io.WriteString(w, "first part;")
				w.(http.Flusher).Flush()
				select {
				case <-release:
				case <-time.After(testTimeout):
				}
				io.WriteString(w, "second part")
			})
			c := dialClient(t, ts.addr)
			c.send(t, tt.req+"\r\nHost: app\r\n\r\n")
			c.SetReadDeadline(time.Now().Add(2 * time.Second))
			resp, err := http.ReadResponse(c.br, nil)
			if err != nil {
				t.Fatalf("no response head while the handler runs: %v", err)
			}
			first := make([]byte, len("first part;"))
			if _, err := io.ReadFull(resp.Body, first); err != nil || string(first) != "first part;" {
				t.Fatalf("first part %q (%v) while the handler runs", first, err)
			}
			unblock()
			rest, err := io.ReadAll(resp.Body)
			if err != nil || string(rest) != "second part" {
				t.Fatalf("rest %q (%v), want \"second part\"", rest, err)
			}
			if !slices.Equal(resp.TransferEncoding, tt.te) || resp.ContentLength != tt.cl {
				t.Errorf("Transfer-Encoding %q, Content-Length %d; want %q, %d", resp.TransferEncoding, resp.ContentLength, tt.te, tt.cl)
			}
			c.SetReadDeadline(time.Now().Add(testTimeout))
			if tt.closed {
				c.closedWithin(t, time.Second)
			}
		})
	}
}

// TestServerHandlerPanic proves that a handler's panic closes only its connection, without a whole-looking response, and serving goes on.
func TestServerHandlerPanic(t *testing.T) {
	ts := startStatic(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/panic":
			panic("handler bug")
		case "/panic-after-flush":
			io.WriteString(w, "partial")
			w.(http.Flusher).Flush()
			panic("handler bug")
		}
		io.WriteString(w, "fine")
	})
	old := dialClient(t, ts.addr)
	old.get(t, "/", "fine")

	for _, path := range []string{"/panic", "/panic-after-flush"} {
		t.Run(path, func(t *testing.T) {
			c := dialClient(t, ts.addr)
			c.send(t, "GET "+path+" HTTP/1.1\r\nHost: app\r\n\r\n")
			resp, err := http.ReadResponse(c.br, nil)
			if err == nil {
				body, err := io.ReadAll(resp.Body)
				if err == nil {
					t.Fatalf("got a whole response: %d %q", resp.StatusCode, body)
				}
			}
			c.closedWithin(t, time.Second)

			dialClient(t, ts.addr).get(t, "/", "fine")
			old.get(t, "/", "fine")
		})
	}
}

// TestServerServeContent proves that http.ServeContent of a file (ReadFrom's sendfile path), whole or in ranges, arrives intact on a kept connection.
func TestServerServeContent(t *testing.T) {
	data := testBytes(100 << 10)
	name := filepath.Join(t.TempDir(), "data.bin")
	if err := os.WriteFile(name, data, 0o644); err != nil {
		t.Fatal(err)
	}
	mod := time.Now().Add(-time.Hour)
	ts := startStatic(t, func(w http.ResponseWriter, r *http.Request) {
		f, err := os.Open(name)
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		defer f.Close()
		http.ServeContent(w, r, "data.bin", mod, f)
	})

	tests := []struct {
		name   string
		method string
		rng    string
		status int
		want   []byte // the body, or the parts of a multipart one concatenated
		cr     string // Content-Range
		parts  int    // multipart/byteranges parts
	}{
		{"whole", "GET", "", 200, data, "", 0},
		{"range", "GET", "bytes=1000-1999", 206, data[1000:2000], "bytes 1000-1999/102400", 0},
		{"suffix", "GET", "bytes=-5000", 206, data[len(data)-5000:], "bytes 97400-102399/102400", 0},
		{"open-ended", "GET", "bytes=70000-", 206, data[70000:], "bytes 70000-102399/102400", 0},
		{"two ranges", "GET", "bytes=0-9,50000-50999", 206, append(slices.Clone(data[:10]), data[50000:51000]...), "", 2},
		{"HEAD", "HEAD", "", 200, nil, "", 0},
	}
	c := dialClient(t, ts.addr) // one connection for them all
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := ""
			if tt.rng != "" {
				h = "Range: " + tt.rng + "\r\n"
			}
			c.send(t, tt.method+" /data.bin HTTP/1.1\r\nHost: app\r\n"+h+"\r\n")
			resp, body := c.read(t, tt.method)
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d", resp.StatusCode, tt.status)
			}
			if resp.Header.Get("Content-Range") != tt.cr {
				t.Errorf("Content-Range %q, want %q", resp.Header.Get("Content-Range"), tt.cr)
			}
			if tt.method == "HEAD" {
				if resp.Header.Get("Content-Length") != strconv.Itoa(len(data)) || len(body) != 0 {
					t.Errorf("HEAD: Content-Length %q and %d bytes of body, want %d and none", resp.Header.Get("Content-Length"), len(body), len(data))
				}
				return
			}
			if resp.Header.Get("Content-Length") != strconv.Itoa(len(body)) {
				t.Errorf("Content-Length %q for a body of %d bytes", resp.Header.Get("Content-Length"), len(body))
			}
			got := body
			if tt.parts > 0 {
				mt, params, err := mime.ParseMediaType(resp.Header.Get("Content-Type"))
				if err != nil || mt != "multipart/byteranges" {
					t.Fatalf("Content-Type %q (%v), want multipart/byteranges", resp.Header.Get("Content-Type"), err)
				}
				mr := multipart.NewReader(bytes.NewReader(body), params["boundary"])
				got = nil
				n := 0
				for {
					p, err := mr.NextPart()
					if err == io.EOF {
						break
					}
					if err != nil {
						t.Fatal(err)
					}
					b, err := io.ReadAll(p)
					if err != nil {
						t.Fatal(err)
					}
					got = append(got, b...)
					n++
				}
				if n != tt.parts {
					t.Errorf("%d parts, want %d", n, tt.parts)
				}
			}
			if !bytes.Equal(got, tt.want) {
				t.Errorf("got %d bytes, want %d; the same: %v", len(got), len(tt.want), bytes.Equal(got, tt.want))
			}
		})
	}
}

// TestServerRefusesHeads proves that a refused head gets its status, a body naming the reason, Connection: close, and the connection closed.
func TestServerRefusesHeads(t *testing.T) {
	e := newEdge(t, Options{})
	pb := newPathBackend(t, 0)
	e.add(t, "web.1", pb.addr)

	tests := []struct {
		name   string
		req    string
		status int
		reason string
	}{
		{"CL and TE", "POST / HTTP/1.1\r\nHost: app\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400, "both Content-Length and Transfer-Encoding"},
		{"TE and CL", "POST / HTTP/1.1\r\nHost: app\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n", 400, "both Content-Length and Transfer-Encoding"},
		{"duplicate CL", "POST / HTTP/1.1\r\nHost: app\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello", 400, "duplicate Content-Length"},
		{"obs-fold", "GET / HTTP/1.1\r\nHost: app\r\nX-Long: a\r\n b\r\n\r\n", 400, "obsolete line folding"},
		{"TE in HTTP/1.0", "POST / HTTP/1.0\r\nHost: app\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400, "Transfer-Encoding in an HTTP/1.0 request"},
		{"unsupported TE", "POST / HTTP/1.1\r\nHost: app\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", 501, "unsupported Transfer-Encoding"},
		{"HTTP/2.0", "GET / HTTP/2.0\r\nHost: app\r\n\r\n", 505, "unsupported HTTP version"},
		{"header over 64 KiB", "GET / HTTP/1.1\r\nHost: app\r\nX-Big: " + strings.Repeat("b", 70<<10) + "\r\n\r\n", 431, "request header fields too large"},
		{"no Host in HTTP/1.1", "GET / HTTP/1.1\r\nUser-Agent: x\r\n\r\n", 400, "missing Host"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := dialClient(t, e.addr)
			go io.WriteString(c, tt.req) // the server may answer before it has read it all
			resp, body := c.read(t, http.MethodGet)
			if resp.StatusCode != tt.status {
				t.Errorf("status %d, want %d", resp.StatusCode, tt.status)
			}
			if !strings.Contains(string(body), tt.reason) {
				t.Errorf("body %q does not say %q", body, tt.reason)
			}
			if got := resp.Header.Get("Connection"); got != "close" {
				t.Errorf("Connection %q, want close", got)
			}
			c.closedWithin(t, time.Second)
		})
	}
	if seen := pb.seen(); len(seen) > 0 {
		t.Errorf("the instance was asked %q", seen)
	}
}

// TestServerSmugglingPipelined proves that a smuggling attempt pipelined after a valid GET is refused after the GET is answered, and reaches no instance.
func TestServerSmugglingPipelined(t *testing.T) {
	e := newEdge(t, Options{})
	pb := newPathBackend(t, 0)
	e.add(t, "web.1", pb.addr)

	const hidden = "GET /smuggled HTTP/1.1\r\nHost: app\r\n\r\n"
	tests := []struct {
		name, attempt string
	}{
		{"CL.TE", "POST /post HTTP/1.1\r\nHost: app\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + hidden},
		{"TE.CL", "POST /post HTTP/1.1\r\nHost: app\r\nTransfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n" +
			fmt.Sprintf("%x\r\n%s\r\n0\r\n\r\n", len(hidden), hidden)},
		{"CL.CL", "POST /post HTTP/1.1\r\nHost: app\r\nContent-Length: 0\r\nContent-Length: " + strconv.Itoa(len(hidden)) + "\r\n\r\n" + hidden},
		{"TE in HTTP/1.0", "POST /post HTTP/1.0\r\nHost: app\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n" +
			fmt.Sprintf("%x\r\n%s\r\n0\r\n\r\n", len(hidden), hidden)},
		{"obs-fold", "POST /post HTTP/1.1\r\nHost: app\r\nX-A: a\r\n Content-Length: 0\r\nContent-Length: " + strconv.Itoa(len(hidden)) + "\r\n\r\n" + hidden},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pb.mu.Lock()
			pb.paths = nil
			pb.mu.Unlock()
			c := dialClient(t, e.addr)
			c.send(t, "GET /first HTTP/1.1\r\nHost: app\r\n\r\n"+tt.attempt)
			resp, body := c.read(t, http.MethodGet)
			if resp.StatusCode != 200 || string(body) != "/first" {
				t.Fatalf("first: %d %q, want 200 /first", resp.StatusCode, body)
			}
			resp, body = c.read(t, http.MethodPost)
			if resp.StatusCode != 400 {
				t.Errorf("the ambiguous request: %d %q, want 400", resp.StatusCode, body)
			}
			c.closedWithin(t, time.Second)
			if seen := pb.seen(); !slices.Equal(seen, []string{"/first"}) {
				t.Errorf("the instance was asked %q, want only /first", seen)
			}
		})
	}
}

// TestServerTimeouts proves that HeaderTimeout bounds a head (and a new connection's first) from its first byte; IdleTimeout bounds the wait between requests.
func TestServerTimeouts(t *testing.T) {
	const head = "GET /t/small HTTP/1.1\r\nHost: app\r\nUser-Agent: trickle\r\n\r\n"
	slow := handlerStatic{"/", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			time.Sleep(300 * time.Millisecond)
		}
		io.WriteString(w, "hello")
	}}
	// trickle writes head in n pieces, every gap.
	trickle := func(c net.Conn, n int, gap time.Duration) {
		step := (len(head) + n - 1) / n
		for s := head; len(s) > 0; {
			k := min(step, len(s))
			if _, err := io.WriteString(c, s[:k]); err != nil {
				return // closed by the server: what some cases want
			}
			s = s[k:]
			time.Sleep(gap)
		}
	}
	tests := []struct {
		name                string
		header, idle        time.Duration
		run                 func(t *testing.T, c *clientConn)
		closedMin, closeMax time.Duration // the connection closes within; 0: stays open
	}{
		{"half a head stalls", 200 * time.Millisecond, 5 * time.Second, func(t *testing.T, c *clientConn) {
			c.send(t, head[:20])
		}, 180 * time.Millisecond, time.Second},
		{"a head trickling past HeaderTimeout", 200 * time.Millisecond, 5 * time.Second, func(t *testing.T, c *clientConn) {
			go trickle(c, 12, 50*time.Millisecond)
		}, 180 * time.Millisecond, time.Second},
		{"a head trickling within HeaderTimeout", 400 * time.Millisecond, 5 * time.Second, func(t *testing.T, c *clientConn) {
			trickle(c, 6, 30*time.Millisecond)
			if resp, body := c.read(t, http.MethodGet); string(body) != "hello" {
				t.Errorf("%d %q, want hello", resp.StatusCode, body)
			}
		}, 0, 0},
		{"idle kept-alive connection", 5 * time.Second, 200 * time.Millisecond, func(t *testing.T, c *clientConn) {
			c.get(t, "/", "hello")
		}, 180 * time.Millisecond, time.Second},
		// A new connection owes a request at once: HeaderTimeout.
		{"new connection sending nothing", 200 * time.Millisecond, 5 * time.Second, func(t *testing.T, c *clientConn) {
		}, 180 * time.Millisecond, time.Second},
		{"new connection sending nothing (IdleTimeout shorter)", 200 * time.Millisecond, 50 * time.Millisecond, func(t *testing.T, c *clientConn) {
		}, 180 * time.Millisecond, time.Second},
		{"HeaderTimeout does not count idle time", 100 * time.Millisecond, 5 * time.Second, func(t *testing.T, c *clientConn) {
			c.get(t, "/", "hello")
			time.Sleep(250 * time.Millisecond)
			c.get(t, "/", "hello")
		}, 0, 0},
		{"IdleTimeout does not cut a long request", 5 * time.Second, 100 * time.Millisecond, func(t *testing.T, c *clientConn) {
			c.get(t, "/slow", "hello")
			c.get(t, "/", "hello")
		}, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts := startServer(t, Config{Static: slow, HeaderTimeout: tt.header, IdleTimeout: tt.idle})
			c := dialClient(t, ts.addr)
			tt.run(t, c)
			if tt.closeMax == 0 {
				return
			}
			if d := c.closedWithin(t, tt.closeMax); d < tt.closedMin {
				t.Errorf("closed after %v, want at least %v", d, tt.closedMin)
			}
		})
	}
}

// TestServerExpectContinue proves that Expect: 100-continue gets a 100 when the body is wanted, and a 413 without a 100 when it is too large.
func TestServerExpectContinue(t *testing.T) {
	e := newEdge(t, Options{MaxBody: 16})
	b := newBackend(t, func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		fmt.Fprintf(w, "%d %s", len(body), body)
	})
	e.add(t, "web.1", b.addr)

	t.Run("small body", func(t *testing.T) {
		c := dialClient(t, e.addr)
		c.send(t, "POST /up HTTP/1.1\r\nHost: app\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n")
		resp, _ := c.read(t, http.MethodPost)
		if resp.StatusCode != http.StatusContinue {
			t.Fatalf("first answer %d, want 100", resp.StatusCode)
		}
		c.send(t, "hello")
		resp, body := c.read(t, http.MethodPost)
		if resp.StatusCode != 200 || string(body) != "5 hello" {
			t.Fatalf("%d %q, want 200 \"5 hello\"", resp.StatusCode, body)
		}
		c.get(t, "/next", "0 ")
	})
	t.Run("too large", func(t *testing.T) {
		hits := b.hits.Load()
		c := dialClient(t, e.addr)
		c.send(t, "POST /up HTTP/1.1\r\nHost: app\r\nContent-Length: 100\r\nExpect: 100-continue\r\n\r\n")
		resp, body := c.read(t, http.MethodPost)
		if resp.StatusCode != http.StatusRequestEntityTooLarge {
			t.Fatalf("first answer %d %q, want 413", resp.StatusCode, body)
		}
		if got := resp.Header.Get("Connection"); got != "close" {
			t.Errorf("Connection %q, want close", got)
		}
		c.closedWithin(t, time.Second)
		if b.hits.Load() != hits {
			t.Error("the instance was asked")
		}
	})
}

// TestServerClientGone proves that a client that leaves while its request waits cancels it: the proxy logs 499 within a second.
func TestServerClientGone(t *testing.T) {
	tests := []struct {
		name  string
		req   string
		after time.Duration // how long the client waits before leaving
	}{
		{"GET, leaving at once", "GET /gone HTTP/1.1\r\nHost: app\r\n\r\n", 0},
		{"GET, leaving once watched", "GET /gone HTTP/1.1\r\nHost: app\r\n\r\n", 300 * time.Millisecond},
		{"POST with a body", "POST /gone HTTP/1.1\r\nHost: app\r\nContent-Length: 5\r\n\r\nhello", 150 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEdge(t, Options{BootWait: 10 * time.Second})
			c := dialClient(t, e.addr)
			c.send(t, tt.req)
			time.Sleep(tt.after)
			left := time.Now()
			c.Close()
			select {
			case a := <-e.access:
				if a.Status != statusClientGone || a.Target != "/gone" {
					t.Errorf("access record %+v, want 499 for /gone", a)
				}
				if d := time.Since(left); d > time.Second {
					t.Errorf("499 logged %v after the client left", d)
				}
			case <-time.After(2 * time.Second):
				t.Fatal("no access record 2s after the client left")
			}
		})
	}
}

// TestServerWatcherKeepsPipelinedRequest proves that the client-gone watcher loses or reorders no request pipelined after a slow one.
func TestServerWatcherKeepsPipelinedRequest(t *testing.T) {
	e := newEdge(t, Options{})
	pb := newPathBackend(t, 300*time.Millisecond)
	e.add(t, "web.1", pb.addr)

	pad := "X-Pad: " + strings.Repeat("p", 3000) + "\r\n"
	tests := []struct {
		name   string
		first  string
		second []string // the pieces of the second request
		gap    time.Duration
	}{
		{"one write", "GET /slow HTTP/1.1\r\nHost: app\r\n\r\nGET /next HTTP/1.1\r\nHost: app\r\n\r\n", nil, 0},
		// The server reads 4 KiB at a time: the watcher reads the rest.
		{"one write larger than the read buffer", "GET /slow HTTP/1.1\r\nHost: app\r\n" + pad + "\r\nGET /next HTTP/1.1\r\nHost: app\r\n" + pad + "\r\n", nil, 0},
		{"second sent while watched", "GET /slow HTTP/1.1\r\nHost: app\r\n\r\n", []string{"GET /next HTTP/1.1\r\nHost: app\r\n\r\n"}, 150 * time.Millisecond},
		{"second's first byte alone while watched", "GET /slow HTTP/1.1\r\nHost: app\r\n\r\n", []string{"G", "ET /next HTTP/1.1\r\nHost: app\r\n\r\n"}, 150 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pb.mu.Lock()
			pb.paths = nil
			pb.mu.Unlock()
			c := dialClient(t, e.addr)
			c.send(t, tt.first)
			for _, s := range tt.second {
				time.Sleep(tt.gap)
				c.send(t, s)
			}
			for _, want := range []string{"/slow", "/next"} {
				resp, body := c.read(t, http.MethodGet)
				if resp.StatusCode != 200 || string(body) != want {
					t.Fatalf("%d %q, want 200 %q", resp.StatusCode, body, want)
				}
			}
			c.get(t, "/last", "/last")
			if seen := pb.seen(); !slices.Equal(seen, []string{"/slow", "/next", "/last"}) {
				t.Errorf("the instance was asked %q", seen)
			}
			for range 3 {
				if a := e.nextAccess(t); a.Status != 200 {
					t.Errorf("access record %+v, want 200", a)
				}
			}
		})
	}
}

// TestServerShutdown proves that Shutdown closes idle connections at once, delivers the in-flight response whole with Connection: close, and returns nil.
func TestServerShutdown(t *testing.T) {
	e := newEdge(t, Options{})
	var answered atomic.Int64 // when the instance answered /slow, in UnixNano
	b := newBackend(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			time.Sleep(300 * time.Millisecond)
			answered.Store(time.Now().UnixNano())
		}
		io.WriteString(w, r.URL.Path)
	})
	e.add(t, "web.1", b.addr)
	ts := startServer(t, Config{Proxy: e.proxy})

	idle := dialClient(t, ts.addr)
	idle.get(t, "/idle", "/idle")
	busy := dialClient(t, ts.addr)
	busy.send(t, "GET /slow HTTP/1.1\r\nHost: app\r\n\r\n")
	time.Sleep(100 * time.Millisecond) // in flight

	start := time.Now()
	shut := make(chan error, 1)
	var shutAt atomic.Int64
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
		defer cancel()
		err := ts.shutdown(ctx, 2*time.Second)
		shutAt.Store(time.Now().UnixNano())
		shut <- err
	}()

	if d := idle.closedWithin(t, time.Second); d > 100*time.Millisecond {
		t.Errorf("idle connection closed %v after Shutdown, want at once", d)
	}
	resp, body := busy.read(t, http.MethodGet)
	if resp.StatusCode != 200 || string(body) != "/slow" {
		t.Errorf("in-flight request: %d %q, want 200 /slow", resp.StatusCode, body)
	}
	if got := resp.Header.Get("Connection"); got != "close" {
		t.Errorf("in-flight response: Connection %q, want close", got)
	}
	busy.closedWithin(t, time.Second)
	busy.Close()

	select {
	case err := <-shut:
		if err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		if shutAt.Load() < answered.Load() {
			t.Errorf("Shutdown returned before the request in flight was answered")
		}
	case <-time.After(2 * time.Second):
		t.Fatalf("Shutdown still waiting %v after it began", time.Since(start))
	}
	if err := ts.wait(); err != nil {
		t.Errorf("Serve: %v", err)
	}
	if c, err := net.DialTimeout("tcp", ts.addr, time.Second); err == nil {
		c.Close()
		t.Error("the listener still accepts after Shutdown")
	}
}

// TestServerShutdownContext proves that Shutdown whose context ends with a request in flight returns the context's error and cancels the request.
func TestServerShutdownContext(t *testing.T) {
	tests := []struct {
		name string
		ctx  func() (context.Context, context.CancelFunc)
		want error
	}{
		{"already expired", func() (context.Context, context.CancelFunc) {
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			return ctx, cancel
		}, context.Canceled},
		{"expiring while it waits", func() (context.Context, context.CancelFunc) {
			return context.WithTimeout(context.Background(), 100*time.Millisecond)
		}, context.DeadlineExceeded},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			started := make(chan struct{}, 1)
			canceled := make(chan struct{}, 1)
			ts := startStatic(t, func(w http.ResponseWriter, r *http.Request) {
				started <- struct{}{}
				select {
				case <-r.Context().Done():
					canceled <- struct{}{}
				case <-time.After(testTimeout):
				}
			})
			c := dialClient(t, ts.addr)
			c.send(t, "GET /wait HTTP/1.1\r\nHost: app\r\n\r\n")
			<-started
			ctx, cancel := tt.ctx()
			defer cancel()
			start := time.Now()
			if err := ts.shutdown(ctx, time.Second); !errors.Is(err, tt.want) {
				t.Errorf("Shutdown: %v, want %v", err, tt.want)
			}
			if d := time.Since(start); d > time.Second {
				t.Errorf("Shutdown took %v", d)
			}
			select {
			case <-canceled:
			case <-time.After(time.Second):
				t.Error("the request in flight was not canceled")
			}
			if err := ts.wait(); err != nil {
				t.Errorf("Serve: %v", err)
			}
		})
	}
}

// TestServerShutdownTwice proves that Shutdown called again on a stopped server returns nil at once.
func TestServerShutdownTwice(t *testing.T) {
	ts := startStatic(t, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "hello") })
	dialClient(t, ts.addr).get(t, "/", "hello")
	for i := range 2 {
		if err := ts.shutdown(context.Background(), time.Second); err != nil {
			t.Fatalf("Shutdown %d: %v", i+1, err)
		}
	}
	if err := ts.wait(); err != nil {
		t.Errorf("Serve: %v", err)
	}
}

// TestServerH2C proves that an h2c prior-knowledge connection is served as HTTP/2, and a short HTTP/1 request that begins like the preface is not held.
func TestServerH2C(t *testing.T) {
	ts := startServer(t, Config{
		Static: handlerStatic{"/", func(w http.ResponseWriter, r *http.Request) {
			body, _ := io.ReadAll(r.Body)
			fmt.Fprintf(w, "%s %s %s", r.Proto, r.Method, body)
		}},
		HeaderTimeout: 2 * time.Second,
	})

	t.Run("prior knowledge", func(t *testing.T) {
		var p http.Protocols
		p.SetUnencryptedHTTP2(true)
		tr := &http.Transport{Protocols: &p}
		defer tr.CloseIdleConnections()
		resp, err := (&http.Client{Transport: tr, Timeout: testTimeout}).Post("http://"+ts.addr+"/", "text/plain", strings.NewReader("hi"))
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || string(body) != "HTTP/2.0 POST hi" {
			t.Errorf("%d %q, want 200 \"HTTP/2.0 POST hi\"", resp.StatusCode, body)
		}
	})

	// A whole HTTP/1.0 request shorter than the preface, whose first
	// segment could begin one.
	tests := []struct {
		name   string
		pieces []string
		want   string
	}{
		{"short request", []string{"POST / HTTP/1.0\r\n\r\n"}, "HTTP/1.0 POST "},
		{"short request, P alone first", []string{"P", "OST / HTTP/1.0\r\n\r\n"}, "HTTP/1.0 POST "},
		{"short request, PR alone first", []string{"PR", "OPFIND / HTTP/1.0\r\n\r\n"}, "HTTP/1.0 PROPFIND "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := dialClient(t, ts.addr)
			for i, p := range tt.pieces {
				if i > 0 {
					time.Sleep(50 * time.Millisecond)
				}
				c.send(t, p)
			}
			c.SetReadDeadline(time.Now().Add(time.Second))
			resp, body := c.read(t, http.MethodPost)
			if resp.StatusCode != 200 || string(body) != tt.want {
				t.Errorf("%d %q, want 200 %q", resp.StatusCode, body, tt.want)
			}
		})
	}
}

// TestServerChunkedRequestBody proves that a chunked request body reaches the app whole, with a Content-Length, and a malformed one gets 400.
func TestServerChunkedRequestBody(t *testing.T) {
	e := newEdge(t, Options{})
	b := newBackend(t, echoHeaders)
	e.add(t, "web.1", b.addr)

	const head = "POST /up HTTP/1.1\r\nHost: app\r\nTransfer-Encoding: chunked\r\n"
	tests := []struct {
		name   string
		req    string
		status int
		length int64
	}{
		{"with a trailer", head + "Trailer: X-Sum\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\nX-Sum: 42\r\n\r\n", 200, 11},
		{"with extensions", head + "\r\n5;name=value\r\nhello\r\n0\r\n\r\n", 200, 5},
		{"upper-case hex", head + "\r\nB\r\nhello world\r\n0\r\n\r\n", 200, 11},
		{"malformed chunk size", head + "\r\nzz\r\nhello\r\n0\r\n\r\n", 400, 0},
		{"chunk longer than its size", head + "\r\n3\r\nhello\r\n0\r\n\r\n", 400, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hits := b.hits.Load()
			c := dialClient(t, e.addr)
			c.send(t, tt.req)
			resp, body := c.read(t, http.MethodPost)
			if resp.StatusCode != tt.status {
				t.Fatalf("%d %q, want %d", resp.StatusCode, body, tt.status)
			}
			if tt.status != 200 {
				if !strings.Contains(string(body), "chunk") {
					t.Errorf("body %q does not say what was wrong", body)
				}
				if got := resp.Header.Get("Connection"); got != "close" {
					t.Errorf("Connection %q, want close", got)
				}
				if b.hits.Load() != hits {
					t.Error("the instance was asked")
				}
				c.closedWithin(t, time.Second)
				return
			}
			s := decodeSeen(t, body)
			if s.ContentLength != tt.length || s.BodyLen != int(tt.length) || s.Chunked {
				t.Errorf("the instance saw %+v, want a body of %d with its Content-Length", s, tt.length)
			}
			c.send(t, "GET /next HTTP/1.1\r\nHost: app\r\n\r\n")
			if resp, _ := c.read(t, http.MethodGet); resp.StatusCode != 200 {
				t.Errorf("next request: %d", resp.StatusCode)
			}
		})
	}
}

// TestServerUnreadRequestBody proves that an unread small body is dropped to keep the connection; otherwise the response says Connection: close.
func TestServerUnreadRequestBody(t *testing.T) {
	ts := startStatic(t, func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ignored")
	})
	big := strings.Repeat("b", discardLimit+64<<10)
	tests := []struct {
		name   string
		req    string
		closed bool
	}{
		{"small", "POST / HTTP/1.1\r\nHost: app\r\nContent-Length: 10\r\n\r\n0123456789", false},
		{"small chunked", "POST / HTTP/1.1\r\nHost: app\r\nTransfer-Encoding: chunked\r\n\r\na\r\n0123456789\r\n0\r\n\r\n", false},
		{"over the discard limit", "POST / HTTP/1.1\r\nHost: app\r\nContent-Length: " + strconv.Itoa(len(big)) + "\r\n\r\n" + big, true},
		{"waiting for 100 Continue", "POST / HTTP/1.1\r\nHost: app\r\nContent-Length: 10\r\nExpect: 100-continue\r\n\r\n", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := dialClient(t, ts.addr)
			go io.WriteString(c, tt.req)
			resp, body := c.read(t, http.MethodPost)
			if resp.StatusCode != 200 || string(body) != "ignored" {
				t.Fatalf("%d %q, want 200 ignored", resp.StatusCode, body)
			}
			if !tt.closed {
				c.get(t, "/", "ignored")
				return
			}
			if got := resp.Header.Get("Connection"); got != "close" {
				t.Errorf("Connection %q, want close: the server closes the connection after it", got)
			}
			c.closedWithin(t, time.Second)
		})
	}
}

// BenchmarkServerSmall compares our server with net/http's on a 13-byte handler, 16 client goroutines over loopback.
func BenchmarkServerSmall(b *testing.B) {
	hello := func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, "hello, world\n")
	}
	b.Run("edge", func(b *testing.B) {
		ts := startStatic(b, hello)
		httpbench.ParallelGets(b, "http://"+ts.addr+"/")
	})
	b.Run("net-http", func(b *testing.B) {
		srv := &http.Server{Handler: http.HandlerFunc(hello)}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			b.Fatal(err)
		}
		go srv.Serve(ln)
		defer srv.Close()
		httpbench.ParallelGets(b, "http://"+ln.Addr().String()+"/")
	})
}
