package edge

import (
	"bufio"
	"cmp"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// wsEcho is a backend that switches protocols on a WebSocket upgrade and
// echoes every byte; it reports the headers it got on seenHdr.
func wsEcho(seenHdr chan<- http.Header) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if seenHdr != nil {
			select {
			case seenHdr <- r.Header.Clone():
			default:
			}
		}
		if !strings.EqualFold(r.Header.Get("Upgrade"), "websocket") || !headerHasToken(r.Header, "Connection", "upgrade") {
			http.Error(w, "upgrade required", http.StatusUpgradeRequired)
			return
		}
		c, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(testTimeout))
		io.WriteString(c, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
		io.Copy(c, brw)
	}
}

const wsRequest = "GET /ws HTTP/1.1\r\nHost: app\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
	"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"

// dialWS sends an upgrade request through the edge; on 101 it returns the
// switched connection's reader.
func dialWS(t *testing.T, addr, extra string) (*http.Response, *bufio.Reader, func(string)) {
	t.Helper()
	c := rawConn(t, addr)
	io.WriteString(c, wsRequest+extra+"\r\n")
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	return resp, br, func(s string) { io.WriteString(c, s) }
}

func TestWebSocketUpgrade(t *testing.T) {
	e := newEdge(t, Options{})
	hdr := make(chan http.Header, 1)
	b := newBackend(t, wsEcho(hdr))
	be := e.add(t, "web.1", b.addr)

	resp, br, write := dialWS(t, e.addr, "X-Forwarded-For: 6.6.6.6\r\n")
	if resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("status %d, want 101", resp.StatusCode)
	}
	if !strings.EqualFold(resp.Header.Get("Upgrade"), "websocket") {
		t.Errorf("101 without Upgrade: websocket: %v", resp.Header)
	}
	h := <-hdr
	if h.Get("X-Forwarded-For") != "127.0.0.1" || h.Get("X-Forwarded-Proto") != "http" || !hex32.MatchString(h.Get("X-Request-Id")) {
		t.Errorf("upgrade request forwarded without the edge's headers: %v", h)
	}
	for _, msg := range []string{"hello", "world, again"} {
		write(msg)
		buf := make([]byte, len(msg))
		if _, err := io.ReadFull(br, buf); err != nil || string(buf) != msg {
			t.Fatalf("echo %q (%v), want %q", buf, err, msg)
		}
	}
	if be.Inflight() != 1 {
		t.Errorf("inflight %d during the WebSocket, want 1", be.Inflight())
	}
}

// An app that refuses the upgrade answers through the edge as usual.
func TestUpgradeRefused(t *testing.T) {
	e := newEdge(t, Options{})
	b := newBackend(t, func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "no websockets here", http.StatusBadRequest)
	})
	e.add(t, "web.1", b.addr)
	resp, _, _ := dialWS(t, e.addr, "")
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusBadRequest || string(body) != "no websockets here\n" {
		t.Fatalf("%d %q, want 400 from the app", resp.StatusCode, body)
	}
}

// The access log records the switch as 101.
func TestUpgradeAccessLog(t *testing.T) {
	e := newEdge(t, Options{})
	b := newBackend(t, wsEcho(nil))
	e.add(t, "web.1", b.addr)
	c := rawConn(t, e.addr)
	io.WriteString(c, wsRequest+"\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("status %v (%v), want 101", resp, err)
	}
	c.Close() // the record is written when the tunnel closes
	if a := e.nextAccess(t); a.Status != http.StatusSwitchingProtocols || a.Instance != "web.1" {
		t.Errorf("access %+v, want status 101 from web.1", a)
	}
}

// Hop-by-hop headers stay on the client's hop for upgrades too.
func TestUpgradeHopByHopHeaders(t *testing.T) {
	e := newEdge(t, Options{})
	hdr := make(chan http.Header, 1)
	b := newBackend(t, wsEcho(hdr))
	e.add(t, "web.1", b.addr)
	resp, _, _ := dialWS(t, e.addr, "Proxy-Authorization: Basic c2VjcmV0\r\nKeep-Alive: timeout=5\r\nTE: gzip\r\n")
	if resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("status %d", resp.StatusCode)
	}
	h := <-hdr
	for _, k := range []string{"Proxy-Authorization", "Keep-Alive", "Te"} {
		if v, ok := h[k]; ok {
			t.Errorf("hop-by-hop %s %q reached the app", k, v)
		}
	}
}

