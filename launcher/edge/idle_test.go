package edge

// Tests of idle connections (idle.go, park_linux.go, conn's cold states):
// they give back what serving a request took, they park, and the oldest
// are closed when the edge runs short of file descriptors.

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// waiting is the state a connection of this system waits in once cold:
// parked where the parker runs.
var waiting = map[bool]int32{true: connParked, false: connCold}[runtime.GOOS == "linux"]

// growStack uses about n bytes of stack, as serving a proxied request
// does, so that a goroutine that served one has grown its stack.
func growStack(n int) byte {
	var pad [1 << 10]byte
	pad[n%len(pad)] = byte(n)
	if n <= len(pad) {
		return pad[0]
	}
	return growStack(n-len(pad)) + pad[n%len(pad)]
}

// countConns counts the server's connections in state st.
func countConns(s *Server, st int32) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for c := range s.conns {
		if c.state.Load() == st {
			n++
		}
	}
	return n
}

// inUse returns the bytes of heap objects and goroutine stacks in use,
// after a collection.
func inUse() uint64 {
	var m runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&m)
	return m.HeapAlloc + m.StackInuse
}

// TestServerIdleConnsAreCheap proves that kept-alive connections waiting
// for their next request give back their buffers, their request storage
// and the stack that serving grew: each costs at most 4 KB, client side
// included, not the 20 to 28 KB it did. What is counted is what n more
// such connections add to n already open: the test process's other
// memory (earlier tests' goroutines ending, stacks being cached) has
// settled by then.
func TestServerIdleConnsAreCheap(t *testing.T) {
	const n, budget = 300, 4 << 10
	ts := startServer(t, Config{Static: handlerStatic{"/", func(w http.ResponseWriter, r *http.Request) {
		growStack(16 << 10)
		io.WriteString(w, "hello")
	}}, coolAfter: 10 * time.Millisecond})
	var conns []net.Conn
	t.Cleanup(func() {
		for _, c := range conns {
			c.Close()
		}
	})
	buf := make([]byte, 4<<10)
	// open opens n connections, sends a request on each and reads its
	// answer, and waits for them to go cold; it returns the memory in use
	// then, less the hot states the server keeps for the next connections
	// to warm with: those are the server's, not the idle connections'.
	open := func() uint64 {
		for range n {
			c, err := net.DialTimeout("tcp", ts.addr, testTimeout)
			if err != nil {
				t.Fatal(err)
			}
			conns = append(conns, c)
			c.SetDeadline(time.Now().Add(testTimeout))
			if _, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: app\r\n\r\n"); err != nil {
				t.Fatal(err)
			}
			for got := 0; !bytes.HasSuffix(buf[:got], []byte("\r\n\r\nhello")); {
				k, err := c.Read(buf[got:])
				if err != nil {
					t.Fatalf("reading a response: %v (got %q)", err, buf[:got])
				}
				got += k
			}
		}
		waitFor(t, "the connections to go cold", func() bool { return countConns(ts.srv, waiting) == len(conns) })
		ts.srv.hots.mu.Lock()
		for _, h := range ts.srv.hots.free {
			h.drop()
		}
		ts.srv.hots.free = nil
		ts.srv.hots.mu.Unlock()
		return inUse()
	}
	before, goroutines := open(), runtime.NumGoroutine()
	per := int64(open()-before) / n
	t.Logf("%d idle connections: %d bytes each, client side included", n, per)
	if per > budget {
		t.Errorf("an idle connection costs %d bytes, want at most %d", per, budget)
	}
	if more := runtime.NumGoroutine() - goroutines; waiting == connParked && more > n/10 {
		t.Errorf("%d idle connections, %d goroutines more: they should park", n, more)
	}
}

func TestMaxConnsFor(t *testing.T) {
	tests := []struct {
		limit uint64
		want  int
	}{
		{0, -1},          // unknown
		{^uint64(0), -1}, // RLIM_INFINITY
		{256, 96},
		{1024, 480},
		{20000, 9968},
		{64, 1},
		{10, 1},
	}
	for _, tt := range tests {
		if got := MaxConnsFor(tt.limit); got != tt.want {
			t.Errorf("MaxConnsFor(%d) = %d, want %d", tt.limit, got, tt.want)
		}
	}
}

