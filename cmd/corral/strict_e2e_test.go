package main

// The edge side by side with nginx: the same raw, hostile requests sent to
// nginx (Debian's nginx-light, configured as the gunicorn and WebSocket
// docs say) and to corral, both in front of one recording app on
// loopback, and what each answered and let through compared. corral may
// be stricter; where it is less strict than nginx, the case says why.

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"text/tabwriter"
	"time"
)

// recorder is the app behind both proxies: it keeps what reaches it, a
// request's head (request line and fields) apart from its body, and
// answers each request 200 and closes, so that nothing is left in flight
// between cases. A request with an Upgrade, or to /switch, it answers
// with 101, and then keeps whatever comes on the connection: the bytes a
// switched connection lets past the proxy.
type recorder struct {
	ln     net.Listener
	mu     sync.Mutex
	open   int        // connections not yet done
	got    []recorded // in the order they ended
	tunnel int        // bytes that came past a 101, so far
	change *sync.Cond // signalled when open drops to 0, or tunnel grows
	wg     sync.WaitGroup
}

// recorded is what one connection brought.
type recorded struct {
	heads  []string // each request's head, CRLF line ends included
	tunnel string   // after a 101
}

func newRecorder(t *testing.T) *recorder {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &recorder{ln: ln}
	r.change = sync.NewCond(&r.mu)
	r.wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			r.mu.Lock()
			r.open++
			r.mu.Unlock()
			r.wg.Go(func() { r.serve(c) })
		}
	})
	t.Cleanup(func() { ln.Close(); r.wg.Wait() })
	return r
}

func (r *recorder) serve(c net.Conn) {
	var got recorded
	defer func() {
		c.Close()
		r.mu.Lock()
		if len(got.heads) > 0 || got.tunnel != "" {
			r.got = append(r.got, got)
		}
		if r.open--; r.open == 0 {
			r.change.Broadcast()
		}
		r.mu.Unlock()
	}()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	br := bufio.NewReader(c)
	var head strings.Builder
	for {
		line, err := br.ReadString('\n')
		head.WriteString(line)
		if err != nil {
			if head.Len() > 0 {
				got.heads = append(got.heads, head.String())
			}
			return
		}
		if line == "\r\n" || line == "\n" {
			break
		}
	}
	h := head.String()
	got.heads = append(got.heads, h)
	req, err := http.ReadRequest(bufio.NewReader(strings.NewReader(h)))
	if err != nil {
		return // recorded as it came; a proxy sent what Go cannot read
	}
	switch {
	case req.ContentLength > 0:
		io.CopyN(io.Discard, br, req.ContentLength)
	case len(req.TransferEncoding) > 0:
		io.Copy(io.Discard, httputil.NewChunkedReader(br))
	}
	if req.Header.Get("Upgrade") != "" || strings.HasPrefix(req.URL.Path, "/switch") {
		up := req.Header.Get("Upgrade")
		if up == "" {
			up = "h2c"
		}
		io.WriteString(c, "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: "+up+"\r\n\r\n")
		// What comes, until the proxy closes, or for a moment: a proxy
		// that did not switch waits for this 101's end.
		c.SetReadDeadline(time.Now().Add(2 * time.Second))
		var b [4096]byte
		for {
			n, err := br.Read(b[:])
			got.tunnel += string(b[:n])
			r.mu.Lock()
			r.tunnel += n
			r.change.Broadcast()
			r.mu.Unlock()
			if err != nil {
				return
			}
		}
	}
	io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 3\r\nConnection: close\r\n\r\napp")
}

// waitUntil waits until cond, called with r.mu held, holds, or limit
// passes.
func (r *recorder) waitUntil(limit time.Duration, cond func() bool) {
	timer := time.AfterFunc(limit, func() {
		r.mu.Lock()
		r.change.Broadcast()
		r.mu.Unlock()
	})
	defer timer.Stop()
	start := time.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	for !cond() && time.Since(start) < limit {
		r.change.Wait()
	}
}

// take waits until no connection is open (up to a limit) and returns what
// came since the last take.
func (r *recorder) take() []recorded {
	r.waitUntil(10*time.Second, func() bool { return r.open == 0 })
	r.mu.Lock()
	defer r.mu.Unlock()
	got := r.got
	r.got = nil
	return got
}

