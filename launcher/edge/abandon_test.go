package edge

// The edge never answers for the app (DESIGN.md): a request it gives up on
// gets an error status, or a broken connection once its response has
// begun, never a made-up 200; and the access log and the Observer record
// what the client got.

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// abandonAfter is the Shutdown deadline of these tests: the requests in
// flight outlive it.
const abandonAfter = 100 * time.Millisecond

// holdingBackend is an instance that holds each request until the edge
// cuts its connection (or testTimeout passes), first sending what start
// writes, if anything. held receives once per request it holds; cut
// receives once per request whose connection the edge cut.
func holdingBackend(t *testing.T, start func(w http.ResponseWriter)) (b *testBackend, held, cut chan struct{}) {
	held, cut = make(chan struct{}, 8), make(chan struct{}, 8)
	b = newBackend(t, func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		if start != nil {
			start(w)
			http.NewResponseController(w).Flush()
		}
		held <- struct{}{}
		select {
		case <-r.Context().Done():
			cut <- struct{}{}
		case <-time.After(testTimeout):
		}
	})
	return b, held, cut
}

// wait fails the test if ch does not receive within testTimeout.
func wait(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(testTimeout):
		t.Fatalf("timed out waiting for %s", what)
	}
}

// shutdownAbandoning shuts srv down with a deadline the requests in flight
// outlive, and checks that Shutdown says so.
func shutdownAbandoning(t *testing.T, srv *Server) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), abandonAfter)
	defer cancel()
	if err := srv.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Shutdown: %v, want %v", err, context.DeadlineExceeded)
	}
}

// check503 checks that resp is the edge's 503 for a request it stopped
// waiting for: to be asked again later, on another connection.
func check503(t *testing.T, resp *http.Response, body []byte) {
	t.Helper()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("status %d %q, want 503", resp.StatusCode, body)
	}
	if resp.Header.Get("Retry-After") == "" {
		t.Error("503 without Retry-After")
	}
	if got := resp.Header.Get("Connection"); got != "close" {
		t.Errorf("Connection %q, want close", got)
	}
}

// TestShutdownDeadlineAnswers503: a request the instance has not answered
// when Shutdown's deadline passes gets a 503 with Retry-After and
// Connection: close (not an empty 200, as it once did), its exchange with
// the instance is cut, and the access log and the Observer say 503.
func TestShutdownDeadlineAnswers503(t *testing.T) {
	for _, method := range []string{http.MethodGet, http.MethodPost} {
		t.Run(method, func(t *testing.T) {
			obs := &recorder{}
			e := newEdge(t, Options{Observer: obs})
			b, held, cut := holdingBackend(t, nil)
			e.add(t, "web.1", b.addr)

			c := dialClient(t, e.addr)
			c.send(t, method+" /work HTTP/1.1\r\nHost: app\r\nContent-Length: 5\r\n\r\nhello")
			wait(t, held, "the request to reach the instance")
			shutdownAbandoning(t, e.srv)
			resp, body := c.read(t, method)
			check503(t, resp, body)
			checkErrorPage(t, resp, body, http.StatusServiceUnavailable, false)
			wait(t, cut, "the edge to cut its exchange with the instance")

			if a := e.nextAccess(t); a.Status != http.StatusServiceUnavailable || a.Instance != "web.1" || a.Cut {
				t.Errorf("access record %+v, want 503 from web.1, not cut", a)
			}
			if requests, _, _, _ := obs.snapshot(); requests["app Service Unavailable"] != 1 || len(requests) != 1 {
				t.Errorf("observed %v, want one app 503", requests)
			}
		})
	}
}

// TestShutdownDeadlineCutsStream: a streamed response still coming when
// Shutdown's deadline passes is broken off, so that the client sees it
// incomplete (no last chunk) rather than complete; the access log says
// what was sent, marked cut.
func TestShutdownDeadlineCutsStream(t *testing.T) {
	obs := &recorder{}
	e := newEdge(t, Options{Observer: obs})
	const event = "data: one\n\n"
	b, held, cut := holdingBackend(t, func(w http.ResponseWriter) {
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, event)
	})
	e.add(t, "web.1", b.addr)

	c := dialClient(t, e.addr)
	c.send(t, "GET /events HTTP/1.1\r\nHost: app\r\n\r\n")
	resp, _, err := c.readResponse(http.MethodGet)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK || len(resp.TransferEncoding) == 0 {
		t.Fatalf("status %d, Transfer-Encoding %q: want a 200 streamed chunked", resp.StatusCode, resp.TransferEncoding)
	}
	got := make([]byte, len(event))
	if _, err := io.ReadFull(resp.Body, got); err != nil || string(got) != event {
		t.Fatalf("first event %q, %v", got, err)
	}
	wait(t, held, "the instance to hold the stream")
	shutdownAbandoning(t, e.srv)
	rest, err := io.ReadAll(resp.Body)
	if err == nil {
		t.Errorf("the stream ended cleanly after %q: a cut response must not look complete", rest)
	}
	wait(t, cut, "the edge to cut its exchange with the instance")

	if a := e.nextAccess(t); a.Status != http.StatusOK || !a.Cut || a.Bytes != int64(len(event)) {
		t.Errorf("access record %+v, want 200, cut, %d bytes", a, len(event))
	}
	if requests, _, _, _ := obs.snapshot(); requests["app OK"] != 1 || len(requests) != 1 {
		t.Errorf("observed %v, want the one 200 the client got", requests)
	}
}