// waitWaiting waits until n of ts's connections wait cold (parked where
// the parker runs).
func waitWaiting(t *testing.T, ts *testServer, n int) {
	t.Helper()
	waitFor(t, "connections to go cold", func() bool { return countConns(ts.srv, waiting) == n })
}

// TestServerColdConnections proves that a connection that went cold, or
// parked, before its first request or between two serves the next, keeps
// HeaderTimeout and IdleTimeout, and is forgotten when its client leaves.
func TestServerColdConnections(t *testing.T) {
	tests := []struct {
		name         string
		header, idle time.Duration
		run          func(t *testing.T, ts *testServer, c *clientConn)
		closedMin    time.Duration // the connection closes at least this late, within a second more; 0: stays open
	}{
		{"kept alive after going cold", 5 * time.Second, 5 * time.Second, func(t *testing.T, ts *testServer, c *clientConn) {
			c.get(t, "/", "hello")
			waitWaiting(t, ts, 1)
			c.get(t, "/", "hello")
			waitWaiting(t, ts, 1)
			c.send(t, "GET / HTTP/1.1\r\nHost: app\r\n\r\nGET /2 HTTP/1.1\r\nHost: app\r\n\r\n") // pipelined
			for range 2 {
				if resp, body := c.read(t, http.MethodGet); string(body) != "hello" {
					t.Fatalf("%d %q, want hello", resp.StatusCode, body)
				}
			}
		}, 0},
		{"first request after going cold", 5 * time.Second, 5 * time.Second, func(t *testing.T, ts *testServer, c *clientConn) {
			waitWaiting(t, ts, 1)
			c.get(t, "/", "hello")
		}, 0},
		{"first byte alone while cold", 5 * time.Second, 5 * time.Second, func(t *testing.T, ts *testServer, c *clientConn) {
			c.get(t, "/", "hello")
			waitWaiting(t, ts, 1)
			c.send(t, "G")
			time.Sleep(50 * time.Millisecond)
			c.send(t, "ET / HTTP/1.1\r\nHost: app\r\n\r\n")
			if resp, body := c.read(t, http.MethodGet); string(body) != "hello" {
				t.Fatalf("%d %q, want hello", resp.StatusCode, body)
			}
		}, 0},
		{"IdleTimeout while cold", 5 * time.Second, 300 * time.Millisecond, func(t *testing.T, ts *testServer, c *clientConn) {
			c.get(t, "/", "hello")
			waitWaiting(t, ts, 1)
		}, 250 * time.Millisecond},
		{"HeaderTimeout of a new connection gone cold", 300 * time.Millisecond, 5 * time.Second, func(t *testing.T, ts *testServer, c *clientConn) {
			waitWaiting(t, ts, 1)
		}, 250 * time.Millisecond},
		{"the client leaves while cold", 5 * time.Second, 5 * time.Second, func(t *testing.T, ts *testServer, c *clientConn) {
			c.get(t, "/", "hello")
			waitWaiting(t, ts, 1)
			c.Close()
			waitFor(t, "the server to forget the connection", func() bool {
				ts.srv.mu.Lock()
				defer ts.srv.mu.Unlock()
				return len(ts.srv.conns) == 0
			})
		}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts := startServer(t, Config{Static: handlerStatic{"/", func(w http.ResponseWriter, r *http.Request) {
				io.WriteString(w, "hello")
			}}, HeaderTimeout: tt.header, IdleTimeout: tt.idle, coolAfter: 10 * time.Millisecond})
			c := dialClient(t, ts.addr)
			start := time.Now()
			tt.run(t, ts, c)
			if tt.closedMin == 0 {
				return
			}
			c.closedWithin(t, tt.closedMin+time.Second)
			if d := time.Since(start); d < tt.closedMin {
				t.Errorf("closed after %v, want at least %v", d, tt.closedMin)
			}
		})
	}
}