// relay is a helper mode: corral's web instance, which passes each
// connection on $PORT through to addr, byte for byte.
func relay(addr string) int {
	ln, err := net.Listen("tcp", "127.0.0.1:"+os.Getenv("PORT"))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Println("listening")
	for {
		c, err := ln.Accept()
		if err != nil {
			return 1
		}
		go func() {
			defer c.Close()
			up, err := net.Dial("tcp", addr)
			if err != nil {
				return
			}
			defer up.Close()
			var wg sync.WaitGroup
			pass := func(dst, src net.Conn) {
				io.Copy(dst, src)
				dst.(*net.TCPConn).CloseWrite()
			}
			wg.Go(func() { pass(up, c) })
			pass(c, up)
			wg.Wait()
		}()
	}
}

// startRelayed starts corral (start, with env and args) with rec behind
// it: its web instance is a relay to rec. It returns once web.1 is ready,
// and rec has forgotten the readiness probe's connection.
func startRelayed(t *testing.T, rec *recorder, env []string, args ...string) *session {
	t.Helper()
	dir := app(t, map[string]string{"Procfile": "web: CORRAL_TEST_HELPER=relay exec " + helperBin + " " + rec.ln.Addr().String() + "\n"})
	r := start(t, dir, env, append([]string{"start"}, args...)...)
	r.waitFor(`web\.1 is ready`)
	rec.take()
	return r
}

// startNginx runs nginx on port in front of app, configured as nginx
// users run it for gunicorn (docs.gunicorn.org, "Deploying") with
// WebSocket support (nginx.org, "WebSocket proxying"), and the same body
// limit as corral's. It is one process (master_process off), so that it
// stops with the test.
func startNginx(t *testing.T, port int, app string, maxBody string) {
	t.Helper()
	nginx := nginxBin(t)
	dir := t.TempDir()
	conf := fmt.Sprintf(`master_process off;
daemon off;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log info;
events { worker_connections 256; }
http {
  access_log %[1]s/access.log;
  client_body_temp_path %[1]s/client_body;
  proxy_temp_path %[1]s/proxy;
  fastcgi_temp_path %[1]s/fastcgi;
  uwsgi_temp_path %[1]s/uwsgi;
  scgi_temp_path %[1]s/scgi;
  map $http_upgrade $connection_upgrade { default upgrade; '' close; }
  server {
    listen 127.0.0.1:%[2]d;
    client_max_body_size %[4]s;
    location / {
      proxy_http_version 1.1;
      proxy_set_header Upgrade $http_upgrade;
      proxy_set_header Connection $connection_upgrade;
      proxy_set_header Host $http_host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Proto $scheme;
      proxy_set_header X-Real-IP $remote_addr;
      proxy_redirect off;
      proxy_pass http://%[3]s;
    }
  }
}
`, dir, port, app, maxBody)
	file := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(file, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	p := runBackground(t, nil, nginx, "-e", filepath.Join(dir, "error.log"), "-p", dir, "-c", file)
	addr := "127.0.0.1:" + strconv.Itoa(port)
	for start := time.Now(); ; time.Sleep(20 * time.Millisecond) {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return
		}
		if done, err := p.exited(); done || time.Since(start) > 20*time.Second {
			log, _ := os.ReadFile(filepath.Join(dir, "error.log"))
			t.Fatalf("nginx does not listen on %s (exited %v: %v):\n%s\n%s", addr, done, err, p.output(), log)
		}
	}
}

// nginxBin returns nginx's path: on PATH, or Debian's /usr/sbin/nginx,
// which a user's PATH may lack. It skips the test without one, or fails
// it in CI.
func nginxBin(t *testing.T) string {
	t.Helper()
	if p, err := exec.LookPath("nginx"); err == nil {
		return p
	}
	if _, err := os.Stat("/usr/sbin/nginx"); err == nil {
		return "/usr/sbin/nginx"
	}
	needTool(t, "nginx")
	return ""
}

// proxyOutcome is what a proxy did with one case's bytes.
type proxyOutcome struct {
	statuses []string   // of the responses the client read, in order; "EOF", "timeout" or "bad response" last if so
	got      []recorded // what reached the app
}