// TestShutdownDeadlineH2: HTTP/2's requests are abandoned as HTTP/1's are:
// a 503, not a made-up 200 nor a reset connection.
func TestShutdownDeadlineH2(t *testing.T) {
	obs := &recorder{}
	e := newEdge(t, Options{Observer: obs})
	b, held, cut := holdingBackend(t, nil)
	e.add(t, "web.1", b.addr)

	var p http.Protocols
	p.SetUnencryptedHTTP2(true)
	tr := &http.Transport{Protocols: &p}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: testTimeout}
	type result struct {
		resp *http.Response
		body []byte
		err  error
	}
	done := make(chan result, 1)
	go func() {
		resp, err := client.Get(e.url + "/work")
		if err != nil {
			done <- result{err: err}
			return
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		done <- result{resp, body, err}
	}()
	wait(t, held, "the request to reach the instance")
	shutdownAbandoning(t, e.srv)
	r := <-done
	if r.err != nil {
		t.Fatalf("GET over h2c: %v", r.err)
	}
	if r.resp.ProtoMajor != 2 {
		t.Errorf("answered over %s, want HTTP/2", r.resp.Proto)
	}
	checkErrorPage(t, r.resp, r.body, http.StatusServiceUnavailable, false)
	if r.resp.Header.Get("Retry-After") == "" {
		t.Error("503 without Retry-After")
	}
	wait(t, cut, "the edge to cut its exchange with the instance")
	if a := e.nextAccess(t); a.Status != http.StatusServiceUnavailable {
		t.Errorf("access record %+v, want 503", a)
	}
	if requests, _, _, _ := obs.snapshot(); requests["app Service Unavailable"] != 1 || len(requests) != 1 {
		t.Errorf("observed %v, want one app 503", requests)
	}
}

// TestShutdownDeadlineHandlerWroteNothing: the server itself makes no 200
// up for a handler that gave up on an abandoned request without writing.
func TestShutdownDeadlineHandlerWroteNothing(t *testing.T) {
	started := make(chan struct{}, 1)
	ts := startStatic(t, func(w http.ResponseWriter, r *http.Request) {
		started <- struct{}{}
		select {
		case <-r.Context().Done():
		case <-time.After(testTimeout):
		}
	})
	c := dialClient(t, ts.addr)
	c.send(t, "GET /wait HTTP/1.1\r\nHost: app\r\n\r\n")
	wait(t, started, "the handler to start")
	ts.shut.Store(true)
	shutdownAbandoning(t, ts.srv)
	resp, body := c.read(t, http.MethodGet)
	check503(t, resp, body)
}

// TestClientGoneGetsNothing: a client that half-closes its connection
// after its request is taken to have left (as nginx does): the request is
// logged 499, and nothing is written to it: no made-up 200.
func TestClientGoneGetsNothing(t *testing.T) {
	obs := &recorder{}
	e := newEdge(t, Options{BootWait: testTimeout, Observer: obs})
	e.bal.Add("web.1", freeAddr(t)) // never ready: the request waits at the gate
	c := dialClient(t, e.addr)
	c.send(t, "GET /wait HTTP/1.1\r\nHost: app\r\n\r\n")
	if err := c.Conn.(*net.TCPConn).CloseWrite(); err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(c.br)
	if len(b) > 0 {
		t.Errorf("got %q after leaving, want nothing", b)
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Error("the connection is still open")
	}
	if a := e.nextAccess(t); a.Status != statusClientGone {
		t.Errorf("access record %+v, want %d", a, statusClientGone)
	}
	if requests, _, _, _ := obs.snapshot(); requests["app "] != 1 || len(requests) != 1 {
		t.Errorf("observed %v, want one app 499", requests) // StatusText(499) is ""
	}
}

// TestBootGateClosedWhenStopping: once the balancer is told no instance is
// coming (corral is stopping), a request waiting at the boot gate gets its
// 503 at once rather than after BootWait, and so does one that comes
// later; an instance still ready keeps answering.
func TestBootGateClosedWhenStopping(t *testing.T) {
	obs := &recorder{}
	e := newEdge(t, Options{BootWait: time.Hour, Observer: obs})
	e.bal.Add("web.1", freeAddr(t)) // booting, and never ready

	c := dialClient(t, e.addr)
	c.send(t, "GET /waiting HTTP/1.1\r\nHost: app\r\n\r\n")
	select {
	case <-e.bal.Wanted(): // it waits at the gate
	case <-time.After(testTimeout):
		t.Fatal("the request did not reach the boot gate")
	}
	e.bal.CloseGate()
	resp, body := c.read(t, http.MethodGet) // within testTimeout, not BootWait
	check503(t, resp, body)
	if !strings.Contains(string(body), "stopping") {
		t.Errorf("503 page %q does not say the app is stopping", body)
	}
	later := dialClient(t, e.addr)
	later.send(t, "GET /later HTTP/1.1\r\nHost: app\r\n\r\n")
	resp, body = later.read(t, http.MethodGet)
	check503(t, resp, body)

	b := newBackend(t, named("web.2"))
	e.add(t, "web.2", b.addr)
	if resp, body := e.get(t, "/ready"); resp.StatusCode != http.StatusOK || string(body) != "web.2" {
		t.Errorf("with a ready instance after the gate closed: %d %q, want 200 web.2", resp.StatusCode, body)
	}
	for _, want := range []int{503, 503, 200} {
		if a := e.nextAccess(t); a.Status != want {
			t.Errorf("access record %+v, want %d", a, want)
		}
	}
	requests, _, _, waits := obs.snapshot()
	if requests["app Service Unavailable"] != 2 || requests["app OK"] != 1 {
		t.Errorf("observed %v, want two app 503s and one 200", requests)
	}
	if len(waits) != 1 {
		t.Errorf("gate waits %v, want the one request that waited", waits)
	}
}