// TestServerShutdownClosesColdConns proves that Shutdown closes a
// connection gone cold at once, and returns.
func TestServerShutdownClosesColdConns(t *testing.T) {
	ts := startServer(t, Config{Static: handlerStatic{"/", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "hello")
	}}, coolAfter: 10 * time.Millisecond})
	kept, fresh := dialClient(t, ts.addr), dialClient(t, ts.addr)
	kept.get(t, "/", "hello")
	waitWaiting(t, ts, 2)
	if err := ts.shutdown(context.Background(), 2*time.Second); err != nil {
		t.Errorf("Shutdown: %v", err)
	}
	for _, c := range []*clientConn{kept, fresh} {
		if d := c.closedWithin(t, time.Second); d > 100*time.Millisecond {
			t.Errorf("closed %v after Shutdown, want at once", d)
		}
	}
}

// TestServerH2CAfterGoingCold proves that a new connection that sends the
// HTTP/2 preface only once it has gone cold is served as HTTP/2.
func TestServerH2CAfterGoingCold(t *testing.T) {
	ts := startServer(t, Config{Static: handlerStatic{"/", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, r.Proto)
	}}, coolAfter: 10 * time.Millisecond})
	var p http.Protocols
	p.SetUnencryptedHTTP2(true)
	tr := &http.Transport{Protocols: &p, DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
		if err == nil {
			waitWaiting(t, ts, 1)
		}
		return c, err
	}}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr, Timeout: testTimeout}).Get("http://" + ts.addr + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != "HTTP/2.0" {
		t.Errorf("%d %q, want 200 HTTP/2.0", resp.StatusCode, body)
	}
}

// logBuffer collects a logger's lines.
type logBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// count counts the lines with s.
func (l *logBuffer) count(s string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Count(l.b.String(), s)
}

// fdListener fails to accept with EMFILE, as a process out of file
// descriptors does, while max of the connections it accepted are open:
// the connection waits, as in the kernel's backlog, for the next Accept.
type fdListener struct {
	net.Listener
	max     int
	mu      sync.Mutex
	open    int
	pending net.Conn
}

func (l *fdListener) Accept() (net.Conn, error) {
	l.mu.Lock()
	c := l.pending
	l.pending = nil
	l.mu.Unlock()
	if c == nil {
		var err error
		if c, err = l.Listener.Accept(); err != nil {
			return nil, err
		}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.open >= l.max {
		l.pending = c
		return nil, &net.OpError{Op: "accept", Net: "tcp", Addr: l.Addr(), Err: os.NewSyscallError("accept4", syscall.EMFILE)}
	}
	l.open++
	return &fdConn{Conn: c, l: l}, nil
}

type fdConn struct {
	net.Conn
	l    *fdListener
	once sync.Once
}

func (c *fdConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() {
		c.l.mu.Lock()
		c.l.open--
		c.l.mu.Unlock()
	})
	return err
}

// roomServer serves the tests of makeRoom: a static handler whose
// /block waits for release, MaxConns maxConns, behind an fdListener
// allowing fds descriptors (0: none). Its busy connection (the oldest)
// has a request in flight on /block. done releases that request, checks
// its answer, shuts the server down and returns its log.
type roomServer struct {
	srv     *Server
	addr    string
	busy    *clientConn
	logged  logBuffer
	release chan struct{}
	served  chan error
}

func newRoomServer(t *testing.T, maxConns, fds int) *roomServer {
	t.Helper()
	rs := &roomServer{release: make(chan struct{}), served: make(chan error, 1)}
	cfg := Config{Static: handlerStatic{"/", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/block" {
			<-rs.release
		}
		io.WriteString(w, "hello")
	}}, MaxConns: maxConns, Log: slog.New(slog.NewTextHandler(&rs.logged, nil))}
	bal := NewBalancer(TCPProber, probeInterval, nil)
	t.Cleanup(bal.Close)
	cfg.Proxy = NewProxy(bal, Options{})
	var ln net.Listener
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if fds > 0 {
		ln = &fdListener{Listener: ln, max: fds}
	}
	rs.srv = NewServer(cfg)
	go func() { rs.served <- rs.srv.Serve(ln) }()
	rs.addr = ln.Addr().String()
	rs.busy = dialClient(t, rs.addr)
	rs.busy.send(t, "GET /block HTTP/1.1\r\nHost: app\r\n\r\n")
	waitFor(t, "the request in flight", func() bool { return countConns(rs.srv, connActive) == 1 })
	return rs
}