// A WebSocket, like any request, is not failed while another instance could
// take it.
func TestUpgradeRetriesOnDialFailure(t *testing.T) {
	e := newEdge(t, Options{})
	good := newBackend(t, wsEcho(nil))
	e.add(t, "web.1", good.addr)
	dead := newBackend(t, wsEcho(nil))
	e.add(t, "web.2", dead.addr)
	waitFor(t, "both ready", func() bool { return e.bal.ReadyCount() == 2 })
	dead.Close()
	for i := range 6 {
		resp, _, _ := dialWS(t, e.addr, "")
		if resp.StatusCode != http.StatusSwitchingProtocols {
			body, _ := io.ReadAll(resp.Body)
			t.Fatalf("upgrade %d: %d %q, want 101 from the live instance", i, resp.StatusCode, body)
		}
	}
}

// An upgrade sent before any instance is ready waits at the boot gate, and
// gets the edge's 503 page when none comes.
func TestUpgradeBootGate(t *testing.T) {
	e := newEdge(t, Options{BootWait: 150 * time.Millisecond})
	resp, _, _ := dialWS(t, e.addr, "Accept: application/json\r\n")
	body, _ := io.ReadAll(resp.Body)
	checkErrorPage(t, resp, body, http.StatusServiceUnavailable, true)

	e2 := newEdge(t, Options{BootWait: testTimeout})
	b := newBackend(t, wsEcho(nil))
	go func() {
		time.Sleep(30 * time.Millisecond)
		e2.bal.Add("web.1", b.addr)
	}()
	resp, _, _ = dialWS(t, e2.addr, "")
	if resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("status %d, want 101 once the instance is up", resp.StatusCode)
	}
}

// TestTunnelMethodsRefused: CONNECT (a tunnel to anywhere) and TRACE (an
// echo of the request, cookies included) get the edge's 405 with an
// Allow, over HTTP/1.1 and HTTP/2, and never reach the app; after a
// CONNECT the HTTP/1 connection closes, since what follows it may be the
// tunnel's bytes rather than a request.
func TestTunnelMethodsRefused(t *testing.T) {
	e := newEdge(t, Options{})
	b := newBackend(t, named("web.1"))
	e.add(t, "web.1", b.addr)
	mark := testMark(t)
	for _, req := range []string{
		"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n",
		"CONNECT /x HTTP/1.1\r\nHost: app\r\n\r\n",
		"TRACE / HTTP/1.1\r\nHost: app\r\nCookie: secret=1\r\n\r\n",
		"TRACE / HTTP/1.1\r\nHost: app\r\nContent-Length: 5\r\n\r\nhello",
	} {
		c := rawConn(t, e.addr)
		io.WriteString(c, markRaw(req, mark))
		br := bufio.NewReader(c)
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("%q: %v", req, err)
		}
		body, _ := io.ReadAll(resp.Body)
		checkErrorPage(t, resp, body, http.StatusMethodNotAllowed, false)
		if allow := resp.Header.Get("Allow"); !strings.Contains(allow, "GET") || strings.Contains(allow, "CONNECT") || strings.Contains(allow, "TRACE") {
			t.Errorf("%q: Allow %q", req, allow)
		}
		if a := e.nextAccess(t); a.Status != http.StatusMethodNotAllowed || a.Instance != "" {
			t.Errorf("%q: access %+v, want 405 from the edge", req, a)
		}
		if strings.HasPrefix(req, "CONNECT") {
			if n, err := br.Read(make([]byte, 1)); n != 0 || err != io.EOF {
				t.Errorf("%q: the connection stays open after the 405 (%d, %v)", req, n, err)
			}
		}
	}

	client := h2cClient()
	defer client.CloseIdleConnections()
	for _, method := range []string{http.MethodConnect, http.MethodTrace} {
		req, _ := http.NewRequest(method, e.url+"/", nil)
		req.Header.Set(markHeader, mark)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("HTTP/2 %s: %v", method, err)
		}
		resp.Body.Close()
		if resp.ProtoMajor != 2 || resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") == "" {
			t.Errorf("HTTP/2 %s: %s %d, Allow %q; want HTTP/2 405 with an Allow", method, resp.Proto, resp.StatusCode, resp.Header.Get("Allow"))
		}
	}
	b.checkNotReached(t, mark, "a CONNECT or TRACE reached the app")
}

// h2cUpgrade asks to switch to HTTP/2 (RFC 7540 3.2, gone from RFC 9113).
const h2cUpgrade = "GET /up HTTP/1.1\r\nHost: app\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQCAAAAAAIAAAAA\r\n"

// TestUpgradeOnlyWebSocket: an Upgrade to anything but WebSocket is
// dropped, with HTTP2-Settings, and the request proxied as a plain one.
func TestUpgradeOnlyWebSocket(t *testing.T) {
	e := newEdge(t, Options{})
	b := newBackend(t, echoHeaders)
	e.add(t, "web.1", b.addr)
	for _, req := range []string{
		h2cUpgrade + "\r\n",
		"GET /up HTTP/1.1\r\nHost: app\r\nConnection: upgrade\r\nUpgrade: websocket, h2c\r\n\r\n",
		"GET /up HTTP/1.1\r\nHost: app\r\nConnection: upgrade\r\nUpgrade: TLS/1.2\r\nHTTP2-Settings: AAMAAABk\r\n\r\n",
	} {
		resp, body := rawRoundTrip(t, e.addr, req)
		if resp.StatusCode != 200 {
			t.Fatalf("%q: %d %q", req, resp.StatusCode, body)
		}
		s := decodeSeen(t, body)
		for _, k := range []string{"Upgrade", "Http2-Settings", "Connection"} {
			if v, ok := s.Header[k]; ok {
				t.Errorf("%q: the app saw %s %q", req, k, v)
			}
		}
	}
}

// switcher is an app that answers every request with 101 and then reads
// what comes on the connection, sent on got: what reached it past the
// edge.
func switcher(got chan<- string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		c, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		defer c.Close()
		io.WriteString(c, "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: "+cmp.Or(r.Header.Get("Upgrade"), "h2c")+"\r\n\r\n")
		c.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
		rest, _ := io.ReadAll(brw)
		select {
		case got <- string(rest):
		default:
		}
	}
}

// TestUnaskedSwitchIs502: a 101 from the app to a request the edge
// forwarded as a plain one (it asked for h2c, or for nothing) is a 502,
// and the client's connection stays the edge's: the next request on it
// gets the edge's headers rather than going to the app raw.
func TestUnaskedSwitchIs502(t *testing.T) {
	e := newEdge(t, Options{})
	got := make(chan string, 8)
	b := newBackend(t, switcher(got))
	e.add(t, "web.1", b.addr)
	c := rawConn(t, e.addr)
	br := bufio.NewReader(c)
	io.WriteString(c, h2cUpgrade+"\r\n")
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	checkErrorPage(t, resp, body, http.StatusBadGateway, false)
	io.WriteString(c, "GET /next HTTP/1.1\r\nHost: app\r\nX-Forwarded-For: 6.6.6.6\r\n\r\n")
	if resp, err := http.ReadResponse(br, nil); err == nil {
		body, _ := io.ReadAll(resp.Body)
		checkErrorPage(t, resp, body, http.StatusBadGateway, false)
	}
	c.Close()
	for range 2 {
		select {
		case rest := <-got:
			if strings.Contains(rest, "6.6.6.6") {
				t.Fatalf("the client's bytes reached the app past the edge: %q", rest)
			}
		case <-time.After(testTimeout):
		}
	}
}

// Bytes a client sends right after its upgrade request, before the 101
// (a client that does not wait for the switch), reach the app first.
func TestUpgradeEarlyBytes(t *testing.T) {
	e := newEdge(t, Options{})
	b := newBackend(t, wsEcho(nil))
	e.add(t, "web.1", b.addr)

	resp, br, write := dialWS(t, e.addr, "\r\nearly")
	if resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("status %d, want 101", resp.StatusCode)
	}
	write("late")
	want := "early\r\nlate"
	buf := make([]byte, len(want))
	if _, err := io.ReadFull(br, buf); err != nil || string(buf) != want {
		t.Fatalf("echo %q (%v), want %q", buf, err, want)
	}
}

// Bytes the app sends in the same write as its 101 (a server that speaks
// first, or greets) reach the client after the switch.
func TestUpgradeAppSpeaksFirst(t *testing.T) {
	e := newEdge(t, Options{})
	b := newBackend(t, func(w http.ResponseWriter, r *http.Request) {
		c, _, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		defer c.Close()
		io.WriteString(c, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\ngreetings")
		c.SetReadDeadline(time.Now().Add(testTimeout))
		io.Copy(io.Discard, c)
	})
	e.add(t, "web.1", b.addr)
	resp, br, _ := dialWS(t, e.addr, "")
	if resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("status %d, want 101", resp.StatusCode)
	}
	buf := make([]byte, len("greetings"))
	if _, err := io.ReadFull(br, buf); err != nil || string(buf) != "greetings" {
		t.Fatalf("read %q (%v), want greetings", buf, err)
	}
}

// An upgraded connection has no send timeout: a WebSocket quiet for
// longer than it still carries both ways.
func TestUpgradeNoSendTimeout(t *testing.T) {
	const timeout = 200 * time.Millisecond
	e := newEdgeConfig(t, Options{}, Config{SendTimeout: timeout})
	e.add(t, "web.1", newBackend(t, wsEcho(nil)).addr)
	resp, br, write := dialWS(t, e.addr, "")
	if resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("status %d, want 101", resp.StatusCode)
	}
	time.Sleep(3 * timeout)
	write("still here")
	buf := make([]byte, len("still here"))
	if _, err := io.ReadFull(br, buf); err != nil || string(buf) != "still here" {
		t.Fatalf("echo %q (%v) after a quiet spell, want still here", buf, err)
	}
}