// passed reports whether anything reached the app: a request, or bytes
// past a 101.
func (o proxyOutcome) passed() bool {
	for _, g := range o.got {
		if len(g.heads) > 0 || g.tunnel != "" {
			return true
		}
	}
	return false
}

// leaks reports whether canary reached the app, in any case: in a
// request's head, or past a 101 (bodies are the app's to read).
func (o proxyOutcome) leaks(canary string) bool {
	canary = strings.ToLower(canary)
	for _, g := range o.got {
		for _, h := range g.heads {
			if strings.Contains(strings.ToLower(h), canary) {
				return true
			}
		}
		if strings.Contains(strings.ToLower(g.tunnel), canary) {
			return true
		}
	}
	return false
}

// summary is the outcome as a table cell.
func (o proxyOutcome) summary() string {
	var lines []string
	for _, g := range o.got {
		for _, h := range g.heads {
			rl, _, _ := strings.Cut(h, "\r\n")
			if len(rl) > 40 {
				rl = rl[:37] + "..."
			}
			lines = append(lines, strconv.Quote(rl))
		}
		if g.tunnel != "" {
			lines = append(lines, fmt.Sprintf("+%dB past a 101", len(g.tunnel)))
		}
	}
	fwd := "nothing"
	if len(lines) > 0 {
		fwd = strings.Join(lines, " ")
	}
	return strings.Join(o.statuses, ",") + " → " + fwd
}

// sendRaw writes payload to addr on a new connection, reads the responses
// until the proxy closes (or, after a 101, until the app has what came
// past it), and returns them with what reached app.
func sendRaw(t *testing.T, addr, payload string, app *recorder) proxyOutcome {
	t.Helper()
	var o proxyOutcome
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	// A proxy that waits for what will not come (a body) is cut off:
	// "timeout" is its answer.
	c.SetDeadline(time.Now().Add(5 * time.Second))
	r0 := app.tunnelBytes()
	io.WriteString(c, payload)
	br := bufio.NewReader(c)
	for {
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			switch ne, _ := err.(net.Error); {
			case err == io.EOF || err == io.ErrUnexpectedEOF || strings.Contains(err.Error(), "reset"):
				o.statuses = append(o.statuses, "EOF")
			case ne != nil && ne.Timeout():
				o.statuses = append(o.statuses, "timeout")
			default:
				o.statuses = append(o.statuses, "bad response")
			}
			break
		}
		o.statuses = append(o.statuses, strconv.Itoa(resp.StatusCode))
		if resp.StatusCode == http.StatusSwitchingProtocols {
			// Leave once what followed the request has passed, if it
			// does: the app records it when the connection ends.
			app.waitUntil(2*time.Second, func() bool { return app.tunnel > r0 })
			break
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.Close {
			break // it said so: nothing more will come (nginx lingers after a 400)
		}
	}
	c.Close()
	o.got = app.take()
	return o
}

// tunnelBytes is how many bytes came past a 101 so far.
func (r *recorder) tunnelBytes() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.tunnel
}

// edgeCase is a hostile request, or a few, in one connection's bytes.
type edgeCase struct {
	name    string
	payload string
	// canary, if set, is what must not reach the app, in any case (see
	// proxyOutcome.leaks): corral is less strict if it lets it through and
	// nginx does not.
	canary string
	// why, if set, is why corral may be less strict than nginx here.
	why string
}

// closing is a request head for a payload, ending in Connection: close
// so that a proxy that accepts it closes the connection after its answer.
func closing(lines ...string) string {
	return strings.Join(lines, "\r\n") + "\r\nConnection: close\r\n\r\n"
}

const smuggledGET = "GET /smuggled HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"