// done ends the request in flight and the server; it checks that the
// request was answered and that the server stopped cleanly.
func (rs *roomServer) done(t *testing.T) {
	t.Helper()
	close(rs.release)
	if resp, body := rs.busy.read(t, http.MethodGet); string(body) != "hello" {
		t.Errorf("the request in flight: %d %q, want hello", resp.StatusCode, body)
	}
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	if err := rs.srv.Shutdown(ctx); err != nil {
		t.Errorf("Shutdown: %v", err)
	}
	if err := <-rs.served; err != nil {
		t.Errorf("Serve: %v", err)
	}
}

// loggedOnce checks that the log has one line of closing, and it is want.
func (rs *roomServer) loggedOnce(t *testing.T, want string) {
	t.Helper()
	if n := rs.logged.count("closed"); n != 1 || rs.logged.count(want) != 1 {
		t.Errorf("log:\n%s\nwant one line: %s", rs.logged.b.String(), want)
	}
}

// TestServerMakesRoom proves that when accepting fails for want of file
// descriptors, or MaxConns are open, the oldest idle connections are
// closed and the new one is served; that a request in flight is never
// closed for it, even the oldest; and that it is logged once.
func TestServerMakesRoom(t *testing.T) {
	tests := []struct {
		name     string
		maxConns int
		fds      int // the descriptors fdListener allows; 0: no fdListener
		log      string
	}{
		{"out of file descriptors", -1, 4, "edge: out of file descriptors (4 connections open): closed 2 idle connections, the oldest, to keep accepting"},
		{"MaxConns open", 4, 0, "edge: 4 connections open, the most the file-descriptor limit allows: closed 2 idle connections, the oldest, to keep accepting"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rs := newRoomServer(t, tt.maxConns, tt.fds)
			var idle []*clientConn
			for k := range 3 {
				c := dialClient(t, rs.addr)
				c.get(t, "/", "hello")
				idle = append(idle, c)
				// The client has its answer a moment before the server's
				// goroutine is back waiting for the next request, which
				// is when the connection's idle time starts: the next one
				// is opened after, so that this one is older.
				waitFor(t, "the connection waiting", func() bool { return countConns(rs.srv, connIdle) == k+1 })
			}
			// Each new connection makes room: the oldest idle one goes.
			for i := range 2 {
				dialClient(t, rs.addr).get(t, "/", "hello")
				idle[i].closedWithin(t, time.Second)
			}
			idle[2].get(t, "/", "hello")
			rs.done(t)
			rs.loggedOnce(t, tt.log)
		})
	}
}

// TestServerMakesRoomH2: connections that sent HTTP/2's preface and
// then nothing count towards MaxConns, and makeRoom closes the oldest of
// them as it closes idle HTTP/1 ones; else they would hold their
// descriptors until their IdleTimeout, whatever came next.
func TestServerMakesRoomH2(t *testing.T) {
	rs := newRoomServer(t, 4, 0)
	var idle []net.Conn
	for k := range 3 {
		c := rawConn(t, rs.addr)
		io.WriteString(c, h2Preface+"\x00\x00\x00\x04\x00\x00\x00\x00\x00") // and an empty SETTINGS
		idle = append(idle, c)
		waitFor(t, "the HTTP/2 connection idle", func() bool { return countConns(rs.srv, connH2Idle) == k+1 })
	}
	// closed reports whether the server closed c (it reads past the
	// server's own SETTINGS to the end), or else whether it is open still.
	closed := func(c net.Conn, within time.Duration) bool {
		c.SetReadDeadline(time.Now().Add(within))
		_, err := io.Copy(io.Discard, c)
		var ne net.Error
		return !(errors.As(err, &ne) && ne.Timeout())
	}
	for i := range 2 {
		dialClient(t, rs.addr).get(t, "/", "hello")
		if !closed(idle[i], time.Second) {
			t.Fatalf("idle HTTP/2 connection %d still open after the new connection %d", i, i)
		}
	}
	if closed(idle[2], 50*time.Millisecond) {
		t.Error("the youngest idle HTTP/2 connection was closed too")
	}
	waitFor(t, "the closed HTTP/2 connections forgotten", func() bool {
		rs.srv.mu.Lock()
		defer rs.srv.mu.Unlock()
		return len(rs.srv.conns) == 4 // busy, idle[2], and the two new ones (idle now)
	})
	rs.done(t)
	if !closed(idle[2], time.Second) {
		t.Error("Shutdown left the idle HTTP/2 connection open")
	}
	rs.loggedOnce(t, "edge: 4 connections open, the most the file-descriptor limit allows: closed 2 idle connections, the oldest, to keep accepting")
}

