package main

// End-to-end tests that the edge never answers for the app: a request no
// instance answered gets an error status (a 503 as corral stops), never an
// empty 200 a health check would take for a success; an answer the app
// gave gets to the client, even one given before the request's body was
// all sent.

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// check503 checks that resp is the edge's 503 as corral stops: with
// Retry-After, and the connection closed after it.
func check503(t *testing.T, resp *http.Response, body []byte) {
	t.Helper()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("status %d %q, want 503", resp.StatusCode, body)
	}
	if resp.Header.Get("Retry-After") == "" {
		t.Error("503 without Retry-After")
	}
	if !resp.Close {
		t.Error("503 without Connection: close")
	}
}

// TestStopDeadlineAnswers503: a request the app has not answered when
// half of --timeout has passed since SIGTERM (the Django app with
// --timeout 2s, /slow?ms=5000, SIGTERM a moment later) gets a 503, and the
// access log says so.
func TestStopDeadlineAnswers503(t *testing.T) {
	r, base := startDjango(t, "-t", "2s")
	type result struct {
		resp *http.Response
		body []byte
		err  error
	}
	done := make(chan result, 1)
	go func() {
		resp, body, err := fetch(http.DefaultClient, base+"/slow?ms=5000", nil)
		done <- result{resp, body, err}
	}()
	r.waitFor(`web\.\d +\| .*sleeping 5000 ms`)
	r.signal(syscall.SIGTERM)
	res := <-done
	if res.err != nil {
		t.Fatalf("GET /slow?ms=5000: %v\n%s", res.err, r.output())
	}
	check503(t, res.resp, res.body)
	r.waitFor(`edge +\| GET /slow\?ms=5000 503 \d+B .* web\.\d id=`)
	r.wait(20 * time.Second)
}

// TestStopDeadlineCutsStream: a response still streaming when half of
// --timeout has passed since SIGTERM is cut off, so that the client sees
// it incomplete, and the access log marks it cut.
func TestStopDeadlineCutsStream(t *testing.T) {
	r, base := startDjango(t, "-t", "400ms") // /stream takes 800 ms; the drain 200
	resp, err := http.Get(base + "/stream")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	first := make([]byte, len("id: 1\n"))
	if _, err := io.ReadFull(resp.Body, first); err != nil || string(first) != "id: 1\n" {
		t.Fatalf("first event: %q, %v", first, err)
	}
	r.signal(syscall.SIGTERM)
	if rest, err := io.ReadAll(resp.Body); err == nil {
		t.Errorf("the stream ended cleanly after %q, want it cut off\n%s", rest, r.output())
	}
	r.waitFor(`edge +\| GET /stream 200 \d+B .* web\.\d id=\S+ cache=miss cut$`) // a stream passes through the cache
	r.wait(20 * time.Second)
}

// TestStopWhileWaitingAtBootGate: a request waiting at the boot gate for
// an instance that never gets ready (the issue's `web: sleep 30`) gets its
// 503 as soon as corral stops, not after --boot-wait or the stop's
// deadline.
func TestStopWhileWaitingAtBootGate(t *testing.T) {
	dir := app(t, map[string]string{"Procfile": "web: sleep 30\n"})
	port := freePort(t)
	r := start(t, dir, []string{"PORT=" + strconv.Itoa(port)}, "start", "--boot-wait", "60s", "-t", "20s")
	r.waitFor(`web\.1 started`)

	c, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(port), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(30 * time.Second))
	br := bufio.NewReader(c)
	// The health check is answered at once: once it is, the edge serves
	// this connection, and reads the next request as it comes.
	io.WriteString(c, "GET /_corral/health HTTP/1.1\r\nHost: app\r\n\r\n")
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("health with no instance ready: %d, want 503", resp.StatusCode)
	}
	io.WriteString(c, "GET /waiting HTTP/1.1\r\nHost: app\r\n\r\n")
	time.Sleep(100 * time.Millisecond) // read, and at the gate
	r.signal(syscall.SIGTERM)
	stopped := time.Now()
	resp, err = http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("no answer: %v\n%s", err, r.output())
	}
	body, _ := io.ReadAll(resp.Body)
	// At once: not after the drain's 10 s (half of --timeout) nor
	// --boot-wait's 60 s.
	if d := time.Since(stopped); d > 5*time.Second {
		t.Errorf("answered %v after SIGTERM, want at once", d)
	}
	check503(t, resp, body)
	r.waitFor(`edge +\| GET /waiting 503 \d+B .* - id=`)
	r.wait(30 * time.Second)
}

// TestEarlyAnswerReachesClient: a POST whose body Django refuses before
// reading it (over DATA_UPLOAD_MAX_MEMORY_SIZE) gets Django's 400, not
// the edge's 502, and it is no upstream error: gunicorn answers and closes
// the connection while the edge is still sending the body.
func TestEarlyAnswerReachesClient(t *testing.T) {
	env := filepath.Join(t.TempDir(), "small-uploads.env")
	if err := os.WriteFile(env, []byte("DJANGO_DATA_UPLOAD_MAX_MEMORY_SIZE=1048576\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	adminPort := strconv.Itoa(freePort(t))
	r, base := startDjango(t, "-e", env, "--admin", adminPort)
	admin := "http://127.0.0.1:" + adminPort

	resp, err := http.Post(base+"/body", "application/octet-stream", bytes.NewReader(make([]byte, 5<<20)))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("5 MB POST to /body: %d %q, want Django's 400\n%s", resp.StatusCode, body, r.output())
	}
	r.waitFor(`edge +\| POST /body 400 \d+B .* web\.\d id=`)
	// Under the limit, the same view reads the body.
	resp, err = http.Post(base+"/body", "application/octet-stream", bytes.NewReader(make([]byte, 512<<10)))
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !regexp.MustCompile(`"bytes": ?524288\b`).Match(body) {
		t.Fatalf("512 KiB POST to /body: %d %q, want 200 with its size", resp.StatusCode, body)
	}

	fams := scrapeMetrics(t, admin)
	if n, _ := metric(fams, "corral_upstream_errors_total"); n != 0 {
		t.Errorf("%v upstream errors, want none", n)
	}
	if n, _ := metric(fams, "corral_http_requests_total", "kind=app", "code=4xx"); n != 1 {
		t.Errorf("%v app 4xx, want 1", n)
	}
	if n, _ := metric(fams, "corral_http_requests_total", "kind=app", "code=5xx"); n != 0 {
		t.Errorf("%v app 5xx, want none", n)
	}
	r.signal(syscall.SIGTERM)
	r.wait(20 * time.Second)
}