var edgeCases = []edgeCase{
	{name: "plain GET", payload: closing("GET / HTTP/1.1", "Host: a")},

	// Request smuggling: framing two servers could read two ways.
	{name: "CL and TE", payload: "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + smuggledGET, canary: "/smuggled"},
	{name: "TE and CL", payload: "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 60\r\n\r\n0\r\n\r\n" + smuggledGET, canary: "/smuggled"},
	{name: "duplicate CL", payload: "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\nContent-Length: 58\r\n\r\n" + smuggledGET, canary: "/smuggled"},
	{name: "CL with a sign", payload: "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +58\r\n\r\n" + smuggledGET, canary: "/smuggled"},
	{name: "CL list", payload: "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 58, 58\r\n\r\n" + smuggledGET, canary: "/smuggled"},
	{name: "space before colon", payload: "POST / HTTP/1.1\r\nHost: a\r\nContent-Length : 58\r\n\r\n" + smuggledGET, canary: "/smuggled"},
	{name: "TE twice", payload: "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + smuggledGET, canary: "/smuggled"},
	{name: "TE gzip, chunked", payload: "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n" + smuggledGET, canary: "/smuggled"},
	{name: "TE xchunked", payload: "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: xchunked\r\n\r\n0\r\n\r\n" + smuggledGET, canary: "/smuggled"},
	{name: "TE identity", payload: "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: identity\r\nContent-Length: 58\r\n\r\n" + smuggledGET, canary: "/smuggled"},
	{name: "TE after a tab", payload: "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:\tchunked\r\nConnection: close\r\n\r\n0\r\n\r\n"},
	{name: "TE before a space", payload: "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked \r\nConnection: close\r\n\r\n0\r\n\r\n"},
	{name: "TE before a tab", payload: "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\t\r\nConnection: close\r\n\r\n0\r\n\r\n"},
	{name: "CL after a tab", payload: "POST / HTTP/1.1\r\nHost: a\r\nContent-Length:\t2\r\nConnection: close\r\n\r\nhi"},
	{name: "CL before a tab", payload: "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 2\t\r\nConnection: close\r\n\r\nhi"},
	{name: "CL before a space", payload: "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 2 \r\nConnection: close\r\n\r\nhi"},
	{name: "TE upper case", payload: "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: CHUNKED\r\nConnection: close\r\n\r\n0\r\n\r\n"},
	{name: "CL with zeros", payload: "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 002\r\nConnection: close\r\n\r\nhi"},
	{name: "TE in HTTP/1.0", payload: "POST / HTTP/1.0\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + smuggledGET, canary: "/smuggled"},
	{name: "chunk size bare LF", payload: "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n3\nabc\r\n0\r\n\r\n"},
	{name: "chunk without CRLF", payload: "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n3\r\nabcX0\r\n\r\n"},
	{name: "obs-fold", payload: closing("GET / HTTP/1.1", "Host: a", "X-A: 1", " X-Folded: 2"), canary: "X-Folded"},
	{name: "obs-fold first line", payload: closing("GET / HTTP/1.1", " X-Folded: 2", "Host: a"), canary: "X-Folded"},
	{name: "bare CR in a value", payload: closing("GET / HTTP/1.1", "Host: a", "X-A: 1\rX-Injected: 2"), canary: "X-Injected"},
	{name: "bare LF line ends", payload: "GET / HTTP/1.1\nHost: a\nConnection: close\n\n"},
	{name: "NUL in a value", payload: closing("GET / HTTP/1.1", "Host: a", "X-A: 1\x002"), canary: "\x00"},
	{name: "NUL in the target", payload: closing("GET /a\x00b HTTP/1.1", "Host: a"), canary: "\x00"},
	{name: "DEL in a value", payload: closing("GET / HTTP/1.1", "Host: a", "X-A: 1\x7f"), canary: "\x7f"},
	{name: "invalid name", payload: closing("GET / HTTP/1.1", "Host: a", "X(A): 1"), canary: "X(A)"},

	// Headers the app would believe.
	{name: "underscore forwarded headers", payload: closing("GET / HTTP/1.1", "Host: a", "X_Forwarded_For: 6.6.6.6", "X_Forwarded_Proto: https"), canary: "x_forwarded_"},
	{name: "X-Forwarded-For", payload: closing("GET / HTTP/1.1", "Host: a", "X-Forwarded-For: 6.6.6.6"), canary: "6.6.6.6"},
	{name: "X-Forwarded-Proto", payload: closing("GET / HTTP/1.1", "Host: a", "X-Forwarded-Proto: https"), canary: "Proto: https"},
	{name: "X-Real-IP", payload: closing("GET / HTTP/1.1", "Host: a", "X-Real-IP: 6.6.6.6"), canary: "6.6.6.6"},

	// Methods, upgrades and what follows a switch.
	{name: "CONNECT", payload: closing("CONNECT example.com:443 HTTP/1.1", "Host: example.com:443"), canary: "CONNECT "},
	{name: "CONNECT origin-form", payload: closing("CONNECT / HTTP/1.1", "Host: a"), canary: "CONNECT "},
	{name: "TRACE", payload: closing("TRACE / HTTP/1.1", "Host: a", "Cookie: secret=1"), canary: "TRACE "},
	{name: "lower-case method", payload: closing("get / HTTP/1.1", "Host: a"),
		why: "RFC 9110 9.1: a method is any token, case-sensitive; an app answers one it does not know (Django: 405), and nothing frames differently"},
	{name: "h2c upgrade, then a request", payload: "GET /up HTTP/1.1\r\nHost: a\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQCAAAAAAIAAAAA\r\n\r\n" +
		closing("GET /after HTTP/1.1", "Host: a", "X-Forwarded-For: 6.6.6.6"), canary: "HTTP2-Settings"},
	{name: "unasked 101, then a request", payload: "GET /switch HTTP/1.1\r\nHost: a\r\n\r\n" +
		closing("GET /after HTTP/1.1", "Host: a", "X-Forwarded-For: 6.6.6.6"), canary: "6.6.6.6"},
	{name: "WebSocket upgrade", payload: "GET /ws HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"},
	{name: "Expect other than 100-continue", payload: "POST / HTTP/1.1\r\nHost: a\r\nExpect: 200-ok\r\nContent-Length: 2\r\nConnection: close\r\n\r\nhi"},

	// Bodies past --max-body (1 MiB for both).
	{name: "CL over the limit", payload: closing("POST / HTTP/1.1", "Host: a", "Content-Length: 2000000")},
	{name: "chunk size over the limit", payload: "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n200000\r\n"},
	{name: "huge chunk size", payload: "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffff\r\n"},
	{name: "chunk size overflow", payload: "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n1ffffffffffffffff\r\n"},

	// Host and target.
	{name: "no Host", payload: closing("GET / HTTP/1.1")},
	{name: "two Hosts", payload: closing("GET / HTTP/1.1", "Host: a", "Host: b")},
	{name: "Host with a space", payload: closing("GET / HTTP/1.1", "Host: a b")},
	{name: "Host with a slash", payload: closing("GET / HTTP/1.1", "Host: a/b")},
	{name: "Host with dot segments", payload: closing("GET / HTTP/1.1", "Host: ../etc")},
	{name: "absolute-form", payload: closing("GET http://evil.example/x HTTP/1.1", "Host: a"), canary: "evil.example",
		why: "RFC 9112 3.2.2: the authority of an absolute-form target replaces Host; both are the client's, and the app validates the host it gets either way (ALLOWED_HOSTS)"},
	{name: "relative target", payload: closing("GET x HTTP/1.1", "Host: a")},
	{name: "asterisk GET", payload: closing("GET * HTTP/1.1", "Host: a"), canary: "GET *"},

	// Versions and the request line.
	{name: "HTTP/1.2", payload: closing("GET / HTTP/1.2", "Host: a")},
	{name: "HTTP/2.0", payload: closing("GET / HTTP/2.0", "Host: a")},
	{name: "HTTP/0.9", payload: "GET /\r\n"},
	{name: "HTTP/1.10", payload: closing("GET / HTTP/1.10", "Host: a")},
	{name: "lower-case version", payload: closing("GET / http/1.1", "Host: a")},
	{name: "two spaces", payload: closing("GET  / HTTP/1.1", "Host: a")},
	{name: "tab separator", payload: closing("GET\t/ HTTP/1.1", "Host: a")},

	// Sizes.
	{name: "9 KB target", payload: closing("GET /"+strings.Repeat("a", 9<<10)+" HTTP/1.1", "Host: a"), canary: "/aaaa",
		why: "corral bounds the whole head at 64 KiB, as Go and Node do (nginx: each line within an 8 KiB buffer); gunicorn refuses a request line over 4094 bytes itself (limit_request_line)"},
	{name: "9 KB header", payload: closing("GET / HTTP/1.1", "Host: a", "X-Big: "+strings.Repeat("b", 9<<10)), canary: "X-Big",
		why: "corral bounds the whole head at 64 KiB (nginx: a line within an 8 KiB buffer); gunicorn's own limit on a field is 8190 bytes (limit_request_field_size)"},
	{name: "70 KB of headers", payload: closing("GET / HTTP/1.1", "Host: a", strings.Repeat("X-Many: "+strings.Repeat("m", 1000)+"\r\n", 70)+"X-End: 1")},

	// Log injection: encoded and raw line ends and escapes in the target.
	{name: "encoded CR LF ESC in the target", payload: closing("GET /x%0d%0acorral%20|%20web.1%20is%20ready%1b[2J HTTP/1.1", "Host: a")},
	{name: "raw ESC in the target", payload: closing("GET /x\x1b[2J HTTP/1.1", "Host: a"), canary: "\x1b"},
	{name: "raw bytes past ASCII", payload: closing("GET /caf\xc3\xa9\xff HTTP/1.1", "Host: a")},
}

// TestEdgeSideBySideNginx sends each of edgeCases to nginx and to corral
// and fails where corral lets through what nginx does not (a request nginx
// refuses, or a case's canary) without a reason in the case. With -v it
// prints the table.
func TestEdgeSideBySideNginx(t *testing.T) {
	notUnderRace(t)
	app := newRecorder(t)
	nginxPort, corralPort := freePort(t), freePort(t)
	startNginx(t, nginxPort, app.ln.Addr().String(), "1m")
	startRelayed(t, app, nil, "-p", strconv.Itoa(corralPort), "--max-body", "1MiB", "--no-access-log")

	var table strings.Builder
	tw := tabwriter.NewWriter(&table, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "case\tnginx\tcorral\tverdict")
	for _, c := range edgeCases {
		ng := sendRaw(t, "127.0.0.1:"+strconv.Itoa(nginxPort), c.payload, app)
		co := sendRaw(t, "127.0.0.1:"+strconv.Itoa(corralPort), c.payload, app)
		var looser []string
		if co.passed() && !ng.passed() {
			looser = append(looser, "passed to the app what nginx refused")
		}
		if c.canary != "" && co.leaks(c.canary) && !ng.leaks(c.canary) {
			looser = append(looser, fmt.Sprintf("let %q through, nginx did not", c.canary))
		}
		verdict := "as strict"
		switch {
		case len(looser) > 0 && c.why == "":
			verdict = "LESS STRICT"
			t.Errorf("%s: corral %s\n  nginx:  %s\n  corral: %s", c.name, strings.Join(looser, "; "), ng.summary(), co.summary())
		case len(looser) > 0:
			verdict = "less strict: " + c.why
		case c.why != "":
			t.Errorf("%s: has a reason to be less strict than nginx, but is not: drop it\n  nginx:  %s\n  corral: %s", c.name, ng.summary(), co.summary())
		case ng.passed() && !co.passed() || c.canary != "" && ng.leaks(c.canary) && !co.leaks(c.canary):
			verdict = "stricter"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", c.name, ng.summary(), co.summary(), verdict)
	}
	tw.Flush()
	version, _ := exec.Command(nginxBin(t), "-v").CombinedOutput()
	t.Logf("the edge side by side with %s:\n%s", strings.TrimSpace(strings.TrimPrefix(string(version), "nginx version: ")), table.String())
}

// TestAllowUnderscoreHeaders: with CORRAL_ALLOW_UNDERSCORE_HEADERS, a
// header with an underscore reaches the app; a spelling of the edge's own
// never does.
func TestAllowUnderscoreHeaders(t *testing.T) {
	app := newRecorder(t)
	port := freePort(t)
	startRelayed(t, app, []string{"CORRAL_ALLOW_UNDERSCORE_HEADERS=true"}, "-p", strconv.Itoa(port))
	o := sendRaw(t, "127.0.0.1:"+strconv.Itoa(port), closing("GET / HTTP/1.1", "Host: a", "X_Api_Key: k1", "X_Forwarded_Proto: https"), app)
	if !o.leaks("X_api_key: k1") || o.leaks("X_forwarded_proto") || !o.leaks("X-Forwarded-Proto: http\r\n") {
		t.Errorf("the app got %+v, want X_api_key and the edge's X-Forwarded-Proto only", o.got)
	}
}