// TestServerTLSGoesCold proves that a TLS connection gone cold (parked on
// its socket where the parker runs), before its first request or between
// two, serves the next with its TLS state.
func TestServerTLSGoesCold(t *testing.T) {
	cert, pool := testCertificate()
	bal := NewBalancer(TCPProber, probeInterval, nil)
	t.Cleanup(bal.Close)
	srv := NewServer(Config{Static: handlerStatic{"/", func(w http.ResponseWriter, r *http.Request) {
		if r.TLS == nil || !r.TLS.HandshakeComplete {
			io.WriteString(w, "no TLS state")
			return
		}
		io.WriteString(w, "hello")
	}}, Proxy: NewProxy(bal, Options{}), coolAfter: 10 * time.Millisecond})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{cert}}))
	defer srv.Shutdown(t.Context())
	tc, err := tls.Dial("tcp", ln.Addr().String(), &tls.Config{RootCAs: pool, ServerName: "example.com"})
	if err != nil {
		t.Fatal(err)
	}
	c := &clientConn{Conn: tc, br: bufio.NewReader(tc)}
	defer c.Close()
	c.SetDeadline(time.Now().Add(testTimeout))
	waitFor(t, "the new connection to go cold", func() bool { return countConns(srv, waiting) == 1 })
	c.get(t, "/", "hello")
	waitFor(t, "the connection to go cold again", func() bool { return countConns(srv, waiting) == 1 })
	c.get(t, "/", "hello")
}

// TestServerColdWakeLosesNoRequest: connections that go cold, park and
// wake again, over and over, with requests arriving just before, at and
// after each step, all get their answers through the proxy. A lost wake
// (a parked connection whose request the parker never hands on) would
// leave its request unanswered until the idle timeout: the bound here
// is that, not a measure of speed.
func TestServerColdWakeLosesNoRequest(t *testing.T) {
	e := newEdgeConfig(t, Options{}, Config{coolAfter: 20 * time.Millisecond})
	e.add(t, "web.1", newBackend(t, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "hello") }).addr)
	const conns, reqs = 100, 20
	var wg sync.WaitGroup
	for i := range conns {
		wg.Go(func() {
			c, err := net.DialTimeout("tcp", e.addr, testTimeout)
			if err != nil {
				t.Error(err)
				return
			}
			defer c.Close()
			buf := make([]byte, 4<<10)
			for k := range reqs {
				// Gaps around coolAfter and twice it (parking): 0 to 80 ms.
				time.Sleep(time.Duration((i*7+k*13)%80) * time.Millisecond)
				c.SetDeadline(time.Now().Add(testTimeout))
				if _, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: app\r\n\r\n"); err != nil {
					t.Errorf("connection %d, request %d: %v", i, k, err)
					return
				}
				for got := 0; !bytes.HasSuffix(buf[:got], []byte("\r\n\r\nhello")); {
					n, err := c.Read(buf[got:])
					if err != nil {
						t.Errorf("connection %d, request %d: no answer: %v (got %q)", i, k, err, buf[:got])
						return
					}
					got += n
				}
			}
		})
	}
	wg.Wait()
}
